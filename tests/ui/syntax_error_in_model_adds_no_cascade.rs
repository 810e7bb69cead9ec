use staticnet::nalgebra::SVector;

staticnet::network! {
    pub struct Posts {
        let posts = Input(256);
        let x = Dense(64, activation = relu)(posts);
        let age = Dense(1, name = "age")(x);
        let income = Dense(10, activation = softmax, name = "income")(x);
        Model(posts, [age, income] income);
        compile(loss = [mse, categorical_crossentropy]);
    }
}

fn main() {
    let model = Posts::<f32>::new(7);
    let out = model.forward(&SVector::<f32, 256>::zeros());
    println!("{} {}", out.age[0], out.income.transpose());
}

use staticnet::nalgebra::{SMatrix, SVector};

staticnet::network! {
    pub struct Posts {
        let posts = Input(256);
        let x = Dense(64, activation = relu)(posts);
        let age = Dense(1, name = "age")(x);
        let income = Dense(0, activation = softmax, name = "income")(x);
        let gender = Dense(1, activation = sigmoid, name = "gender")(x);
        Model(posts, [age, income, gender]);
        compile(loss = [mse, categorical_crossentropy, binary_crossentropy]);
    }
}

fn main() {
    let model = Posts::<f32>::new(7);
    let post = SVector::<f32, 256>::zeros();
    let out = model.forward(&post);
    println!("{} {} {}", out.age[0], out.income.transpose(), out.gender[0]);
    let mut opt = Posts::<f32>::optimizer();
    let mut trained = model.clone();
    let x = SMatrix::<f32, 256, 4>::zeros();
    let age = SMatrix::<f32, 1, 4>::zeros();
    let income = SMatrix::<f32, 10, 4>::zeros();
    let gender = SMatrix::<f32, 1, 4>::zeros();
    let losses = trained.train_step::<4>(&mut opt, &x, &age, &income, &gender);
    println!("{} {}", losses.total, losses.income);
    println!("{} parameters", Posts::<f32>::PARAM_COUNT);
}

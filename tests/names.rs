//! Generated code stays correct whatever the user has in scope.

use staticnet::nalgebra::SMatrix;

/// A type named like the batch-size parameter of the generated methods.
#[allow(dead_code)]
struct B;

staticnet::network! {
    /// Two heads, so the generated output struct is generic over the batch too.
    pub struct WithB {
        let x = Input(2);
        let y = Dense(2, name = "y")(x);
        let z = Dense(1, name = "z")(x);
        Model(x, [y, z]);
        compile(loss = mse);
    }
}

#[test]
fn a_type_named_b_does_not_clash() {
    let mut model = WithB::<f64>::new(1);
    let x = SMatrix::<f64, 2, 3>::repeat(0.5);
    let out = model.forward_batch::<3>(&x);
    assert_eq!(out.y.ncols(), 3);
    let mut opt = WithB::<f64>::optimizer();
    let losses = model.train_step::<3>(&mut opt, &x, &SMatrix::zeros(), &SMatrix::zeros());
    assert!(losses.total.is_finite());
}

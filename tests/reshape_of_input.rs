//! A `Reshape` or `Flatten` of an input is the input's own slice in the
//! one-sample `forward` (no stack buffer, no copy): read by several layers,
//! reshaped again, and returned as a head, it gives what `forward_batch`
//! (which copies it into its workspace) gives.

use staticnet::nalgebra::{SMatrix, SVector};

staticnet::network! {
    pub struct Frames {
        let x = Input(12);
        let grid = Reshape((4, 3))(x);
        let conv = Conv1D(2, 2, activation = relu)(grid);
        let conv = Flatten()(conv);
        let rows = Reshape((3, 4))(grid);
        let flat = Flatten(name = "flat")(rows);
        let both = concatenate([conv, flat]);
        let out = Dense(3, activation = softmax, name = "out")(both);
        Model(x, [out, flat]);
    }
}

#[test]
fn a_reshaped_input_is_read_in_place_and_returned_as_a_head() {
    let model = Frames::<f32>::new(5);
    let x = SVector::<f32, 12>::from_fn(|i, _| i as f32 / 6.0 - 1.0);
    let one = model.forward(&x);
    let batch = model.forward_batch::<2>(&SMatrix::<f32, 12, 2>::from_columns(&[x, x * 0.5]));
    assert_eq!(one.flat, x, "the head is the input, unchanged");
    assert_eq!(batch.flat.column(0), x);
    for (a, b) in one.out.iter().zip(batch.out.column(0).iter()) {
        assert!((a - b).abs() <= 1e-6, "forward {} against forward_batch {}", one.out, batch.out);
    }
}

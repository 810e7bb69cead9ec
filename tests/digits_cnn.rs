//! The convolutional digits example, run as a test: at least 98.5% test
//! accuracy on the same split as `digits`.

#[allow(dead_code)]
#[path = "../examples/digits_cnn.rs"]
mod digits_cnn;

#[test]
fn digits_cnn_reaches_98_5_percent() {
    let outcome = digits_cnn::train_and_test(7, false).expect("training");
    assert!(outcome.test_accuracy >= 0.985, "test accuracy {:.4}", outcome.test_accuracy);
}

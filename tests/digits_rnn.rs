//! The recurrent digits example, run as a test: at least 97% test
//! accuracy on the same split as `digits`.

#[allow(dead_code)]
#[path = "../examples/digits_rnn.rs"]
mod digits_rnn;

#[test]
fn digits_rnn_reaches_97_percent() {
    let outcome = digits_rnn::train_and_test(7, false).expect("training");
    assert!(outcome.test_accuracy >= 0.97, "test accuracy {:.4}", outcome.test_accuracy);
}

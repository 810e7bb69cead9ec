//! The README's main example, run as a test: the seed classifier trained on
//! the UCI digits must reach at least 97.5% test accuracy.

#[allow(dead_code)]
#[path = "../examples/digits.rs"]
mod digits;

#[test]
fn digits_reach_97_5_percent() {
    let outcome = digits::train_and_test(7, false).expect("training");
    assert!(outcome.test_accuracy >= 0.975, "test accuracy {:.4}", outcome.test_accuracy);
}

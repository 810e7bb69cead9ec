//! `fit` on the UCI digits exactly as the main example trains it (the seed
//! classifier, RMSprop, batch 32, 50 epochs on 1437 images), with its test
//! accuracy printed once.
//!
//! ```sh
//! cargo bench --bench fit
//! ```

#[allow(dead_code, unused_imports)]
#[path = "../examples/digits.rs"]
mod digits;

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let outcome = digits::train_and_test(7, false).expect("training");
    println!(
        "digits fit: test accuracy {:.2}%, {:.3} s for 50 epochs (first run)",
        outcome.test_accuracy * 100.0,
        outcome.train_seconds
    );
    let mut g = c.benchmark_group("digits_fit_50_epochs");
    g.sample_size(10);
    // `train_and_test` also loads and splits the data; the split is part of
    // the example, as Keras's script also loads its data before timing
    // `fit`. Time `fit` alone by the seconds it reports.
    g.bench_function("staticnet_fit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let outcome = digits::train_and_test(7, false).expect("training");
                total += Duration::from_secs_f64(outcome.train_seconds);
            }
            total
        })
    });
    g.finish();
}

criterion_group! {
    name = fit;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = benches
}
criterion_main!(fit);

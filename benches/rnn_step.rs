//! The streaming step of the recurrent layers (`ops::recurrent::step`, the
//! real-time path: one call per audio sample) in f32 with one input
//! feature: GRU with 8, 16, 32 and 64 units and LSTM with 16 and 32, in
//! nanoseconds per step (the median of 400 rounds of 2,000 steps, and the
//! fastest round: on a shared machine the fastest is the one least
//! disturbed), the batch pass's per-step cost beside it for scale.
//! `RNN_STEP=GRU(16)` times only the layers whose name contains that.
//!
//! ```sh
//! cargo bench --bench rnn_step
//! STATICNET_NO_AVX512=1 cargo bench --bench rnn_step   # AVX2 on a CPU with AVX-512
//! STATICNET_PORTABLE=1 cargo bench --bench rnn_step    # the portable loops
//! ```

use staticnet::__private::ops::recurrent::{self, Cell, Shape};
use staticnet::__private::Activation;
use std::hint::black_box;
use std::time::Instant;

fn data(len: usize, salt: usize, scale: f32) -> Vec<f32> {
    (0..len).map(|i| (((i * 7919 + salt * 104_729) % 1009) as f32 / 1009.0 - 0.5) * scale).collect()
}

/// Nanoseconds per step: the median and the fastest of the rounds.
fn time(steps: usize, mut round: impl FnMut()) -> (f64, f64) {
    round();
    let mut ns: Vec<f64> = (0..400)
        .map(|_| {
            let start = Instant::now();
            round();
            start.elapsed().as_secs_f64() * 1e9 / steps as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    (ns[ns.len() / 2], ns[0])
}

fn main() {
    let (tanh, sigmoid) = (Activation::Tanh, Activation::Sigmoid);
    let layers = [
        ("GRU", Cell::Gru { activation: tanh, recurrent_activation: sigmoid }, [8, 16, 32, 64].as_slice()),
        ("LSTM", Cell::Lstm { activation: tanh, recurrent_activation: sigmoid }, [16, 32].as_slice()),
    ];
    println!("kernels: {}", staticnet::kernels::simd());
    println!("| layer | step (median, min) | forward, batch 1, 1000 steps, per step |");
    println!("|---|---|---|");
    const STEPS: usize = 2_000;
    let only = std::env::var("RNN_STEP").unwrap_or_default();
    for (name, cell, sizes) in layers {
        for &units in sizes {
            if !format!("{name}({units})").contains(&only) {
                continue;
            }
            let g = cell.gates() * units;
            let kernel = data(g, 1, 1.0);
            let rk = data(g * units, 2, 2.0 / (units as f32).sqrt());
            let bias_len = if name == "GRU" { 2 * g } else { g };
            let bias = data(bias_len, 3, 0.2);
            let x = data(4096, 4, 2.0);
            let mut state = vec![0.0f32; recurrent::state_len(cell, units)];
            let mut out = vec![0.0f32; units];
            let (median, min) = time(STEPS, || {
                for i in 0..STEPS {
                    let xt = &x[i % 4096..][..1];
                    recurrent::step(cell, 1, units, &kernel, &rk, Some(&bias), black_box(xt), &mut state, &mut out);
                }
                black_box(&out);
            });
            let s = Shape { steps: 1000, features: 1, units, return_sequences: true, reverse: false };
            let mut work = vec![0.0f32; recurrent::work_len(cell, &s)];
            let mut seq = vec![0.0f32; 1000 * units];
            let (batch, _) = time(1000, || {
                recurrent::forward(cell, &s, &kernel, &rk, Some(&bias), black_box(&x[..1000]), &mut work, &mut seq);
                black_box(&seq);
            });
            println!("| {name}({units}) | {median:.1} ns ({min:.1}) | {batch:.1} ns |");
        }
    }
}

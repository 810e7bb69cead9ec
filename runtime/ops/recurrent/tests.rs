use super::*;
use crate::rng::SplitMix64;
use crate::vocab::Activation as A;

/// Values uniform in `±scale`.
fn data(len: usize, scale: f64, rng: &mut SplitMix64) -> Vec<f64> {
    (0..len).map(|_| (2.0 * rng.next_f64() - 1.0) * scale).collect()
}

fn cast<T: Scalar>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::of_f64(x)).collect()
}

/// The activations by their textbook formulas (libm's `exp` and `tanh`,
/// not the module's own), others as the dense layers compute them.
fn act(a: A, x: f64) -> f64 {
    match a {
        A::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        A::Tanh => x.tanh(),
        _ => a.scalar(x),
    }
}

/// A layer's parameters and a batch.
struct Case {
    cell: Cell,
    s: Shape,
    n: usize,
    kernel: Vec<f64>,
    rk: Vec<f64>,
    bias: Option<Vec<f64>>,
    x: Vec<f64>,
}

impl Case {
    fn new(cell: Cell, s: Shape, n: usize, with_bias: bool, seed: u64) -> Self {
        let rng = &mut SplitMix64::new(seed);
        let g = cell.gates() * s.units;
        let bias_len = if matches!(cell, Cell::Gru { .. }) { 2 * g } else { g };
        Case {
            cell,
            s,
            n,
            kernel: data(g * s.features, 0.8, rng),
            // Scaled down for many units, so that the states do not blow
            // up (and with them f32's rounding).
            rk: data(g * s.units, 0.6 * (4.0 / s.units as f64).sqrt().min(1.0), rng),
            bias: with_bias.then(|| data(bias_len, 0.5, rng)),
            x: data(n * s.steps * s.features, 1.0, rng),
        }
    }

    fn out_len(&self) -> usize {
        self.n * self.s.units * if self.s.return_sequences { self.s.steps } else { 1 }
    }

    /// `out` straight from DESIGN.md's formulas, one sample and step at a
    /// time in f64.
    fn reference(&self) -> Vec<f64> {
        let Case { cell, s, n, .. } = *self;
        let (u, f, steps) = (s.units, s.features, s.steps);
        let g = cell.gates() * u;
        let (act_a, act_r) = cell.activations();
        let b = |j: usize| self.bias.as_ref().map_or(0.0, |b| b[j]);
        let mut out = vec![0.0; self.out_len()];
        for sample in 0..n {
            let (mut h, mut c) = (vec![0.0; u], vec![0.0; u]);
            let order: Vec<usize> = if s.reverse { (0..steps).rev().collect() } else { (0..steps).collect() };
            for &t in &order {
                let xt = &self.x[(sample * steps + t) * f..][..f];
                let xw: Vec<f64> = (0..g).map(|j| (0..f).map(|i| xt[i] * self.kernel[i * g + j]).sum()).collect();
                let hu: Vec<f64> = (0..g).map(|j| (0..u).map(|i| h[i] * self.rk[i * g + j]).sum()).collect();
                h = match cell {
                    Cell::SimpleRnn { .. } => (0..u).map(|i| act(act_a, xw[i] + hu[i] + b(i))).collect(),
                    Cell::Gru { .. } => (0..u)
                        .map(|i| {
                            let z = act(act_r, xw[i] + b(i) + hu[i] + b(g + i));
                            let r = act(act_r, xw[u + i] + b(u + i) + hu[u + i] + b(g + u + i));
                            let hh = act(act_a, xw[2 * u + i] + b(2 * u + i) + r * (hu[2 * u + i] + b(g + 2 * u + i)));
                            z * h[i] + (1.0 - z) * hh
                        })
                        .collect(),
                    Cell::Lstm { .. } => (0..u)
                        .map(|k| {
                            let gate = |q: usize, a: A| act(a, xw[q * u + k] + hu[q * u + k] + b(q * u + k));
                            let (i, fg, cc, o) = (gate(0, act_r), gate(1, act_r), gate(2, act_a), gate(3, act_r));
                            c[k] = fg * c[k] + i * cc;
                            o * act(act_a, c[k])
                        })
                        .collect(),
                };
                if s.return_sequences {
                    out[(sample * steps + t) * u..][..u].copy_from_slice(&h);
                }
            }
            if !s.return_sequences {
                out[sample * u..][..u].copy_from_slice(&h);
            }
        }
        out
    }

    /// [`forward`] in `T`, with `work` (returned) starting as NaN so that a
    /// read of a value it never wrote shows.
    fn forward<T: Scalar>(&self) -> (Vec<T>, Vec<T>) {
        let mut work = vec![T::of_f64(f64::NAN); work_len(self.cell, &self.s) * self.n];
        let mut out = vec![T::of_f64(f64::NAN); self.out_len()];
        let bias = self.bias.as_ref().map(|b| cast::<T>(b));
        forward(
            self.cell,
            &self.s,
            &cast::<T>(&self.kernel),
            &cast::<T>(&self.rk),
            bias.as_deref(),
            &cast::<T>(&self.x),
            &mut work,
            &mut out,
        );
        (out, work)
    }
}

/// Every cell with Keras's default activations, one pair with an
/// activation whose slope needs its input (silu, so GRU and LSTM keep
/// their pre-activations) and one without.
fn cells() -> Vec<Cell> {
    let mut all = Vec::new();
    for (a, r) in [(A::Tanh, A::Sigmoid), (A::Silu, A::HardSigmoid), (A::Softsign, A::Tanh)] {
        all.push(Cell::SimpleRnn { activation: a });
        all.push(Cell::Gru { activation: a, recurrent_activation: r });
        all.push(Cell::Lstm { activation: a, recurrent_activation: r });
    }
    all
}

/// Every combination of cell, bias, output, direction, features, units,
/// steps and batch the tests cover.
fn cases(units: &[usize]) -> Vec<Case> {
    let mut all = Vec::new();
    let mut seed = 0;
    for cell in cells() {
        for with_bias in [true, false] {
            for return_sequences in [true, false] {
                for reverse in [false, true] {
                    for features in [1, 3] {
                        for &u in units {
                            for steps in [1, 5] {
                                for n in [1, 3] {
                                    seed += 1;
                                    let s = Shape { steps, features, units: u, return_sequences, reverse };
                                    all.push(Case::new(cell, s, n, with_bias, seed));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    all
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// The largest `|a − b| / (1 + |b|)`.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0, f64::max)
}

fn to_f64<T: Scalar>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.as_f64()).collect()
}

#[test]
fn forward_matches_reference() {
    for case in cases(&[1, 4, 7]) {
        let want = case.reference();
        let (got, _) = case.forward::<f64>();
        let err = max_diff(&got, &want);
        assert!(err < 1e-12, "{:?} {:?} n={} bias={}: {err}", case.cell, case.s, case.n, case.bias.is_some());
        // Inference: the same products on a smaller `work`.
        let mut work = vec![f64::NAN; infer_work_len(case.cell, &case.s) * case.n];
        let mut inferred = vec![f64::NAN; case.out_len()];
        let bias = case.bias.as_deref();
        infer(case.cell, &case.s, &case.kernel, &case.rk, bias, &case.x, &mut work, &mut inferred);
        assert!(max_diff(&inferred, &got) < 1e-14, "infer {:?} {:?} n={}", case.cell, case.s, case.n);
        let (got32, _) = case.forward::<f32>();
        let err32 = max_diff(&to_f64(&got32), &want);
        assert!(err32 < 1e-5, "f32 {:?} {:?} n={}: {err32}", case.cell, case.s, case.n);
    }
}

/// The f32 LSTM and GRU with the default activations (on x86-64 the FMA
/// gate kernel, `fused_gates`) at widths that take whole
/// vectors of AVX2 and AVX-512 and their tails, and forward's `work` as
/// backward needs it.
#[test]
fn f32_gates_match_reference_at_every_width() {
    let cells = [
        Cell::Lstm { activation: A::Tanh, recurrent_activation: A::Sigmoid },
        Cell::Gru { activation: A::Tanh, recurrent_activation: A::Sigmoid },
    ];
    for (seed, (cell, units)) in cells.into_iter().flat_map(|c| [8, 16, 20, 32, 40].map(|u| (c, u))).enumerate() {
        let s = Shape { steps: 4, features: 3, units, return_sequences: true, reverse: false };
        let case = Case::new(cell, s, 3, true, 100 + seed as u64);
        let want = case.reference();
        let (got, work) = case.forward::<f32>();
        let err = max_diff(&to_f64(&got), &want);
        assert!(err < 1e-5, "f32 {cell:?}({units}): {err}");
        let (_, work64) = case.forward::<f64>();
        let err = rel_diff(&to_f64(&work), &work64);
        assert!(err < 1e-5, "f32 {cell:?}({units}) work: {err}");
    }
}

/// The gradients of `Σ w·out` (fixed random `w`) against central
/// differences, `dx` added to what it held.
#[test]
fn backward_matches_finite_differences() {
    for mut case in cases(&[1, 4]) {
        let w = data(case.out_len(), 1.0, &mut SplitMix64::new(99));
        let loss = |c: &Case| c.forward::<f64>().0.iter().zip(&w).map(|(o, w)| o * w).sum::<f64>();
        let g = case.cell.gates() * case.s.units;
        let (_, mut work) = case.forward::<f64>();
        let mut dk = vec![f64::NAN; case.kernel.len()];
        let mut dr = vec![f64::NAN; case.rk.len()];
        let mut db = case.bias.as_ref().map(|b| vec![f64::NAN; b.len()]);
        let mut dx = vec![0.5; case.x.len()];
        backward(
            case.cell,
            &case.s,
            &case.kernel,
            &case.rk,
            &case.x,
            &mut work,
            &w,
            &mut dk,
            &mut dr,
            db.as_deref_mut(),
            Some(&mut dx),
        );
        dx.iter_mut().for_each(|v| *v -= 0.5);
        let eps = 1e-6;
        let mut check = |what: &str, analytic: &[f64], get: &mut dyn FnMut(&mut Case) -> &mut Vec<f64>| {
            for (i, &a) in analytic.iter().enumerate() {
                let keep = get(&mut case)[i];
                get(&mut case)[i] = keep + eps;
                let plus = loss(&case);
                get(&mut case)[i] = keep - eps;
                let minus = loss(&case);
                get(&mut case)[i] = keep;
                let fd = (plus - minus) / (2.0 * eps);
                assert!(
                    (a - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                    "{what}[{i}] of {:?} {:?} n={} g={g}: {a} vs {fd}",
                    case.cell,
                    case.s,
                    case.n
                );
            }
        };
        check("kernel", &dk, &mut |c| &mut c.kernel);
        check("recurrent_kernel", &dr, &mut |c| &mut c.rk);
        check("x", &dx, &mut |c| &mut c.x);
        if let Some(db) = &db {
            check("bias", db, &mut |c| c.bias.as_mut().unwrap());
        }
    }
}

/// `step` over a sequence gives `forward`'s every `h`: in f64 to 1e-12,
/// in f32 within 1e-5 of f64; with units enough that a step computes them
/// in several blocks too (32: AVX-512's two groups in one pass).
#[test]
fn step_matches_forward() {
    fn run<T: Scalar>(case: &Case) -> Vec<f64> {
        let Case { cell, s, .. } = *case;
        let mut state = vec![T::zero(); state_len(cell, s.units)];
        let mut out = vec![T::of_f64(f64::NAN); s.units];
        let (kernel, rk, x) = (cast::<T>(&case.kernel), cast::<T>(&case.rk), cast::<T>(&case.x));
        let bias = case.bias.as_ref().map(|b| cast::<T>(b));
        let mut all = Vec::new();
        for xt in x.chunks_exact(s.features) {
            step(cell, s.features, s.units, &kernel, &rk, bias.as_deref(), xt, &mut state, &mut out);
            assert_eq!(state[..s.units], out[..]);
            all.extend(to_f64(&out));
        }
        all
    }
    let mut seed = 1000;
    for cell in cells() {
        for units in [1, 4, 7, 16, 24, 30, 32, 64, 65, 86, 257] {
            for (features, with_bias) in [(1, true), (3, false)] {
                seed += 1;
                let s = Shape { steps: 6, features, units, return_sequences: true, reverse: false };
                let case = Case::new(cell, s, 1, with_bias, seed);
                let (want, _) = case.forward::<f64>();
                // Relative to the values past 1: silu is unbounded, and
                // with hundreds of units they grow.
                let err = rel_diff(&run::<f64>(&case), &want);
                assert!(err < 1e-12, "{cell:?} {s:?} bias={with_bias}: {err}");
                // f32's rounding grows with the sums' length too.
                let err32 = rel_diff(&run::<f32>(&case), &want);
                assert!(
                    err32 < 1e-5 * (units as f64 / 16.0).sqrt().max(1.0),
                    "f32 {cell:?} {s:?} bias={with_bias}: {err32}"
                );
            }
        }
    }
}

#[test]
fn empty_batch_writes_zero_gradients() {
    let cell = Cell::Gru { activation: A::Tanh, recurrent_activation: A::Sigmoid };
    let s = Shape { steps: 3, features: 2, units: 2, return_sequences: false, reverse: false };
    let (mut dk, mut dr, mut db) = ([1.0f64; 12], [1.0f64; 12], [1.0f64; 12]);
    backward(cell, &s, &[0.0; 12], &[0.0; 12], &[], &mut [], &[], &mut dk, &mut dr, Some(&mut db), None);
    assert!(dk.iter().chain(&dr).chain(&db).all(|&v| v == 0.0));
    let mut out = [7.0f64; 2];
    forward(cell, &s, &[0.0; 12], &[0.0; 12], None, &[], &mut [], &mut out);
    assert_eq!(out, [7.0; 2]);
}

#[test]
fn work_and_state_lengths() {
    let s = Shape { steps: 10, features: 3, units: 4, return_sequences: false, reverse: false };
    let (t, sg) = (A::Tanh, A::Sigmoid);
    // gates, h, ds, dh, then the cell's own regions.
    assert_eq!(work_len(Cell::SimpleRnn { activation: A::Silu }, &s), 40 + 44 + 44 + 4);
    assert_eq!(work_len(Cell::Gru { activation: t, recurrent_activation: sg }, &s), 120 + 44 + 132 + 4 + 40);
    assert_eq!(work_len(Cell::Gru { activation: A::Gelu, recurrent_activation: sg }, &s), 340 + 120);
    assert_eq!(work_len(Cell::Lstm { activation: t, recurrent_activation: sg }, &s), 160 + 44 + 176 + 4 + 44 + 4);
    assert_eq!(infer_work_len(Cell::Lstm { activation: t, recurrent_activation: sg }, &s), 160 + 8 + 16 + 8);
    assert_eq!(infer_work_len(Cell::Gru { activation: A::Gelu, recurrent_activation: sg }, &s), 120 + 8 + 12);
    assert_eq!(state_len(Cell::Lstm { activation: t, recurrent_activation: sg }, 4), 8);
    assert_eq!(state_len(Cell::SimpleRnn { activation: t }, 4), 4);
}

/// `step_sized` computes what `step` does, to the bit, for sizes on both
/// sides of the small path's limit.
#[test]
fn sized_step_equals_step() {
    fn check<T: Scalar, const F: usize, const U: usize>(cell: Cell, with_bias: bool, seed: u64) {
        let s = Shape { steps: 7, features: F, units: U, return_sequences: true, reverse: false };
        let case = Case::new(cell, s, 1, with_bias, seed);
        let (kernel, rk, x) = (cast::<T>(&case.kernel), cast::<T>(&case.rk), cast::<T>(&case.x));
        let bias = case.bias.as_ref().map(|b| cast::<T>(b));
        let (mut state_a, mut state_b) = (vec![T::zero(); state_len(cell, U)], vec![T::zero(); state_len(cell, U)]);
        let (mut out_a, mut out_b) = (vec![T::zero(); U], vec![T::zero(); U]);
        for xt in x.chunks_exact(F) {
            step(cell, F, U, &kernel, &rk, bias.as_deref(), xt, &mut state_a, &mut out_a);
            step_sized::<T, F, U>(cell, &kernel, &rk, bias.as_deref(), xt, &mut state_b, &mut out_b);
            assert_eq!(to_f64(&out_a), to_f64(&out_b), "{cell:?} F={F} U={U} bias={with_bias}");
            assert_eq!(to_f64(&state_a), to_f64(&state_b), "{cell:?} F={F} U={U} bias={with_bias}");
        }
    }
    let mut seed = 5000;
    for cell in cells() {
        for with_bias in [true, false] {
            seed += 1;
            check::<f32, 1, 8>(cell, with_bias, seed);
            check::<f32, 1, 16>(cell, with_bias, seed);
            check::<f64, 3, 7>(cell, with_bias, seed);
            check::<f32, 2, 24>(cell, with_bias, seed);
            check::<f64, 4, 32>(cell, with_bias, seed);
            check::<f32, 1, 64>(cell, with_bias, seed);
            check::<f32, 3, 32>(cell, with_bias, seed);
        }
    }
}

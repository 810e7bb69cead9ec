//! Loading the UCI digits that the examples train on (data/digits.csv.gz,
//! scikit-learn's copy; see data/digits.rst).
#![allow(dead_code)]

use staticnet::nalgebra::{Const, Dyn, OMatrix};
use std::io::Read;

/// The digits: 64 pixels in 0..=16 per image and a class in 0..=9.
#[derive(Debug)]
pub struct Digits {
    pub pixels: Vec<[f32; 64]>,
    pub labels: Vec<u8>,
}

/// Reads `data/digits.csv.gz`; every problem is an error that names the line.
pub fn load_digits() -> Result<Digits, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot decompress {path}: {e}"))?;
    parse_digits(&text).map_err(|e| format!("{path}: {e}"))
}

/// Parses the CSV: 64 pixel values then the label, per line.
pub fn parse_digits(text: &str) -> Result<Digits, String> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 65 {
            return Err(format!("line {}: expected 65 fields (64 pixels and a label), found {}", i + 1, fields.len()));
        }
        let mut image = [0.0f32; 64];
        for (k, f) in fields[..64].iter().enumerate() {
            let v: f32 = f.parse().map_err(|_| format!("line {}: pixel {} is `{f}`, not a number", i + 1, k + 1))?;
            if !(0.0..=16.0).contains(&v) {
                return Err(format!("line {}: pixel {} is {v}, outside 0..=16", i + 1, k + 1));
            }
            image[k] = v;
        }
        let label: u8 =
            fields[64].parse().map_err(|_| format!("line {}: label `{}` is not a digit", i + 1, fields[64]))?;
        if label > 9 {
            return Err(format!("line {}: label {label} is not a digit", i + 1));
        }
        pixels.push(image);
        labels.push(label);
    }
    if pixels.is_empty() {
        return Err("no samples".into());
    }
    Ok(Digits { pixels, labels })
}

impl Digits {
    /// A reproducible stratified 80/20 split: a fifth of each class, drawn at
    /// random for `seed`, is held out for testing. Returns (train, test)
    /// indices, each in shuffled order.
    pub fn split(&self, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut rng = staticnet::rng::SplitMix64::new(seed);
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for class in 0..10u8 {
            let mut members: Vec<usize> = (0..self.labels.len()).filter(|&i| self.labels[i] == class).collect();
            staticnet::rng::shuffle(&mut members, &mut rng);
            let held = (members.len() + 2) / 5;
            test.extend_from_slice(&members[..held]);
            train.extend_from_slice(&members[held..]);
        }
        staticnet::rng::shuffle(&mut train, &mut rng);
        staticnet::rng::shuffle(&mut test, &mut rng);
        (train, test)
    }

    /// Pixels scaled by 1/16, a column per sample.
    pub fn inputs(&self, idx: &[usize]) -> OMatrix<f32, Const<64>, Dyn> {
        OMatrix::<f32, Const<64>, Dyn>::from_fn(idx.len(), |r, c| self.pixels[idx[c]][r] / 16.0)
    }

    /// One-hot classes, a column per sample.
    pub fn one_hot(&self, idx: &[usize]) -> OMatrix<f32, Const<10>, Dyn> {
        OMatrix::<f32, Const<10>, Dyn>::from_fn(idx.len(), |r, c| f32::from(self.labels[idx[c]] as usize == r))
    }

    /// 1 for odd digits, 0 for even.
    pub fn odd(&self, idx: &[usize]) -> OMatrix<f32, Const<1>, Dyn> {
        OMatrix::<f32, Const<1>, Dyn>::from_fn(idx.len(), |_, c| f32::from(self.labels[idx[c]] % 2 == 1))
    }

    /// Ink mass: the mean pixel value scaled to 0..=1.
    pub fn ink(&self, idx: &[usize]) -> OMatrix<f32, Const<1>, Dyn> {
        OMatrix::<f32, Const<1>, Dyn>::from_fn(idx.len(), |_, c| {
            self.pixels[idx[c]].iter().sum::<f32>() / (64.0 * 16.0)
        })
    }
}

/// The training run and timing of the examples that read the digits with
/// another network than `digits`'s (`$model`, whose input is the 64 pixels
/// row by row), on the same data, split and loop as `digits` (a stratified
/// 80/20 split, batch 32, 50 epochs) with the optimizer of its `compile`:
/// `Outcome`, `train_and_test(seed, verbose)` and `time_forward`.
#[allow(unused_macros)]
macro_rules! digits_training {
    ($model:ident) => {
        /// What one training run measured.
        pub struct Outcome {
            /// Accuracy on the held-out fifth, in 0..=1.
            pub test_accuracy: f64,
            /// Wall time of `fit`, in seconds.
            pub train_seconds: f64,
            /// The trained model.
            pub model: $model<f32>,
        }

        /// Trains the network on the split drawn with `seed` and tests it.
        pub fn train_and_test(seed: u64, verbose: bool) -> Result<Outcome, Box<dyn std::error::Error>> {
            let data = common::load_digits()?;
            let (train, test) = data.split(seed);
            let (x_train, y_train) = (data.inputs(&train), data.one_hot(&train));
            let (x_test, y_test) = (data.inputs(&test), data.one_hot(&test));
            if verbose {
                println!("{} training and {} test images", train.len(), test.len());
                println!("{}", $model::<f32>::summary());
            }
            let mut model = $model::<f32>::new(seed);
            let mut optimizer = $model::<f32>::optimizer();
            let options =
                staticnet::FitOptions::new().epochs(50).batch_size(32).seed(seed).verbose(if verbose { 2 } else { 0 });
            let start = std::time::Instant::now();
            staticnet::fit(&mut model, &mut optimizer, &x_train, &y_train, &options)?;
            let train_seconds = start.elapsed().as_secs_f64();
            let test_logs = staticnet::evaluate(&model, &x_test, &y_test, 256)?;
            let test_accuracy = test_logs.get("accuracy").unwrap_or(f64::NAN);
            Ok(Outcome { test_accuracy, train_seconds, model })
        }

        /// Prints the time of `forward` on the first test image of the
        /// split drawn with `seed`, and returns the image.
        #[allow(dead_code)]
        fn time_forward(
            model: &$model<f32>,
            seed: u64,
        ) -> Result<staticnet::nalgebra::SVector<f32, 64>, Box<dyn std::error::Error>> {
            let pixels = common::load_digits()?;
            let (_, test) = pixels.split(seed);
            let one = staticnet::nalgebra::SVector::<f32, 64>::from_column_slice(pixels.inputs(&test[..1]).as_slice());
            let start = std::time::Instant::now();
            let rounds = 10_000;
            let mut class = 0;
            for _ in 0..rounds {
                class = std::hint::black_box(model).forward(std::hint::black_box(&one)).argmax().0;
            }
            println!(
                "one image through `forward`: {:.1} µs (class {class})",
                start.elapsed().as_secs_f64() * 1e6 / rounds as f64
            );
            Ok(one)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_errors() {
        assert!(parse_digits("").unwrap_err().contains("no samples"));
        assert!(parse_digits("1,2,3").unwrap_err().contains("expected 65 fields"));
        let mut line = vec!["0"; 64].join(",");
        line.push_str(",12");
        assert!(parse_digits(&line).unwrap_err().contains("label 12"));
    }
}

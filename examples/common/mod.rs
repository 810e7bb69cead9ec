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

//! Keras's `Embedding`: each id picks a row of the table. Ids travel as the
//! network's scalar type (exact integers); the table is Keras's
//! `[input_dim, output_dim]`, row-major, so an id's row is `output_dim`
//! adjacent values.

use crate::Scalar;

/// The row of `id` in a table of `input_dim` rows, if it has one: an id
/// that is not an integer in `[0, input_dim)` has none.
#[inline]
fn row<T: Scalar>(input_dim: usize, id: T) -> Option<usize> {
    let v = id.as_f64();
    // A NaN fails the first test; a fraction or a value past `usize`'s
    // range does not survive the round trip.
    (v >= 0.0 && v < input_dim as f64 && (v as usize) as f64 == v).then_some(v as usize)
}

/// `out[i·output_dim..][..output_dim]` = the table's row of `ids[i]`, for
/// every id (a batch of sequences of ids gives `(steps, output_dim)` per
/// sample, row-major); an id outside `[0, input_dim)` gives zeros.
///
/// # Panics
/// If `table` is shorter than `input_dim·output_dim` or `out` than
/// `ids.len()·output_dim`.
pub fn forward<T: Scalar>(input_dim: usize, output_dim: usize, table: &[T], ids: &[T], out: &mut [T]) {
    let table = &table[..input_dim * output_dim];
    if output_dim == 0 {
        return;
    }
    for (&id, dst) in ids.iter().zip(out[..ids.len() * output_dim].chunks_exact_mut(output_dim)) {
        match row(input_dim, id) {
            Some(r) => dst.copy_from_slice(&table[r * output_dim..][..output_dim]),
            None => dst.fill(T::zero()),
        }
    }
}

/// Writes the table's gradient: zero, then each id's row of `dout` added
/// into its row (an id outside `[0, input_dim)` contributes nothing).
///
/// # Panics
/// If `dtable` is shorter than `input_dim·output_dim` or `dout` than
/// `ids.len()·output_dim`.
pub fn backward<T: Scalar>(input_dim: usize, output_dim: usize, ids: &[T], dout: &[T], dtable: &mut [T]) {
    let dtable = &mut dtable[..input_dim * output_dim];
    dtable.fill(T::zero());
    if output_dim == 0 {
        return;
    }
    for (&id, d) in ids.iter().zip(dout[..ids.len() * output_dim].chunks_exact(output_dim)) {
        if let Some(r) = row(input_dim, id) {
            super::add_into(&mut dtable[r * output_dim..][..output_dim], d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_picked_and_gradients_scattered() {
        let (v, d) = (4, 3);
        let table: Vec<f64> = (0..v * d).map(|i| i as f64 * 0.5 - 1.0).collect();
        // Two samples of three ids, with ids out of range, a fraction, a
        // negative id and a NaN among them.
        let ids = [2.0, 0.0, 4.0, 2.0, -1.0, 1.5, f64::NAN, 3.0];
        let mut out = vec![7.0; ids.len() * d];
        forward(v, d, &table, &ids, &mut out);
        for (i, &id) in ids.iter().enumerate() {
            let want: Vec<f64> = match id {
                0.0 | 2.0 | 3.0 => table[id as usize * d..][..d].to_vec(),
                _ => vec![0.0; d],
            };
            assert_eq!(&out[i * d..][..d], &want[..], "id {id}");
        }
        let dout: Vec<f64> = (0..ids.len() * d).map(|i| i as f64 + 1.0).collect();
        let mut dtable = vec![9.0; v * d];
        backward(v, d, &ids, &dout, &mut dtable);
        let mut want = vec![0.0; v * d];
        for (i, &id) in ids.iter().enumerate() {
            if matches!(id, 0.0 | 2.0 | 3.0) {
                for j in 0..d {
                    want[id as usize * d + j] += dout[i * d + j];
                }
            }
        }
        assert_eq!(dtable, want);
        // Row 2 was picked twice: its gradient is the sum.
        assert_eq!(dtable[2 * d], dout[0] + dout[3 * d]);
        // f32 ids likewise.
        let table32: Vec<f32> = table.iter().map(|&t| t as f32).collect();
        let mut out32 = [0.0f32; 6];
        forward(v, d, &table32, &[3.0f32, 1e20], &mut out32);
        assert_eq!(out32, [table32[9], table32[10], table32[11], 0.0, 0.0, 0.0]);
    }
}

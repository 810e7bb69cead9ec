//! The Keras-like table that `summary()` returns.

use core::fmt::{self, Write};

/// One layer's row in a [`Summary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// Layer name.
    pub layer: &'static str,
    /// Keras class name (`Dense`, `InputLayer`, …).
    pub class: &'static str,
    /// Output values per sample.
    pub width: usize,
    /// Output shape per sample, as Keras writes it without the batch axis;
    /// 0 for a length Keras writes `None` (the steps of a streaming model).
    pub shape: &'static [usize],
    /// Number of parameters.
    pub params: usize,
    /// Names of the layers it is called on.
    pub connected_to: &'static [&'static str],
}

/// A model's summary; its `Display` prints Keras's table.
///
/// ```
/// staticnet::network! {
///     pub struct Mlp {
///         let x = Input(4);
///         let y = Dense(2)(x);
///         Model(x, y);
///     }
/// }
/// let table = Mlp::<f32>::summary().to_string();
/// assert!(table.contains("dense (Dense)"));
/// assert!(table.contains("Total params: 10"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The model's (struct's) name.
    pub name: &'static str,
    /// One row per layer, in definition order.
    pub rows: &'static [SummaryRow],
    /// Trainable parameters.
    pub trainable: usize,
    /// Non-trainable parameters (moving statistics).
    pub non_trainable: usize,
    /// Whether to show the "Connected to" column (graphs that are not a chain).
    pub show_connected: bool,
    /// Bytes per parameter of the scalar type.
    pub scalar_bytes: usize,
}

/// A small stack string, so the table needs no allocator.
struct Cell {
    bytes: [u8; 256],
    len: usize,
}

impl Cell {
    fn new() -> Self {
        Cell { bytes: [0; 256], len: 0 }
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
    fn chars(&self) -> usize {
        self.as_str().chars().count()
    }
}

impl Write for Cell {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let b = s.as_bytes();
        let room = self.bytes.len() - self.len;
        let take = if b.len() <= room {
            b.len()
        } else {
            // cut at a char boundary
            let mut k = room;
            while !s.is_char_boundary(k) {
                k -= 1;
            }
            k
        };
        self.bytes[self.len..self.len + take].copy_from_slice(&b[..take]);
        self.len += take;
        Ok(())
    }
}

fn grouped(n: usize) -> Cell {
    let mut digits = Cell::new();
    let _ = write!(digits, "{n}");
    let d = digits.as_str();
    let mut out = Cell::new();
    for (i, ch) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            let _ = out.write_char(',');
        }
        let _ = out.write_char(ch);
    }
    out
}

fn bytes_cell(bytes: usize) -> Cell {
    let mut out = Cell::new();
    let b = bytes as f64;
    let _ = if b >= 1024.0 * 1024.0 {
        write!(out, "{:.2} MB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        write!(out, "{:.2} KB", b / 1024.0)
    } else {
        write!(out, "{bytes} B")
    };
    out
}

impl Summary {
    fn cells(&self, row: &SummaryRow) -> [Cell; 4] {
        let mut name = Cell::new();
        let _ = write!(name, "{} ({})", row.layer, row.class);
        let mut shape = Cell::new();
        let _ = shape.write_str("(None");
        for &d in row.shape {
            let _ = match d {
                0 => shape.write_str(", None"),
                d => write!(shape, ", {d}"),
            };
        }
        let _ = shape.write_char(')');
        let params = grouped(row.params);
        let mut conn = Cell::new();
        if row.connected_to.is_empty() {
            let _ = conn.write_str("-");
        }
        for (i, c) in row.connected_to.iter().enumerate() {
            let _ = write!(conn, "{}{}[0][0]", if i > 0 { ", " } else { "" }, c);
        }
        [name, shape, params, conn]
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cols = if self.show_connected { 4 } else { 3 };
        let headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"];
        let mut widths = [0usize; 4];
        for (w, h) in widths.iter_mut().zip(headers) {
            *w = h.chars().count();
        }
        for row in self.rows {
            for (w, cell) in widths.iter_mut().zip(self.cells(row).iter()) {
                *w = (*w).max(cell.chars());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, l: char, m: char, r: char, fill: char| -> fmt::Result {
            f.write_char(l)?;
            for (i, w) in widths.iter().take(cols).enumerate() {
                for _ in 0..w + 2 {
                    f.write_char(fill)?;
                }
                f.write_char(if i + 1 == cols { r } else { m })?;
            }
            f.write_char('\n')
        };
        writeln!(f, "Model: \"{}\"", self.name)?;
        line(f, '┏', '┳', '┓', '━')?;
        f.write_char('┃')?;
        for (i, h) in headers.iter().take(cols).enumerate() {
            if i == 2 {
                write!(f, " {:>w$} ┃", h, w = widths[i])?;
            } else {
                write!(f, " {:<w$} ┃", h, w = widths[i])?;
            }
        }
        f.write_char('\n')?;
        line(f, '┡', '╇', '┩', '━')?;
        for (k, row) in self.rows.iter().enumerate() {
            let cells = self.cells(row);
            f.write_char('│')?;
            for (i, cell) in cells.iter().take(cols).enumerate() {
                if i == 2 {
                    write!(f, " {:>w$} │", cell.as_str(), w = widths[i])?;
                } else {
                    write!(f, " {:<w$} │", cell.as_str(), w = widths[i])?;
                }
            }
            f.write_char('\n')?;
            if k + 1 < self.rows.len() {
                line(f, '├', '┼', '┤', '─')?;
            }
        }
        line(f, '└', '┴', '┘', '─')?;
        let total = self.trainable + self.non_trainable;
        for (label, n) in [("Total", total), ("Trainable", self.trainable), ("Non-trainable", self.non_trainable)] {
            writeln!(f, " {label} params: {} ({})", grouped(n).as_str(), bytes_cell(n * self.scalar_bytes).as_str())?;
        }
        Ok(())
    }
}

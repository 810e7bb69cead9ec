//! Learning curves as a picture: [`History::to_svg`] and
//! [`History::write_svg`] (feature `plot`), drawn with the plotters crate's
//! SVG backend (pure Rust: the text is left to whatever displays the SVG).

use std::fmt;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::history::History;

/// Width and height of one chart, in pixels.
const CHART_SIZE: (u32, u32) = (520, 340);
/// Matplotlib's first two colours, which Keras users' own plots have.
const TRAINING_COLOR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const VALIDATION_COLOR: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
/// Up to this many epochs, each epoch's value is marked with a dot.
const MARKED_EPOCHS: usize = 30;

/// Why [`History::to_svg`] or [`History::write_svg`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlotError {
    /// The history holds no epoch, so there is no curve to draw.
    NoEpochs,
    /// The plotting crate could not draw the charts.
    Draw(String),
    /// The SVG file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::NoEpochs => f.write_str("the history holds no epoch, so there are no learning curves to draw"),
            PlotError::Draw(message) => write!(f, "drawing the learning curves failed: {message}"),
            PlotError::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One chart: a logged name and, when validation ran, its `val_` twin.
struct Chart<'h> {
    name: &'h str,
    series: Vec<(&'h str, &'h [f64], RGBColor)>,
}

impl History {
    /// The learning curves as an SVG document: a chart per logged value
    /// (`loss`, `accuracy`, per-head losses and metrics, `learning_rate`)
    /// against the epoch, its training and validation values together,
    /// labelled with the names Keras logs, two charts a row. Needs the
    /// `plot` feature.
    ///
    /// ```
    /// # fn show(history: &staticnet::History) -> Result<(), staticnet::fit::PlotError> {
    /// history.write_svg("target/history.svg")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn to_svg(&self) -> Result<String, PlotError> {
        if self.epochs() == 0 {
            return Err(PlotError::NoEpochs);
        }
        let charts = self.charts();
        let columns = charts.len().min(2);
        let rows = charts.len().div_ceil(columns);
        let size = (CHART_SIZE.0 * columns as u32, CHART_SIZE.1 * rows as u32);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
            root.fill(&WHITE).map_err(draw_error)?;
            for (area, chart) in root.split_evenly((rows, columns)).iter().zip(&charts) {
                draw_chart(area, chart, self.epochs())?;
            }
            root.present().map_err(draw_error)?;
        }
        Ok(svg)
    }

    /// Writes [`to_svg`](Self::to_svg)'s document to `path`.
    pub fn write_svg(&self, path: impl AsRef<Path>) -> Result<(), PlotError> {
        let path = path.as_ref();
        let svg = self.to_svg()?;
        std::fs::write(path, svg).map_err(|source| PlotError::Write { path: path.to_path_buf(), source })
    }

    /// The charts, in log order: each training value with its validation
    /// twin, then any validation value without one.
    fn charts(&self) -> Vec<Chart<'_>> {
        let mut charts: Vec<Chart<'_>> = Vec::new();
        for (name, values) in self.iter() {
            let twin = name.strip_prefix("val_").and_then(|base| charts.iter_mut().find(|c| c.name == base));
            match twin {
                Some(chart) => chart.series.push((name, values, VALIDATION_COLOR)),
                None => charts.push(Chart { name, series: vec![(name, values, TRAINING_COLOR)] }),
            }
        }
        charts
    }
}

fn draw_error(error: impl fmt::Display) -> PlotError {
    PlotError::Draw(error.to_string())
}

/// Draws `chart` over epochs `1..=epochs` into `area`.
fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &Chart<'_>,
    epochs: usize,
) -> Result<(), PlotError> {
    let (low, high) = value_range(chart);
    let mut context = ChartBuilder::on(area)
        .caption(chart.name, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(1..epochs.max(2) as u32, low..high)
        .map_err(draw_error)?;
    context
        .configure_mesh()
        .x_desc("epoch")
        .x_labels(epochs.clamp(2, 10))
        .y_labels(6)
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()
        .map_err(draw_error)?;
    let marker = if epochs <= MARKED_EPOCHS { 3 } else { 0 };
    for &(name, values, color) in &chart.series {
        // A NaN has no place on the chart: its epoch is left out.
        let points = values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(e, &v)| (e as u32 + 1, v));
        context
            .draw_series(LineSeries::new(points, color.stroke_width(2)).point_size(marker))
            .map_err(draw_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    // The legend goes where the curves end least: below them if they end high.
    let last = chart.series[0].1.iter().rev().copied().find(|v| v.is_finite()).unwrap_or(low);
    let position =
        if last > (low + high) / 2.0 { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight };
    context
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(0xbb, 0xbb, 0xbb))
        .draw()
        .map_err(draw_error)
}

/// The value axis: the finite values of every series, with a margin.
fn value_range(chart: &Chart<'_>) -> (f64, f64) {
    let finite = chart.series.iter().flat_map(|(_, values, _)| values.iter().copied()).filter(|v| v.is_finite());
    let (low, high) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        return (0.0, 1.0);
    }
    let margin = if high > low { 0.05 * (high - low) } else { 0.05 * low.abs().max(1.0) };
    (low - margin, high + margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn history(names: &[&str], epochs: usize) -> History {
        let mut history = History::with_names(names.iter().map(|&n| String::from(n)).collect());
        for epoch in 0..epochs {
            let values: Vec<f64> = (0..names.len()).map(|i| 1.0 / (epoch + i + 1) as f64).collect();
            history.push(&values);
        }
        history
    }

    /// Every text of the SVG, which must parse as XML.
    fn texts(svg: &str) -> Vec<String> {
        let document = roxmltree::Document::parse(svg).expect("the SVG is XML");
        assert_eq!(document.root_element().tag_name().name(), "svg");
        document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(|t| String::from(t.trim()))
            .collect()
    }

    #[test]
    fn the_svg_is_xml_and_names_every_curve() {
        let names = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"];
        let svg = history(&names, 12).to_svg().unwrap();
        let texts = texts(&svg);
        for name in names {
            // Each name labels a curve in a legend; the training names title the charts too.
            let expected = if name.starts_with("val_") { 1 } else { 2 };
            assert_eq!(texts.iter().filter(|t| *t == name).count(), expected, "{name} in {texts:?}");
        }
        assert_eq!(texts.iter().filter(|t| *t == "epoch").count(), 3);
        // Three charts, two a row.
        let document = roxmltree::Document::parse(&svg).unwrap();
        let root = document.root_element();
        assert_eq!((root.attribute("width"), root.attribute("height")), (Some("1040"), Some("680")));
    }

    #[test]
    fn one_epoch_and_nan_values_still_draw() {
        let mut history = History::with_names(vec![String::from("loss")]);
        history.push(&[f64::NAN]);
        assert!(texts(&history.to_svg().unwrap()).contains(&String::from("loss")));
        history.push(&[0.5]);
        assert!(history.to_svg().is_ok());
    }

    #[test]
    fn errors_name_the_problem() {
        let empty = history(&["loss"], 0);
        assert_eq!(
            empty.to_svg().unwrap_err().to_string(),
            "the history holds no epoch, so there are no learning curves to draw"
        );
        let error = history(&["loss"], 2).write_svg("/nonexistent-directory/curves.svg").unwrap_err();
        assert!(error.to_string().starts_with("cannot write /nonexistent-directory/curves.svg: "), "{error}");
        assert!(std::error::Error::source(&error).is_some());
    }
}

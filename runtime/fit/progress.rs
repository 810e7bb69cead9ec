//! What `fit` prints as it trains, as Keras 3's `ProgbarLogger` prints it
//! (see [`Verbosity`] for the format).
//!
//! The lines are built here as strings, and written either to a terminal,
//! where the bar line is redrawn in place (the `console` crate clears the
//! line and knows the terminal's width), or to any [`Write`] as whole lines,
//! which is how standard output that is not a terminal gets them and how
//! the tests read them. Time comes from a clock the tests can replace.

use core::fmt::Write as _;
use core::time::Duration;
use std::io::{self, Write};
use std::time::Instant;

use console::{Style, Term};

use super::history::write_value;
use super::options::Verbosity;
use super::train::Observer;

/// Keras's `Progbar.interval`: the bar is redrawn at most this often.
const REDRAW_INTERVAL: Duration = Duration::from_millis(50);

/// Characters of the bar, as Keras draws it.
const BAR_WIDTH: usize = 20;

/// What each epoch prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Silent,
    Bar,
    EpochLine,
}

/// Where the lines go.
enum Output<'w> {
    /// A terminal: the bar is redrawn in place, in colour.
    Terminal(Term),
    /// Whole lines, no escape codes.
    Lines(Box<dyn Write + 'w>),
}

/// The time since some fixed start.
pub(super) type Clock<'w> = Box<dyn FnMut() -> Duration + 'w>;

/// `fit`'s progress output for one training run.
pub(super) struct Progress<'w> {
    layout: Layout,
    output: Output<'w>,
    clock: Clock<'w>,
    epochs: usize,
    steps: usize,
    /// Indices into the logged names in the order Keras prints them, and
    /// how many of them are training values (printed mid-epoch).
    order: Vec<usize>,
    training_values: usize,
    names: Vec<String>,
    epoch_start: Duration,
    first_step_end: Option<Duration>,
    last_draw: Option<Duration>,
    /// Whether the terminal's cursor is at the end of a bar line that no
    /// final line has replaced yet.
    bar_open: bool,
    running: Vec<f64>,
    line: String,
}

impl Progress<'static> {
    /// Progress on standard output, as `verbosity` asks for it there.
    pub(super) fn to_stdout(verbosity: Verbosity) -> Self {
        let start = Instant::now();
        let clock = Box::new(move || start.elapsed());
        if verbosity == Verbosity::Silent {
            return Progress::new(Layout::Silent, Output::Lines(Box::new(io::sink())), clock);
        }
        let term = Term::buffered_stdout();
        let is_terminal = term.is_term();
        let layout = match verbosity {
            Verbosity::ProgressBar => Layout::Bar,
            Verbosity::Auto if is_terminal => Layout::Bar,
            _ => Layout::EpochLine,
        };
        let output = if is_terminal && layout == Layout::Bar {
            Output::Terminal(term)
        } else {
            Output::Lines(Box::new(io::stdout()))
        };
        Progress::new(layout, output, clock)
    }
}

impl<'w> Progress<'w> {
    fn new(layout: Layout, output: Output<'w>, clock: Clock<'w>) -> Self {
        Progress {
            layout,
            output,
            clock,
            epochs: 0,
            steps: 0,
            order: Vec::new(),
            training_values: 0,
            names: Vec::new(),
            epoch_start: Duration::ZERO,
            first_step_end: None,
            last_draw: None,
            bar_open: false,
            running: Vec::new(),
            line: String::new(),
        }
    }

    /// Progress written to `out` as whole lines (no terminal), timed by
    /// `clock`: the tests' view of what a log receives.
    #[cfg(test)]
    pub(super) fn to_writer(verbosity: Verbosity, out: impl Write + 'w, clock: Clock<'w>) -> Self {
        let layout = match verbosity {
            Verbosity::Silent => Layout::Silent,
            Verbosity::ProgressBar => Layout::Bar,
            Verbosity::Auto | Verbosity::EpochLine => Layout::EpochLine,
        };
        Progress::new(layout, Output::Lines(Box::new(out)), clock)
    }

    /// Writes `text` as a line of its own (after a bar being redrawn, on
    /// the next line). Write errors are ignored: progress is not worth
    /// failing training for.
    fn write_line(&mut self, text: &str) {
        self.bar_open = false;
        let _ = match &mut self.output {
            Output::Terminal(term) => {
                term.clear_line().and_then(|()| term.write_line(text)).and_then(|()| term.flush())
            }
            Output::Lines(out) => writeln!(out, "{text}").and_then(|()| out.flush()),
        };
    }

    /// Redraws the bar line in place, cut to the terminal's width so that
    /// it never wraps (a wrapped line could not be redrawn).
    fn redraw(&mut self) {
        if let Output::Terminal(term) = &self.output {
            let width = term.size_checked().map_or(80, |(_, columns)| usize::from(columns));
            let line = console::truncate_str(&self.line, width.saturating_sub(1), "");
            let _ = term.clear_line().and_then(|()| term.write_str(&line)).and_then(|()| term.flush());
            self.bar_open = true;
        }
    }

    /// Keras's estimate of the time per step after `step` steps at `now`:
    /// the first step (often slow) is left out once there are others.
    fn time_per_step(&self, step: usize, now: Duration) -> Duration {
        match self.first_step_end {
            Some(first) if step > 1 => (now.saturating_sub(first)) / (step as u32 - 1),
            _ => now.saturating_sub(self.epoch_start) / step.max(1) as u32,
        }
    }

    /// Builds the bar line after `step` steps into `self.line`; `time` is
    /// the estimated time left (mid-epoch) or the epoch's time (at its end).
    fn build_bar_line(&mut self, step: usize, time: &str, per_step: Duration, values: &[f64], shown: usize) {
        let colors = matches!(self.output, Output::Terminal(_));
        let style = |style: Style| if colors { Some(style) } else { None };
        let bold = style(Style::new().bold());
        self.line.clear();
        let count = step_count(step, self.steps);
        push_styled(&mut self.line, &count, bold.as_ref());
        self.line.push(' ');
        let done = BAR_WIDTH * step / self.steps.max(1);
        push_styled(&mut self.line, &"━".repeat(done), style(Style::new().green()).as_ref());
        push_styled(&mut self.line, &"━".repeat(BAR_WIDTH - done), style(Style::new().white()).as_ref());
        self.line.push(' ');
        push_styled(&mut self.line, time, bold.as_ref());
        let _ = write!(self.line, " {}/step", format_time(per_step));
        self.push_values(values, shown);
    }

    /// Appends ` - name: value` for the first `shown` names in Keras's order.
    fn push_values(&mut self, values: &[f64], shown: usize) {
        for &i in &self.order[..shown] {
            let _ = write!(self.line, " - {}: ", self.names[i]);
            let _ = write_value(&mut self.line, values[i]);
        }
    }
}

impl Observer for Progress<'_> {
    fn train_begin(&mut self, names: &[String], epochs: usize, steps: usize) {
        self.names = names.to_vec();
        self.order = keras_order(names);
        self.training_values = names.iter().filter(|n| is_training_value(n)).count();
        self.epochs = epochs;
        self.steps = steps;
    }

    fn epoch_begin(&mut self, epoch: usize) {
        if self.layout == Layout::Silent {
            return;
        }
        self.epoch_start = (self.clock)();
        self.first_step_end = None;
        self.last_draw = None;
        // Keras names the epoch only when there are several.
        if self.epochs > 1 {
            self.write_line(&format!("Epoch {}/{}", epoch + 1, self.epochs));
        }
    }

    fn batch_end(&mut self, step: usize, running: &dyn Fn(&mut Vec<f64>)) {
        if self.layout != Layout::Bar {
            return;
        }
        let redraws = matches!(self.output, Output::Terminal(_));
        // Without a terminal only the first step's time is needed (for the
        // time per step); the clock is not read on every step.
        if step != 1 && !redraws {
            return;
        }
        let now = (self.clock)();
        if step == 1 {
            self.first_step_end = Some(now);
        }
        let due = self.last_draw.is_none_or(|last| now.saturating_sub(last) >= REDRAW_INTERVAL);
        if !redraws || step >= self.steps || !due {
            return;
        }
        self.last_draw = Some(now);
        let per_step = self.time_per_step(step, now);
        let eta = per_step * (self.steps - step) as u32;
        let mut values = core::mem::take(&mut self.running);
        values.clear();
        running(&mut values);
        self.build_bar_line(step, &format_eta(eta), per_step, &values, self.training_values);
        self.running = values;
        self.redraw();
    }

    fn epoch_end(&mut self, values: &[f64]) -> Duration {
        if self.layout == Layout::Silent {
            return Duration::ZERO;
        }
        let now = (self.clock)();
        let elapsed = now.saturating_sub(self.epoch_start);
        let shown = self.order.len();
        match self.layout {
            Layout::Bar => {
                let per_step = self.time_per_step(self.steps, now);
                self.build_bar_line(self.steps, &format_time(elapsed), per_step, values, shown);
            }
            _ => {
                // Keras's line per epoch divides the whole epoch by its steps.
                let per_step = elapsed / self.steps.max(1) as u32;
                self.line.clear();
                let count = step_count(self.steps, self.steps);
                let _ = write!(self.line, "{count} - {} - {}/step", format_time(elapsed), format_time(per_step));
                self.push_values(values, shown);
            }
        }
        let line = core::mem::take(&mut self.line);
        self.write_line(&line);
        self.line = line;
        elapsed
    }

    fn train_end(&mut self) {
        // Training stopped mid-epoch (a NaN loss): keep the bar as it was.
        if self.bar_open {
            if let Output::Terminal(term) = &self.output {
                let _ = term.write_line("").and_then(|()| term.flush());
            }
            self.bar_open = false;
        }
    }

    fn note(&mut self, text: &str) {
        if self.layout != Layout::Silent {
            self.write_line(text);
        }
    }
}

/// `12/45`, the step right-aligned to the width of the total, as Keras.
fn step_count(step: usize, steps: usize) -> String {
    let digits = steps.to_string().len();
    format!("{step:>digits$}/{steps}")
}

/// Appends `text` to `line`, styled when `style` is given.
fn push_styled(line: &mut String, text: &str, style: Option<&Style>) {
    let _ = match style {
        Some(style) => write!(line, "{}", style.apply_to(text)),
        None => write!(line, "{text}"),
    };
}

/// Whether `name` is logged by training itself, as opposed to validation
/// values or the learning rate (which Keras's bar shows only at the end).
fn is_training_value(name: &str) -> bool {
    !name.starts_with("val_") && name != "learning_rate"
}

/// Keras 3's order of the logged names: it sorts the training values by
/// name, then the validation values, and a learning-rate schedule adds the
/// rate last.
fn keras_order(names: &[String]) -> Vec<usize> {
    let group = |name: &str| match name {
        "learning_rate" => 2,
        name if name.starts_with("val_") => 1,
        _ => 0,
    };
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| (group(&names[a]), &names[a]).cmp(&(group(&names[b]), &names[b])));
    order
}

/// A duration in the unit that fits it: `850µs`, `12ms`, `3s` (rounded).
fn format_time(time: Duration) -> String {
    let micros = (time.as_secs_f64() * 1e6).round();
    if micros < 1e3 {
        return format!("{micros:.0}µs");
    }
    let millis = (time.as_secs_f64() * 1e3).round();
    if millis < 1e3 {
        return format!("{millis:.0}ms");
    }
    format!("{:.0}s", time.as_secs_f64().round())
}

/// The time left, as Keras prints it past a minute (`1:05`, `1:01:05`),
/// else as [`format_time`].
fn format_eta(eta: Duration) -> String {
    let seconds = eta.as_secs();
    if seconds > 3600 {
        format!("{}:{:02}:{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60)
    } else if seconds > 60 {
        format!("{}:{:02}", seconds / 60, seconds % 60)
    } else {
        format_time(eta)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_models::*;
    use super::super::train::fit_observed;
    use super::*;
    use crate::fit::{EarlyStopping, FitOptions};
    use crate::network::Network;

    /// A clock that advances by `step` at every reading.
    fn ticking<'w>(step: Duration) -> Clock<'w> {
        let mut now = Duration::ZERO;
        Box::new(move || {
            now += step;
            now
        })
    }

    /// What `fit` prints, as a log receives it, with every clock reading
    /// `tick` after the one before.
    fn printed<M: crate::network::Train<f64> + crate::network::Data<f64>>(
        model: &mut M,
        x: M::Inputs<'_>,
        y: M::Targets<'_>,
        options: &FitOptions<'_, f64, M>,
        tick: Duration,
    ) -> String {
        let mut out = Vec::new();
        let mut progress = Progress::to_writer(options.verbose, &mut out, ticking(tick));
        fit_observed(model, &mut sgd(0.0), x, y, options, &mut progress).unwrap();
        drop(progress);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_line_per_epoch_reads_like_keras() {
        let d = two_head_data(10, 3);
        let mut model = TwoHead::with_seed(2);
        let options = FitOptions::new().epochs(2).batch_size(4).validation_split(0.2).verbose(2);
        // 8 training samples: 2 steps; each epoch reads the clock twice, 7ms apart.
        let text = printed(&mut model, (&d.a, &d.b), (&d.reg, &d.cls), &options, Duration::from_millis(7));
        // A learning rate of 0, so both epochs log the same values (loss =
        // 0.5 reg_loss + cls_loss), sorted by name as Keras 3 prints them.
        let line = "2/2 - 7ms - 4ms/step - cls_accuracy: 0.7500 - cls_loss: 0.5157 - loss: 1.5259 - reg_loss: 2.0205 \
                    - reg_mae: 1.1840 - val_cls_accuracy: 1.0000 - val_cls_loss: 0.5364 - val_loss: 0.9920 \
                    - val_reg_loss: 0.9112 - val_reg_mae: 0.9546";
        assert_eq!(text, format!("Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n"));
    }

    #[test]
    fn the_bar_without_a_terminal_prints_each_epochs_final_line() {
        let x = ids(10);
        let y = Cols::<1>::from_element(10, 1.0);
        let options = FitOptions::new().batch_size(3).shuffle(false).verbose(1);
        // Clock readings: the epoch's start (0.5s), its first step (1s), its end (1.5s).
        let text = printed(&mut Probe::default(), &x, &y, &options, Duration::from_millis(500));
        // One epoch: no `Epoch 1/1`; 4 steps, the first left out of the time per step.
        assert_eq!(text, "4/4 ━━━━━━━━━━━━━━━━━━━━ 1s 167ms/step - loss: 1.0000\n");
    }

    #[test]
    fn early_stopping_says_so() {
        let x = ids(8);
        let y = Cols::<1>::from_element(8, 1.0);
        let stop = EarlyStopping::new("loss").patience(1).restore_best_weights(true);
        let options = FitOptions::new().epochs(5).batch_size(8).verbose(2).early_stopping(stop);
        // A learning rate of 0: the loss never improves, so the second epoch stops.
        let text = printed(&mut Probe::default(), &x, &y, &options, Duration::from_micros(850));
        let line = "1/1 - 850µs - 850µs/step - loss: 1.0000";
        assert_eq!(
            text,
            format!(
                "Epoch 1/5\n{line}\nEpoch 2/5\n{line}\nEpoch 2: early stopping\n\
                 Restoring model weights from the end of the best epoch: 1.\n"
            )
        );
    }

    #[test]
    fn silent_prints_nothing() {
        let x = ids(8);
        let y = Cols::<1>::from_element(8, 1.0);
        let stop = EarlyStopping::new("loss").patience(0);
        let options = FitOptions::new().epochs(3).verbose(0).early_stopping(stop);
        assert_eq!(printed(&mut Probe::default(), &x, &y, &options, Duration::from_millis(1)), "");
    }

    #[test]
    fn the_bar_line_mid_epoch() {
        let mut out = Vec::new();
        let mut progress = Progress::to_writer(Verbosity::ProgressBar, &mut out, ticking(Duration::ZERO));
        let names = ["loss", "accuracy", "val_loss", "val_accuracy"].map(String::from);
        progress.train_begin(&names, 50, 45);
        progress.build_bar_line(12, "1s", Duration::from_millis(23), &[0.27, 0.91], 2);
        // 12/45 of 20 characters: 5 done; the training values only, sorted.
        assert_eq!(progress.line, "12/45 ━━━━━━━━━━━━━━━━━━━━ 1s 23ms/step - accuracy: 0.9100 - loss: 0.2700");
        assert_eq!(progress.line.matches('━').count(), BAR_WIDTH);
        progress.build_bar_line(3, "0s", Duration::from_millis(2), &[0.5, 0.25, 0.75, 0.125], 4);
        assert_eq!(
            progress.line,
            " 3/45 ━━━━━━━━━━━━━━━━━━━━ 0s 2ms/step - accuracy: 0.2500 - loss: 0.5000 - val_accuracy: 0.1250 \
             - val_loss: 0.7500"
        );
    }

    #[test]
    fn keras_sorts_training_then_validation_values() {
        let names = ["loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy", "val_loss", "val_reg_loss"]
            .map(String::from)
            .to_vec();
        let mut with_rate = names.clone();
        with_rate.push(String::from("learning_rate"));
        let sorted: Vec<&str> = keras_order(&with_rate).iter().map(|&i| with_rate[i].as_str()).collect();
        assert_eq!(
            sorted,
            ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae", "val_loss", "val_reg_loss", "learning_rate"]
        );
    }

    #[test]
    fn times_have_units_that_fit() {
        let t = |micros: u64| format_time(Duration::from_micros(micros));
        assert_eq!([t(0), t(850), t(999), t(1_499), t(1_500)], ["0µs", "850µs", "999µs", "1ms", "2ms"]);
        assert_eq!([t(12_300), t(999_400), t(999_600), t(3_200_000)], ["12ms", "999ms", "1s", "3s"]);
        assert_eq!(t(125_000_000), "125s");
        let eta = |seconds: u64| format_eta(Duration::from_secs(seconds));
        assert_eq!([eta(59), eta(65), eta(3_665)], ["59s", "1:05", "1:01:05"]);
        assert_eq!(format_eta(Duration::from_millis(450)), "450ms");
        assert_eq!(step_count(7, 450), "  7/450");
    }
}

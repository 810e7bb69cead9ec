//! `fit`'s progress bar in a real terminal: tmux runs this test's own binary
//! (which then trains a small model slowly) in a detached session, and the
//! pane is read while the epochs run. The bar must be redrawn in place: its
//! step count changes on one screen line, and each epoch leaves one line.
//!
//! Skipped, with a note, where tmux is not installed (CI installs it).

use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use staticnet::nalgebra::{Const, Dyn, OMatrix};
use staticnet::{fit, FitOptions, Network, Optimizer, Scalar};

staticnet::network! {
    /// Small enough that the sleeping optimizer sets the pace.
    pub struct Watched {
        let x = Input(4);
        let y = Dense(3, activation = softmax)(x);
        Model(x, y);
        compile(optimizer = sgd, loss = categorical_crossentropy, metrics = [accuracy]);
    }
}

/// Set in the environment of the copy of this test that tmux runs.
const CHILD: &str = "STATICNET_PROGRESS_TTY_CHILD";
const EPOCHS: usize = 2;
const STEPS: usize = 120;
const BATCH: usize = 8;
/// An epoch lasts `STEPS` times this: long enough to read the pane mid-epoch.
const STEP_TIME: Duration = Duration::from_millis(10);

/// An optimizer that takes its time.
struct Slow<O>(O);

impl<T: Scalar, M: Network<T>, O: Optimizer<T, M>> Optimizer<T, M> for Slow<O> {
    fn apply(&mut self, params: &mut M, grads: &M) {
        sleep(STEP_TIME);
        self.0.apply(params, grads);
    }
    fn iterations(&self) -> u64 {
        self.0.iterations()
    }
    fn learning_rate(&self) -> T {
        self.0.learning_rate()
    }
    fn set_learning_rate(&mut self, learning_rate: T) {
        self.0.set_learning_rate(learning_rate);
    }
}

/// What the copy in the terminal does: trains with Keras's default output.
fn train_slowly() {
    let samples = STEPS * BATCH;
    let x = OMatrix::<f32, Const<4>, Dyn>::from_fn(samples, |i, j| ((i * 7 + j * 13) % 10) as f32 / 10.0);
    let y = OMatrix::<f32, Const<3>, Dyn>::from_fn(samples, |i, j| if i == j % 3 { 1.0 } else { 0.0 });
    let mut model = Watched::<f32>::new(1);
    let mut optimizer = Slow(Watched::<f32>::optimizer());
    let options = FitOptions::new().epochs(EPOCHS).batch_size(BATCH).verbose(true);
    fit(&mut model, &mut optimizer, &x, &y, &options).expect("training");
}

/// A tmux server of this test's own, stopped when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs");
        assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        output
    }

    fn screen(&self) -> Vec<String> {
        let output = self.run(&["capture-pane", "-p", "-t", "progress"]);
        String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

/// The step count of a bar line of this test's epochs (`  7/120 ━━…`).
fn bar_step(line: &str) -> Option<usize> {
    let (count, rest) = line.trim_start().split_once(' ')?;
    let (step, steps) = count.split_once('/')?;
    (steps == STEPS.to_string() && rest.starts_with('━')).then(|| step.parse().ok())?
}

#[test]
fn the_bar_is_redrawn_in_place_in_a_terminal() {
    if std::env::var_os(CHILD).is_some() {
        train_slowly();
        return;
    }
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("note: tmux is not installed; the progress bar was not tested in a terminal");
        return;
    }
    let tmux = Tmux { socket: format!("staticnet-progress-{}", std::process::id()) };
    tmux.run(&["new-session", "-d", "-s", "progress", "-x", "160", "-y", "50"]);
    let exe = std::env::current_exe().expect("the test's path");
    let command = format!(
        "{CHILD}=1 '{}' --exact the_bar_is_redrawn_in_place_in_a_terminal --nocapture --test-threads=1; \
         echo progress-child-exit=$?",
        exe.display()
    );
    tmux.run(&["send-keys", "-t", "progress", &command, "Enter"]);

    // (epoch line's row, bar's row, step) of every screen read mid-epoch.
    let mut mid_epoch: Vec<(usize, usize, usize)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let screen = loop {
        let screen = tmux.screen();
        // The typed command holds the marker too; the echo's output is a line of its own.
        if screen.iter().any(|line| line.starts_with("progress-child-exit=")) {
            break screen;
        }
        assert!(Instant::now() < deadline, "the training did not finish:\n{}", screen.join("\n"));
        let epoch_rows: Vec<usize> = (0..screen.len()).filter(|&r| screen[r].starts_with("Epoch ")).collect();
        let bar_rows: Vec<usize> = (0..screen.len()).filter(|&r| bar_step(&screen[r]).is_some()).collect();
        // One bar line per epoch begun: the bar is never printed again below itself.
        assert!(bar_rows.len() <= epoch_rows.len(), "more bar lines than epochs:\n{}", screen.join("\n"));
        if let (Some(&epoch_row), Some(&bar_row)) = (epoch_rows.last(), bar_rows.last()) {
            let step = bar_step(&screen[bar_row]).unwrap_or(0);
            if bar_row == epoch_row + 1 && step < STEPS {
                mid_epoch.push((epoch_row, bar_row, step));
            }
        }
        sleep(Duration::from_millis(20));
    };

    assert!(screen.iter().any(|line| line == "progress-child-exit=0"), "the training failed:\n{}", screen.join("\n"));
    // The same screen line showed the bar at different steps of one epoch.
    let redrawn = mid_epoch.iter().any(|&(epoch_row, bar_row, step)| {
        mid_epoch.iter().any(|&(e, b, s)| e == epoch_row && b == bar_row && s != step)
    });
    assert!(redrawn, "the bar was not seen redrawn mid-epoch: {mid_epoch:?}\n{}", screen.join("\n"));
    // At the end each epoch left its line and its final bar line, in order.
    let epochs: Vec<usize> = (0..screen.len()).filter(|&r| screen[r].starts_with("Epoch ")).collect();
    assert_eq!(epochs.len(), EPOCHS, "{}", screen.join("\n"));
    for (k, &row) in epochs.iter().enumerate() {
        assert_eq!(screen[row], format!("Epoch {}/{EPOCHS}", k + 1));
        let bar = &screen[row + 1];
        assert_eq!(bar_step(bar), Some(STEPS), "{}", screen.join("\n"));
        assert!(bar.contains("/step - accuracy: ") && bar.contains(" - loss: "), "{bar}");
    }
}

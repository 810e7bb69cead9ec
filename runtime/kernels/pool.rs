//! The helper threads of the `parallel` feature.
//!
//! A training step makes a dozen products of tens of microseconds each, so
//! what matters is the cost of handing one half to another core. A
//! general-purpose pool (rayon was measured) puts its idle threads to sleep
//! between such products, and waking a thread costs tens of microseconds on
//! a virtual machine: it made a batch-64 step 2.5× slower. These helpers
//! instead spin for a while after each job (`SPIN`) before parking, so back
//! to back products are handed over through one atomic store, as OpenMP's
//! active wait policy does.

use core::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long an idle helper keeps spinning before it parks.
const SPIN: Duration = Duration::from_micros(300);

const IDLE: u8 = 0;
const CLAIMED: u8 = 1;
const POSTED: u8 = 2;
const DONE: u8 = 3;

/// The work of one part: `call(data, part)`, where `data` points at a
/// closure that outlives the job (the caller waits for `DONE`).
#[derive(Clone, Copy)]
struct Job {
    call: unsafe fn(*const (), usize),
    data: *const (),
    part: usize,
}

struct Helper {
    state: AtomicU8,
    panicked: AtomicBool,
    parked: AtomicBool,
    job: UnsafeCell<Option<Job>>,
    thread: OnceLock<Thread>,
}

// SAFETY: `job` is written only by the thread that moved `state` from IDLE to
// CLAIMED, read by the helper only after it sees POSTED, and the writer waits
// for DONE before the slot is reused; the closure behind `data` is `Sync`.
unsafe impl Sync for Helper {}
// SAFETY: as above; a `Helper` moves between threads only inside the static.
unsafe impl Send for Helper {}

fn helpers() -> &'static [Helper] {
    static HELPERS: OnceLock<Box<[Helper]>> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let count = thread::available_parallelism().map_or(1, |n| n.get()).saturating_sub(1);
        let helpers: Box<[Helper]> = (0..count)
            .map(|_| Helper {
                state: AtomicU8::new(IDLE),
                panicked: AtomicBool::new(false),
                parked: AtomicBool::new(false),
                job: UnsafeCell::new(None),
                thread: OnceLock::new(),
            })
            .collect();
        helpers
    })
}

fn spawn(index: usize) {
    let helper = &helpers()[index];
    helper.thread.get_or_init(|| {
        thread::Builder::new()
            .name(format!("staticnet-{index}"))
            .spawn(move || serve(&helpers()[index]))
            .expect("staticnet: cannot spawn a helper thread")
            .thread()
            .clone()
    });
}

fn serve(helper: &Helper) {
    let mut idle_since = Instant::now();
    let mut spins = 0u32;
    loop {
        if helper.state.load(Ordering::Acquire) == POSTED {
            // SAFETY: POSTED means the job was written and stays alive until DONE.
            let job = unsafe { (*helper.job.get()).take() };
            if let Some(job) = job {
                // SAFETY: `call` matches `data`, both set by `run_parts`.
                let outcome = std::panic::catch_unwind(|| unsafe { (job.call)(job.data, job.part) });
                helper.panicked.store(outcome.is_err(), Ordering::Relaxed);
            }
            helper.state.store(DONE, Ordering::Release);
            idle_since = Instant::now();
            continue;
        }
        core::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) && idle_since.elapsed() > SPIN {
            helper.parked.store(true, Ordering::SeqCst);
            // Re-check after announcing: a job posted before `parked` was
            // seen would otherwise wait for the next unpark.
            if helper.state.load(Ordering::SeqCst) != POSTED {
                thread::park();
            }
            helper.parked.store(false, Ordering::SeqCst);
            idle_since = Instant::now();
        }
    }
}

/// Runs `work(part)` for `part` in `0..parts`, part 0 on the calling thread
/// and the others on idle helpers (on the caller when none is free), and
/// returns when all are done. A panic in any part is resumed here.
pub(crate) fn run_parts(parts: usize, work: &(dyn Fn(usize) + Sync)) {
    unsafe fn call(data: *const (), part: usize) {
        // SAFETY: `data` is the `&&(dyn Fn(usize) + Sync)` made below.
        let work = unsafe { *(data as *const &(dyn Fn(usize) + Sync)) };
        work(part)
    }
    let all = helpers();
    let data = &work as *const &(dyn Fn(usize) + Sync) as *const ();
    // `helper_of[p - 1]`: the helper running part `p`, for up to 8 parts
    // after the first; `usize::MAX` when none was free.
    let mut helper_of = [usize::MAX; 8];
    let mut next = 0;
    for part in 1..parts.min(helper_of.len() + 1) {
        let Some(h) = (next..all.len())
            .find(|&h| all[h].state.compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed).is_ok())
        else {
            break;
        };
        spawn(h);
        // SAFETY: this thread holds the claim (state CLAIMED).
        unsafe { *all[h].job.get() = Some(Job { call, data, part }) };
        // SeqCst with the helper's `parked` store and re-check, so one of the
        // two sees the other (no lost wake-up).
        all[h].state.store(POSTED, Ordering::SeqCst);
        if all[h].parked.load(Ordering::SeqCst) {
            if let Some(t) = all[h].thread.get() {
                t.unpark();
            }
        }
        helper_of[part - 1] = h;
        next = h + 1;
    }
    // Waits for the helpers even if a part on this thread panics, since they
    // borrow `work`.
    struct Wait<'a> {
        all: &'a [Helper],
        claimed: [usize; 8],
    }
    impl Drop for Wait<'_> {
        fn drop(&mut self) {
            let mut panicked = false;
            for &h in self.claimed.iter().filter(|&&h| h != usize::MAX) {
                let helper = &self.all[h];
                while helper.state.load(Ordering::Acquire) != DONE {
                    core::hint::spin_loop();
                }
                panicked |= helper.panicked.load(Ordering::Relaxed);
                helper.state.store(IDLE, Ordering::Release);
            }
            if panicked && !thread::panicking() {
                panic!("staticnet: a helper thread panicked");
            }
        }
    }
    let wait = Wait { all, claimed: helper_of };
    for part in 0..parts {
        if part == 0 || helper_of.get(part - 1).is_none_or(|&h| h == usize::MAX) {
            work(part);
        }
    }
    drop(wait);
}

/// How many threads can work on one product: the caller and its helpers.
pub(crate) fn threads() -> usize {
    helpers().len() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once() {
        for parts in 1..12 {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            run_parts(parts, &|p| {
                hits[p].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{parts} parts");
        }
    }

    #[test]
    fn concurrent_callers_and_nesting_finish() {
        let total = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        run_parts(2, &|_| {
                            run_parts(2, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 200 * 4);
    }

    #[test]
    fn a_panic_in_a_part_reaches_the_caller() {
        let outcome = std::panic::catch_unwind(|| {
            run_parts(2, &|p| {
                if p == 1 {
                    panic!("part one");
                }
            })
        });
        assert!(outcome.is_err());
        // The helpers are usable afterwards.
        let hits = AtomicUsize::new(0);
        run_parts(2, &|_| {
            hits.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(hits.load(Ordering::Relaxed), 2);
    }
}

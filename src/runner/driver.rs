//! Runs the frames of a run in their [`FrameOrder`]: `--fps` pacing,
//! progress on stderr, Ctrl-C, each frame inside its profile scope and
//! handed to the outputs.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framemem_lab::profile::Profiling;
use framemem_lab::report::Measured;
use framemem_lab::sim::Simulation;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::frame_order::{FrameOrder, Step};
use super::outputs::Outputs;

/// Most frame records kept per simulation: past this, the oldest half is
/// dropped (and counted as unmeasured), so a `--forever` run's memory stays
/// bounded (64 MiB of records per simulation) while its statistics cover
/// the last 500,000 to 1,000,000 frames.
pub const KEPT_FRAMES_MAX: usize = 1 << 20;

/// Set by Ctrl-C; the run stops after the current frame.
pub fn stop_flag(quiet: bool) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        && !quiet
    {
        eprintln!("warning: Ctrl-C will not stop cleanly: {e}");
    }
    stop
}

/// A progress bar on stderr, hidden when stderr is not a terminal or
/// `quiet` is set; a frame counter when there is no total (`--forever`).
fn progress(total_frames: Option<u64>, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(total_frames, ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(total_frames, ProgressDrawTarget::stderr());
    let template = match total_frames {
        Some(_) => "{msg:>14} [{bar:40}] {pos}/{len} frames, {eta} left",
        None => "{msg:>14} {pos} frames, {per_sec}, Ctrl-C to stop",
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("constant template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// Sleeps before each frame so that frames start at most `fps` a second. A
/// frame that starts late moves the schedule rather than letting the next
/// ones catch up in a burst.
#[derive(Debug)]
struct Pacer {
    period: Duration,
    next: Option<Instant>,
}

impl Pacer {
    fn new(fps: Option<u32>) -> Option<Pacer> {
        fps.map(|fps| Pacer {
            period: Duration::from_secs(1) / fps.max(1),
            next: None,
        })
    }

    fn wait(&mut self) {
        let now = Instant::now();
        let start = match self.next {
            Some(next) if next > now => {
                std::thread::sleep(next - now);
                next
            }
            _ => now,
        };
        self.next = Some(start + self.period);
    }
}

/// How the frames are shown and paced.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    /// Most frames a second, all simulations together; `None` runs flat out.
    pub fps: Option<u32>,
    /// No progress bar.
    pub quiet: bool,
}

/// Runs `sims`' frames in `order`, each inside its profile scope; hands
/// every measured frame to `outputs`. Stops after the current frame once
/// `stop` is set. Keeps at most [`KEPT_FRAMES_MAX`] records per simulation.
/// Returns one [`Measured`] per simulation, in their order.
///
/// # Errors
///
/// When an output cannot take a frame (a CSV row cannot be written).
pub fn run(
    sims: &mut [Simulation],
    order: &FrameOrder,
    pace: Pace,
    stop: &AtomicBool,
    outputs: &mut Outputs,
    profiling: &mut Profiling,
) -> anyhow::Result<Vec<Measured>> {
    let bar = progress(order.total(), pace.quiet);
    let mut pacer = Pacer::new(pace.fps);
    let mut measured: Vec<Measured> = sims
        .iter()
        .map(|_| Measured {
            // Reserved up front, so that keeping records allocates nothing
            // between frames (but past KEPT_FRAMES_MAX, which only --forever
            // reaches).
            records: Vec::with_capacity(
                order
                    .measured_frames()
                    .map_or(KEPT_FRAMES_MAX, |n| n.min(KEPT_FRAMES_MAX as u64) as usize),
            ),
            unmeasured_frames: 0,
        })
        .collect();
    let mut current = None;
    for step in order.steps() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let i = step.sim();
        let sim = &mut sims[i];
        if current != Some(step) {
            bar.set_message(match step {
                Step::Warmup(_) => format!("{} warm-up", sim.strategy()),
                Step::Rewarm(_) | Step::Measured(_) => sim.strategy().to_string(),
            });
            current = Some(step);
        }
        if let Some(pacer) = &mut pacer {
            pacer.wait();
        }
        let record = profiling.step(sim);
        bar.inc(1);
        let m = &mut measured[i];
        if !matches!(step, Step::Measured(_)) {
            m.unmeasured_frames += 1;
            continue;
        }
        outputs.frame(sim.strategy(), &record)?;
        if m.records.len() == KEPT_FRAMES_MAX {
            let dropped = KEPT_FRAMES_MAX / 2;
            m.records.drain(..dropped);
            m.unmeasured_frames += dropped as u64;
        }
        m.records.push(record);
    }
    bar.finish_and_clear();
    Ok(measured)
}

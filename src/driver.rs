//! Runs simulations frame by frame: warm-up, interleaved blocks for
//! `--compare`, `--fps` pacing, progress on stderr, Ctrl-C, CSV rows, each
//! frame inside its profile scope.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use framemem::profile::Profiling;
use framemem::report::FrameCsv;
use framemem::sim::{FrameRecord, Simulation};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Frames each strategy runs before the next takes over in `--compare`:
/// short enough that slow drifts of the machine (frequency, other load)
/// fall on every strategy alike, long enough that switching worlds (cold
/// caches) is a small part of each block.
pub const COMPARE_BLOCK_FRAMES: u64 = 25;

/// How the frames are run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Frames to measure, per simulation; `u64::MAX` runs until stopped.
    pub frames: u64,
    /// Frames to run first, per simulation, unmeasured.
    pub warmup: u64,
    /// Frames per block when interleaving several simulations.
    pub block: u64,
    /// Most frames a second, all simulations together; `None` runs flat out.
    pub fps: Option<u32>,
}

/// Most frame records kept per simulation: past this, the oldest half is
/// dropped (and counted as unmeasured), so a `--forever` run's memory stays
/// bounded (64 MiB of records per simulation) while its statistics cover
/// the last 500,000 to 1,000,000 frames.
pub const KEPT_FRAMES_MAX: usize = 1 << 20;

/// Unmeasured frames a simulation runs at the start of each block when
/// several are interleaved: the first frame after another world ran finds
/// every cache cold, a cost of running four worlds in one process rather
/// than of the strategy, and it would otherwise own the p99.
pub const REWARM_FRAMES: u64 = 1;

/// What running one simulation produced.
#[derive(Debug)]
pub struct Measured {
    /// The measured frames.
    pub records: Vec<FrameRecord>,
    /// Frames run but not measured: the warm-up, and the re-warm frame of
    /// each block when interleaving.
    pub unmeasured_frames: u64,
}

/// Set by Ctrl-C; the loop stops after the current frame.
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
pub fn progress(total_frames: Option<u64>, quiet: bool) -> ProgressBar {
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

/// One frame of `sim`, paced and inside its profile scope.
fn step(sim: &mut Simulation, profiling: &mut Profiling, pacer: &mut Option<Pacer>) -> FrameRecord {
    if let Some(pacer) = pacer {
        pacer.wait();
    }
    profiling.step(sim)
}

/// Runs every simulation: `plan.warmup` unmeasured frames each, then
/// `plan.frames` measured frames each, in blocks of `plan.block` whose order
/// rotates (A B C D, then B C D A, ...) so that no strategy always runs
/// right after the same other one, each block after [`REWARM_FRAMES`]
/// unmeasured frames when there are several simulations. Stops after the
/// current frame once `stop` is set. Keeps at most [`KEPT_FRAMES_MAX`]
/// records per simulation. Returns one [`Measured`] per simulation, in
/// their order.
///
/// # Errors
///
/// When a CSV row cannot be written.
pub fn run(
    sims: &mut [Simulation],
    plan: Plan,
    stop: &AtomicBool,
    bar: &ProgressBar,
    mut csv: Option<&mut FrameCsv>,
    profiling: &mut Profiling,
) -> std::io::Result<Vec<Measured>> {
    let mut pacer = Pacer::new(plan.fps);
    for sim in sims.iter_mut() {
        bar.set_message(format!("{} warm-up", sim.strategy()));
        for _ in 0..plan.warmup {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            step(sim, profiling, &mut pacer);
            bar.inc(1);
        }
    }
    let mut measured: Vec<Measured> = sims
        .iter()
        .map(|sim| Measured {
            // Reserved up front: no reallocation between frames either
            // (except past KEPT_FRAMES_MAX, which only --forever reaches).
            records: Vec::with_capacity(plan.frames.min(KEPT_FRAMES_MAX as u64) as usize),
            unmeasured_frames: sim.frames_done(),
        })
        .collect();
    // Measured frames run, kept or dropped.
    let mut done = vec![0u64; sims.len()];
    let count = sims.len();
    let block = plan.block.max(1);
    let mut round = 0;
    'frames: while done.iter().any(|&d| d < plan.frames) {
        for k in 0..count {
            let i = (k + round) % count;
            let sim = &mut sims[i];
            let left = plan.frames - done[i];
            if left == 0 {
                continue;
            }
            if count > 1 || round == 0 {
                bar.set_message(sim.strategy().to_string());
            }
            if count > 1 {
                for _ in 0..REWARM_FRAMES {
                    if stop.load(Ordering::Relaxed) {
                        break 'frames;
                    }
                    step(sim, profiling, &mut pacer);
                    measured[i].unmeasured_frames += 1;
                }
            }
            for _ in 0..block.min(left) {
                if stop.load(Ordering::Relaxed) {
                    break 'frames;
                }
                let record = step(sim, profiling, &mut pacer);
                if let Some(csv) = csv.as_deref_mut() {
                    csv.write_frame(sim.strategy(), &record)?;
                }
                let m = &mut measured[i];
                if m.records.len() == KEPT_FRAMES_MAX {
                    let dropped = KEPT_FRAMES_MAX / 2;
                    m.records.drain(..dropped);
                    m.unmeasured_frames += dropped as u64;
                }
                m.records.push(record);
                done[i] += 1;
                bar.inc(1);
            }
        }
        round += 1;
    }
    bar.finish_and_clear();
    Ok(measured)
}

/// Bytes the system can still give us (`MemAvailable`), if known.
pub fn mem_available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

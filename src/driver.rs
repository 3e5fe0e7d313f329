//! Runs simulations frame by frame: warm-up, interleaved blocks for
//! `--compare`, progress on stderr, Ctrl-C, CSV rows.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use framealloc::report::FrameCsv;
use framealloc::sim::{FrameRecord, MemoryFigures, Simulation};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Frames each strategy runs before the next takes over in `--compare`:
/// short enough that slow drifts of the machine (frequency, other load)
/// fall on every strategy alike, long enough that switching worlds (cold
/// caches) is a small part of each block.
pub const COMPARE_BLOCK_FRAMES: u64 = 25;

/// How the frames are run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Frames to measure, per simulation.
    pub frames: u64,
    /// Frames to run first, per simulation, unmeasured.
    pub warmup: u64,
    /// Frames per block when interleaving several simulations.
    pub block: u64,
}

/// What running one simulation produced.
#[derive(Debug)]
pub struct Measured {
    /// The measured frames.
    pub records: Vec<FrameRecord>,
    /// The strategy's figures when measuring began.
    pub figures_before: MemoryFigures,
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
/// `quiet` is set.
pub fn progress(total_frames: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(total_frames), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(total_frames), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} frames, {eta} left")
            .expect("constant template is valid")
            .progress_chars("=> "),
    );
    bar
}

/// Runs every simulation: `plan.warmup` unmeasured frames each, then
/// `plan.frames` measured frames each, in blocks of `plan.block` whose order
/// rotates (A B C D, then B C D A, ...) so that no strategy always runs
/// right after the same other one. Stops after the current frame once `stop`
/// is set. Returns one [`Measured`] per simulation, in their order.
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
) -> std::io::Result<Vec<Measured>> {
    for sim in sims.iter_mut() {
        bar.set_message(format!("{} warm-up", sim.strategy()));
        for _ in 0..plan.warmup {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            sim.step();
            bar.inc(1);
        }
    }
    let mut measured: Vec<Measured> = sims
        .iter()
        .map(|sim| Measured {
            // Reserved up front: no reallocation between frames either.
            records: Vec::with_capacity(plan.frames as usize),
            figures_before: sim.figures(),
        })
        .collect();
    let count = sims.len();
    let block = plan.block.max(1);
    let mut round = 0;
    'frames: while measured
        .iter()
        .any(|m| (m.records.len() as u64) < plan.frames)
    {
        for k in 0..count {
            let i = (k + round) % count;
            let sim = &mut sims[i];
            let left = plan.frames - measured[i].records.len() as u64;
            if left == 0 {
                continue;
            }
            if count > 1 || round == 0 {
                bar.set_message(sim.strategy().to_string());
            }
            for _ in 0..block.min(left) {
                if stop.load(Ordering::Relaxed) {
                    break 'frames;
                }
                let record = sim.step();
                if let Some(csv) = csv.as_deref_mut() {
                    csv.write_frame(sim.strategy(), &record)?;
                }
                measured[i].records.push(record);
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

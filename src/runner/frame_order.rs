//! [`FrameOrder`]: which simulation runs the next frame, and whether that
//! frame is measured.
//!
//! Every simulation first runs its warm-up. Then, when there are several
//! (`--compare`), they take turns in blocks of `block` measured frames, in
//! an order that rotates each round (A B C D, then B C D A, ...) so that no
//! strategy always runs right after the same other one; each turn starts
//! with [`REWARM_FRAMES`] unmeasured frames, because the first frame after
//! another world ran finds every cache cold, a cost of running several
//! worlds in one process rather than of the strategy. One simulation runs
//! its frames in one go.

use std::iter;

/// Frames each strategy runs before the next takes over in `--compare`:
/// short enough that slow drifts of the machine (frequency, other load)
/// fall on every strategy alike, long enough that switching worlds (cold
/// caches) is a small part of each block.
pub const COMPARE_BLOCK_FRAMES: u64 = 25;

/// Unmeasured frames at the start of each turn when simulations take
/// turns (see the module docs).
pub const REWARM_FRAMES: u64 = 1;

/// One frame of one simulation (its index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A warm-up frame: unmeasured.
    Warmup(usize),
    /// The first frame of a turn: unmeasured.
    Rewarm(usize),
    /// A measured frame.
    Measured(usize),
}

impl Step {
    /// The simulation that runs this frame.
    pub fn sim(self) -> usize {
        match self {
            Step::Warmup(i) | Step::Rewarm(i) | Step::Measured(i) => i,
        }
    }
}

/// The order of a run's frames; [`steps`](Self::steps) lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameOrder {
    sims: usize,
    /// Measured frames per simulation; `None` runs until stopped.
    frames: Option<u64>,
    warmup: u64,
    /// Measured frames per turn when simulations take turns (at least 1).
    block: u64,
}

impl FrameOrder {
    /// `frames` measured frames (`None`: until stopped) after `warmup`
    /// unmeasured ones, for each of `sims` simulations; several take turns
    /// in blocks of `block` frames.
    pub fn new(sims: usize, frames: Option<u64>, warmup: u64, block: u64) -> FrameOrder {
        FrameOrder {
            sims,
            frames,
            warmup,
            block: block.max(1),
        }
    }

    fn interleaved(&self) -> bool {
        self.sims > 1
    }

    /// Measured frames per turn.
    fn turn(&self) -> u64 {
        if self.interleaved() {
            self.block
        } else {
            self.frames.unwrap_or(u64::MAX).max(1)
        }
    }

    /// Measured frames per simulation; `None` when the run goes on until
    /// stopped.
    pub fn measured_frames(&self) -> Option<u64> {
        self.frames
    }

    /// Every frame the run will have, warm-up and re-warm included; `None`
    /// when it runs until stopped. The progress bar's length.
    pub fn total(&self) -> Option<u64> {
        let frames = self.frames?;
        let rewarm = if self.interleaved() {
            frames.div_ceil(self.turn()) * REWARM_FRAMES
        } else {
            0
        };
        Some((self.warmup + frames + rewarm) * self.sims as u64)
    }

    /// The frames in the order they run.
    pub fn steps(&self) -> impl Iterator<Item = Step> + use<> {
        let FrameOrder {
            sims,
            frames,
            warmup,
            ..
        } = *self;
        let frames = frames.unwrap_or(u64::MAX);
        let turn = self.turn();
        let rewarm = if self.interleaved() { REWARM_FRAMES } else { 0 };
        let warmups = (0..sims).flat_map(move |i| iter::repeat_n(Step::Warmup(i), warmup as usize));
        let rounds = (0..frames.div_ceil(turn)).flat_map(move |round| {
            let measured = turn.min(frames - round * turn);
            let first = (round % sims.max(1) as u64) as usize;
            (0..sims).flat_map(move |k| {
                let i = (first + k) % sims;
                iter::repeat_n(Step::Rewarm(i), rewarm as usize)
                    .chain(iter::repeat_n(Step::Measured(i), measured as usize))
            })
        });
        warmups.chain(rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The steps as letters: warm-up lower case, re-warm `*`, measured
    /// upper case.
    fn spelled(order: FrameOrder) -> String {
        order
            .steps()
            .map(|s| match s {
                Step::Warmup(i) => char::from(b'a' + i as u8),
                Step::Rewarm(_) => '*',
                Step::Measured(i) => char::from(b'A' + i as u8),
            })
            .collect()
    }

    #[test]
    fn one_simulation_warms_up_then_runs_in_one_go() {
        assert_eq!(spelled(FrameOrder::new(1, Some(5), 2, 25)), "aaAAAAA");
    }

    #[test]
    fn several_take_turns_in_rotating_order_each_turn_rewarmed() {
        let order = FrameOrder::new(3, Some(5), 1, 2);
        assert_eq!(spelled(order), "abc*AA*BB*CC*BB*CC*AA*C*A*B");
    }

    #[test]
    fn the_total_counts_every_step() {
        for sims in 1..=4 {
            for frames in [1, 2, 24, 25, 26, 100] {
                for warmup in [0, 3] {
                    let order = FrameOrder::new(sims, Some(frames), warmup, 25);
                    let steps: Vec<Step> = order.steps().collect();
                    assert_eq!(Some(steps.len() as u64), order.total(), "{order:?}");
                    for i in 0..sims {
                        let measured = steps.iter().filter(|&&s| s == Step::Measured(i)).count();
                        assert_eq!(measured as u64, frames, "{order:?}: sim {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn until_stopped_has_no_total_and_no_end() {
        let order = FrameOrder::new(2, None, 1, 25);
        assert_eq!(order.total(), None);
        assert_eq!(order.steps().take(10_000).count(), 10_000);
        let order = FrameOrder::new(1, None, 0, 25);
        assert_eq!(order.steps().take(10_000).count(), 10_000);
    }
}

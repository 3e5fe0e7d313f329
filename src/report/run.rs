//! [`Report`]: what every strategy's frames came to, in the order they ran.

use super::measured::Measured;
use super::summary::{RunInfo, Summary};
use crate::sim::{FrameRecord, Simulation, Strategy};

/// A strategy that could not run the scenario, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotApplicable {
    /// The strategy.
    pub alloc: Strategy,
    /// The scenario's name.
    pub scenario: String,
    /// Why, in one line.
    pub not_applicable: String,
}

/// Every strategy's summary and frames, in the order they ran.
#[derive(Debug)]
pub struct Report {
    /// One per simulation.
    pub summaries: Vec<Summary>,
    /// One per simulation, in the same order.
    pub measured: Vec<Measured>,
    /// Strategies that did not run because they cannot hold the scenario's
    /// data (framevec with multi-frame lifetimes), with why: every report
    /// says so rather than dropping the row.
    pub not_applicable: Vec<NotApplicable>,
    /// Whether every simulation ran as many frames, so that their
    /// checksums must agree (Ctrl-C may stop them at different frames).
    same_length: bool,
}

impl Report {
    /// Summarises each of `sims` with its `measured` frames (the same
    /// order); `interrupted` when Ctrl-C cut the run short.
    ///
    /// # Panics
    ///
    /// When `sims` and `measured` differ in length.
    pub fn new(
        sims: &mut [Simulation],
        measured: Vec<Measured>,
        info: &RunInfo,
        interrupted: bool,
    ) -> Report {
        assert_eq!(sims.len(), measured.len(), "one Measured per simulation");
        let mut summaries: Vec<Summary> = sims
            .iter_mut()
            .zip(&measured)
            .map(|(sim, m)| {
                Summary::new(
                    sim.strategy(),
                    info,
                    m,
                    sim.figures(),
                    sim.checksum(),
                    interrupted,
                )
            })
            .collect();
        set_overhead(&mut summaries);
        let same_length = sims
            .iter()
            .all(|s| s.frames_done() == sims[0].frames_done());
        Report {
            summaries,
            measured,
            not_applicable: Vec::new(),
            same_length,
        }
    }

    /// The same report, naming the strategies that did not run and why.
    pub fn with_not_applicable(mut self, not_applicable: Vec<NotApplicable>) -> Report {
        self.not_applicable = not_applicable;
        self
    }

    /// Each strategy's summary with its frames.
    pub fn runs(&self) -> Vec<(&Summary, &[FrameRecord])> {
        self.summaries
            .iter()
            .zip(&self.measured)
            .map(|(s, m)| (s, m.records.as_slice()))
            .collect()
    }

    /// Whether Ctrl-C cut the run short.
    pub fn interrupted(&self) -> bool {
        self.summaries.iter().any(|s| s.interrupted)
    }

    /// When two strategies that ran as many frames ended with different
    /// checksums: the message saying which. The strategies must compute
    /// the same simulation; a difference is a bug.
    pub fn checksum_mismatch(&self) -> Option<String> {
        let first = self.summaries.first()?;
        let odd = self
            .summaries
            .iter()
            .find(|s| self.same_length && s.checksum != first.checksum)?;
        Some(format!(
            "checksums differ: {} {} but {} {}; the strategies must compute the same simulation",
            first.alloc, first.checksum, odd.alloc, odd.checksum
        ))
    }
}

/// Sets each summary's [`overhead_ms`](Summary::overhead_ms): its median
/// frame minus `framevec`'s, when `framevec` ran.
fn set_overhead(summaries: &mut [Summary]) {
    let floor = summaries
        .iter()
        .find(|s| s.alloc == Strategy::Framevec)
        .map(|s| s.frame_ms.p50);
    for s in summaries {
        s.overhead_ms = floor.map(|floor| s.frame_ms.p50 - floor);
    }
}

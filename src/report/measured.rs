//! [`Measured`]: the frames the driver measured for one simulation, the
//! input of every report.

use crate::sim::FrameRecord;

/// What running one simulation produced.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// The measured frames, oldest first.
    pub records: Vec<FrameRecord>,
    /// Frames run but not measured: the warm-up, the re-warm frame before
    /// each block when strategies take turns, and frames whose records were
    /// dropped to bound memory on a long run.
    pub unmeasured_frames: u64,
}

//! A slab's counters: [`ClassStats`], what
//! [`Slab::class_stats`](super::Slab::class_stats) returns, and
//! [`LaneStats`], the per-lane counters it sums.

use super::classes::NUM_CLASSES;
use crate::alloc::lanes::LaneCounter;

/// A lane's counters, readable from any thread.
#[derive(Default)]
pub(super) struct LaneStats {
    pub(super) allocs: [LaneCounter; NUM_CLASSES],
    pub(super) frees: [LaneCounter; NUM_CLASSES],
    pub(super) zero_size_allocs: LaneCounter,
    pub(super) zero_size_frees: LaneCounter,
}

/// Per-class counters, from [`Slab::class_stats`](super::Slab::class_stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClassStats {
    /// The class's slot size in bytes.
    pub slot_bytes: usize,
    /// Slots handed out, ever.
    pub allocations: u64,
    /// Slots freed one by one, ever.
    pub frees: u64,
    /// Slots handed out and not freed or released by a reset.
    pub slots_in_use: u64,
}

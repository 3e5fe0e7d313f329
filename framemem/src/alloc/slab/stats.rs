//! A slab's counters: [`ClassStats`], what
//! [`Slab::class_stats`](super::Slab::class_stats) returns, and
//! [`LaneStats`], the per-lane counters it sums; and the slab's methods that
//! read them.

use std::fmt;
use std::sync::atomic::Ordering;

use super::Slab;
use super::classes::{NUM_CLASSES, SIZE_CLASSES};
use crate::alloc::Stats;
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

impl Slab {
    /// Counters per size class.
    pub fn class_stats(&self) -> [ClassStats; NUM_CLASSES] {
        let mut s: [ClassStats; NUM_CLASSES] = std::array::from_fn(|class| ClassStats {
            slot_bytes: SIZE_CLASSES[class],
            ..ClassStats::default()
        });
        // Frees first: every free seen has its allocation seen after it
        // (`lanes/counters.rs`), so `slots_in_use` is never below zero.
        for lane in self.lanes.all_shared() {
            for (class, s) in s.iter_mut().enumerate() {
                s.frees += lane.frees[class].get();
            }
        }
        for lane in self.lanes.all_shared() {
            for (class, s) in s.iter_mut().enumerate() {
                s.allocations += lane.allocs[class].get();
            }
        }
        for (class, s) in s.iter_mut().enumerate() {
            s.slots_in_use = s
                .allocations
                .saturating_sub(s.frees + self.reclaimed[class]);
        }
        s
    }

    /// Slot bytes of live small blocks plus requested bytes of live large
    /// ones (as resized in place since). Slot bytes, not requested bytes:
    /// counting the requested size would cost a counter update on every
    /// call, and the slot is what the block really occupies.
    pub(super) fn bytes_in_use(&self) -> usize {
        self.small_bytes_in_use(&self.class_stats()) + self.registry.large_bytes_in_use()
    }

    pub(super) fn small_bytes_in_use(&self, classes: &[ClassStats; NUM_CLASSES]) -> usize {
        let small: u64 = classes
            .iter()
            .map(|c| c.slots_in_use * c.slot_bytes as u64)
            .sum();
        small as usize
    }

    pub(super) fn sample_peak(&self) {
        self.peak_sampled
            .fetch_max(self.bytes_in_use(), Ordering::Relaxed);
    }

    /// The slab's counters, see [`Stats`] ([`AllocStrategy::stats`](crate::AllocStrategy::stats);
    /// inherent, so it needs no `use framemem::AllocStrategy`).
    pub fn stats(&self) -> Stats {
        // One reading of each counter, in the order that keeps the figures
        // coherent while other threads work (`lanes/counters.rs`): frees
        // before allocations (the large ones too), the bytes in use before
        // the bytes reserved.
        let large_frees = self.registry.large_frees();
        let mut s = Stats {
            resets: self.resets,
            ..Stats::default()
        };
        for lane in self.lanes.all_shared() {
            s.frees += lane.zero_size_frees.get();
        }
        let classes = self.class_stats();
        for lane in self.lanes.all_shared() {
            s.allocations += lane.zero_size_allocs.get();
        }
        for c in &classes {
            s.allocations += c.allocations;
            s.frees += c.frees;
        }
        let large_allocations = self.registry.large_allocations();
        s.allocations += large_allocations;
        s.frees += large_frees;
        s.large_allocations = large_allocations;
        let large_bytes = self.registry.large_bytes_in_use();
        let in_use = self.small_bytes_in_use(&classes) + large_bytes;
        s.bytes_reserved = self.registry.chunk_bytes() + large_bytes;
        // A slot freed and handed out again between the readings of its
        // frees and its allocations counts twice: never more than is held.
        s.bytes_in_use = in_use.min(s.bytes_reserved);
        let peak = self
            .peak_sampled
            .fetch_max(s.bytes_in_use, Ordering::Relaxed);
        s.peak_bytes_in_use = peak.max(s.bytes_in_use);
        s
    }
}

impl fmt::Debug for Slab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slab")
            .field("stamp", &self.stamp)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

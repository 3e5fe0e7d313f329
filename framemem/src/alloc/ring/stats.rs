//! [`RingStats`] and [`SlotStats`]: what the ring holds, by expiry frame.
//!
//! Like the arena's, the counts of a live [`RingLocal`](super::RingLocal)
//! appear when it drops.

use super::ExpiryRing;
use super::expiry::slot_of;

/// The ring's counters. `allocations` and `overflow_allocations` only grow;
/// `bytes_in_use` is the sum of the slots' and the overflow's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RingStats {
    /// The frame under way: the frame ends so far.
    pub frame: u64,
    /// Handles made, by the slots and the overflow.
    pub allocations: u64,
    /// Requested bytes of live data, in the slots and the overflow.
    pub bytes_in_use: usize,
    /// Bytes held from the system: the slots' chunks (in use or idle), and
    /// the slab.
    pub bytes_reserved: usize,
    /// Handles made by the overflow slab (lifetimes beyond the depth).
    pub overflow_allocations: u64,
    /// Requested bytes of live overflow blocks (part of `bytes_in_use`).
    pub overflow_bytes_in_use: usize,
}

/// One slot's counters, from [`ExpiryRing::slot_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SlotStats {
    /// The slot's index.
    pub slot: usize,
    /// The frame at whose end the slot is reset next: the last frame of all
    /// its data.
    pub expires_at: u64,
    /// Requested bytes of its data.
    pub bytes_in_use: usize,
    /// Chunk bytes its arena holds now (taken from the ring's shared cache
    /// as it fills, given back at its reset).
    pub bytes_reserved: usize,
    /// Allocations it ever served.
    pub allocations: u64,
}

impl ExpiryRing {
    /// The ring's counters, see [`RingStats`].
    pub fn stats(&self) -> RingStats {
        let mut s = RingStats {
            frame: self.now,
            ..RingStats::default()
        };
        for slot in self.slot_stats() {
            s.allocations += slot.allocations;
            s.bytes_in_use += slot.bytes_in_use;
        }
        // The slots' chunks and the idle ones: the one cache they share.
        s.bytes_reserved = self.chunks.reserved();
        if let Some(overflow) = &self.overflow {
            s.overflow_allocations = overflow.allocations();
            s.overflow_bytes_in_use = overflow.bytes_in_use();
            s.allocations += s.overflow_allocations;
            s.bytes_in_use += s.overflow_bytes_in_use;
            s.bytes_reserved += overflow.bytes_reserved();
        }
        s
    }

    /// Each slot's counters, in the order the slots expire: the one reset
    /// at the end of this frame first.
    pub fn slot_stats(&self) -> impl Iterator<Item = SlotStats> + '_ {
        let depth = self.slots.len();
        (self.now..self.now + depth as u64).map(move |expires_at| {
            let slot = slot_of(expires_at, depth);
            let arena = self.slots[slot].stats();
            SlotStats {
                slot,
                expires_at,
                bytes_in_use: arena.bytes_in_use,
                bytes_reserved: arena.bytes_reserved,
                allocations: arena.allocations,
            }
        })
    }
}

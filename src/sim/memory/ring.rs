//! The arena strategy when entities outlive their frame: trails in an
//! [`ExpiryRing`], a ring of frame arenas used as a timing wheel, each
//! trail in the slot that resets at the end of its entity's last frame;
//! scratch in a frame [`Arena`] reset every frame, as with one-frame
//! lifetimes. Nothing is freed one by one: each frame end resets one ring
//! slot and the scratch arena.
//!
//! Trails reach components as [`RingSlice`] handles, checked against their
//! expiry on every read: a trail read after its entity's last frame is a
//! clear panic, never a read of reused memory.

use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::scratch::ScratchItem;
use crate::sim::memory::trails::{PerCall, ReleasePerCall};
use crate::sim::strategy::Strategy;
use framemem::bevy::AllocTag;
use framemem::{Arena, ExpiryRing, RingOverflow, RingSlice, TypedAlloc};

/// Most slots of the ring: lifetimes up to this many frames get a slot
/// (a frame arena each, lanes and all: about 8 KiB idle); longer ones go
/// to the ring's slab, freed at their last frame. 128 covers two seconds
/// at 60 frames a second, the bullets and sparks a ring is for.
const MAX_DEPTH: usize = 128;

/// The arena strategy for multi-frame lifetimes. See the module docs.
#[derive(Resource, Debug)]
pub struct RingMemory {
    ring: ExpiryRing,
    scratch: Arena,
    peak_bytes_in_use: u64,
}

/// A ring trail: a `Copy` handle that resolves through its last frame.
#[derive(Component, Clone, Copy, Debug)]
pub struct RingTrail(pub RingSlice<Vec3>);

impl FrameMemory for RingMemory {
    const STRATEGY: Strategy = Strategy::Arena;
    type Payload = RingTrail;
    type Scratch<'a, T: ScratchItem> = allocator_api2::vec::Vec<T, &'a Arena>;
    type Trails<'a> = PerCall<'a, Self>;
    const RELEASES_PAYLOADS: bool = false;

    fn new(plan: &MemoryPlan) -> Self {
        let depth = (plan.max_lifetime_frames as usize).clamp(1, MAX_DEPTH);
        Self {
            ring: ExpiryRing::with_overflow(depth, RingOverflow::Slab),
            scratch: Arena::new(),
            peak_bytes_in_use: 0,
        }
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> RingTrail {
        RingTrail(
            self.ring
                .for_frames(lifetime_frames)
                .handle_slice_fill_with(len, fill),
        )
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a RingTrail) -> Option<&'a [Vec3]> {
        self.ring.try_get(payload.0)
    }

    fn release_trail(&self, _payload: &mut RingTrail) {}

    type Releaser<'a> = ReleasePerCall<'a, Self>;

    fn releaser(&self) -> ReleasePerCall<'_, Self> {
        ReleasePerCall(self)
    }

    fn trails<'a>(&'a mut self, tag: Option<&'a AllocTag>) -> PerCall<'a, Self> {
        PerCall::new(self, tag)
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Self::Scratch<'_, T> {
        allocator_api2::vec::Vec::with_capacity_in(capacity, &self.scratch)
    }

    fn end_frame(&mut self) {
        let in_use = self.ring.stats().bytes_in_use + self.scratch.stats().bytes_in_use;
        self.peak_bytes_in_use = self.peak_bytes_in_use.max(in_use as u64);
        self.ring.end_frame();
        self.scratch.reset();
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.peak_bytes_in_use,
            bytes_reserved: Some(
                (self.ring.stats().bytes_reserved + self.scratch.stats().bytes_reserved) as u64,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trail_resolves_through_its_last_frame_only() {
        let plan = MemoryPlan {
            entities_per_frame: 1,
            max_trail_len: 4,
            max_lifetime_frames: 3,
            attribution: true,
            huge_pages: false,
        };
        let mut memory = RingMemory::new(&plan);
        let trail = memory.alloc_trail(4, 3, |i| Vec3::splat(i as f32));
        for _ in 0..2 {
            FrameMemory::end_frame(&mut memory);
            assert_eq!(memory.trail(&trail)[3], Vec3::splat(3.0));
        }
        FrameMemory::end_frame(&mut memory);
        assert!(
            memory.try_trail(&trail).is_none(),
            "read past its last frame"
        );
    }
}

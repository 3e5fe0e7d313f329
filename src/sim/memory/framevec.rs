//! The framevec strategy: the floor every strategy is held against, written
//! the way a careful bevy programmer writes one-frame data without any
//! allocator crate.
//!
//! - Payloads: every trail's points are appended to one frame-wide
//!   `Vec<Vec3>` in the resource, and the component holds an
//!   `(offset, len)` index into it ([`FrameVecTrail`], 8 bytes, `Copy`).
//!   Only the spawn system writes trails, on one thread, so one buffer is
//!   enough; a parallel writer would keep one per thread (bevy's
//!   `Parallel<Vec<Vec3>>`) and put the thread in the index.
//! - Scratch: `Vec`s kept from frame to frame and cleared, capacity kept
//!   ([`KeptVec`]): what a `Local<Vec<T>>` in the collide system would be
//!   (the system is shared by every strategy, so its scratch comes through
//!   [`FrameMemory::scratch`]; a take is one uncontended lock, seven a
//!   frame).
//! - End of frame: the buffer is cleared, capacity kept; after the first
//!   frames nothing is allocated at all.
//!
//! What it does not have, and the arena does: a stale index (kept past the
//! end of the frame) is not detected. It reads whatever the next frame put
//! at that offset, or panics on the bounds check if the buffer is shorter;
//! no undefined behaviour, but no error either. And the buffer is typed: one
//! per payload type, where an arena takes any type.
//!
//! [`KeptVec`]: crate::sim::memory::scratch::KeptVec

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::memory::frame_bytes::FrameBytes;
use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::scratch::{KeptScratch, KeptVec, ScratchItem};
use crate::sim::memory::trails::{PerCall, ReleasePerCall};
use crate::sim::scenario::TRAIL_POINT_BYTES;
use crate::sim::strategy::Strategy;
use framemem::TrimPolicy;
use framemem::bevy::AllocTag;

/// The framevec strategy. See the module docs.
#[derive(Resource, Debug)]
pub struct FrameVecMemory {
    /// This frame's trail points, in spawn order; empty between frames.
    points: Vec<Vec3>,
    /// The scratch vectors between uses: empty, capacity kept.
    scratch: KeptScratch,
    /// Bytes used by each frame (points and scratch), for the figures.
    bytes: FrameBytes,
    /// Scratch bytes taken this frame.
    scratch_frame: AtomicUsize,
    /// When the points buffer gives back what a spike made it grow to.
    trim_points: TrimPolicy,
    /// When the kept scratch vectors go.
    trim_scratch: TrimPolicy,
}

/// A trail: where its points are in this frame's buffer.
#[derive(Component, Clone, Copy, Debug)]
pub struct FrameVecTrail {
    /// Index of the first point.
    offset: u32,
    /// How many points.
    len: u32,
}

impl FrameMemory for FrameVecMemory {
    const STRATEGY: Strategy = Strategy::Framevec;
    type Payload = FrameVecTrail;
    type Scratch<'a, T: ScratchItem> = KeptVec<'a, T>;
    type Trails<'a> = PerCall<'a, Self>;
    const RELEASES_PAYLOADS: bool = false;

    fn new(plan: &MemoryPlan) -> Self {
        Self {
            // Room for the longest trails of the largest frame: the buffer
            // grows only if a wave comes after a trim gave its room back.
            points: Vec::with_capacity(plan.entities_per_frame * plan.max_trail_len),
            scratch: KeptScratch::default(),
            bytes: FrameBytes::new(1),
            scratch_frame: AtomicUsize::new(0),
            trim_points: TrimPolicy::new(),
            trim_scratch: TrimPolicy::new(),
        }
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> FrameVecTrail {
        let offset = self.points.len();
        // `push` in a loop, not `extend`: `extend` of a mapped range is a
        // call per trail here (its fold is not inlined), ~0.2 ms a frame at
        // 50k entities; `push` inlines, and its capacity check is always
        // taken the same way (the buffer never grows, see `new`).
        let mut fill = fill;
        for k in 0..len {
            self.points.push(fill(k));
        }
        FrameVecTrail {
            offset: index_u32(offset),
            len: index_u32(len),
        }
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a FrameVecTrail) -> Option<&'a [Vec3]> {
        let start = payload.offset as usize;
        self.points.get(start..start + payload.len as usize)
    }

    fn release_trail(&self, _payload: &mut FrameVecTrail) {}

    type Releaser<'a> = ReleasePerCall<'a, Self>;

    fn releaser(&self) -> ReleasePerCall<'_, Self> {
        ReleasePerCall(self)
    }

    fn trails<'a>(&'a mut self, tag: Option<&'a AllocTag>) -> PerCall<'a, Self> {
        PerCall::new(self, tag)
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> KeptVec<'_, T> {
        let v = KeptVec::take(T::kept(&self.scratch), capacity);
        self.bytes
            .add_scratch(v.capacity() * std::mem::size_of::<T>());
        // The demand is what was asked for, not the capacity a kept vector
        // happens to have (a spike's vectors would make every later frame
        // look like a spike). Single writer (the collide system), as for
        // `FrameBytes`.
        let taken = self.scratch_frame.load(Relaxed);
        self.scratch_frame
            .store(taken + capacity * std::mem::size_of::<T>(), Relaxed);
        v
    }

    fn end_frame(&mut self) {
        self.bytes
            .add_payload(self.points.len() * TRAIL_POINT_BYTES, 1);
        self.bytes.end_frame();
        // What a careful programmer adds once a spike has shown that a
        // cleared buffer keeps its largest capacity for ever: give back what
        // the recent frames did not need (`TrimPolicy`).
        self.trim_points.record(self.points.len() as u64);
        if let Some(keep) = self.trim_points.keep(self.points.capacity() as u64) {
            self.points.clear();
            self.points.shrink_to(keep as usize);
        }
        self.points.clear();
        let scratch = std::mem::take(self.scratch_frame.get_mut());
        self.trim_scratch.record(scratch as u64);
        if self
            .trim_scratch
            .keep(self.scratch.bytes_reserved() as u64)
            .is_some()
        {
            // The kept vectors are made again at the size the next frames
            // ask for.
            self.scratch = KeptScratch::default();
        }
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.bytes.peak(),
            bytes_reserved: Some(
                (self.points.capacity() * TRAIL_POINT_BYTES + self.scratch.bytes_reserved()) as u64,
            ),
        }
    }
}

/// An index into the frame's buffer as the component stores it: 32 bits
/// keep the component at 8 bytes, and 4 billion points (48 GiB) is far past
/// any frame the entity limit and the memory estimate let run.
#[inline(always)]
fn index_u32(index: usize) -> u32 {
    match u32::try_from(index) {
        Ok(index) => index,
        Err(_) => too_many_points(index),
    }
}

#[cold]
#[inline(never)]
fn too_many_points(index: usize) -> ! {
    panic!("framevec: {index} trail points in one frame do not fit a 32-bit index")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::memory::ScratchVec;

    fn plan() -> MemoryPlan {
        MemoryPlan {
            entities_per_frame: 4,
            max_trail_len: 8,
            max_lifetime_frames: 1,
            attribution: false,
            huge_pages: false,
        }
    }

    #[test]
    fn trails_are_ranges_of_one_buffer_cleared_at_the_end_of_frame() {
        let mut memory = FrameVecMemory::new(&plan());
        let a = memory.alloc_trail(3, 1, |i| Vec3::splat(i as f32));
        let b = memory.alloc_trail(2, 1, |i| Vec3::splat(10.0 + i as f32));
        assert_eq!(memory.trail(&a), [Vec3::ZERO, Vec3::ONE, Vec3::splat(2.0)]);
        assert_eq!(memory.trail(&b)[1], Vec3::splat(11.0));
        let capacity = memory.points.capacity();
        memory.end_frame();
        assert!(memory.try_trail(&a).is_none(), "the buffer was not cleared");
        assert_eq!(memory.points.capacity(), capacity, "capacity was not kept");
    }

    #[test]
    fn scratch_vectors_come_back_empty_with_their_capacity() {
        let memory = FrameVecMemory::new(&plan());
        {
            let mut v = memory.scratch::<u32>(1000);
            v.push(7);
        }
        let v = memory.scratch::<u32>(10);
        assert_eq!(v.len(), 0);
        assert!(v.capacity() >= 1000, "capacity {}", v.capacity());
    }
}

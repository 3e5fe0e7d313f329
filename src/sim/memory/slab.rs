//! The slab strategy: trails are [`SlabSlice`]s in the size-class [`Slab`]
//! (the bevy module's [`FrameSlab`] resource), freed before despawn;
//! scratch vectors are slab-backed too (those over 4 KiB go to the system
//! heap, a constant number per frame).
//!
//! The spawn and release systems go through the slab's per-thread handle
//! ([`Slab::local`]), one per batch: no lane lookup per trail.

use bevy_ecs::component::Component;
use glam::Vec3;

use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::scratch::ScratchItem;
use crate::sim::memory::trails::{PayloadReleaser, TrailWriter};
use crate::sim::strategy::Strategy;
use framemem::bevy::AllocTag;
use framemem::bevy::FrameSlab;
use framemem::{Slab, SlabLocal, SlabSlice, TypedAlloc};

/// A slab trail. `None` once released (a [`SlabSlice`] is freed by value).
#[derive(Component, Debug)]
pub struct SlabTrail(pub Option<SlabSlice<Vec3>>);

impl FrameMemory for FrameSlab {
    const STRATEGY: Strategy = Strategy::Slab;
    type Payload = SlabTrail;
    type Scratch<'a, T: ScratchItem> = allocator_api2::vec::Vec<T, &'a Slab>;
    type Trails<'a> = SlabTrails<'a>;
    const RELEASES_PAYLOADS: bool = true;

    fn new(_plan: &MemoryPlan) -> Self {
        Self::default()
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> SlabTrail {
        SlabTrail(Some(self.handle_slice_fill_with(len, fill)))
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a SlabTrail) -> Option<&'a [Vec3]> {
        self.try_get(payload.0.as_ref()?)
    }

    #[inline]
    fn release_trail(&self, payload: &mut SlabTrail) {
        if let Some(slice) = payload.0.take() {
            self.free_slice(slice);
        }
    }

    /// The calling thread's lane of the slab, taken once for the batch.
    fn trails<'a>(&'a mut self, _tag: Option<&'a AllocTag>) -> SlabTrails<'a> {
        SlabTrails(self.slab().local())
    }

    type Releaser<'a> = SlabTrails<'a>;

    /// As [`trails`](FrameMemory::trails): the calling thread's lane, for
    /// one batch of frees.
    fn releaser(&self) -> SlabTrails<'_> {
        SlabTrails(self.slab().local())
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Self::Scratch<'_, T> {
        allocator_api2::vec::Vec::with_capacity_in(capacity, self.slab())
    }

    fn end_frame(&mut self) {
        // A spike's empty chunks go back a window after it (`TrimPolicy`).
        FrameSlab::end_frame(self);
    }

    fn figures(&self) -> MemoryFigures {
        let stats = self.stats();
        MemoryFigures {
            peak_bytes_in_use: stats.peak_bytes_in_use as u64,
            bytes_reserved: Some(stats.bytes_reserved as u64),
        }
    }
}
/// One batch's trails in the slab, made or freed through the calling
/// thread's lane ([`FrameMemory::trails`], [`FrameMemory::releaser`]).
#[derive(Debug)]
pub struct SlabTrails<'a>(SlabLocal<'a>);

impl TrailWriter for SlabTrails<'_> {
    type Payload = SlabTrail;

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> SlabTrail {
        SlabTrail(Some(self.0.handle_slice_fill_with(len, fill)))
    }
}

impl PayloadReleaser for SlabTrails<'_> {
    type Payload = SlabTrail;

    #[inline]
    fn release(&self, payload: &mut SlabTrail) {
        if let Some(slice) = payload.0.take() {
            self.0.free_slice(slice);
        }
    }
}

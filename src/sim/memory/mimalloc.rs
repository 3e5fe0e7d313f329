//! The mimalloc strategy: the heap strategy with mimalloc instead of the
//! global allocator, in the same process. Every trail is a `Vec` on
//! [`MiAlloc`], freed by `Drop` when its entity is despawned; scratch
//! vectors are allocated afresh from mimalloc each time. Everything else
//! (bevy's own tables and entity records) stays on the global allocator, as
//! in the heap strategy.
//!
//! What most programmers try first is swapping the global allocator; this
//! measures the same trade without a rebuild, beside the other strategies.
//! (`--features mimalloc` still swaps the global allocator, for bevy too.)

use allocator_api2::vec::Vec as ApiVec;
use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::memory::frame_bytes::FrameBytes;
use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::mi_alloc::{self, MiAlloc};
use crate::sim::memory::scratch::ScratchItem;
use crate::sim::scenario::TRAIL_POINT_BYTES;
use crate::sim::strategy::Strategy;

/// The mimalloc strategy. See the module docs.
#[derive(Resource, Debug, Default)]
pub struct MimallocMemory {
    bytes: FrameBytes,
}

/// A mimalloc trail: a `Vec` on mimalloc.
#[derive(Component, Debug)]
pub struct MimallocTrail(pub ApiVec<Vec3, MiAlloc>);

impl FrameMemory for MimallocMemory {
    const STRATEGY: Strategy = Strategy::Mimalloc;
    type Payload = MimallocTrail;
    type Scratch<'a, T: ScratchItem> = ApiVec<T, MiAlloc>;
    const RELEASES_PAYLOADS: bool = false;

    fn new(_plan: &MemoryPlan) -> Self {
        Self::default()
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> MimallocTrail {
        self.bytes.add(len * TRAIL_POINT_BYTES);
        // One allocation of the exact size, as the heap strategy's `collect`.
        let mut trail = ApiVec::with_capacity_in(len, MiAlloc);
        trail.extend((0..len).map(fill));
        MimallocTrail(trail)
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a MimallocTrail) -> Option<&'a [Vec3]> {
        Some(&payload.0)
    }

    fn release_trail(&self, _payload: &mut MimallocTrail) {}

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> ApiVec<T, MiAlloc> {
        self.bytes.add(capacity * std::mem::size_of::<T>());
        ApiVec::with_capacity_in(capacity, MiAlloc)
    }

    fn end_frame(&mut self) {
        self.bytes.end_frame();
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.bytes.peak(),
            bytes_reserved: mi_alloc::committed_bytes(),
        }
    }
}

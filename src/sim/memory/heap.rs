//! The heap strategy, the baseline: idiomatic Rust, every trail a `Vec` from
//! the global allocator, freed by `Drop` when its entity is despawned, and
//! scratch vectors allocated afresh each time.

use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::memory::frame_bytes::FrameBytes;
use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::scratch::ScratchItem;
use crate::sim::scenario::TRAIL_POINT_BYTES;
use crate::sim::strategy::Strategy;

/// The heap strategy. See the module docs.
#[derive(Resource, Debug, Default)]
pub struct HeapMemory {
    bytes: FrameBytes,
}

/// A heap trail: a plain `Vec`.
#[derive(Component, Debug)]
pub struct HeapTrail(pub Vec<Vec3>);

impl FrameMemory for HeapMemory {
    const STRATEGY: Strategy = Strategy::Heap;
    type Payload = HeapTrail;
    type Scratch<'a, T: ScratchItem> = Vec<T>;
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
    ) -> HeapTrail {
        self.bytes.add(len * TRAIL_POINT_BYTES);
        // An exact-size iterator: `collect` allocates once.
        HeapTrail((0..len).map(fill).collect())
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a HeapTrail) -> Option<&'a [Vec3]> {
        Some(&payload.0)
    }

    fn release_trail(&self, _payload: &mut HeapTrail) {}

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Vec<T> {
        self.bytes.add(capacity * std::mem::size_of::<T>());
        Vec::with_capacity(capacity)
    }

    fn end_frame(&mut self) {
        self.bytes.end_frame();
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.bytes.peak(),
            ..MemoryFigures::default()
        }
    }
}

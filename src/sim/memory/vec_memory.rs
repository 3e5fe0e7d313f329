//! [`VecMemory`]: the strategies that give every trail its own vector from a
//! general-purpose allocator, freed by `Drop` when its entity is despawned,
//! and allocate scratch vectors afresh each time: the heap baseline
//! (`heap.rs`) and mimalloc (`mimalloc.rs`). They differ only in where the
//! vectors come from, a [`VecAlloc`].

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::memory::frame_bytes::FrameBytes;
use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::scratch::{ScratchItem, ScratchVec};
use crate::sim::memory::trails::{PerCall, ReleasePerCall};
use crate::sim::scenario::TRAIL_POINT_BYTES;
use crate::sim::strategy::Strategy;
use framemem::bevy::AllocTag;

/// Where a [`VecMemory`]'s vectors come from.
pub trait VecAlloc: Default + fmt::Debug + Send + Sync + 'static {
    /// The strategy a [`VecMemory`] on this allocator is.
    const STRATEGY: Strategy;

    /// A vector of `T` on this allocator.
    type Vec<T: Copy + Send + Sync + 'static>: ScratchVec<T>
        + Deref<Target = [T]>
        + Extend<T>
        + Send
        + Sync
        + 'static;

    /// An empty vector with room for `capacity` values.
    fn with_capacity<T: Copy + Send + Sync + 'static>(capacity: usize) -> Self::Vec<T>;

    /// What the allocator holds from the system, when that is the
    /// strategy's alone; `None` (not measured) when the allocator is shared
    /// with the rest of the process, as the global one is.
    fn bytes_reserved() -> Option<u64> {
        None
    }
}

/// A strategy whose trails and scratch are vectors on `A`. See the module
/// docs.
#[derive(Resource, Debug)]
pub struct VecMemory<A: VecAlloc> {
    bytes: FrameBytes,
    alloc: PhantomData<A>,
}

/// A trail: a vector on `A`.
#[derive(Component)]
pub struct VecTrail<A: VecAlloc>(pub A::Vec<Vec3>);

impl<A: VecAlloc> fmt::Debug for VecTrail<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VecTrail").field(&&*self.0).finish()
    }
}

impl<A: VecAlloc> FrameMemory for VecMemory<A> {
    const STRATEGY: Strategy = A::STRATEGY;
    type Payload = VecTrail<A>;
    type Scratch<'a, T: ScratchItem> = A::Vec<T>;
    type Trails<'a> = PerCall<'a, Self>;
    const RELEASES_PAYLOADS: bool = false;

    fn new(plan: &MemoryPlan) -> Self {
        Self {
            bytes: FrameBytes::new(plan.max_lifetime_frames),
            alloc: PhantomData,
        }
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> VecTrail<A> {
        self.bytes
            .add_payload(len * TRAIL_POINT_BYTES, lifetime_frames);
        // One allocation of the exact size (none for an empty trail), as
        // `collect` from an exact-size iterator makes.
        let mut trail = A::with_capacity(len);
        trail.extend((0..len).map(fill));
        VecTrail(trail)
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a VecTrail<A>) -> Option<&'a [Vec3]> {
        Some(&payload.0)
    }

    fn release_trail(&self, _payload: &mut VecTrail<A>) {}

    type Releaser<'a> = ReleasePerCall<'a, Self>;

    fn releaser(&self) -> ReleasePerCall<'_, Self> {
        ReleasePerCall(self)
    }

    fn trails<'a>(&'a mut self, tag: Option<&'a AllocTag>) -> PerCall<'a, Self> {
        PerCall::new(self, tag)
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> A::Vec<T> {
        self.bytes.add_scratch(capacity * std::mem::size_of::<T>());
        A::with_capacity(capacity)
    }

    fn end_frame(&mut self) {
        self.bytes.end_frame();
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.bytes.peak(),
            bytes_reserved: A::bytes_reserved(),
        }
    }
}

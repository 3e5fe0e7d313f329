//! [`FrameMemory`]: the seam between the systems and a strategy, with the
//! [`MemoryPlan`] a strategy is sized from and the [`MemoryFigures`] it
//! reports.

use bevy_ecs::component::{Component, Mutable};
use bevy_ecs::resource::Resource;
use framemem::bevy::{AllocTag, FrameBySystem};
use glam::Vec3;

use crate::sim::memory::scratch::{ScratchItem, ScratchVec};
use crate::sim::memory::trails::{PayloadReleaser, TrailWriter};
use crate::sim::strategy::Strategy;

/// What a strategy needs to know up front to size itself.
#[derive(Clone, Copy, Debug)]
pub struct MemoryPlan {
    /// The most transient entities born in one frame (a wave's frame).
    pub entities_per_frame: usize,
    /// The longest trail, in points.
    pub max_trail_len: usize,
    /// The longest an entity lives, in frames (1: the frame it is born in).
    pub max_lifetime_frames: u32,
    /// Count bytes per system, where the strategy can (the arena).
    pub attribution: bool,
    /// 2 MiB chunks on huge pages for the frame arena
    /// (`Arena::with_huge_pages`); the other strategies ignore it.
    pub huge_pages: bool,
}

/// A strategy's memory figures, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryFigures {
    /// High-water mark of the bytes the payloads alive and the frame's
    /// scratch occupy, at the end of a frame. Arena, ring and slab: their
    /// own [`Stats::peak_bytes_in_use`] (slab: slot sizes). Heap, mimalloc,
    /// pool and framevec: counted by the strategy's glue, each payload
    /// through its last frame (pool: the capacity of the vectors taken).
    ///
    /// [`Stats::peak_bytes_in_use`]: framemem::Stats::peak_bytes_in_use
    pub peak_bytes_in_use: u64,
    /// Bytes the strategy holds from the system now. Arena, ring and slab:
    /// their chunks; pool: its trails, out and idle; mimalloc: what it has
    /// committed; framevec: its buffers. `None` (not measured) for the heap
    /// strategy: `malloc` is shared with bevy and the rest of the process,
    /// so what it keeps is no one strategy's.
    pub bytes_reserved: Option<u64>,
}

/// The lab's systems that allocate from the strategy, by the names they
/// have in the arena's per-system attribution (`FrameArena::tag`): the
/// order of [`SystemBytes::bytes`].
pub const ALLOCATING_SYSTEMS: [&str; 2] = ["spawn", "collide"];

/// One frame's arena bytes per lab system, from the arena's per-system
/// attribution ([`FrameBySystem`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemBytes {
    /// Bytes each of [`ALLOCATING_SYSTEMS`] allocated, in that order.
    pub bytes: [u64; ALLOCATING_SYSTEMS.len()],
    /// Bytes that reached the arena outside those systems.
    pub outside: u64,
    /// The frame's arena bytes: `bytes` and `outside` add up to it.
    pub total: u64,
}

impl SystemBytes {
    /// The lab's share of `by_system`. A system not in
    /// [`ALLOCATING_SYSTEMS`] counts as outside them, so the sum stays the
    /// total.
    pub fn from_frame(by_system: &FrameBySystem) -> Self {
        let mut bytes = [0; ALLOCATING_SYSTEMS.len()];
        let mut outside = by_system.outside.bytes;
        for system in &by_system.systems {
            match ALLOCATING_SYSTEMS.iter().position(|&n| n == system.name) {
                Some(i) => bytes[i] += system.bytes,
                None => outside += system.bytes,
            }
        }
        Self {
            bytes,
            outside,
            total: by_system.total_bytes,
        }
    }
}

/// Where one strategy's per-frame memory comes from. See `memory/mod.rs`.
pub trait FrameMemory: Resource<Mutability = Mutable> + Sized {
    /// The strategy this is.
    const STRATEGY: Strategy;

    /// The component holding an entity's trail.
    type Payload: Component<Mutability = Mutable>;

    /// A scratch vector of `T`, valid while `self` is borrowed.
    type Scratch<'a, T: ScratchItem>: ScratchVec<T>
    where
        Self: 'a;

    /// A strategy sized for `plan`.
    fn new(plan: &MemoryPlan) -> Self;

    /// Allocates a trail of `len` points made by `fill(index)`, for an
    /// entity that lives `lifetime_frames` frames (1: this frame only). Only
    /// the ring (the arena strategy with multi-frame lifetimes) needs it:
    /// the others free at despawn.
    ///
    /// Takes `&mut self`: the spawn system, on one thread, is the only
    /// writer, which lets the framevec strategy append to a plain `Vec`.
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> Self::Payload;

    /// The trail's points.
    ///
    /// # Panics
    ///
    /// When the payload no longer resolves: released, or (arena) made before
    /// the last reset. [`try_trail`](Self::try_trail) tests instead.
    #[track_caller]
    fn trail<'a>(&'a self, payload: &'a Self::Payload) -> &'a [Vec3] {
        match self.try_trail(payload) {
            Some(points) => points,
            None => panic!(
                "{} payload no longer resolves: it was released or made before the last \
                 end of frame",
                Self::STRATEGY.name()
            ),
        }
    }

    /// The trail's points, or `None` when the payload no longer resolves.
    fn try_trail<'a>(&'a self, payload: &'a Self::Payload) -> Option<&'a [Vec3]>;

    /// Whether payloads must be given back before their entity is despawned
    /// (pool, slab). The heap's `Vec` frees itself when the component drops,
    /// and the arena's reset releases everything at once.
    const RELEASES_PAYLOADS: bool;

    /// Gives the trail's memory back, leaving `payload` empty. A no-op where
    /// [`RELEASES_PAYLOADS`](Self::RELEASES_PAYLOADS) is false. May run on
    /// any thread, on many at once.
    fn release_trail(&self, payload: &mut Self::Payload);

    /// An empty scratch vector with room for `capacity` values.
    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Self::Scratch<'_, T>;

    /// The slot of the system named `system` in the strategy's per-system
    /// attribution (the arena's, `FrameArena::tag`); `None` where the
    /// strategy keeps none. Takes a lock: once per system run.
    fn system_tag(&self, _system: &'static str) -> Option<AllocTag> {
        None
    }

    /// [`alloc_trail`](Self::alloc_trail), counted against `tag`'s system
    /// where the strategy attributes.
    #[inline]
    fn alloc_trail_for(
        &mut self,
        _tag: Option<&AllocTag>,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> Self::Payload {
        self.alloc_trail(len, lifetime_frames, fill)
    }

    /// What the spawn system allocates one batch's trails through, taken
    /// once per batch ([`trails.rs`](super::trails)), counted against
    /// `tag`'s system where the strategy attributes.
    type Trails<'a>: TrailWriter<Payload = Self::Payload>
    where
        Self: 'a;

    /// The writer for one batch of trails (see [`Trails`](Self::Trails)).
    fn trails<'a>(&'a mut self, tag: Option<&'a AllocTag>) -> Self::Trails<'a>;

    /// What the release system gives one batch's payloads back through,
    /// taken once per batch on the thread that runs it
    /// ([`trails.rs`](super::trails)).
    type Releaser<'a>: PayloadReleaser<Payload = Self::Payload>
    where
        Self: 'a;

    /// The releaser for one batch (see [`Releaser`](Self::Releaser)).
    fn releaser(&self) -> Self::Releaser<'_>;

    /// [`scratch`](Self::scratch), counted against `tag`'s system where the
    /// strategy attributes.
    fn scratch_for<'a, T: ScratchItem>(
        &'a self,
        _tag: Option<&'a AllocTag>,
        capacity: usize,
    ) -> Self::Scratch<'a, T> {
        self.scratch(capacity)
    }

    /// The last frame's bytes per system, where the strategy attributes
    /// them (the arena).
    fn by_system(&self) -> Option<SystemBytes> {
        None
    }

    /// The end of the frame: every payload of the frame has been released or
    /// despawned. The arena resets here.
    fn end_frame(&mut self);

    /// Memory figures for the report.
    fn figures(&self) -> MemoryFigures;
}

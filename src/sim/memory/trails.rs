//! [`TrailWriter`]: what the spawn system allocates one batch's trails
//! through, taken once per batch ([`FrameMemory::trails`]).
//!
//! Per entity, the spawn system used to call
//! [`FrameMemory::alloc_trail_for`]: for the arena, a lane lookup and two
//! atomic additions on the system's attribution counters per trail (a
//! `lock`-prefixed instruction each, which callgrind counts as one
//! instruction but which costs tens of cycles). A batch writer is what a
//! user writes instead: the arena's is a per-thread handle
//! ([`FrameArena::counted`](framemem::bevy::FrameArena::counted)`.local()`)
//! that counts in plain cells and adds to the system's counters once, when
//! the batch ends. Strategies with nothing to take once per batch allocate
//! per call ([`PerCall`]).
//!
//! [`PayloadReleaser`] is the same for the release system's batches: the
//! slab and the pool give trails back through their per-thread handles
//! ([`Slab::local`](framemem::Slab::local),
//! [`Pool::local`](framemem::Pool::local)), one per batch, as their docs
//! advise, instead of a lane lookup (and, for the pool, a lane lock) per
//! trail.

use bevy_ecs::component::{Component, Mutable};
use framemem::bevy::AllocTag;
use glam::Vec3;

use crate::sim::memory::FrameMemory;

/// Allocates the trails of one spawn batch.
pub trait TrailWriter {
    /// The component holding an entity's trail.
    type Payload: Component<Mutability = Mutable>;

    /// As [`FrameMemory::alloc_trail`]: a trail of `len` points made by
    /// `fill(index)`, for an entity that lives `lifetime_frames` frames.
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> Self::Payload;
}

/// A batch writer that allocates each trail through
/// [`FrameMemory::alloc_trail_for`]: for strategies with nothing to take
/// once per batch.
#[derive(Debug)]
pub struct PerCall<'a, M> {
    memory: &'a mut M,
    tag: Option<&'a AllocTag>,
}

impl<'a, M: FrameMemory> PerCall<'a, M> {
    /// Trails from `memory`, counted against `tag`'s system where the
    /// strategy attributes.
    pub fn new(memory: &'a mut M, tag: Option<&'a AllocTag>) -> Self {
        Self { memory, tag }
    }
}

/// Gives back the payloads of one batch of the release system, taken once
/// per batch, on the thread that runs it ([`FrameMemory::releaser`]).
pub trait PayloadReleaser {
    /// The component holding an entity's trail.
    type Payload;

    /// As [`FrameMemory::release_trail`]: gives the trail's memory back,
    /// leaving `payload` empty.
    fn release(&self, payload: &mut Self::Payload);
}

/// A releaser that gives each payload back through
/// [`FrameMemory::release_trail`]: for strategies with nothing to take once
/// per batch.
#[derive(Debug)]
pub struct ReleasePerCall<'a, M>(pub &'a M);

impl<M: FrameMemory> PayloadReleaser for ReleasePerCall<'_, M> {
    type Payload = M::Payload;

    #[inline]
    fn release(&self, payload: &mut M::Payload) {
        self.0.release_trail(payload);
    }
}

impl<M: FrameMemory> TrailWriter for PerCall<'_, M> {
    type Payload = M::Payload;

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> M::Payload {
        self.memory
            .alloc_trail_for(self.tag, len, lifetime_frames, fill)
    }
}

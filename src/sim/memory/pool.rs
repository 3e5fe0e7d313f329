//! The pool strategy: trails are `Vec`s recycled through a [`Pool`], taken
//! at spawn and put back (cleared, capacity kept) before despawn; scratch
//! vectors are recycled too, one pool per row type ([`PoolScratch`]).
//!
//! The spawn and release systems take and give back trails through the
//! pool's per-thread handle ([`Pool::local`]), one per batch: no lane
//! lookup and no lane lock per trail.

use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::memory::frame_bytes::FrameBytes;
use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan};
use crate::sim::memory::scratch::{PoolScratch, ScratchItem};
use crate::sim::memory::trails::{PayloadReleaser, TrailWriter};
use crate::sim::scenario::TRAIL_POINT_BYTES;
use crate::sim::strategy::Strategy;
use framemem::bevy::AllocTag;
use framemem::{Pool, PoolLocal, Pooled, TrimPolicy};

/// The pool strategy. See the module docs.
#[derive(Resource, Debug)]
pub struct PoolMemory {
    trails: Pool<Vec<Vec3>>,
    scratch: PoolScratch,
    /// New trails get this capacity, so a recycled one never has to grow.
    trail_capacity: usize,
    bytes: FrameBytes,
    /// Trails taken so far (the pool's hits and misses), to see each
    /// frame's demand.
    taken: u64,
    /// When the idle trails a spike left go back to the system.
    trim: TrimPolicy,
}

/// A pooled trail: a `Vec` that goes back to the pool before despawn.
#[derive(Component, Debug)]
pub struct PoolTrail(pub Vec<Vec3>);

impl FrameMemory for PoolMemory {
    const STRATEGY: Strategy = Strategy::Pool;
    type Payload = PoolTrail;
    type Scratch<'a, T: ScratchItem> = Pooled<'a, Vec<T>>;
    type Trails<'a> = PoolTrails<'a>;
    const RELEASES_PAYLOADS: bool = true;

    fn new(plan: &MemoryPlan) -> Self {
        // Room for every trail of a frame twice over: the pool keeps its
        // bound by leasing capacity to threads in batches, and a tight bound
        // would drop trails that the next frame then has to allocate again.
        let idle = plan
            .entities_per_frame
            .saturating_mul(2)
            .saturating_add(4096);
        Self {
            trails: Pool::new(idle),
            scratch: PoolScratch::new(),
            trail_capacity: plan.max_trail_len,
            bytes: FrameBytes::new(plan.max_lifetime_frames),
            taken: 0,
            trim: TrimPolicy::new(),
        }
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> PoolTrail {
        let trail = self.trails.take();
        fill_trail(
            trail,
            self.trail_capacity,
            &mut self.bytes,
            len,
            lifetime_frames,
            fill,
        )
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a PoolTrail) -> Option<&'a [Vec3]> {
        Some(&payload.0)
    }

    #[inline]
    fn release_trail(&self, payload: &mut PoolTrail) {
        // `Vec::new()` does not allocate: the component is left empty.
        self.trails.put(std::mem::take(&mut payload.0));
    }

    /// The calling thread's lane of the trail pool, taken once for the
    /// batch.
    fn trails<'a>(&'a mut self, _tag: Option<&'a AllocTag>) -> PoolTrails<'a> {
        PoolTrails {
            local: self.trails.local(),
            trail_capacity: self.trail_capacity,
            bytes: &mut self.bytes,
        }
    }

    type Releaser<'a> = PoolRelease<'a>;

    /// The calling thread's lane of the trail pool, for one batch of
    /// returns.
    fn releaser(&self) -> PoolRelease<'_> {
        PoolRelease(self.trails.local())
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Pooled<'_, Vec<T>> {
        let mut v = T::vectors(&self.scratch).get();
        v.reserve(capacity);
        self.bytes
            .add_scratch(v.capacity() * std::mem::size_of::<T>());
        v
    }

    fn end_frame(&mut self) {
        self.bytes.end_frame();
        // A frame's demand is the trails it took; idle trails beyond what
        // the recent frames took (and beyond what the threads' caches hold
        // by construction: trails returned on workers wait there) are a
        // spike's leftovers (`TrimPolicy`), dropped down to that demand.
        let stats = self.trails.stats();
        let taken = stats.hits + stats.misses;
        self.trim.record(taken.saturating_sub(self.taken));
        self.taken = taken;
        let in_lanes = self.trails.idle_in_lanes();
        let surplus = stats.held.saturating_sub(in_lanes);
        if let Some(keep) = self.trim.keep(surplus as u64) {
            let keep = usize::try_from(keep).unwrap_or(usize::MAX);
            self.trails.trim(keep.saturating_add(in_lanes));
        }
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.bytes.peak(),
            // The trails out (alive, counted at their capacity) and the idle
            // ones the pool keeps: what the trails hold from the system.
            bytes_reserved: Some(
                (self.bytes.payloads()
                    + self.trails.stats().held * self.trail_capacity * TRAIL_POINT_BYTES)
                    as u64,
            ),
        }
    }
}
/// `trail` (taken from the pool) grown to the longest length at once, so
/// that recycled trails never reallocate (for a recycled one the reserve
/// is a no-op), counted in `bytes` and filled with `len` points.
#[inline]
fn fill_trail(
    mut trail: Vec<Vec3>,
    trail_capacity: usize,
    bytes: &mut FrameBytes,
    len: usize,
    lifetime_frames: u32,
    fill: impl FnMut(usize) -> Vec3,
) -> PoolTrail {
    trail.reserve_exact(trail_capacity.max(len));
    bytes.add_payload(trail.capacity() * TRAIL_POINT_BYTES, lifetime_frames);
    trail.extend((0..len).map(fill));
    PoolTrail(trail)
}

/// One spawn batch's trails, taken through the calling thread's lane of the
/// pool ([`FrameMemory::trails`]).
#[derive(Debug)]
pub struct PoolTrails<'a> {
    local: PoolLocal<'a, Vec<Vec3>>,
    trail_capacity: usize,
    bytes: &'a mut FrameBytes,
}

impl TrailWriter for PoolTrails<'_> {
    type Payload = PoolTrail;

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> PoolTrail {
        let trail = self.local.take();
        fill_trail(
            trail,
            self.trail_capacity,
            self.bytes,
            len,
            lifetime_frames,
            fill,
        )
    }
}

/// One release batch's returns, through the calling thread's lane of the
/// pool ([`FrameMemory::releaser`]).
#[derive(Debug)]
pub struct PoolRelease<'a>(PoolLocal<'a, Vec<Vec3>>);

impl PayloadReleaser for PoolRelease<'_> {
    type Payload = PoolTrail;

    #[inline]
    fn release(&self, payload: &mut PoolTrail) {
        // `Vec::new()` does not allocate: the component is left empty.
        self.0.put(std::mem::take(&mut payload.0));
    }
}

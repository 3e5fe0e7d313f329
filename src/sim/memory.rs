//! The glue between the simulation and the allocation strategies.
//!
//! [`FrameMemory`] is what a system needs from a strategy: allocate a
//! payload (a trail of `Vec3`) that a component can hold, read it back,
//! release it before its entity is despawned, hand out scratch vectors that
//! live inside one system call, and end the frame. Systems are generic over
//! it, so each strategy gets its own monomorphised schedule and no entity pays
//! for dynamic dispatch.
//!
//! | strategy | payload component | scratch | end of frame |
//! | --- | --- | --- | --- |
//! | [`HeapMemory`] | `Vec<Vec3>`, freed by its `Drop` at despawn | a new `Vec` per use | nothing |
//! | [`PoolMemory`] | a `Vec<Vec3>` taken from a [`Pool`], put back before despawn | a [`Pooled`] `Vec` | nothing |
//! | [`SlabMemory`] | a [`SlabSlice`], freed before despawn | a `Vec` in the [`Slab`] (over 4 KiB: the system heap) | nothing |
//! | [`ArenaMemory`] | an [`ArenaSlice`], resolved through the epoch check | a `Vec` in the [`Arena`] | [`Allocator::reset`] |
//!
//! Scratch vectors borrow the strategy (`&self`), and the arena's reset needs
//! `&mut self`, so the borrow checker proves that no scratch data outlives the
//! frame; it is also why scratch cannot be kept in a resource or component,
//! which must be `'static`.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bevy_ecs::component::{Component, Mutable};
use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::alloc::{Allocator, Arena, ArenaSlice, Pool, Pooled, Slab, SlabSlice};

use super::Strategy;

/// What a strategy needs to know up front to size itself.
#[derive(Clone, Copy, Debug)]
pub struct MemoryPlan {
    /// Transient entities per frame.
    pub entities_per_frame: usize,
    /// The longest trail, in points.
    pub max_trail_len: usize,
}

/// A strategy's memory figures, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MemoryFigures {
    /// High-water mark of the bytes the frame's payloads and scratch occupy.
    /// Arena and slab: their own [`Stats::peak_bytes_in_use`]
    /// (slab: slot sizes). Heap and pool: counted by the glue, per frame
    /// (pool: the capacity of the vectors taken).
    ///
    /// [`Stats::peak_bytes_in_use`]: crate::Stats::peak_bytes_in_use
    pub peak_bytes_in_use: u64,
    /// Bytes the strategy holds from the system now. Arena and slab: their
    /// chunks; pool: its idle trails; heap: 0 (everything was freed).
    pub bytes_reserved: u64,
}

/// Where one strategy's per-frame memory comes from. See the module docs.
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

    /// Allocates a trail of `len` points made by `fill(index)`.
    ///
    /// Called from one thread at a time (the spawn system).
    fn alloc_trail(&self, len: usize, fill: impl FnMut(usize) -> Vec3) -> Self::Payload;

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

    /// The end of the frame: every payload of the frame has been released or
    /// despawned. The arena resets here.
    fn end_frame(&mut self);

    /// Memory figures for the report.
    fn figures(&self) -> MemoryFigures;
}

/// The few operations the systems need from a scratch vector; implemented by
/// `Vec`, `allocator_api2`'s `Vec` on any allocator, and a pooled `Vec`.
pub trait ScratchVec<T> {
    /// Appends a value.
    fn push(&mut self, value: T);
    /// Removes every value, keeping the capacity.
    fn clear(&mut self);
    /// Sets the length to `len`, filling new slots with `value`.
    fn resize(&mut self, len: usize, value: T);
    /// The values.
    fn as_slice(&self) -> &[T];
    /// The values, writable.
    fn as_mut_slice(&mut self) -> &mut [T];
    /// How many values there are.
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Clone> ScratchVec<T> for Vec<T> {
    fn push(&mut self, value: T) {
        Vec::push(self, value);
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn resize(&mut self, len: usize, value: T) {
        Vec::resize(self, len, value);
    }
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
}

impl<T: Clone, A: allocator_api2::alloc::Allocator> ScratchVec<T>
    for allocator_api2::vec::Vec<T, A>
{
    fn push(&mut self, value: T) {
        allocator_api2::vec::Vec::push(self, value);
    }
    fn clear(&mut self) {
        allocator_api2::vec::Vec::clear(self);
    }
    fn resize(&mut self, len: usize, value: T) {
        allocator_api2::vec::Vec::resize(self, len, value);
    }
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
}

impl<T: Clone + Send> ScratchVec<T> for Pooled<'_, Vec<T>> {
    fn push(&mut self, value: T) {
        Vec::push(self, value);
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
    fn resize(&mut self, len: usize, value: T) {
        Vec::resize(self, len, value);
    }
    fn as_slice(&self) -> &[T] {
        self
    }
    fn as_mut_slice(&mut self) -> &mut [T] {
        self
    }
}

/// A type the systems keep in scratch vectors. The pool strategy keeps one
/// typed [`Pool`] per such type, and this trait says which.
pub trait ScratchItem: Copy + Default + Send + Sync + 'static {
    /// This type's pool of vectors.
    fn pool(pools: &ScratchPools) -> &Pool<Vec<Self>>;
}

/// The pool strategy's scratch vectors, one pool per [`ScratchItem`] type.
#[derive(Debug)]
pub struct ScratchPools {
    indices: Pool<Vec<u32>>,
    bodies: Pool<Vec<super::systems::Body>>,
    contacts: Pool<Vec<super::systems::Contact>>,
    targets: Pool<Vec<super::systems::TargetScratch>>,
}

impl ScratchPools {
    /// The bound on idle vectors per type. A system holds at most four at
    /// once, but the bound must be far larger: `Pool` leases capacity to
    /// each thread in batches of 128, so a pool of 8 serves one thread, and
    /// every vector given back on another thread (the executor runs
    /// `collide` on any worker) would be dropped and allocated anew. Vectors
    /// are only made on demand, so a loose bound costs nothing.
    const IDLE_VECTORS: usize = 1024;

    fn new() -> Self {
        Self {
            indices: Pool::new(Self::IDLE_VECTORS),
            bodies: Pool::new(Self::IDLE_VECTORS),
            contacts: Pool::new(Self::IDLE_VECTORS),
            targets: Pool::new(Self::IDLE_VECTORS),
        }
    }
}

impl ScratchItem for u32 {
    fn pool(pools: &ScratchPools) -> &Pool<Vec<Self>> {
        &pools.indices
    }
}

impl ScratchItem for super::systems::Body {
    fn pool(pools: &ScratchPools) -> &Pool<Vec<Self>> {
        &pools.bodies
    }
}

impl ScratchItem for super::systems::Contact {
    fn pool(pools: &ScratchPools) -> &Pool<Vec<Self>> {
        &pools.contacts
    }
}

impl ScratchItem for super::systems::TargetScratch {
    fn pool(pools: &ScratchPools) -> &Pool<Vec<Self>> {
        &pools.targets
    }
}

/// Bytes requested during the current frame and their high-water mark, for
/// the strategies whose allocator keeps no such figure (heap, pool).
///
/// Single writer: only the spawn system and the collide system write it, and
/// the schedule runs them one after the other, so a relaxed load and store
/// (no read-modify-write, cheaper than an atomic add on the spawn path)
/// loses nothing. A second writer would only make the figure low, never UB.
#[derive(Debug, Default)]
struct FrameBytes {
    frame: AtomicUsize,
    peak: usize,
}

impl FrameBytes {
    #[inline(always)]
    fn add(&self, bytes: usize) {
        self.frame
            .store(self.frame.load(Relaxed).wrapping_add(bytes), Relaxed);
    }

    fn end_frame(&mut self) {
        let frame = std::mem::take(self.frame.get_mut());
        self.peak = self.peak.max(frame);
    }

    fn peak(&self) -> u64 {
        self.peak.max(self.frame.load(Relaxed)) as u64
    }
}

const POINT_BYTES: usize = std::mem::size_of::<Vec3>();

// ---------------------------------------------------------------------------
// heap

/// The baseline: idiomatic Rust, every trail a `Vec` from the global
/// allocator, freed by `Drop` when its entity is despawned, and scratch
/// vectors allocated afresh each time.
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
    fn alloc_trail(&self, len: usize, fill: impl FnMut(usize) -> Vec3) -> HeapTrail {
        self.bytes.add(len * POINT_BYTES);
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

// ---------------------------------------------------------------------------
// pool

/// Trails are `Vec`s recycled through a [`Pool`]: taken at spawn, put back
/// (cleared, capacity kept) before despawn. Scratch vectors come from one
/// pool per type.
#[derive(Resource, Debug)]
pub struct PoolMemory {
    trails: Pool<Vec<Vec3>>,
    scratch: ScratchPools,
    /// New trails get this capacity, so a recycled one never has to grow.
    trail_capacity: usize,
    bytes: FrameBytes,
}

/// A pooled trail: a `Vec` that goes back to the pool before despawn.
#[derive(Component, Debug)]
pub struct PoolTrail(pub Vec<Vec3>);

impl FrameMemory for PoolMemory {
    const STRATEGY: Strategy = Strategy::Pool;
    type Payload = PoolTrail;
    type Scratch<'a, T: ScratchItem> = Pooled<'a, Vec<T>>;
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
            scratch: ScratchPools::new(),
            trail_capacity: plan.max_trail_len,
            bytes: FrameBytes::default(),
        }
    }

    #[inline]
    fn alloc_trail(&self, len: usize, fill: impl FnMut(usize) -> Vec3) -> PoolTrail {
        let mut trail = self.trails.take();
        // A new trail gets the longest length at once, so that recycled
        // trails never reallocate; for a recycled one this is a no-op.
        trail.reserve_exact(self.trail_capacity.max(len));
        self.bytes.add(trail.capacity() * POINT_BYTES);
        trail.extend((0..len).map(fill));
        PoolTrail(trail)
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

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Pooled<'_, Vec<T>> {
        let mut v = T::pool(&self.scratch).get();
        v.reserve(capacity);
        self.bytes.add(v.capacity() * std::mem::size_of::<T>());
        v
    }

    fn end_frame(&mut self) {
        self.bytes.end_frame();
    }

    fn figures(&self) -> MemoryFigures {
        MemoryFigures {
            peak_bytes_in_use: self.bytes.peak(),
            bytes_reserved: (self.trails.stats().held * self.trail_capacity * POINT_BYTES) as u64,
        }
    }
}

// ---------------------------------------------------------------------------
// slab

/// Trails are [`SlabSlice`]s in the size-class [`Slab`], freed before
/// despawn; scratch vectors are slab-backed too (those over 4 KiB go to the
/// system heap, a constant number per frame).
#[derive(Resource, Debug, Default)]
pub struct SlabMemory {
    slab: Slab,
}

/// A slab trail. `None` once released (a [`SlabSlice`] is freed by value).
#[derive(Component, Debug)]
pub struct SlabTrail(pub Option<SlabSlice<Vec3>>);

impl FrameMemory for SlabMemory {
    const STRATEGY: Strategy = Strategy::Slab;
    type Payload = SlabTrail;
    type Scratch<'a, T: ScratchItem> = allocator_api2::vec::Vec<T, &'a Slab>;
    const RELEASES_PAYLOADS: bool = true;

    fn new(_plan: &MemoryPlan) -> Self {
        Self::default()
    }

    #[inline]
    fn alloc_trail(&self, len: usize, fill: impl FnMut(usize) -> Vec3) -> SlabTrail {
        SlabTrail(Some(self.slab.alloc_slice_fill_with(len, fill)))
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a SlabTrail) -> Option<&'a [Vec3]> {
        self.slab.try_get(payload.0.as_ref()?)
    }

    #[inline]
    fn release_trail(&self, payload: &mut SlabTrail) {
        if let Some(slice) = payload.0.take() {
            self.slab.free_slice(slice);
        }
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Self::Scratch<'_, T> {
        allocator_api2::vec::Vec::with_capacity_in(capacity, &self.slab)
    }

    fn end_frame(&mut self) {}

    fn figures(&self) -> MemoryFigures {
        let stats = self.slab.stats();
        MemoryFigures {
            peak_bytes_in_use: stats.peak_bytes_in_use as u64,
            bytes_reserved: stats.bytes_reserved as u64,
        }
    }
}

// ---------------------------------------------------------------------------
// arena

/// Trails and scratch in the frame [`Arena`], all released by one reset at
/// the end of the frame. Trails reach components only as [`ArenaSlice`]
/// handles, and resolving one checks the arena's epoch: no pointer survives a
/// reset.
#[derive(Resource, Debug, Default)]
pub struct ArenaMemory {
    arena: Arena,
}

/// An arena trail: a `Copy` handle that resolves only until the reset.
#[derive(Component, Clone, Copy, Debug)]
pub struct ArenaTrail(pub ArenaSlice<Vec3>);

impl FrameMemory for ArenaMemory {
    const STRATEGY: Strategy = Strategy::Arena;
    type Payload = ArenaTrail;
    type Scratch<'a, T: ScratchItem> = allocator_api2::vec::Vec<T, &'a Arena>;
    const RELEASES_PAYLOADS: bool = false;

    fn new(_plan: &MemoryPlan) -> Self {
        Self::default()
    }

    #[inline]
    fn alloc_trail(&self, len: usize, fill: impl FnMut(usize) -> Vec3) -> ArenaTrail {
        ArenaTrail(self.arena.handle_slice_fill_with(len, fill))
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a ArenaTrail) -> Option<&'a [Vec3]> {
        self.arena.try_get(payload.0)
    }

    fn release_trail(&self, _payload: &mut ArenaTrail) {}

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Self::Scratch<'_, T> {
        allocator_api2::vec::Vec::with_capacity_in(capacity, &self.arena)
    }

    fn end_frame(&mut self) {
        self.arena.reset();
    }

    fn figures(&self) -> MemoryFigures {
        let stats = self.arena.stats();
        MemoryFigures {
            peak_bytes_in_use: stats.peak_bytes_in_use as u64,
            bytes_reserved: stats.bytes_reserved as u64,
        }
    }
}

//! The slab and the pool as resources. Neither resets per frame: slab
//! blocks and pooled objects are freed one by one. Their ends of frame
//! ([`FrameSlab::end_frame`] and the [`trim_slab`] system,
//! [`FramePool::end_frame`] and the [`trim_pool`] system) only give back
//! what a spike left idle.

use std::ops::Deref;

use bevy_ecs::resource::Resource;
use bevy_ecs::system::{Local, ResMut};

use super::owner::{EndFrameInstance, FrameOwner};
use crate::alloc::{CallRecycle, Pool, Recycle, ResetHook, Slab, TrimPolicy};

/// The size-class [`Slab`] as a resource; derefs to it. Its per-thread
/// handle is [`Slab::local`]; [`end_frame`](Self::end_frame) (or the
/// [`trim_slab`] system, once a frame) gives a spike's empty chunks back.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::SlabSlice;
/// use framemem::bevy::FrameSlab;
/// use framemem::TypedAlloc;
///
/// #[derive(Component)]
/// struct Trail(Option<SlabSlice<f32>>);
///
/// fn grow_trails(slab: Res<FrameSlab>, mut trails: Query<&mut Trail>) {
///     trails.par_iter_mut().for_each_init(
///         || slab.local(),
///         |local, mut trail| {
///             if let Some(old) = trail.0.take() {
///                 local.free_slice(old);
///             }
///             trail.0 = Some(local.handle_slice_copy(&[1.0; 8]));
///         },
///     );
/// }
///
/// let mut world = World::new();
/// world.init_resource::<FrameSlab>();
/// world.spawn_batch((0..100).map(|_| Trail(None)));
/// let mut schedule = Schedule::default();
/// schedule.add_systems(grow_trails);
/// schedule.run(&mut world);
/// schedule.run(&mut world);
/// let stats = world.resource::<FrameSlab>().stats();
/// assert_eq!((stats.allocations, stats.frees), (200, 100));
/// ```
#[derive(Resource, Debug)]
pub struct FrameSlab {
    slab: Slab,
    /// When the chunks a spike left empty go back.
    trim: TrimPolicy,
    /// Slot bytes handed out ever, at the last end of frame.
    allocated_before: u64,
    /// The [`trim_slab`] instance that ends the frame.
    owner: FrameOwner,
}

/// How far the slab's free chunk memory (beyond what its threads cache)
/// may exceed the recent frames' demand before [`FrameSlab::end_frame`]
/// trims: 1.5x, not [`TrimPolicy`]'s default 1.25x. Free slots a frame
/// leaves on the central lists sit close to one frame's demand, and on
/// `waves.ron` (2 threads) 1.25x trimmed a chunk or two every few steady
/// frames that the next frames took again; 1.5x left steady frames alone
/// and still gave a spike's chunks back a window later.
pub const SLAB_TRIM_SLACK: f64 = 1.5;

impl Default for FrameSlab {
    fn default() -> Self {
        Self {
            slab: Slab::new(),
            trim: TrimPolicy::with_slack(SLAB_TRIM_SLACK),
            allocated_before: 0,
            owner: FrameOwner::default(),
        }
    }
}

impl FrameSlab {
    /// An empty slab resource.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slab.
    pub fn slab(&self) -> &Slab {
        &self.slab
    }

    /// Ends the frame for the slab: records the frame's demand (the slot
    /// bytes it allocated) and, once the slab's free chunk memory beyond
    /// what its threads keep cached (each lane's magazines and carvings,
    /// held by construction) has exceeded what the recent frames allocated
    /// for a whole window ([`TrimPolicy`]: 60 frames, [`SLAB_TRIM_SLACK`]), gives empty
    /// chunks back down to that ([`Slab::trim`]). Returns the bytes given
    /// back.
    ///
    /// ```
    /// use framemem::TypedAlloc;
    /// use framemem::bevy::FrameSlab;
    ///
    /// let mut slab = FrameSlab::new();
    /// // A spike: 100,000 blocks for one frame, then a second of calm.
    /// let spike: Vec<_> = (0..100_000).map(|_| slab.handle_slice_copy(&[0u32; 16])).collect();
    /// for block in spike {
    ///     assert!(slab.free_slice(block));
    /// }
    /// let held = slab.stats().bytes_reserved;
    /// let mut given_back = slab.end_frame();
    /// for _ in 0..60 {
    ///     let calm = slab.handle_slice_copy(&[0u32; 16]);
    ///     slab.free_slice(calm);
    ///     given_back += slab.end_frame();
    /// }
    /// assert!(given_back > 0);
    /// assert!(slab.stats().bytes_reserved < held / 10);
    /// ```
    pub fn end_frame(&mut self) -> usize {
        let allocated: u64 = self
            .slab
            .class_stats()
            .iter()
            .map(|c| c.allocations * c.slot_bytes as u64)
            .sum();
        self.trim
            .record(allocated.saturating_sub(self.allocated_before));
        self.allocated_before = allocated;
        let stats = self.slab.stats();
        let cached = self.slab.lane_cached_bytes();
        let free = stats.bytes_reserved.saturating_sub(stats.bytes_in_use);
        let surplus = free.saturating_sub(cached);
        match self.trim.keep(surplus as u64) {
            Some(keep) => {
                let keep = usize::try_from(keep).unwrap_or(usize::MAX);
                self.slab.trim(keep.saturating_add(cached))
            }
            None => 0,
        }
    }
}

impl From<Slab> for FrameSlab {
    fn from(slab: Slab) -> Self {
        Self {
            slab,
            ..Self::default()
        }
    }
}

impl Deref for FrameSlab {
    type Target = Slab;
    fn deref(&self) -> &Slab {
        &self.slab
    }
}

/// The slab's end of frame as a system: [`FrameSlab::end_frame`]. Run it
/// once a frame, after the systems that free (in `Last`, in
/// [`FrameMemSystems::EndFrame`](crate::bevy::FrameMemSystems), as
/// [`FrameArenaPlugin`](crate::bevy::FrameArenaPlugin) does with its `slab`
/// option). Like [`end_arena_frame`](crate::bevy::end_arena_frame), only
/// the first instance that runs ends the frame; a second one does nothing
/// and warns once.
pub fn trim_slab(mut slab: ResMut<FrameSlab>, mut instance: Local<EndFrameInstance>) {
    let slab = &mut *slab;
    if slab.owner.claim(&mut instance, "trim_slab", "FrameSlab") {
        slab.end_frame();
    }
}

/// A [`Pool`] as a resource; derefs to it. Its per-thread handle is
/// [`Pool::local`]; [`end_frame`](Self::end_frame) (or the [`trim_pool`]
/// system, once a frame) drops the idle objects a spike left.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::FramePool;
///
/// #[derive(Component)]
/// struct Wave(u32);
///
/// fn scratch_per_batch(pool: Res<FramePool<Vec<u32>>>, waves: Query<&Wave>) {
///     waves.par_iter().for_each_init(
///         || pool.local(),
///         |local, wave| {
///             let mut buf = local.get(); // recycled on this thread
///             buf.extend(0..wave.0);
///         },
///     );
/// }
///
/// let mut world = World::new();
/// world.insert_resource(FramePool::<Vec<u32>>::new(256));
/// world.spawn_batch((0..100).map(Wave));
/// let mut schedule = Schedule::default();
/// schedule.add_systems(scratch_per_batch);
/// schedule.run(&mut world);
/// assert_eq!(world.resource::<FramePool<Vec<u32>>>().stats().returns, 100);
/// ```
#[derive(Resource, Debug)]
pub struct FramePool<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static = CallRecycle> {
    pool: Pool<T, H>,
    /// When the idle objects a spike left are dropped.
    trim: TrimPolicy,
    /// Objects taken ever (hits and misses), at the last end of frame.
    taken_before: u64,
    /// The [`trim_pool`] instance that ends the frame.
    owner: FrameOwner,
}

impl<T: Send + Default + Recycle + 'static> FramePool<T> {
    /// A pool keeping up to `capacity` idle objects ([`Pool::new`]).
    pub fn new(capacity: usize) -> Self {
        Self::from(Pool::new(capacity))
    }
}

impl<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static> FramePool<T, H> {
    /// The pool.
    pub fn pool(&self) -> &Pool<T, H> {
        &self.pool
    }

    /// Ends the frame for the pool: records the frame's demand (the objects
    /// it took) and, once the idle objects have exceeded what the recent
    /// frames took for a whole window ([`TrimPolicy`]: 60 frames, 1.25x),
    /// drops idle objects down to that ([`Pool::trim`]). Returns how many
    /// it dropped.
    ///
    /// The idle objects counted include those the threads' own caches
    /// hold, which a steady frame takes again; the slack covers them for
    /// pools whose demand is much larger than a thread's cache.
    ///
    /// ```
    /// use framemem::bevy::FramePool;
    ///
    /// let mut pool = FramePool::<Vec<u8>>::new(10_000);
    /// // A spike: 5,000 buffers out and back for one frame, then calm.
    /// let spike: Vec<_> = (0..5_000).map(|_| pool.take()).collect();
    /// spike.into_iter().for_each(|v| pool.put(v));
    /// let mut dropped = pool.end_frame();
    /// for _ in 0..61 {
    ///     drop(pool.get());
    ///     dropped += pool.end_frame();
    /// }
    /// assert!(dropped > 4_000, "{dropped}");
    /// ```
    pub fn end_frame(&mut self) -> usize {
        let stats = self.pool.stats();
        let taken = stats.hits + stats.misses;
        self.trim.record(taken.saturating_sub(self.taken_before));
        self.taken_before = taken;
        match self.trim.keep(stats.held as u64) {
            Some(keep) => self.pool.trim(usize::try_from(keep).unwrap_or(usize::MAX)),
            None => 0,
        }
    }
}

impl<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static> From<Pool<T, H>>
    for FramePool<T, H>
{
    fn from(pool: Pool<T, H>) -> Self {
        Self {
            pool,
            trim: TrimPolicy::new(),
            taken_before: 0,
            owner: FrameOwner::default(),
        }
    }
}

impl<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static> Deref for FramePool<T, H> {
    type Target = Pool<T, H>;
    fn deref(&self) -> &Pool<T, H> {
        &self.pool
    }
}

/// A pool's end of frame as a system: [`FramePool::end_frame`]. Run it once
/// a frame, after the systems that return objects (in `Last`, in
/// [`FrameMemSystems::EndFrame`](crate::bevy::FrameMemSystems), as
/// [`FramePoolPlugin`](crate::bevy::FramePoolPlugin) does). Like
/// [`end_arena_frame`](crate::bevy::end_arena_frame), only the first
/// instance that runs for a pool ends its frame; a second one does nothing
/// and warns once.
pub fn trim_pool<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static>(
    mut pool: ResMut<FramePool<T, H>>,
    mut instance: Local<EndFrameInstance>,
) {
    let pool = &mut *pool;
    if pool.owner.claim(&mut instance, "trim_pool", "FramePool") {
        pool.end_frame();
    }
}

//! The slab and the pool as resources. Neither resets per frame: slab
//! blocks and pooled objects are freed one by one, so no end-of-frame
//! system goes with them.

use std::ops::Deref;

use bevy_ecs::resource::Resource;

use crate::alloc::{Pool, Recycle, Recycled, ResetHook, Slab};

/// The size-class [`Slab`] as a resource; derefs to it. Its per-thread
/// handle is [`Slab::local`].
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::SlabSlice;
/// use framemem::bevy::FrameSlab;
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
///             trail.0 = Some(local.alloc_slice_copy(&[1.0; 8]));
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
/// let stats = framemem::Allocator::stats(&**world.resource::<FrameSlab>());
/// assert_eq!((stats.allocations, stats.frees), (200, 100));
/// ```
#[derive(Resource, Debug, Default)]
pub struct FrameSlab(pub Slab);

impl Deref for FrameSlab {
    type Target = Slab;
    fn deref(&self) -> &Slab {
        &self.0
    }
}

/// A [`Pool`] as a resource; derefs to it. Its per-thread handle is
/// [`Pool::local`].
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
pub struct FramePool<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static = Recycled>(
    pub Pool<T, H>,
);

impl<T: Send + Default + Recycle + 'static> FramePool<T> {
    /// A pool keeping up to `capacity` idle objects ([`Pool::new`]).
    pub fn new(capacity: usize) -> Self {
        Self(Pool::new(capacity))
    }
}

impl<T: Send + 'static, H: ResetHook<T> + Send + Sync + 'static> Deref for FramePool<T, H> {
    type Target = Pool<T, H>;
    fn deref(&self) -> &Pool<T, H> {
        &self.0
    }
}

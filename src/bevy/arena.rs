//! The frame arena in bevy: [`FrameArena`] (the resource), [`FrameAlloc`]
//! (the system parameter), [`end_frame`] (the system that ends the frame)
//! and [`FrameFigures`] (what the frame used, published by it).

use std::ops::Deref;

use bevy_ecs::resource::Resource;
use bevy_ecs::system::{Res, ResMut, SystemParam};

use crate::alloc::{Arena, ArenaLocal};

/// The frame [`Arena`] as a resource. Derefs to the arena, so systems call
/// its methods on `Res<FrameArena>` directly; [`FrameAlloc`] adds the
/// per-batch handle, and [`end_frame`] resets it.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::FrameArena;
///
/// let mut world = World::new();
/// world.insert_resource(FrameArena::with_limit(64 << 20));
/// let arena = world.resource::<FrameArena>();
/// let handle = arena.handle_slice_copy(&[1u32, 2, 3]);
/// assert_eq!(arena.get(handle), &[1, 2, 3]);
/// let figures = world.resource_mut::<FrameArena>().end_frame();
/// assert_eq!((figures.allocations, figures.bytes), (1, 12));
/// ```
#[derive(Resource, Debug, Default)]
pub struct FrameArena {
    arena: Arena,
    /// The arena's `allocations` counter at the last end of frame.
    allocations_before: u64,
    /// Frames ended so far.
    frames: u64,
}

impl FrameArena {
    /// A frame arena without a byte limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame arena whose lanes together hold at most `limit_bytes`
    /// ([`Arena::with_limit`]).
    pub fn with_limit(limit_bytes: usize) -> Self {
        Self::from(Arena::with_limit(limit_bytes))
    }

    /// The arena.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Ends the frame: every block of the frame goes back at once, and the
    /// frame's figures come out. What [`end_frame`] calls.
    ///
    /// ```
    /// use framemem::bevy::FrameArena;
    ///
    /// let mut arena = FrameArena::new();
    /// arena.alloc_value([0u8; 100]);
    /// let figures = arena.end_frame();
    /// assert_eq!((figures.frame, figures.bytes, figures.peak_bytes), (0, 100, 100));
    /// assert_eq!(arena.end_frame().bytes, 0);
    /// ```
    pub fn end_frame(&mut self) -> FrameFigures {
        let stats = self.arena.stats();
        let figures = FrameFigures {
            frame: self.frames,
            allocations: stats.allocations - self.allocations_before,
            bytes: stats.bytes_in_use,
            peak_bytes: stats.peak_bytes_in_use,
            bytes_reserved: stats.bytes_reserved,
        };
        self.arena.reset();
        self.allocations_before = stats.allocations;
        self.frames += 1;
        figures
    }
}

impl From<Arena> for FrameArena {
    fn from(arena: Arena) -> Self {
        Self {
            arena,
            allocations_before: 0,
            frames: 0,
        }
    }
}

impl Deref for FrameArena {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        &self.arena
    }
}

/// What the last frame took from the [`FrameArena`], published by
/// [`end_frame`] as a resource.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameArena, FrameFigures, end_frame};
///
/// let mut world = World::new();
/// world.init_resource::<FrameArena>();
/// world.init_resource::<FrameFigures>();
/// let mut schedule = Schedule::default();
/// schedule.add_systems(
///     (|arena: Res<FrameArena>| drop(arena.alloc_value(0u64)), end_frame).chain(),
/// );
/// schedule.run(&mut world);
/// let figures = *world.resource::<FrameFigures>();
/// assert_eq!((figures.frame, figures.allocations, figures.bytes), (0, 1, 8));
/// ```
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct FrameFigures {
    /// The frame's number, from 0.
    pub frame: u64,
    /// Allocations made during the frame.
    pub allocations: u64,
    /// Bytes the frame's allocations requested.
    pub bytes: usize,
    /// The most bytes any frame so far requested: the arena's high-water.
    pub peak_bytes: usize,
    /// Bytes the arena holds from the system (kept across frames).
    pub bytes_reserved: usize,
}

/// A system's access to the [`FrameArena`]: the arena itself (it derefs to
/// [`Arena`]), and [`local`](Self::local), the calling thread's lane for
/// `for_each_init`.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameAlloc, FrameArena};
///
/// #[derive(Component)]
/// struct Spark(u32);
///
/// fn sum_sparks(frame: FrameAlloc, sparks: Query<&Spark>) {
///     // Scratch on the calling thread, through `&Arena`:
///     let mut ids = allocator_api2::vec::Vec::new_in(frame.arena());
///     ids.extend(sparks.iter().map(|s| s.0));
///     // In parallel, one lane lookup per batch:
///     sparks.par_iter().for_each_init(
///         || frame.local(),
///         |local, spark| assert_eq!(*local.alloc_value(spark.0), spark.0),
///     );
/// }
///
/// let mut world = World::new();
/// world.init_resource::<FrameArena>();
/// world.spawn_batch((0..100).map(Spark));
/// let mut schedule = Schedule::default();
/// schedule.add_systems(sum_sparks);
/// schedule.run(&mut world);
/// ```
#[derive(SystemParam, Debug)]
pub struct FrameAlloc<'w> {
    arena: Res<'w, FrameArena>,
}

impl<'w> FrameAlloc<'w> {
    /// The arena.
    pub fn arena(&self) -> &Arena {
        &self.arena.arena
    }

    /// The calling thread's lane, allocating with no lookup until it drops:
    /// see [`ArenaLocal`]. Take it once per batch: in
    /// `par_iter().for_each_init(|| frame.local(), |local, item| ...)`,
    /// `init` runs once per batch on the worker thread.
    #[inline]
    pub fn local(&self) -> ArenaLocal<'_> {
        self.arena.arena.local()
    }
}

impl Deref for FrameAlloc<'_> {
    type Target = Arena;
    fn deref(&self) -> &Arena {
        &self.arena.arena
    }
}

/// The end of the frame, as a system: add it at the end of the schedule
/// (after every system that allocates from the [`FrameArena`]). It resets
/// the arena, so no handle into it survives, and publishes the frame's
/// [`FrameFigures`] when that resource exists.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameArena, end_frame};
///
/// fn spawn_sparks(mut commands: Commands, arena: Res<FrameArena>) {
///     let trail = arena.handle_slice_copy(&[0.0f32; 4]);
///     commands.spawn_empty();
///     assert_eq!(trail.len(), 4);
/// }
///
/// let mut world = World::new();
/// world.init_resource::<FrameArena>();
/// let mut schedule = Schedule::default();
/// schedule.add_systems((spawn_sparks, end_frame).chain());
/// for _ in 0..3 {
///     schedule.run(&mut world);
///     world.clear_trackers();
/// }
/// let stats = framemem::Allocator::stats(world.resource::<FrameArena>().arena());
/// assert_eq!(stats.resets, 3);
/// ```
pub fn end_frame(mut arena: ResMut<FrameArena>, figures: Option<ResMut<FrameFigures>>) {
    let frame = arena.end_frame();
    if let Some(mut figures) = figures {
        *figures = frame;
    }
}

//! The frame arena in bevy: [`FrameArena`] (the resource), [`FrameAlloc`]
//! (the system parameter), [`end_arena_frame`] (the system that ends the
//! frame) and [`FrameFigures`] (what the frame used, published by it).

use std::ops::Deref;

use bevy_ecs::change_detection::Tick;
use bevy_ecs::resource::Resource;
use bevy_ecs::system::{
    Local, ReadOnlySystemParam, Res, ResMut, SystemAccess, SystemMeta, SystemParam,
    SystemParamValidationError,
};
use bevy_ecs::world::World;
use bevy_ecs::world::unsafe_world_cell::UnsafeWorldCell;

use super::owner::{EndFrameInstance, FrameOwner};
use crate::alloc::{Arena, ArenaLocal};

/// The frame [`Arena`] as a resource. Derefs to the arena, so systems call
/// its methods on `Res<FrameArena>` directly; [`FrameAlloc`] adds the
/// per-batch handle, and [`end_arena_frame`] resets it.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::FrameArena;
/// use framemem::TypedAlloc;
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
    /// The [`end_arena_frame`] instance that ends the frame.
    owner: FrameOwner,
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
    /// frame's figures come out. What [`end_arena_frame`] calls.
    ///
    /// ```
    /// use framemem::TypedAlloc;
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
        // bevy runs systems and `par_iter` batches on the compute pool's
        // threads and the main thread: the arena keeps a chunk ahead for
        // each, so that no frame takes one from the system however bevy
        // splits it.
        if let Some(pool) = bevy_tasks::ComputeTaskPool::try_get() {
            self.arena.set_threads(pool.thread_num() + 1);
        }
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
            owner: FrameOwner::default(),
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
/// [`end_arena_frame`] as a resource.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameArena, FrameFigures, end_arena_frame};
/// use framemem::TypedAlloc;
///
/// let mut world = World::new();
/// world.init_resource::<FrameArena>();
/// world.init_resource::<FrameFigures>();
/// let mut schedule = Schedule::default();
/// schedule.add_systems(
///     (|arena: Res<FrameArena>| drop(arena.alloc_value(0u64)), end_arena_frame).chain(),
/// );
/// schedule.run(&mut world);
/// let figures = *world.resource::<FrameFigures>();
/// assert_eq!((figures.frame, figures.allocations, figures.bytes), (0, 1, 8));
/// ```
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FrameFigures {
    /// The frame's number, from 0: the frames ended so far by the one
    /// [`end_arena_frame`] that owns the arena, so one per update in an App
    /// (a second `end_arena_frame` changes nothing, see there).
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
/// use framemem::TypedAlloc;
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
///
/// Without a [`FrameArena`] in the world, a system that takes `FrameAlloc`
/// panics with a message that names the resource and the plugin to add:
///
/// ```should_panic
/// # use bevy_ecs::prelude::*;
/// # use framemem::bevy::FrameAlloc;
/// use framemem::TypedAlloc;
/// let mut world = World::new(); // no FrameArena
/// let mut schedule = Schedule::default();
/// schedule.add_systems(|frame: FrameAlloc| drop(frame.alloc_value(1u8)));
/// schedule.run(&mut world); // "... add `FrameArenaPlugin` ..."
/// ```
#[derive(Debug)]
pub struct FrameAlloc<'w> {
    arena: Res<'w, FrameArena>,
}

/// Why a system's [`FrameAlloc`] failed validation. bevy prints it after
/// the parameter's name, which without bevy's `debug` feature is a
/// placeholder, so it says everything itself.
pub(crate) const MISSING_FRAME_ARENA: &str = "framemem's `FrameAlloc` needs the `FrameArena` \
    resource, and the world has none: add `FrameArenaPlugin` to the App (feature `bevy_app`), \
    or `world.init_resource::<FrameArena>()` and run `end_arena_frame` once a frame";

// SAFETY: every method delegates to `Res<FrameArena>` with its own state:
// `init_access` registers exactly `Res`'s access (a shared read of the
// `FrameArena` resource) and `get_param` reads only that, through `Res`.
unsafe impl SystemParam for FrameAlloc<'_> {
    type State = <Res<'static, FrameArena> as SystemParam>::State;
    type Item<'w, 's> = FrameAlloc<'w>;

    fn init_state(world: &mut World) -> Self::State {
        <Res<FrameArena> as SystemParam>::init_state(world)
    }

    fn init_access(
        state: &Self::State,
        system_meta: &mut SystemMeta,
        system_access: &mut SystemAccess,
        world: &mut World,
    ) {
        <Res<FrameArena> as SystemParam>::init_access(state, system_meta, system_access, world);
    }

    #[inline]
    unsafe fn get_param<'w>(
        state: &mut Self::State,
        system_meta: &SystemMeta,
        world: UnsafeWorldCell<'w>,
        change_tick: Tick,
    ) -> Result<FrameAlloc<'w>, SystemParamValidationError> {
        // SAFETY: the caller's promises for this parameter (the world is the
        // one `init_state` saw; the access `init_access` registered is
        // granted) are those `Res<FrameArena>` needs: same state, same access.
        let arena = unsafe {
            <Res<FrameArena> as SystemParam>::get_param(state, system_meta, world, change_tick)
        }
        // `Res` fails only when the resource does not exist.
        .map_err(|_| SystemParamValidationError::invalid::<Self>(MISSING_FRAME_ARENA))?;
        Ok(FrameAlloc { arena })
    }
}

// SAFETY: it reads the resource only, as `Res` (which is read-only) does.
unsafe impl ReadOnlySystemParam for FrameAlloc<'_> {}

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
/// (after every system that allocates from the [`FrameArena`]), or let
/// [`FrameArenaPlugin`](crate::bevy::FrameArenaPlugin) run it in `Last`, in
/// [`FrameMemSystems::EndFrame`](crate::bevy::FrameMemSystems). It resets
/// the arena, so no handle into it survives, and publishes the frame's
/// [`FrameFigures`] when that resource exists.
///
/// One per arena: the first instance of this system that runs owns the
/// arena's frame end, and any other instance (the same function added to a
/// second schedule, or chained in `Update` beside the plugin's) does
/// nothing and logs one warning (`log::warn!`, shown by bevy's `LogPlugin`)
/// that names the extra `end_arena_frame` to remove. So the figures stay
/// those of the real frame and [`FrameFigures::frame`] counts updates. When
/// the owning system is dropped (a schedule rebuilt each frame,
/// `World::run_system_once`), the next instance that runs takes over.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameArena, end_arena_frame};
/// use framemem::TypedAlloc;
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
/// schedule.add_systems((spawn_sparks, end_arena_frame).chain());
/// for _ in 0..3 {
///     schedule.run(&mut world);
///     world.clear_trackers();
/// }
/// let stats = world.resource::<FrameArena>().stats();
/// assert_eq!(stats.resets, 3);
/// ```
pub fn end_arena_frame(
    mut arena: ResMut<FrameArena>,
    figures: Option<ResMut<FrameFigures>>,
    mut instance: Local<EndFrameInstance>,
) {
    let arena = &mut *arena;
    if !arena
        .owner
        .claim(&mut instance, "end_arena_frame", "FrameArena")
    {
        return;
    }
    let frame = arena.end_frame();
    if let Some(mut figures) = figures {
        *figures = frame;
    }
}

#[cfg(test)]
mod tests {
    use bevy_ecs::prelude::*;

    use super::*;
    use crate::alloc::TypedAlloc;

    #[test]
    #[should_panic(
        expected = "needs the `FrameArena` resource, and the world has none: add `FrameArenaPlugin`"
    )]
    fn frame_alloc_without_arena_panics_naming_resource_and_plugin() {
        let mut world = World::new();
        let mut schedule = Schedule::default();
        schedule.add_systems(|frame: FrameAlloc| {
            frame.alloc_value(1u8);
        });
        schedule.run(&mut world);
    }

    #[test]
    fn a_second_end_arena_frame_changes_nothing() {
        let mut world = World::new();
        world.init_resource::<FrameArena>();
        world.init_resource::<FrameFigures>();
        let mut schedule = Schedule::default();
        schedule.add_systems(
            (
                |frame: FrameAlloc| {
                    frame.alloc_slice_copy(&[0u8; 10]);
                },
                end_arena_frame,
                end_arena_frame, // a second instance of the same function
            )
                .chain(),
        );
        for frame in 0..3 {
            schedule.run(&mut world);
            world.clear_trackers();
            let figures = *world.resource::<FrameFigures>();
            assert_eq!(
                (figures.frame, figures.allocations, figures.bytes),
                (frame, 1, 10)
            );
        }
    }

    #[test]
    fn a_rebuilt_schedule_still_ends_every_frame() {
        let mut world = World::new();
        world.init_resource::<FrameArena>();
        world.init_resource::<FrameFigures>();
        for frame in 0..3 {
            world.resource::<FrameArena>().alloc_value(frame);
            // A new system instance each frame: the old owner is gone.
            let mut schedule = Schedule::default();
            schedule.add_systems(end_arena_frame);
            schedule.run(&mut world);
            let figures = *world.resource::<FrameFigures>();
            assert_eq!((figures.frame, figures.allocations), (frame, 1));
        }
    }
}

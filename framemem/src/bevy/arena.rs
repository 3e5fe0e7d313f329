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

use super::attribution::{AllocTag, Attribution, FrameBySystem};
use super::counted::{CountedArena, FrameLocal};
use super::owner::{EndFrameInstance, FrameOwner};
use crate::alloc::{AllocError, Arena, ArenaSlice};

/// The frame [`Arena`] as a resource. Derefs to the arena, so systems call
/// its methods on `Res<FrameArena>` directly; [`FrameAlloc`] adds the
/// per-batch handle, and [`end_arena_frame`] resets it.
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
    /// The [`end_arena_frame`] instance that ends the frame.
    owner: FrameOwner,
    /// Per-system counts (`attribution.rs`).
    pub(crate) attribution: Attribution,
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

    /// The arena with per-system attribution on: what systems allocate
    /// through [`FrameAlloc`] is counted against each, and
    /// [`end_frame`](Self::end_frame) publishes it as [`FrameBySystem`]
    /// (see [`set_attribution`](Self::set_attribution)).
    pub fn with_attribution(mut self) -> Self {
        self.attribution.enabled = true;
        self
    }

    /// Turns per-system attribution on or off (off by default). Off,
    /// [`FrameAlloc`] counts nothing: a test of an `Option` per call, a
    /// dead store per `local()` allocation; [`by_system`](Self::by_system)
    /// keeps the last figures made while it was on.
    pub fn set_attribution(&mut self, on: bool) {
        self.attribution.enabled = on;
    }

    /// Whether per-system attribution is on.
    pub fn attribution(&self) -> bool {
        self.attribution.enabled
    }

    /// The attribution slot labelled `label`, registered on first use: for
    /// exclusive systems and code outside systems, which allocate through
    /// [`counted`](Self::counted). Takes a lock: call it once (keep the tag
    /// in a `Local`), not per allocation.
    ///
    /// ```
    /// use bevy_ecs::prelude::*;
    /// use framemem::bevy::{AllocTag, FrameArena, FrameBySystem, end_arena_frame};
    ///
    /// fn spawn_waves(world: &mut World, mut tag: Local<Option<AllocTag>>) {
    ///     let arena = world.resource::<FrameArena>();
    ///     let tag = tag.get_or_insert_with(|| arena.tag("spawn_waves"));
    ///     let handle = arena.counted(tag).handle_slice_copy(&[1.0f32; 8]);
    ///     assert_eq!(arena.get(handle).len(), 8);
    /// }
    ///
    /// let mut world = World::new();
    /// world.insert_resource(FrameArena::new().with_attribution());
    /// world.init_resource::<FrameBySystem>();
    /// let mut schedule = Schedule::default();
    /// schedule.add_systems((spawn_waves, end_arena_frame).chain());
    /// schedule.run(&mut world);
    /// let by_system = world.resource::<FrameBySystem>();
    /// assert_eq!(by_system.system("spawn_waves").unwrap().bytes, 32);
    /// ```
    pub fn tag(&self, label: &'static str) -> AllocTag {
        self.attribution.tag(label)
    }

    /// The arena, counting what goes through the view against `tag`'s
    /// slot (nothing with attribution off, or with a tag of another
    /// arena).
    #[inline]
    pub fn counted<'a>(&'a self, tag: &'a AllocTag) -> CountedArena<'a> {
        let counting = self.attribution.enabled && tag.registry() == self.attribution.id;
        CountedArena::new(&self.arena, counting.then(|| tag.counters()))
    }

    /// The arena as a [`CountedArena`] that counts nothing: what goes
    /// through it is [`outside`](FrameBySystem::outside) systems.
    #[inline]
    pub fn uncounted(&self) -> CountedArena<'_> {
        CountedArena::new(&self.arena, None)
    }

    /// What each system allocated in the last frame ended while attribution
    /// was on: see [`FrameBySystem`].
    pub fn by_system(&self) -> &FrameBySystem {
        &self.attribution.last
    }

    /// Ends the frame: every block of the frame goes back at once, and the
    /// frame's figures come out. What [`end_arena_frame`] calls.
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
        if self.attribution.enabled {
            self.attribution.end_frame(&figures);
        }
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
            attribution: Attribution::default(),
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

/// A system's access to the [`FrameArena`]: allocation per call, and
/// [`local`](Self::local), the calling thread's lane for `for_each_init`.
/// With attribution on ([`FrameArena::with_attribution`]), everything
/// allocated through it, on every thread, counts against the system
/// ([`FrameBySystem`]); [`arena`](Self::arena) is the uncounted way out.
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameAlloc, FrameArena};
///
/// #[derive(Component)]
/// struct Spark(u32);
///
/// fn sum_sparks(frame: FrameAlloc, sparks: Query<&Spark>) {
///     // Scratch on the calling thread, counted against `sum_sparks`:
///     let mut ids = allocator_api2::vec::Vec::new_in(frame.counted());
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
/// let mut world = World::new(); // no FrameArena
/// let mut schedule = Schedule::default();
/// schedule.add_systems(|frame: FrameAlloc| drop(frame.alloc_value(1u8)));
/// schedule.run(&mut world); // "... add `FrameArenaPlugin` ..."
/// ```
#[derive(Debug)]
pub struct FrameAlloc<'w, 's> {
    arena: Res<'w, FrameArena>,
    /// The system's attribution slot; `None` with attribution off.
    tag: Option<&'s AllocTag>,
}

/// Why a system's [`FrameAlloc`] failed validation. bevy prints it after
/// the parameter's name, which without bevy's `debug` feature is a
/// placeholder, so it says everything itself.
pub(crate) const MISSING_FRAME_ARENA: &str = "framemem's `FrameAlloc` needs the `FrameArena` \
    resource, and the world has none: add `FrameArenaPlugin` to the App (feature `bevy_app`), \
    or `world.init_resource::<FrameArena>()` and run `end_arena_frame` once a frame";

/// [`FrameAlloc`]'s state: `Res<FrameArena>`'s, and the system's
/// attribution slot, registered the first time the system runs with
/// attribution on.
#[derive(Debug)]
pub struct FrameAllocState {
    res: <Res<'static, FrameArena> as SystemParam>::State,
    tag: Option<AllocTag>,
}

// SAFETY: the world access is `Res<FrameArena>`'s, with its own state:
// `init_access` registers exactly `Res`'s access (a shared read of the
// `FrameArena` resource) and `get_param` reads only that, through `Res`.
// The slot lives in the parameter's own state.
unsafe impl SystemParam for FrameAlloc<'_, '_> {
    type State = FrameAllocState;
    type Item<'w, 's> = FrameAlloc<'w, 's>;

    fn init_state(world: &mut World) -> Self::State {
        FrameAllocState {
            res: <Res<FrameArena> as SystemParam>::init_state(world),
            tag: None,
        }
    }

    fn init_access(
        state: &Self::State,
        system_meta: &mut SystemMeta,
        system_access: &mut SystemAccess,
        world: &mut World,
    ) {
        <Res<FrameArena> as SystemParam>::init_access(
            &state.res,
            system_meta,
            system_access,
            world,
        );
    }

    #[inline]
    unsafe fn get_param<'w, 's>(
        state: &'s mut Self::State,
        system_meta: &SystemMeta,
        world: UnsafeWorldCell<'w>,
        change_tick: Tick,
    ) -> Result<FrameAlloc<'w, 's>, SystemParamValidationError> {
        // SAFETY: the caller's promises for this parameter (the world is the
        // one `init_state` saw; the access `init_access` registered is
        // granted) are those `Res<FrameArena>` needs: same state, same access.
        let arena = unsafe {
            <Res<FrameArena> as SystemParam>::get_param(
                &mut state.res,
                system_meta,
                world,
                change_tick,
            )
        }
        // `Res` fails only when the resource does not exist.
        .map_err(|_| SystemParamValidationError::invalid::<Self>(MISSING_FRAME_ARENA))?;
        let attribution = &arena.attribution;
        if !attribution.enabled {
            return Ok(FrameAlloc { arena, tag: None });
        }
        // Once per system (and again if the world's arena was replaced).
        if state.tag.as_ref().map(AllocTag::registry) != Some(attribution.id) {
            state.tag = Some(attribution.register_system(system_meta.name()));
        }
        let state: &'s Self::State = state;
        Ok(FrameAlloc {
            arena,
            tag: state.tag.as_ref(),
        })
    }
}

// SAFETY: it reads the resource only, as `Res` (which is read-only) does.
unsafe impl ReadOnlySystemParam for FrameAlloc<'_, '_> {}

impl<'w, 's> FrameAlloc<'w, 's> {
    /// The arena, uncounted: what is allocated through it counts as
    /// [`outside`](FrameBySystem::outside) systems. Use it to resolve
    /// handles or read the stats; allocate through
    /// [`counted`](Self::counted) or the methods here.
    pub fn arena(&self) -> &Arena {
        &self.arena.arena
    }

    /// The arena, counting against this system: a `Copy` view, and an
    /// allocator_api2 allocator (`Vec::new_in(frame.counted())`).
    #[inline]
    pub fn counted(&self) -> CountedArena<'_> {
        CountedArena::new(&self.arena.arena, self.tag.map(AllocTag::counters))
    }

    /// Names this system in [`FrameBySystem`] and in budgets: the label
    /// wins over bevy's name (which bevy_ecs gives only with its `debug`
    /// feature; without it the slot is `system#ID`). The first label a
    /// slot gets stays. Does nothing with attribution off.
    pub fn label(&self, label: &'static str) {
        if let Some(tag) = self.tag {
            tag.set_label(label);
        }
    }

    /// The system's attribution slot, if attribution is on.
    pub fn tag(&self) -> Option<&AllocTag> {
        self.tag
    }

    /// The calling thread's lane, allocating with no lookup until it drops,
    /// then adding its counts to this system's: see [`FrameLocal`]. Take it
    /// once per batch: in
    /// `par_iter().for_each_init(|| frame.local(), |local, item| ...)`,
    /// `init` runs once per batch on the worker thread.
    #[inline]
    pub fn local(&self) -> FrameLocal<'_> {
        self.counted().local()
    }

    /// Resolves a handle made since the last reset ([`Arena::get`]).
    ///
    /// # Panics
    ///
    /// As [`Arena::get`].
    #[track_caller]
    pub fn get<T>(&self, handle: ArenaSlice<T>) -> &[T] {
        self.arena.arena.get(handle)
    }

    /// Resolves a handle, or `None` when stale ([`Arena::try_get`]).
    pub fn try_get<T>(&self, handle: ArenaSlice<T>) -> Option<&[T]> {
        self.arena.arena.try_get(handle)
    }

    /// [`CountedArena::alloc_value`].
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_value<T>(&self, value: T) -> &mut T {
        self.counted().alloc_value(value)
    }

    /// [`CountedArena::try_alloc_value`].
    ///
    /// # Errors
    ///
    /// As [`Arena::try_alloc_value`].
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_value<T>(&self, value: T) -> Result<&mut T, AllocError> {
        self.counted().try_alloc_value(value)
    }

    /// [`CountedArena::alloc_slice_copy`].
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        self.counted().alloc_slice_copy(src)
    }

    /// [`CountedArena::try_alloc_slice_copy`].
    ///
    /// # Errors
    ///
    /// As [`Arena::try_alloc_slice_copy`].
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], AllocError> {
        self.counted().try_alloc_slice_copy(src)
    }

    /// [`CountedArena::alloc_slice_fill_with`].
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_slice_fill_with<T>(&self, len: usize, fill: impl FnMut(usize) -> T) -> &mut [T] {
        self.counted().alloc_slice_fill_with(len, fill)
    }

    /// [`CountedArena::try_alloc_slice_fill_with`].
    ///
    /// # Errors
    ///
    /// As [`Arena::try_alloc_slice_fill_with`].
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_slice_fill_with<T>(
        &self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        self.counted().try_alloc_slice_fill_with(len, fill)
    }

    /// [`CountedArena::handle_slice_copy`].
    #[track_caller]
    pub fn handle_slice_copy<T: Copy>(&self, src: &[T]) -> ArenaSlice<T> {
        self.counted().handle_slice_copy(src)
    }

    /// [`CountedArena::try_handle_slice_copy`].
    ///
    /// # Errors
    ///
    /// As [`Arena::try_handle_slice_copy`].
    pub fn try_handle_slice_copy<T: Copy>(&self, src: &[T]) -> Result<ArenaSlice<T>, AllocError> {
        self.counted().try_handle_slice_copy(src)
    }

    /// [`CountedArena::handle_slice_fill_with`].
    #[track_caller]
    pub fn handle_slice_fill_with<T>(
        &self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> ArenaSlice<T> {
        self.counted().handle_slice_fill_with(len, fill)
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
    by_system: Option<ResMut<FrameBySystem>>,
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
    if let Some(mut by_system) = by_system
        && arena.attribution.enabled
    {
        by_system.clone_from(&arena.attribution.last);
    }
}

#[cfg(test)]
mod tests {
    use bevy_ecs::prelude::*;

    use super::*;

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

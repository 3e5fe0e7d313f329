//! The frame arena in bevy: [`FrameArena`] (the resource, with the
//! per-system attribution's slots), [`end_arena_frame`] (the system that
//! ends the frame) and [`FrameFigures`] (what the frame used, published by
//! it). The system parameter is in `frame_alloc.rs`.
//!
//! [`FrameAlloc`](crate::bevy::FrameAlloc): crate::bevy::FrameAlloc

use std::ops::Deref;

use bevy_ecs::resource::Resource;
use bevy_ecs::system::{Local, ResMut};

use super::attribution::{AllocTag, Attribution, FrameBySystem};
use super::counted::CountedArena;
use super::owner::{EndFrameInstance, FrameOwner};
use crate::alloc::Arena;

/// The frame [`Arena`] as a resource. Derefs to the arena, so systems call
/// its methods on `Res<FrameArena>` directly; [`FrameAlloc`](crate::bevy::FrameAlloc) adds the
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

    /// The frame arena, with 2 MiB chunks backed by huge pages where the
    /// system gives them ([`Arena::with_huge_pages`]): for frames of tens of
    /// megabytes.
    #[must_use]
    pub fn with_huge_pages(mut self) -> Self {
        self.arena = std::mem::take(&mut self.arena).with_huge_pages();
        self
    }

    /// The arena.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The arena with per-system attribution on: what systems allocate
    /// through [`FrameAlloc`](crate::bevy::FrameAlloc) is counted against each, and
    /// [`end_frame`](Self::end_frame) publishes it as [`FrameBySystem`]
    /// (see [`set_attribution`](Self::set_attribution)).
    pub fn with_attribution(mut self) -> Self {
        self.attribution.enabled = true;
        self
    }

    /// Turns per-system attribution on or off (off by default). Off,
    /// [`FrameAlloc`](crate::bevy::FrameAlloc) counts nothing: a test of an `Option` per call, two
    /// register additions per `local()` allocation; [`by_system`](Self::by_system)
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
    /// use framemem::TypedAlloc;
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
        if self.attribution.enabled {
            self.attribution
                .end_frame(figures.frame, figures.allocations, figures.bytes as u64);
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
    use crate::alloc::TypedAlloc;
    use crate::bevy::FrameAlloc;

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

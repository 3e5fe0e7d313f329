//! [`FrameAlloc`]: a system's access to the frame arena, as a
//! `SystemParam` written by hand: `Res<FrameArena>`'s access, and in its
//! own state the system's attribution slot (`attribution.rs`), registered
//! the first time the system runs with attribution on.

use bevy_ecs::change_detection::Tick;
use bevy_ecs::system::{
    ReadOnlySystemParam, Res, SystemAccess, SystemMeta, SystemParam, SystemParamValidationError,
};
use bevy_ecs::world::World;
use bevy_ecs::world::unsafe_world_cell::UnsafeWorldCell;
use std::alloc::Layout;
use std::ptr::NonNull;

use super::arena::FrameArena;
use super::attribution::{AllocTag, SlotCounters};
use super::counted::{CountedArena, FrameLocal, counted_typed};
use crate::alloc::{AllocError, AllocStrategy, Arena, ArenaSlice, Sealed, TypedAlloc};

/// A system's access to the [`FrameArena`]: allocation per call, and
/// [`local`](Self::local), the calling thread's lane for `for_each_init`.
/// With attribution on ([`FrameArena::with_attribution`]), everything
/// allocated through it, on every thread, counts against the system
/// ([`FrameBySystem`](crate::bevy::FrameBySystem)); [`arena`](Self::arena) is the uncounted way out.
///
/// ```
/// use framemem::TypedAlloc;
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
/// use framemem::TypedAlloc;
/// # use bevy_ecs::prelude::*;
/// # use framemem::bevy::FrameAlloc;
/// let mut world = World::new(); // no FrameArena
/// let mut schedule = Schedule::default();
/// schedule.add_systems(|frame: FrameAlloc| drop(frame.alloc_value(1u8)));
/// schedule.run(&mut world); // "... add `FrameArenaPlugin` ..."
/// ```
#[derive(Debug)]
pub struct FrameAlloc<'w, 's> {
    arena: &'w FrameArena,
    /// The system's attribution slot; `None` with attribution off.
    tag: Option<&'s AllocTag>,
    /// Its counters, found once per system run (not per allocation):
    /// `None` with attribution off, so the off path's only cost per call is
    /// one test of this field.
    counters: Option<&'s SlotCounters>,
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
        let arena = arena.into_inner();
        let attribution = &arena.attribution;
        if !attribution.enabled {
            return Ok(FrameAlloc {
                arena,
                tag: None,
                counters: None,
            });
        }
        // Once per system (and again if the world's arena was replaced).
        if state.tag.as_ref().map(AllocTag::registry) != Some(attribution.id) {
            // The state's address: inside the system bevy boxed, where it
            // stays while the system lives (system sets' budgets find the
            // slot by it).
            let state_addr = std::ptr::from_ref::<FrameAllocState>(state).addr();
            state.tag = Some(attribution.register_system(system_meta.name(), state_addr));
        }
        let state: &'s Self::State = state;
        Ok(FrameAlloc {
            arena,
            tag: state.tag.as_ref(),
            counters: state.tag.as_ref().map(AllocTag::counters),
        })
    }
}

// SAFETY: it reads the resource only, as `Res` (which is read-only) does.
unsafe impl ReadOnlySystemParam for FrameAlloc<'_, '_> {}

impl<'w, 's> FrameAlloc<'w, 's> {
    /// The arena, uncounted: what is allocated through it counts as
    /// [`outside`](crate::bevy::FrameBySystem::outside) systems. Use it to resolve
    /// handles or read the stats; allocate through
    /// [`counted`](Self::counted) or the methods here.
    pub fn arena(&self) -> &Arena {
        self.arena.arena()
    }

    /// The arena, counting against this system: a `Copy` view, and an
    /// allocator_api2 allocator (`Vec::new_in(frame.counted())`).
    #[inline]
    pub fn counted(&self) -> CountedArena<'_> {
        CountedArena::new(self.arena.arena(), self.counters)
    }

    /// Allocates a block for `layout`, counted against this system:
    /// [`AllocStrategy::alloc`](crate::AllocStrategy::alloc) on the arena,
    /// then (attribution on) two additions on the calling thread's shard of
    /// the system's counters (a load and a store each).
    ///
    /// # Errors
    ///
    /// As [`AllocStrategy::alloc`](crate::AllocStrategy::alloc).
    #[inline(always)]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let arena = self.arena.arena();
        match self.counters {
            None => AllocStrategy::alloc(arena, layout),
            Some(counters) => {
                let ptr = AllocStrategy::alloc(arena, layout)?;
                counters.add(1, layout.size() as u64);
                Ok(ptr)
            }
        }
    }

    /// Names this system in [`FrameBySystem`](crate::bevy::FrameBySystem) and in budgets: the label
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

    /// The calling thread's lane, allocating with no lookup and counting
    /// into this thread's shard of the system's counters: see
    /// [`FrameLocal`]. Take it
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
        self.arena.arena().get(handle)
    }

    /// Resolves a handle, or `None` when stale ([`Arena::try_get`]).
    pub fn try_get<T>(&self, handle: ArenaSlice<T>) -> Option<&[T]> {
        self.arena.arena().try_get(handle)
    }
}

// The typed methods (`alloc_value`, `alloc_slice_*`, `handle_slice_*`),
// counted against the system through `FrameAlloc::alloc`.
counted_typed!(
    <'a> &'a FrameAlloc<'_, '_>,
    |frame| frame.arena(),
    "`alloc` returns blocks of the frame arena (`AllocStrategy::alloc`: fresh, \
     aligned, unaliased), valid until the arena's reset, which needs \
     `&mut FrameArena`: excluded while this system parameter borrows it"
);

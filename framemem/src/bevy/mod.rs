//! framemem's allocators as bevy citizens: resources, a system parameter
//! for `par_iter().for_each_init`, end-of-frame systems in one system set
//! and (with the `bevy_app` feature) plugins. Needs only `bevy_ecs` (the
//! `bevy` feature).
//!
//! | item | what it is |
//! | --- | --- |
//! | [`FrameArena`] | the frame [`Arena`](crate::Arena) as a resource |
//! | [`FrameAlloc`] | a `SystemParam`: the arena, and its per-thread [`local`](FrameAlloc::local) handle for `for_each_init` |
//! | [`end_arena_frame`] | the system that ends the arena's frame: resets it, publishes [`FrameFigures`] |
//! | [`FrameFigures`] | the last frame's bytes, allocations and high-water, as a resource |
//! | [`FrameBySystem`] | the last frame's bytes, allocations and peak per system (attribution on), and what came from outside systems |
//! | [`FrameBudgets`], [`check_frame_budgets`] | byte budgets per system, per system set and per frame, checked at the end of the frame: a `log` warning at most once per window, a panic in debug builds where asked |
//! | [`CountedArena`], [`FrameLocal`] | the counted paths: per call (`frame.counted()`, an allocator_api2 allocator) and the per-batch handle (`frame.local()`) |
//! | [`FrameRing`] | the [`ExpiryRing`](crate::ExpiryRing) as a resource: data that lives a chosen number of frames |
//! | [`end_ring_frame`] | the system that ends the ring's frame: the data whose last frame it was goes |
//! | [`FrameSlab`], [`FramePool`] | the [`Slab`](crate::Slab) and a [`Pool`](crate::Pool) as resources (neither resets per frame) |
//! | [`trim_slab`], [`trim_pool`] | the systems that give back what a spike left idle ([`FrameSlab::end_frame`], [`FramePool::end_frame`]) |
//! | [`EndFrameInstance`] | the `Local` by which each end-of-frame system instance is known: the first that runs owns the frame's end |
//! | [`FrameMemSystems`] | the `SystemSet` all four end-of-frame systems go in (`Last` with the plugins): order against `FrameMemSystems::EndFrame` |
//! | [`FrameArenaPlugin`] | (`bevy_app`) inserts the arena and its figures, runs [`end_arena_frame`] in `Last`; options for the slab and the ring |
//! | [`FramePoolPlugin`] | (`bevy_app`) inserts a [`FramePool<T>`](FramePool), runs [`trim_pool`] in `Last` |
//!
//! The four resources have one shape: the allocator in a private field,
//! `Deref` to it (allocate, read its stats, resolve handles: everything
//! that takes `&`), and an `end_frame` method, the one way to change it
//! (what its system calls). There is no `&mut` to the allocator outside
//! `end_frame`, since a reset or trim behind the resource's back would skip
//! its bookkeeping (the arena's figures, the slab's and the pool's trim
//! windows).
//!
//! Each end-of-frame system runs once a frame per resource: a second
//! instance (say `end_arena_frame` chained in `Update` beside the plugin's)
//! does nothing and logs a warning that names it (see [`end_arena_frame`]).
//!
//! Data made in `FixedUpdate` and read in `Update` crosses an end of frame
//! whenever `FixedUpdate` did not run in this update (it runs zero or more
//! times per update, as time requires): an [`ArenaSlice`](crate::ArenaSlice)
//! kept in a component then no longer resolves ([`try_get`](crate::Arena::try_get)
//! returns `None`, [`get`](crate::Arena::get) panics saying the handle is
//! stale), and a `&[T]` cannot be kept at all. Keep such data in the
//! [`FrameRing`] for the frames it must live (a fixed step of 1/20 s at 60
//! updates a second: 3 frames), or in the [`FrameSlab`].
//!
//! The pattern: systems allocate per-frame data from the arena, one lane
//! lookup per batch in parallel queries:
//!
//! ```
//! use bevy_ecs::prelude::*;
//! use framemem::bevy::{FrameAlloc, FrameArena, FrameFigures, end_arena_frame};
//! use framemem::TypedAlloc;
//!
//! #[derive(Component)]
//! struct Heat(f32);
//!
//! fn spread_heat(frame: FrameAlloc, mut heats: Query<&mut Heat>) {
//!     heats.par_iter_mut().for_each_init(
//!         || frame.local(), // once per batch, on the worker thread
//!         |local, mut heat| {
//!             let samples = local.alloc_slice_fill_with(8, |k| heat.0 + k as f32);
//!             heat.0 = samples.iter().sum::<f32>() / 8.0;
//!         },
//!     );
//! }
//!
//! let mut world = World::new();
//! world.init_resource::<FrameArena>();
//! world.init_resource::<FrameFigures>();
//! world.spawn_batch((0..1000).map(|i| Heat(i as f32)));
//! let mut schedule = Schedule::default(); // the multi-threaded executor
//! schedule.add_systems((spread_heat, end_arena_frame).chain());
//! schedule.run(&mut world);
//! world.clear_trackers();
//! let figures = world.resource::<FrameFigures>();
//! assert_eq!(figures.allocations, 1000);
//! assert_eq!(figures.bytes, 1000 * 8 * 4);
//! ```

mod arena;
mod attribution;
mod budget;
mod budget_sets;
mod counted;
#[cfg(feature = "bevy_diagnostic")]
mod diagnostics;
mod frame_alloc;
mod owner;
#[cfg(feature = "bevy_app")]
mod plugin;
mod resources;
mod ring;
mod set;

pub use arena::{FrameArena, FrameFigures, end_arena_frame};
pub use attribution::{AllocTag, FrameBySystem, OutsideFigures, SystemFigures};
pub use budget::{
    AllocBudget, BUDGET_WINDOW_FRAMES, BudgetBreach, BudgetScope, FrameBudgets, Spender,
    check_frame_budgets,
};
pub use counted::{CountedArena, FrameLocal};
#[cfg(feature = "bevy_diagnostic")]
pub use diagnostics::{FRAME_BYTES, publish_frame_diagnostics, system_bytes_path};
pub use frame_alloc::{FrameAlloc, FrameAllocState};
pub use owner::EndFrameInstance;
#[cfg(feature = "bevy_app")]
pub use plugin::{FrameArenaPlugin, FramePoolPlugin};
pub use resources::{FramePool, FrameSlab, SLAB_TRIM_SLACK, trim_pool, trim_slab};
pub use ring::{FrameRing, end_ring_frame};
pub use set::FrameMemSystems;

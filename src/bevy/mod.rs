//! framemem's allocators as bevy citizens: resources, a system parameter
//! for `par_iter().for_each_init`, an end-of-frame system and (with the
//! `bevy_app` feature) a plugin. Needs only `bevy_ecs` (the `bevy` feature).
//!
//! | item | what it is |
//! | --- | --- |
//! | [`FrameArena`] | the frame [`Arena`](crate::Arena) as a resource |
//! | [`FrameAlloc`] | a `SystemParam`: the arena, and its per-thread [`local`](FrameAlloc::local) handle for `for_each_init` |
//! | [`end_frame`] | the system that ends the frame: resets the arena, publishes [`FrameFigures`] |
//! | [`FrameFigures`] | the last frame's bytes, allocations and high-water, as a resource |
//! | [`FrameSlab`], [`FramePool`] | the [`Slab`](crate::Slab) and a [`Pool`](crate::Pool) as resources (neither resets per frame) |
//! | [`trim_slab`] | the system that gives back the slab chunks a spike left empty ([`FrameSlab::end_frame`]) |
//! | [`FrameArenaPlugin`] | (`bevy_app`) inserts the arena and its figures, runs [`end_frame`] in `Last` |
//!
//! The pattern: systems allocate per-frame data from the arena, one lane
//! lookup per batch in parallel queries:
//!
//! ```
//! use bevy_ecs::prelude::*;
//! use framemem::bevy::{FrameAlloc, FrameArena, FrameFigures, end_frame};
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
//! schedule.add_systems((spread_heat, end_frame).chain());
//! schedule.run(&mut world);
//! world.clear_trackers();
//! let figures = world.resource::<FrameFigures>();
//! assert_eq!(figures.allocations, 1000);
//! assert_eq!(figures.bytes, 1000 * 8 * 4);
//! ```

mod arena;
#[cfg(feature = "bevy_app")]
mod plugin;
mod resources;

pub use arena::{FrameAlloc, FrameArena, FrameFigures, end_frame};
#[cfg(feature = "bevy_app")]
pub use plugin::FrameArenaPlugin;
pub use resources::{FramePool, FrameSlab, SLAB_TRIM_SLACK, trim_slab};

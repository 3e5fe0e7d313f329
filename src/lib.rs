//! framemem: what a frame arena, a size-class slab or an object pool buys a
//! game loop over plain `Box`/`Vec`, measured on your machine.
//!
//! # The map
//!
//! Layers only point down:
//!
//! - [`alloc`]: the strategies — [`Heap`], [`Arena`] and [`Slab`] behind one
//!   [`Allocator`] trait, the typed object [`Pool`], the [`ExpiryRing`] of
//!   arenas for data that lives a chosen number of frames — and
//!   [`CountingAllocator`], which counts heap traffic. No ECS, no I/O. This
//!   is the part to drop into your own code; without the default `sim`
//!   feature it is the whole crate.
//! - [`bevy`] (the `bevy` feature, on with `sim`): the allocators as bevy
//!   citizens — the [`FrameArena`](bevy::FrameArena) resource, the
//!   [`FrameAlloc`](bevy::FrameAlloc) system parameter whose `local()` a
//!   `par_iter().for_each_init` takes once per batch, the
//!   [`end_arena_frame`](bevy::end_arena_frame) system (with the other
//!   ends of frame in the [`FrameMemSystems`](bevy::FrameMemSystems) set),
//!   and with `bevy_app` plugins.
//!   Uses `alloc` only.
//! - [`sim`]: the frame-churn simulation, a headless `bevy_ecs` world whose
//!   per-frame memory goes through the strategy chosen at run time.
//! - [`profile`]: live profiling of the simulation — puffin scopes on, a
//!   `puffin_http` server for `puffin_viewer`, `.puffin` recordings.
//! - [`report`]: frame statistics and their formats (table, JSON, CSV, SVG
//!   plot), one [`Output`](report::Output) each.
//!
//! The `framemem` binary (`src/main.rs`, `cli.rs` and `runner/`) only
//! wires these together: it parses the command line, builds the run's
//! configuration once, creates its output files, runs the frames and
//! prints the report.
//!
//! # Priorities
//!
//! Soundness first (every `unsafe` is fenced, documented and tested under
//! Miri, loom and AddressSanitizer), then honest measurement, then speed.

#![cfg_attr(docsrs, feature(doc_cfg))]
// Without `sim` the map above names modules that are not built; the links
// are right for the documentation docs.rs shows (default features).
#![cfg_attr(not(feature = "sim"), allow(rustdoc::broken_intra_doc_links))]

pub mod alloc;
#[cfg(feature = "bevy")]
pub mod bevy;
#[cfg(feature = "sim")]
pub mod profile;
#[cfg(feature = "sim")]
pub mod report;
#[cfg(feature = "sim")]
pub mod sim;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use alloc::{
    AllocCounts, AllocError, Allocator, Arena, ArenaLocal, ArenaSlice, ClassStats, ClearBuffer,
    CountingAllocator, ExpiryRing, Heap, LocalPooled, Overflow, Pool, PoolLocal, PoolStats, Pooled,
    Recycle, Recycled, ResetHook, RingError, RingLocal, RingSlice, RingStats, SIZE_CLASSES, Slab,
    SlabLocal, SlabSlice, SlotStats, Stats,
};

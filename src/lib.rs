//! framemem: what a frame arena, a size-class slab or an object pool buys a
//! game loop over plain `Box`/`Vec`, measured on your machine.
//!
//! # The map
//!
//! Layers only point down:
//!
//! - [`alloc`]: the strategies — [`Heap`], [`Arena`] and [`Slab`] behind one
//!   [`Allocator`] trait, the typed object [`Pool`] — and
//!   [`CountingAllocator`], which counts heap traffic. No ECS, no I/O. This
//!   is the part to drop into your own code; without the default `sim`
//!   feature it is the whole crate.
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
    CountingAllocator, Heap, LocalPooled, Pool, PoolLocal, PoolStats, Pooled, Recycle, Recycled,
    ResetHook, SIZE_CLASSES, Slab, SlabLocal, SlabSlice, Stats,
};

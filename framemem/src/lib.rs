//! framemem: allocators for game frame loops — a frame arena, a size-class
//! slab, a typed object pool and an expiry-keyed ring of arenas — usable per
//! call from any thread or through a per-thread handle taken once per batch,
//! and (with the `bevy` feature) as bevy resources and system parameters.
//!
//! # The map
//!
//! Layers only point down:
//!
//! - [`alloc`]: the strategies — [`Heap`], [`Arena`] and [`Slab`] behind one
//!   [`Allocator`] trait, the typed object [`Pool`], the [`ExpiryRing`] of
//!   arenas for data that lives a chosen number of frames — and
//!   [`CountingAllocator`], which counts heap traffic. No ECS, no I/O.
//!   With no features this is the whole crate.
//! - `bevy` (the `bevy` feature): the allocators as bevy citizens — the
//!   `FrameArena` resource, the `FrameAlloc` system parameter whose
//!   `local()` a `par_iter().for_each_init` takes once per batch, the
//!   `end_arena_frame` system (with the other ends of frame in the
//!   `FrameMemSystems` set), per-system attribution (`FrameBySystem`) and
//!   byte budgets, and with `bevy_app` plugins. Uses `alloc` only.
//!
//! Features: none by default; `bevy`, `bevy_app` (implies `bevy`), `serde`
//! (`Serialize` for the statistics), `asan` (poisoning for
//! AddressSanitizer).
//!
//! The lab that measures these allocators in a `bevy_ecs` frame loop
//! (`framemem-lab`, unpublished) lives in the same repository.
//!
//! # Priorities
//!
//! Soundness first (every `unsafe` is fenced, documented and tested under
//! Miri, loom and AddressSanitizer), then honest measurement, then speed.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod alloc;
#[cfg(feature = "bevy")]
pub mod bevy;

/// The README's Rust examples, compiled and run as doctests (one of them
/// is the bevy pattern, hence the feature; `cargo test` at the workspace
/// root has it, as the lab turns it on).
#[cfg(all(doctest, feature = "bevy"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use alloc::{
    AllocCounts, AllocError, Allocator, Arena, ArenaLocal, ArenaSlice, ClassStats, ClearBuffer,
    CountingAllocator, ExpiryRing, Heap, LocalPooled, Overflow, Pool, PoolLocal, PoolStats, Pooled,
    Recycle, Recycled, ResetHook, RingError, RingLocal, RingSlice, RingStats, SIZE_CLASSES, Slab,
    SlabLocal, SlabSlice, SlotStats, Stats, TrimPolicy,
};

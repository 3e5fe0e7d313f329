//! framemem: allocators for game frame loops — a frame arena, a size-class
//! slab, a typed object pool and an expiry-keyed ring of arenas — usable per
//! call from any thread or through a per-thread handle taken once per batch,
//! and (with the `bevy` feature) as bevy resources and system parameters.
//!
//! # The map
//!
//! Layers only point down:
//!
//! - the allocators (the crate root; no ECS, no I/O; with no features this
//!   is the whole crate):
//!
//! | type | what it is | free | reset |
//! | --- | --- | --- | --- |
//! | [`Heap`] | the global allocator (what `Box` and `Vec` use), the baseline | returns memory at once | nothing to do |
//! | [`Arena`] | a frame arena: bump allocation (upward) in per-thread lanes | a no-op | O(1) per lane: all memory back at once |
//! | [`Slab`] | size classes 16 B to 4 KiB carved from 64 KiB chunks, free lists per thread | O(1), any thread | every slot back to the free state |
//! | [`ExpiryRing`] | a ring of arenas as a timing wheel: data lives a chosen number of frames | a no-op | one slot per frame end, O(1) per lane |
//! | [`Pool<T>`] | typed objects recycled through a [`Pooled<T>`] guard | automatic on drop | drops the idle objects |
//! | [`CountingAllocator`] | a `GlobalAlloc` wrapper that counts heap traffic | | |
//!
//!   [`Heap`], [`Arena`] and [`Slab`] share the raw [`AllocStrategy`]
//!   trait; every handle type allocates typed values and slices through
//!   [`TypedAlloc`], written once. Each strategy has a per-thread handle for a batch of work
//!   ([`Arena::local`], …) and `'static` epoch-checked handles
//!   ([`ArenaSlice`], [`SlabSlice`], [`RingSlice`]) for data kept in
//!   components.
//! - [`bevy`] (the `bevy` feature): the allocators as bevy citizens — the
//!   `FrameArena` resource, the `FrameAlloc` system parameter whose
//!   `local()` a `par_iter().for_each_init` takes once per batch, the
//!   end-of-frame systems in the `FrameMemSystems` set, per-system
//!   attribution (`FrameBySystem`) and byte budgets, and with `bevy_app`
//!   plugins. Uses the allocators only.
//!
//! Features: none by default; `bevy`, `bevy_app` (implies `bevy`),
//! `bevy_diagnostic` (implies `bevy_app`: bytes per system as bevy
//! diagnostics), `serde`
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

mod alloc;
#[cfg(feature = "bevy")]
pub mod bevy;

/// The README's Rust examples, compiled and run as doctests (one of them
/// is the bevy pattern, hence the feature; `cargo test` at the workspace
/// root has it, as the lab turns it on).
#[cfg(all(doctest, feature = "bevy"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// The allocators.
pub use alloc::{AllocCounts, CountingAllocator};
pub use alloc::{AllocError, AllocStrategy, Heap, Stats};
pub use alloc::{Arena, ArenaLocal, ArenaSlice};
pub use alloc::{
    CallRecycle, ClearBuffer, Pool, PoolLocal, PoolLocalGuard, PoolStats, Pooled, Recycle,
    ResetHook,
};
pub use alloc::{ClassStats, Slab, SlabLocal, SlabSlice};
pub use alloc::{
    ExpiryRing, RingError, RingFrames, RingLocal, RingOverflow, RingSlice, RingStats, SlotStats,
};
pub use alloc::{TrimPolicy, TypedAlloc};

/// The traits, to `use framemem::prelude::*`: their methods (the typed
/// `alloc_*` and `handle_*`, the raw `alloc` and `free`) need them in
/// scope.
pub mod prelude {
    pub use crate::{AllocStrategy, TypedAlloc};
}

// Only under `--cfg framemem_loom` (loom/tests/loom_lanes.rs): the lane ids on
// loom's atomics.
#[cfg(framemem_loom)]
#[doc(hidden)]
pub use alloc::{LaneIds, ModelLaneLock, ModelLanes};

//! [`Arena`]: a frame arena. Bump allocation into per-thread `bumpalo` lanes,
//! every block released at once by [`reset`](Allocator::reset) at the end of
//! the frame.
//!
//! Use it for data that lives exactly one frame: scratch containers, contact
//! lists, per-entity payloads of entities that die with the frame.
//!
//! - **Threads.** `&Arena` allocates from any thread: each thread bumps its own
//!   lane (a `bumpalo::Bump`, see `lanes.rs`), so there is no lock and no
//!   atomic on the fast path. A bare `Bump` is `!Sync`; `Arena` is the
//!   wrapper that makes sharing sound (`tests/compile_fail/bump_not_sync.rs`).
//! - **Reset.** `reset` takes `&mut self`, so a reference into the arena cannot
//!   survive it (`tests/compile_fail/arena_ref_after_reset.rs`). Each lane keeps
//!   its largest chunk, so a steady frame loop stops calling `malloc` after
//!   the first frames.
//! - **Limit.** [`Arena::with_limit`] caps the bytes all lanes together hold
//!   from the system. Growing past it is an [`AllocError::LimitExceeded`],
//!   never an abort. Lanes lease budget only when they need a new chunk. A
//!   reset releases every chunk of a lane whose thread has exited, so its
//!   lease goes back to the threads still working.
//! - **Handles.** Components must be `'static`, so they cannot hold `&[T]` into
//!   the arena. [`ArenaSlice<T>`] is a `'static`, `Copy` handle that records
//!   the arena's *stamp* (unique per arena and per epoch); resolving it after a
//!   reset, or in another arena, panics with a clear message
//!   ([`Arena::get`]) or returns `None` ([`Arena::try_get`]).
//! - **Per batch.** `&Arena` looks the thread's lane up on every call;
//!   [`Arena::local`] looks it up once and returns an [`ArenaLocal`] that
//!   allocates at the speed of a bare `Bump` (`local.rs`).
//! - **Drop.** Values in the arena are never dropped: the arena is for plain
//!   data.
//!
//! # Files
//!
//! - `mod.rs` (this file): [`Arena`], its [`Allocator`] impl, reset, stats
//!   and invariants;
//! - `lane.rs`: one thread's `Bump` and the byte budget it leases from;
//! - `typed.rs`: typed allocation (`alloc_value`, `alloc_slice_copy`, …);
//! - `handle.rs`: [`ArenaSlice`], the `'static` epoch-checked handle;
//! - `api2.rs`: `allocator_api2::alloc::Allocator` for `&Arena`, with
//!   in-place growth;
//! - `local.rs`: [`ArenaLocal`], the calling thread's lane taken once per
//!   batch ([`Arena::local`]), allocating with no lookup.
//!
//! # Invariants
//!
//! Checked by `Arena::check_invariants` after every reset (debug builds)
//! and in the tests; each lane's own by `ArenaLane::check_invariants` after
//! every new chunk:
//! - every lane's `Bump` may take no chunk without a lease (its allocation
//!   limit is the bytes it holds), and its `reserved` counter is those bytes;
//! - a lane that holds a chunk is marked used, so a reset visits it;
//! - with a limit, the budget left plus the bytes all lanes hold is the limit.

mod api2;
mod handle;
mod lane;
mod local;
#[cfg(test)]
mod tests;
mod typed;

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

pub use handle::ArenaSlice;
pub use local::ArenaLocal;

use self::lane::{ArenaLane, ChunkBudget, LaneStats};
use crate::alloc::lanes::Lanes;
use crate::alloc::stamp::Stamp;
use crate::alloc::trim::TrimPolicy;
use crate::alloc::{AllocError, Allocator, Stats};

/// A frame arena. See the [module docs](self) for the design.
///
/// ```
/// use framemem::{Allocator, Arena};
///
/// let mut arena = Arena::new();
/// let xs = arena.alloc_slice_copy(&[1u32, 2, 3]);
/// xs[0] = 10;
/// assert_eq!(xs, &[10, 2, 3]);
/// let handle = arena.handle_slice_copy(&[7.0f32; 4]);
/// assert_eq!(arena.get(handle), &[7.0; 4]);
/// arena.reset(); // `xs` can no longer be used; `handle` no longer resolves
/// assert!(arena.try_get(handle).is_none());
/// ```
pub struct Arena {
    /// One `Bump` per thread, and the fallback lane for threads without a
    /// lane id (see `lanes/`).
    lanes: Lanes<ArenaLane, LaneStats>,
    /// The byte limit, and the bytes lanes may still lease under it.
    budget: ChunkBudget,
    /// Unique per arena and per epoch; recorded in every [`ArenaSlice`].
    stamp: Stamp,
    /// The largest `bytes_in_use` at any reset so far.
    peak_at_resets: usize,
    resets: u64,
    /// When a reset gives the lanes' chunks back (`alloc/trim.rs`): a
    /// bumpalo reset keeps the largest chunk, so without this one spike
    /// frame pins its memory for the rest of the run.
    trim: TrimPolicy,
}

/// How many times the recent peak of bytes in use an arena may hold before
/// a reset gives its chunks back: bumpalo doubles its chunks, so a steady
/// lane holds up to 2x what it uses, plus a chunk per lane that two threads
/// fill unevenly; 3x trims only what a spike left.
const ARENA_TRIM_SLACK: f64 = 3.0;

impl Arena {
    /// An arena without a byte limit. It holds no memory until the first
    /// allocation.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// An arena whose lanes together hold at most `limit_bytes` from the
    /// system. An allocation that would need more fails with
    /// [`AllocError::LimitExceeded`].
    ///
    /// The limit counts whole chunks, so the bytes that fit are somewhat fewer
    /// than `limit_bytes`; two lanes growing at the same moment near the limit
    /// may see each other's lease and fail early.
    pub fn with_limit(limit_bytes: usize) -> Self {
        Self::build(Some(limit_bytes))
    }

    fn build(limit: Option<usize>) -> Self {
        Self {
            lanes: Lanes::new(ArenaLane::new, ArenaLane::new()),
            budget: ChunkBudget::new(limit),
            stamp: Stamp::next(),
            peak_at_resets: 0,
            trim: TrimPolicy::with_slack(ARENA_TRIM_SLACK),
            resets: 0,
        }
    }

    /// The configured byte limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.budget.limit()
    }

    /// The lane's chunk is full: mark the lane used if this is its first
    /// chunk, so that resets visit it, and grow it.
    #[cold]
    #[inline(never)]
    fn grow(
        &self,
        lane: &ArenaLane,
        stats: &LaneStats,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        if lane.holds_nothing() {
            self.lanes.mark_current();
        }
        lane.grow(layout, stats, &self.budget)
    }

    /// The arena's invariants (see the [module docs](self)); panics naming
    /// the values when one is broken.
    pub(crate) fn check_invariants(&mut self) {
        let mut held = 0;
        for (i, (lane, stats, marked)) in self.lanes.lanes_mut_marked().enumerate() {
            lane.check_invariants(stats);
            assert!(
                marked || lane.holds_nothing(),
                "arena lane {i} holds {} bytes but is not marked used: a reset would skip it",
                lane.held_bytes()
            );
            held += lane.held_bytes();
        }
        let (fallback, stats) = self.lanes.fallback_mut();
        fallback.check_invariants(stats);
        held += fallback.held_bytes();
        self.budget.check_invariants(held);
    }
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("limit", &self.limit())
            .field("stamp", &self.stamp)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: blocks come from a lane's `Bump`, which hands out disjoint, aligned
// blocks (zero sizes get an aligned dangling pointer) that stay valid until
// the `Bump` is reset or dropped; that only happens in `reset(&mut self)` and
// in `drop`. `free` releases nothing, so it cannot invalidate a live block.
unsafe impl Allocator for Arena {
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.lanes
            .with_lane(|lane, stats| match lane.try_bump(layout, stats) {
                Some(ptr) => Ok(ptr),
                None => self.grow(lane, stats, layout),
            })
    }

    #[inline(always)]
    unsafe fn free(&self, _ptr: NonNull<u8>, _layout: Layout) {
        // Bump memory comes back only at reset; just count the call.
        self.lanes.with_lane(|_, stats| stats.frees.add(1));
    }

    fn reset(&mut self) {
        // Only lanes that took a chunk (marked in `grow`) hold bytes: the
        // others are skipped, which keeps a reset O(threads used), not
        // O(MAX_LANES). The lane of a thread that has exited gives all its
        // chunks back (and, with a limit, their lease): no thread would
        // allocate from it until one claims its id.
        let mut in_use = 0;
        let mut held = 0;
        for (lane, stats, exited) in self.lanes.used_mut_exited() {
            in_use += stats.bytes.get() as usize;
            held += if exited {
                lane.release_all(stats)
            } else {
                lane.reset(stats)
            };
        }
        self.peak_at_resets = self.peak_at_resets.max(in_use);
        // Held far above what the recent frames used (a spike's chunk):
        // give every chunk back; the next frames grow what they need again.
        self.trim.record(in_use as u64);
        if self.trim.keep(held as u64).is_some() {
            held = 0;
            for (lane, stats, _) in self.lanes.used_mut_exited() {
                lane.release_all(stats);
            }
        }
        self.budget.reset(held);
        self.stamp = Stamp::next();
        self.resets += 1;
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
    }

    fn stats(&self) -> Stats {
        let mut s = Stats {
            resets: self.resets,
            ..Stats::default()
        };
        // What happens last is read first (`lanes/counters.rs`): frees
        // before allocations, bytes in use before the chunks that hold them.
        for lane in self.lanes.all_shared() {
            s.frees += lane.frees.get();
        }
        for lane in self.lanes.all_shared() {
            s.allocations += lane.allocations.get();
            s.bytes_in_use += lane.bytes.get() as usize;
        }
        for lane in self.lanes.all_shared() {
            s.bytes_reserved += lane.reserved.get() as usize;
        }
        s.peak_bytes_in_use = self.peak_at_resets.max(s.bytes_in_use);
        s
    }
}

//! [`Arena`]: a frame arena. Bump allocation into per-thread lanes of
//! upward-bumped chunks, every block released at once by [`reset`](AllocStrategy::reset) at the end of
//! the frame.
//!
//! # Files
//!
//! - `mod.rs` (this file): [`Arena`], its [`AllocStrategy`] impl, reset, stats
//!   and invariants;
//! - `chunk.rs`: [`Chunk`](chunk::Chunk), one block of memory bumped upward
//!   (the bump allocation's unsafe code);
//! - `chunks.rs`: the chunks' cache, the limit;
//! - `lane.rs`: one thread's current chunk and the chunks it filled;
//! - `typed.rs`: [`TypedAlloc`](crate::TypedAlloc) for `&Arena` and `&ArenaLocal`;
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
//! - every chunk, in a lane or idle, holds one chunk and can take no other
//!   (its allocation limit is its size);
//! - a lane that holds a chunk is marked used, so a reset visits it;
//! - the cache's `reserved` is the bytes of all chunks, and with a limit the
//!   budget left plus `reserved` is the limit;
//! - after a reset no lane holds a chunk.

mod api2;
mod chunk;
mod chunks;
mod handle;
mod lane;
mod local;
#[cfg(test)]
mod tests;
mod typed;

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use handle::ArenaSlice;
pub use local::ArenaLocal;

pub(crate) use self::chunks::ChunkCache;
use self::lane::{ArenaLane, LaneStats};
use crate::alloc::lanes::{Lanes, MAX_LANES};
use crate::alloc::stamp::{Stamp, Stamps};
use crate::alloc::trim::TrimPolicy;
use crate::alloc::{AllocError, AllocStrategy, Stats};

/// A frame arena: bump allocation into per-thread lanes, every
/// block released at once by [`reset`](Arena::reset) at the end of the frame.
///
/// Use it for data that lives exactly one frame: scratch containers, contact
/// lists, per-entity payloads of entities that die with the frame.
///
/// - **Threads.** `&Arena` allocates from any thread: each thread bumps its own
///   lane (a chunk of memory it bumps upward, see `lane.rs`), so there is no
///   lock and no atomic on the fast path. A chunk is `!Sync`; `Arena` is
///   the wrapper that makes sharing sound.
/// - **Order.** Blocks are laid out upward: a frame that reads its blocks in
///   the order it made them reads memory forwards (bumpalo, which the arena
///   used before, bumps down: that read was 1.2x slower out of cache,
///   `benches/read_order.rs`), and a `Vec` growing at the end of a chunk
///   grows in place with no copy.
/// - **Reset.** `reset` takes `&mut self`, so a reference into the arena cannot
///   survive it (`tests/compile_fail/arena_ref_after_reset.rs`). Every chunk
///   (64 KiB) goes back to the arena's one cache of idle chunks
///   (`chunks.rs`), which the next frame's lanes take from, whichever
///   threads they run on. So the arena holds one frame's bytes in all, plus
///   one chunk per thread that allocates from it (the unused tail of the
///   chunk each fills last), not one frame's peak per thread; and the reset
///   keeps that much ahead, so a steady frame loop takes no chunk from the
///   system after its first frame, however an executor splits the work
///   between threads. `tests/bevy_app.rs` holds this in bevy apps on 1, 2,
///   8 and 96 compute threads (for 20,000 64-byte blocks a frame, 1.28 MB:
///   1.5, 1.6, 2.0 and 5.6 MB held). [`Arena::set_threads`] says how many
///   threads to keep a chunk for; by default, those that have used it.
/// - **Limit.** [`Arena::with_limit`] caps the bytes of all the arena's chunks
///   together. Growing past it is an [`AllocError::LimitExceeded`], never an
///   abort. Idle chunks go to whichever lane needs room, so a frame fits
///   nearly its whole limit whichever threads fill it: each chunk loses what
///   its last block did not fit in (a 4 KiB block fits 15 times in a chunk:
///   93.8% of a 1 MiB limit, on 1 to 96 threads).
/// - **Trim.** A reset gives idle chunks back to the system, large ones
///   first, once what the arena holds has stayed above what the recent
///   frames needed (their bytes plus a chunk per thread) for a whole window
///   ([`TrimPolicy`]): a spike's memory goes back, a steady frame's never.
/// - **Handles.** Components must be `'static`, so they cannot hold `&[T]` into
///   the arena. [`ArenaSlice<T>`] is a `'static`, `Copy` handle that records
///   the arena's *stamp* (unique per arena and per epoch); resolving it after a
///   reset, or in another arena, panics with a clear message
///   ([`Arena::get`]) or returns `None` ([`Arena::try_get`]).
/// - **Per batch.** `&Arena` looks the thread's lane up on every call;
///   [`Arena::local`] looks it up once and returns an [`ArenaLocal`] that
///   allocates with no lookup (`local.rs`).
/// - **Drop.** Values in the arena are never dropped: the arena is for plain
///   data.
///
/// ```
/// use framemem::{Arena, TypedAlloc};
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
    /// One lane per thread, and the fallback lane for threads without a
    /// lane id (see `lanes/`).
    lanes: Lanes<ArenaLane, LaneStats>,
    /// The idle chunks, the byte limit and the count of all chunk bytes;
    /// the arena's own, or one it shares with other arenas
    /// (`shares_cache`: an [`ExpiryRing`](crate::ExpiryRing)'s slots).
    chunks: Arc<ChunkCache>,
    /// Whether `chunks` serves other arenas too: then their owner trims and
    /// provisions it, not this arena's reset, and `stats().bytes_reserved`
    /// is what this arena's lanes hold.
    shares_cache: bool,
    /// Chunk bytes this arena's lanes hold this frame (all of `chunks`'
    /// bytes but the idle ones when the cache is the arena's own). Written
    /// on slow paths only (a new chunk) and at the reset.
    held: AtomicUsize,
    /// Unique per arena and per epoch; recorded in every [`ArenaSlice`].
    stamp: Stamp,
    /// Where the next reset's stamp comes from.
    stamps: Stamps,
    /// The largest `bytes_in_use` at any reset so far.
    peak_at_resets: usize,
    resets: u64,
    /// When a reset gives idle chunks back (`alloc/trim.rs`), on the chunk
    /// bytes each frame needed: without it one spike frame would pin its
    /// memory for the rest of the run.
    trim: TrimPolicy,
    /// The lanes of live threads that have taken a chunk (bits, as
    /// `Lanes::used_bits`): the threads a frame's work may be split between
    /// (see `reset`). A thread pool's workers live as long as the app.
    busy_lanes: u64,
    /// How many threads may allocate in one frame, if the user said
    /// ([`Arena::set_threads`]); 0 when not.
    threads: usize,
}

impl Arena {
    /// An arena without a byte limit. It holds no memory until the first
    /// allocation.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// An arena whose chunks together hold at most `limit_bytes` from the
    /// system. An allocation that would need more fails with
    /// [`AllocError::LimitExceeded`].
    ///
    /// The limit counts whole chunks, and every chunk goes back to one
    /// cache at the reset, so a frame fits nearly all of it whichever
    /// threads fill it: what is lost is what each chunk's last block did
    /// not fit in. Filling a 1 MiB arena with 4 KiB blocks fits 93.8% every
    /// frame (`tests/bevy_app.rs`, on 1 to 96 threads). Two threads growing
    /// at the same moment near the limit may see each other's lease and
    /// fail early.
    pub fn with_limit(limit_bytes: usize) -> Self {
        Self::build(Some(limit_bytes))
    }

    fn build(limit: Option<usize>) -> Self {
        Self::with_chunks(Arc::new(ChunkCache::new(limit)), false)
    }

    /// The arena, with chunks of 2 MiB backed by huge pages where the system
    /// gives them: for frames that write and read tens of megabytes, more
    /// than the processor's page-translation cache covers in ordinary 4 KiB
    /// pages.
    ///
    /// Each chunk is 2 MiB, aligned to 2 MiB, and on Linux asks the kernel
    /// for a transparent huge page (`madvise(MADV_HUGEPAGE)`, which the
    /// common setting of `/sys/kernel/mm/transparent_hugepage/enabled`,
    /// `madvise`, requires). Where the system has none to give (that
    /// setting at `never`, no free huge page, another OS) the chunks are
    /// ordinary memory and the arena works the same. In the lab, at 200,000
    /// entities a frame, it took the arena from 1.10x-1.12x a hand-written
    /// frame `Vec` to 0.98x-1.05x (the README, "A frame arena, mimalloc, or
    /// a frame `Vec`?").
    ///
    /// The price: every thread that allocates holds a 2 MiB chunk (its last
    /// one partly filled) and the arena keeps one ahead for each, and the
    /// limit and the trim count in 2 MiB steps. A frame of 1.28 MB from 8
    /// compute threads holds 22 MiB this way against 1.9 MiB with the
    /// default 64 KiB chunks (`tests/bevy_app.rs`, `steady_load` and
    /// `steady_load_huge_pages`). For
    /// small frames, or many threads each allocating a little, keep the
    /// default. Chunks made before this call keep their size.
    ///
    /// ```
    /// use framemem::{Arena, TypedAlloc};
    ///
    /// let mut arena = Arena::new().with_huge_pages();
    /// let xs = arena.alloc_slice_copy(&[1u32, 2, 3]);
    /// assert_eq!(xs, &[1, 2, 3]);
    /// assert_eq!(arena.stats().bytes_reserved, 2 << 20); // one 2 MiB chunk
    /// arena.reset();
    /// ```
    #[must_use]
    pub fn with_huge_pages(mut self) -> Self {
        // An arena's own cache is shared with no one (only a ring's slots
        // share one, and they are made by the ring).
        Arc::get_mut(&mut self.chunks)
            .expect("an arena's own chunk cache is not shared")
            .use_huge_pages();
        self
    }

    /// Whether this arena's new chunks ask for huge pages
    /// ([`with_huge_pages`](Self::with_huge_pages)).
    pub fn huge_pages(&self) -> bool {
        self.chunks.huge_pages()
    }

    /// An arena that takes its chunks from `cache`, which other arenas
    /// share (an [`ExpiryRing`](crate::ExpiryRing)'s slots). Its reset gives
    /// its chunks back to `cache` but neither trims nor provisions it: the
    /// owner of all the arenas does.
    pub(crate) fn with_cache(cache: Arc<ChunkCache>) -> Self {
        Self::with_chunks(cache, true)
    }

    fn with_chunks(chunks: Arc<ChunkCache>, shares_cache: bool) -> Self {
        let mut stamps = Stamps::new();
        Self {
            lanes: Lanes::new(ArenaLane::new, ArenaLane::new()),
            chunks,
            shares_cache,
            held: AtomicUsize::new(0),
            stamp: stamps.next(),
            stamps,
            peak_at_resets: 0,
            // The default slack: demand is counted in the chunks the frame
            // took, so a steady arena holds what its recent frames took.
            trim: TrimPolicy::new(),
            busy_lanes: 0,
            threads: 0,
            resets: 0,
        }
    }

    /// Tells the arena how many threads may allocate from it in one frame
    /// (a thread pool's workers and the main thread): each keeps the tail
    /// of the chunk it filled last, so the reset keeps one chunk
    /// (64 KiB) per thread ahead, and no frame takes a chunk from the
    /// system however its work is split between them. Without it the arena
    /// counts the live threads that have allocated from it, which grows as
    /// new workers first join in. [`FrameArena`](crate::bevy::FrameArena)
    /// sets it from bevy's `ComputeTaskPool`.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads;
    }

    /// The configured byte limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.chunks.limit()
    }

    /// The lane's chunk is full: mark the lane used if this is its first
    /// chunk of the frame, so that the reset visits it, and give it another.
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
        self.grow_lane(lane, stats, layout)
    }

    /// [`ArenaLane::grow`], counting the chunk bytes the lane takes.
    fn grow_lane(
        &self,
        lane: &ArenaLane,
        stats: &LaneStats,
        layout: Layout,
    ) -> Result<NonNull<u8>, AllocError> {
        let before = lane.held_bytes();
        let result = lane.grow(layout, stats, &self.chunks);
        self.held
            .fetch_add(lane.held_bytes() - before, Ordering::Relaxed);
        result
    }

    /// [`AllocStrategy::alloc`] for a thread without a lane id: the locked
    /// fallback lane.
    #[cold]
    #[inline(never)]
    fn alloc_in_fallback(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let (lane, stats) = self.lanes.lock_fallback();
        match lane.try_bump(layout, stats) {
            Some(ptr) => Ok(ptr),
            None => self.grow_lane(&lane, stats, layout),
        }
    }

    /// The arena's invariants (see the [module docs](self)); panics naming
    /// the values when one is broken.
    #[cfg(test)]
    pub(crate) fn check_invariants(&mut self) {
        self.check_invariants_after(false);
    }

    /// [`check_invariants`](Self::check_invariants); `after_reset` adds
    /// what holds right after a reset.
    fn check_invariants_after(&mut self, after_reset: bool) {
        let mut held = 0;
        for (i, (lane, _, marked)) in self.lanes.lanes_mut_marked().enumerate() {
            lane.check_invariants();
            assert!(
                marked || lane.holds_nothing(),
                "arena lane {i} holds {} bytes but is not marked used: a reset would skip it",
                lane.held_bytes()
            );
            assert!(
                !after_reset || lane.holds_nothing(),
                "arena lane {i} still holds {} bytes after a reset",
                lane.held_bytes()
            );
            held += lane.held_bytes();
        }
        let (fallback, _) = self.lanes.fallback_mut();
        fallback.check_invariants();
        held += fallback.held_bytes();
        let counted = *self.held.get_mut();
        assert_eq!(
            counted, held,
            "arena: counts {counted} chunk bytes in its lanes, but they hold {held}"
        );
        self.chunks
            .check_invariants(held, after_reset, !self.shares_cache);
        // A shared cache has no limit (the ring's); an arena's own is its
        // alone, so `get_mut` succeeds.
        if let Some(chunks) = Arc::get_mut(&mut self.chunks) {
            chunks.check_limit();
        }
    }

    /// Resets the arena: every block of the frame is released at once (the
    /// `&mut` borrow proves none is still referenced), every chunk goes
    /// back to the arena's cache for the next frame, and the stamp changes,
    /// so no [`ArenaSlice`] made before resolves after. Gives idle chunks
    /// back to the system after a spike (see [`Arena`], **Trim**).
    pub fn reset(&mut self) {
        // Only lanes that took a chunk this frame (marked in `grow`) hold
        // any: the others are skipped, which keeps a reset O(threads used),
        // not O(MAX_LANES). A dead thread's lane is one of them: its
        // chunks come back like any other's.
        let mut in_use = 0;
        let mut taken = 0;
        self.busy_lanes = (self.busy_lanes | self.lanes.used_bits()) & self.lanes.live_bits();
        let mut fallback_busy = false;
        let cache_chunk_bytes = self.chunks.chunk_bytes();
        let mut cache = self.chunks.at_reset();
        for (lane, stats) in self.lanes.drain_used_mut() {
            // Counts a leaked handle left behind (a live one cannot exist:
            // it borrows the arena).
            lane.fold_pending(stats);
            in_use += stats.bytes.get() as usize;
            // The fallback comes last; the lanes are counted by their bits.
            fallback_busy = !lane.holds_nothing();
            taken += lane.reset(stats, &mut cache);
        }
        let busy_lanes = (self.busy_lanes.count_ones() as usize + usize::from(fallback_busy))
            .max(self.threads.min(MAX_LANES + 1));
        *self.held.get_mut() = 0;
        self.peak_at_resets = self.peak_at_resets.max(in_use);
        // What a frame like this one may need, whichever way its work is
        // split between the live threads that have used the arena (a bevy
        // executor picks any of them): its bytes, plus a chunk per such
        // thread (the unused tail of the chunk each fills last) and one for
        // rounding. Held ahead, at the reset, so that a split not seen
        // before takes no chunk mid-frame; and the trim's measure of demand,
        // so that it never gives back what a steady frame needs.
        let needed = taken.max(in_use + (busy_lanes + 1) * cache_chunk_bytes);
        // Held far above what the recent frames needed (a spike's chunks):
        // give idle chunks back down to that. A shared cache is the owner's
        // to trim and provision.
        if self.shares_cache {
            cache.finish(None);
        } else {
            self.trim.record(needed as u64);
            let keep = self.trim.keep(self.chunks.reserved() as u64);
            cache.finish(keep.map(|keep| usize::try_from(keep).unwrap_or(usize::MAX)));
            self.chunks.provision(needed);
        }
        self.stamp = self.stamps.next();
        self.resets += 1;
        if cfg!(debug_assertions) {
            self.check_invariants_after(true);
        }
    }

    /// The arena's counters: allocations, frees and bytes since the last
    /// reset, the high-water mark, and the chunk bytes it holds.
    ///
    /// A live [`ArenaLocal`]'s allocations are counted when it drops.
    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            resets: self.resets,
            ..Stats::default()
        };
        // What happens last is read first (`lanes/counters.rs`): frees
        // before allocations.
        for lane in self.lanes.all_shared() {
            s.frees += lane.frees.get();
        }
        for lane in self.lanes.all_shared() {
            s.allocations += lane.allocations.get();
            s.bytes_in_use += lane.bytes.get() as usize;
        }
        s.bytes_reserved = if self.shares_cache {
            self.held.load(Ordering::Relaxed)
        } else {
            self.chunks.reserved()
        };
        s.chunks_taken = self.chunks.made();
        s.peak_bytes_in_use = self.peak_at_resets.max(s.bytes_in_use);
        s
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
            .field("huge_pages", &self.huge_pages())
            .field("stamp", &self.stamp)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: blocks come from a lane's chunk (`chunk.rs`), which hands out
// disjoint, aligned blocks (zero sizes get an aligned dangling pointer) that
// stay valid until the chunk is reset or dropped; that only happens in
// `reset(&mut self)` (the lanes give their chunks to the cache, which resets
// them and may drop idle ones) and in `drop`. `free` releases nothing, so it cannot invalidate a live block.
unsafe impl AllocStrategy for Arena {
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        // Not `Lanes::with_lane`: its closure, kept for the cold fallback,
        // made the caller store `layout` to the stack on every call
        // (callgrind: 2 instructions of 34).
        match self.lanes.local() {
            Some((lane, stats)) => match lane.try_bump(layout, stats) {
                Some(ptr) => Ok(ptr),
                None => self.grow(lane, stats, layout),
            },
            None => self.alloc_in_fallback(layout),
        }
    }

    #[inline(always)]
    unsafe fn free(&self, _ptr: NonNull<u8>, _layout: Layout) {
        // Bump memory comes back only at reset; just count the call.
        self.lanes.with_lane(|_, stats| stats.frees.add(1));
    }

    fn reset(&mut self) {
        Arena::reset(self);
    }

    fn stats(&self) -> Stats {
        Arena::stats(self)
    }
}

//! The arena's chunks and the one cache they go back to at every reset.
//!
//! A *chunk* is a `bumpalo::Bump` that holds exactly one chunk of memory: its
//! allocation limit is its own size, so bumpalo never adds a second one. A
//! lane bumps one chunk at a time; when it is full the lane keeps it until
//! the reset (its blocks are live) and takes another from the
//! [`ChunkCache`], which makes a new one only when it has none idle that
//! fits. At the reset every lane gives every chunk back.
//!
//! Why: a bevy executor puts each system on whichever thread is free, so a
//! frame's allocations land on lane A and the next frame's on lane B. Chunks
//! kept per lane would then hold one frame's peak per thread, and the
//! lanes that sit idle would keep memory a busy lane cannot use (with a
//! byte limit, the frame would fail far below it). With one cache, what
//! the arena holds is one frame's peak for the whole arena, whichever
//! threads used it, and the limit and the trim act on that total.
//!
//! Cost: the fast path is unchanged (bumpalo's bump in the lane's chunk);
//! the cache's lock is taken once per chunk a lane fills, never per
//! allocation.
//!
//! Sizes: a lane's new chunk is half as large as all the chunks it took
//! this frame (so a busy lane grows geometrically, as bumpalo's doubling
//! does, but holds at most about 1.5x what it used, not 2x), at least
//! [`MIN_CHUNK_BYTES`], at most [`MAX_CHUNK_BYTES`] unless one request
//! needs more; rounded to whole pages. Idle chunks are handed out smallest
//! first, so lanes with little to do take little.
//!
//! Invariants ([`ChunkCache::check_invariants`], with `&mut`):
//! - every chunk (idle or in a lane) holds one chunk and its allocation
//!   limit is that chunk's size;
//! - `reserved` is the sum of every chunk's bytes, idle or in a lane;
//! - with a limit, the budget left plus `reserved` is the limit;
//! - the idle chunks are sorted largest first (only checked after a reset).

use std::alloc::Layout;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use bumpalo::Bump;

use crate::alloc::AllocError;
use crate::alloc::lanes::Budget;
#[cfg(feature = "asan")]
use crate::alloc::poison;

/// The smallest chunk: one page. An arena that serves a few small blocks a
/// frame holds no more than this per thread that used it.
pub(super) const MIN_CHUNK_BYTES: usize = 4096;

/// The largest chunk made for ordinary requests: big enough that a frame of
/// tens of megabytes takes a few dozen chunks (one lock each), small enough
/// that the last, partly used chunk of each busy lane wastes little.
pub(super) const MAX_CHUNK_BYTES: usize = 1 << 20;

/// A lane that fills this many chunks smaller than [`MAX_CHUNK_BYTES`] in
/// one frame gets them merged at the reset (see [`ChunkCache::give_back`]):
/// a few chunks a frame cost a few locks; a dozen small ones, as a first
/// frame grows, would cost one each every frame.
pub(super) const COALESCE_MIN_CHUNKS: usize = 4;

/// Chunks are whole pages: bumpalo rounds a chunk of a page or more to whole
/// pages including its footer and the system allocator's overhead, so asking
/// for a page multiple minus [`CHUNK_OVERHEAD_BYTES`] gets that many bytes
/// from the system, no more.
const PAGE_BYTES: usize = 4096;

/// What bumpalo adds to a chunk's capacity (its footer and the allocator's
/// overhead, 64 bytes in bumpalo 3.20). If a future bumpalo adds more, a
/// chunk comes out a page larger than its lease, and [`ChunkCache::make`]
/// leases the difference (or gives the chunk back): never over the limit.
const CHUNK_OVERHEAD_BYTES: usize = 64;

/// Makes a [`Bump`] with no chunk that can take none: a lane's state before
/// its first chunk of the frame.
pub(super) fn empty_chunk() -> Bump {
    let bump = Bump::new();
    bump.set_allocation_limit(Some(0));
    bump
}

/// The bytes a chunk holds from the system (bumpalo's count: its capacity,
/// without the footer).
pub(super) fn chunk_bytes(chunk: &Bump) -> usize {
    chunk.allocated_bytes()
}

/// Whether a reset chunk of `bytes` surely fits `layout`: bumpalo bumps
/// down from the chunk's end, which is 16-aligned, so an alignment above 16
/// may cost up to `align - 16` bytes of padding.
fn fits(bytes: usize, layout: Layout) -> bool {
    layout
        .size()
        .checked_add(layout.align().saturating_sub(16))
        .is_some_and(|need| need <= bytes)
}

/// The arena's byte limit, the chunks no lane is using, and the count of
/// every chunk's bytes. See the [module docs](self).
pub(super) struct ChunkCache {
    /// Idle chunks, reset, largest first: [`take`](Self::take) pops the
    /// smallest. Sorted at every reset; lanes only remove from it between
    /// resets.
    idle: Mutex<Vec<Bump>>,
    /// The byte limit over all chunks, if any.
    limit: Option<usize>,
    /// Bytes new chunks may still take: `limit` (or `usize::MAX`) minus
    /// `reserved`, minus leases in flight.
    left: Budget,
    /// Bytes of every chunk the arena holds, idle or in a lane.
    reserved: AtomicUsize,
    /// Chunks made from the system, ever.
    made: AtomicU64,
}

impl ChunkCache {
    pub(super) fn new(limit: Option<usize>) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            limit,
            left: Budget::new(limit.unwrap_or(usize::MAX)),
            reserved: AtomicUsize::new(0),
            made: AtomicU64::new(0),
        }
    }

    pub(super) fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Bytes of every chunk the arena holds.
    pub(super) fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Chunks made from the system so far.
    pub(super) fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// A chunk for a lane that needs room for `layout` and has taken
    /// `lane_taken` chunk bytes this frame: the smallest idle chunk that
    /// fits, or a new one.
    ///
    /// # Errors
    ///
    /// [`AllocError::LimitExceeded`] when a new chunk would pass the limit;
    /// [`AllocError::OutOfMemory`] when the system refuses one.
    pub(super) fn take(&self, layout: Layout, lane_taken: usize) -> Result<Bump, AllocError> {
        {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            // Largest first: the smallest that fits is the last that fits.
            if let Some(i) = idle.iter().rposition(|c| fits(chunk_bytes(c), layout)) {
                return Ok(idle.remove(i));
            }
        }
        self.make(layout, lane_taken)
    }

    /// A new chunk from the system, within the limit.
    #[cold]
    fn make(&self, layout: Layout, lane_taken: usize) -> Result<Bump, AllocError> {
        let requested = layout.size();
        // Room for the block and any alignment padding, in whole pages.
        let need = requested
            .checked_add(layout.align())
            .and_then(|n| n.checked_add(CHUNK_OVERHEAD_BYTES))
            .and_then(|n| n.checked_next_multiple_of(PAGE_BYTES))
            .ok_or(AllocError::OutOfMemory { requested })?;
        let want = (lane_taken / 2)
            .clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)
            .next_multiple_of(PAGE_BYTES)
            .max(need);
        self.make_sized(want, need, requested)
    }

    /// A new chunk of `want` bytes (whole pages), or of at least `need`
    /// bytes near the limit; `requested` names the request in errors.
    fn make_sized(&self, want: usize, need: usize, requested: usize) -> Result<Bump, AllocError> {
        let mut lease = self.left.lease(want);
        if lease < need {
            self.left.give_back(lease);
            return Err(self.refused(requested, true));
        }
        // Near the limit, a smaller chunk than wanted: whole pages of what
        // was granted.
        let size = lease - lease % PAGE_BYTES;
        self.left.give_back(lease - size);
        lease = size;
        let Ok(chunk) = Bump::try_with_capacity(size - CHUNK_OVERHEAD_BYTES) else {
            self.left.give_back(lease);
            return Err(self.refused(requested, false));
        };
        let bytes = chunk_bytes(&chunk);
        if bytes > lease {
            // bumpalo rounded up past the lease (see CHUNK_OVERHEAD_BYTES).
            let extra = self.left.lease(bytes - lease);
            lease += extra;
            if lease < bytes {
                self.left.give_back(lease);
                return Err(self.refused(requested, true));
            }
        }
        self.left.give_back(lease - bytes);
        chunk.set_allocation_limit(Some(bytes));
        self.reserved.fetch_add(bytes, Ordering::Relaxed);
        self.made.fetch_add(1, Ordering::Relaxed);
        Ok(chunk)
    }

    fn refused(&self, requested: usize, by_limit: bool) -> AllocError {
        match self.limit {
            Some(limit) if by_limit => AllocError::LimitExceeded { requested, limit },
            _ => AllocError::OutOfMemory { requested },
        }
    }

    /// Takes back a lane's chunks at a reset: each is reset (its blocks are
    /// gone; `&mut` proves none is borrowed) and kept idle. A lane that
    /// filled [`COALESCE_MIN_CHUNKS`] or more small chunks in one frame,
    /// for `used_bytes` in all, gets them replaced by one chunk of
    /// `used_bytes` plus a quarter (or a few of at most [`MAX_CHUNK_BYTES`];
    /// never more than they held), so that a steady load settles on one
    /// chunk per thread and one lock per frame, with room for the load to
    /// vary. Call [`sort`](Self::sort) after the last lane.
    pub(super) fn give_back(&mut self, chunks: &mut Vec<Bump>, used_bytes: usize) {
        let small = chunks
            .iter()
            .filter(|c| chunk_bytes(c) < MAX_CHUNK_BYTES)
            .count();
        let idle = self.idle.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut merged = 0;
        for mut chunk in chunks.drain(..) {
            poison_chunk(&chunk);
            chunk.reset();
            let bytes = chunk_bytes(&chunk);
            if small >= COALESCE_MIN_CHUNKS && bytes < MAX_CHUNK_BYTES {
                unpoison_chunk(&chunk);
                drop(chunk);
                *self.reserved.get_mut() -= bytes;
                self.left.give_back(bytes);
                merged += bytes;
            } else {
                idle.push(chunk);
            }
        }
        let mut left = used_bytes
            .saturating_add(used_bytes / 4)
            .next_multiple_of(PAGE_BYTES)
            .min(merged);
        while left > 0 {
            let want = left.clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES);
            // Near the limit or out of memory: fewer bytes stay; the next
            // frame grows what it needs.
            let Ok(chunk) = self.make_sized(want, MIN_CHUNK_BYTES, want) else {
                break;
            };
            // Counted as the pages asked for (bumpalo keeps a footer of
            // each), so a page short is not a second chunk.
            left = left.saturating_sub(want);
            self.idle
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .push(chunk);
        }
    }

    /// Sorts the idle chunks largest first (after a reset's give-backs).
    pub(super) fn sort(&mut self) {
        let idle = self.idle.get_mut().unwrap_or_else(PoisonError::into_inner);
        idle.sort_unstable_by_key(|c| std::cmp::Reverse(chunk_bytes(c)));
    }

    /// Gives idle chunks back to the system, largest first, while what stays
    /// is at least `keep` bytes. Returns the bytes given back.
    pub(super) fn trim(&mut self, keep: usize) -> usize {
        let idle = self.idle.get_mut().unwrap_or_else(PoisonError::into_inner);
        let reserved = self.reserved.get_mut();
        let mut freed = 0;
        while let Some(first) = idle.first() {
            let bytes = chunk_bytes(first);
            if *reserved - bytes < keep {
                break;
            }
            let chunk = idle.remove(0);
            unpoison_chunk(&chunk);
            drop(chunk);
            *reserved -= bytes;
            freed += bytes;
        }
        self.left.give_back(freed);
        freed
    }

    /// The cache's invariants, given the chunk bytes all lanes hold (see the
    /// [module docs](self)); panics naming the values when one is broken.
    pub(super) fn check_invariants(&mut self, in_lanes: usize, sorted: bool) {
        let idle = self.idle.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut idle_bytes = 0;
        for chunk in idle.iter() {
            check_chunk(chunk);
            idle_bytes += chunk_bytes(chunk);
        }
        if sorted {
            assert!(
                idle.is_sorted_by_key(|c| std::cmp::Reverse(chunk_bytes(c))),
                "arena: idle chunks are not sorted largest first"
            );
        }
        let reserved = *self.reserved.get_mut();
        assert_eq!(
            reserved,
            idle_bytes + in_lanes,
            "arena: reserved says {reserved} bytes, but idle chunks hold {idle_bytes} and lanes \
             {in_lanes}"
        );
        if let Some(limit) = self.limit {
            let left = self.left.left();
            assert_eq!(
                left + reserved,
                limit,
                "arena budget: {left} bytes left + {reserved} reserved != limit {limit}"
            );
        }
    }
}

impl Drop for ChunkCache {
    fn drop(&mut self) {
        for chunk in self
            .idle
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            unpoison_chunk(chunk);
        }
    }
}

/// A chunk's own invariant: it holds one chunk and can take no other.
pub(super) fn check_chunk(chunk: &Bump) {
    let bytes = chunk_bytes(chunk);
    let limit = chunk.allocation_limit();
    assert_eq!(
        limit,
        Some(bytes),
        "arena chunk: allocation limit {limit:?} is not its {bytes} bytes, so bumpalo could add \
         a chunk the cache never counted"
    );
}

/// Poisons a chunk's used bytes before its reset (the `asan` feature): a
/// block read after the arena's reset is then reported.
#[cfg_attr(not(feature = "asan"), allow(unused_variables))]
fn poison_chunk(chunk: &Bump) {
    #[cfg(feature = "asan")]
    // SAFETY: the caller holds the chunk exclusively (a reset's `&mut`), so
    // none of its blocks is borrowed; each range is inside the chunk, which
    // the chunk still holds. Ranges are unpoisoned when handed out again.
    unsafe {
        for (ptr, len) in chunk.iter_allocated_chunks_raw() {
            poison::poison(ptr, len);
        }
    }
}

/// Unpoisons a whole reset chunk before it goes back to the system: it
/// leaves clean. A reset chunk's bump pointer is its end, and its data is
/// the `chunk_bytes` below it.
#[cfg_attr(not(feature = "asan"), allow(unused_variables))]
fn unpoison_chunk(chunk: &Bump) {
    #[cfg(feature = "asan")]
    // SAFETY: the chunk is reset (its pointer is at its data's end, and the
    // data is the `chunk_bytes` bytes below it, inside its one allocation);
    // the caller holds it exclusively and is about to drop it.
    unsafe {
        if let Some((end, _)) = chunk.iter_allocated_chunks_raw().next() {
            let bytes = chunk_bytes(chunk);
            poison::unpoison(end.sub(bytes), bytes);
        }
    }
}

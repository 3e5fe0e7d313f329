//! The arena's chunks and the one cache they go back to at every reset.
//!
//! A *chunk* ([`Chunk`], `chunk.rs`) is one block of memory from the
//! system, bumped upward. A lane bumps one chunk at a time; when it is full the lane keeps it until
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
//! Cost: the fast path is a bump in the lane's chunk;
//! the cache's lock is taken once per chunk a lane fills, never per
//! allocation.
//!
//! Sizes: every chunk is [`CHUNK_BYTES`] (64 KiB), except the *large*
//! ones made for a single request that does not fit in one, which are
//! kept apart and serve only such requests.
//! One size means any lane can use any idle chunk, and what a thread loses
//! is at most the unused tail of the chunk it filled last: a frame of 1 MiB
//! in 4 KiB blocks fits 15 blocks in each chunk (94%) however many threads
//! share it. It also means one lock per 64 KiB a lane allocates.
//!
//! Huge pages ([`Arena::with_huge_pages`](super::Arena::with_huge_pages)):
//! ordinary chunks are then [`HUGE_PAGE_BYTES`] (2 MiB), aligned to a huge
//! page, and ask the system to back them with one
//! ([`Chunk::new`]). A frame that writes and reads more than the
//! processor's page-translation cache covers (tens of megabytes) then takes
//! far fewer translation misses; the price is a chunk tail of up to 2 MiB
//! per thread that allocates, and 2 MiB steps for the limit and the trim.
//!
//! One cache may serve several arenas: an [`ExpiryRing`](crate::ExpiryRing)'s
//! slot arenas all draw on one (`Arena::with_cache`), so that what the ring
//! holds is its live data plus a chunk tail per slot and thread, not a
//! frame's worth of chunks kept ahead by each of its slots. Every method
//! that moves chunks back (the resets', the trim) is called only under
//! `&mut` of the owner of all the arenas that share the cache (the arena,
//! or the ring), so no lane takes a chunk meanwhile.
//!
//! Invariants ([`ChunkCache::check_invariants`], with no lane taking chunks):
//! - every chunk (idle or in a lane) keeps its own ([`Chunk::check`]);
//! - `reserved` is the sum of every chunk's bytes, idle or in a lane;
//! - with a limit, the budget left plus `reserved` is the limit;
//! - idle ordinary chunks are at most the ordinary size ([`CHUNK_BYTES`],
//!   or [`HUGE_PAGE_BYTES`] with huge pages; smaller ones are made near the
//!   limit, or before huge pages were asked for); idle large chunks are
//!   sorted largest first (after a reset).

use std::alloc::Layout;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::chunk::{Chunk, HUGE_PAGE_BYTES};
use crate::alloc::AllocError;
use crate::alloc::lanes::Budget;
#[cfg(feature = "asan")]
use crate::alloc::poison;

/// The largest chunk an arena asks for (4 TiB, past any machine's memory):
/// a lane's pending counts hold one chunk's bytes in 44 bits (`lane.rs`,
/// `Pending`), with room to spare. A
/// request that needs more fails with `OutOfMemory`.
pub(super) const MAX_CHUNK_BYTES: u64 = 1 << 42;

/// The size of every ordinary chunk, in whole pages: big enough that a
/// lane takes the cache's lock once per 64 KiB it allocates (a frame of
/// 1,000 64-byte blocks fits in one), small enough that the last, partly
/// filled chunk of each busy thread wastes little, and that a byte limit of
/// a megabyte is 16 chunks.
pub(super) const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks are whole pages.
const PAGE_BYTES: usize = 4096;

/// Whether a reset chunk of `bytes` surely fits `layout`: a chunk bumps up
/// from its start, which is 16-aligned ([`CHUNK_ALIGN`](super::chunk::CHUNK_ALIGN)),
/// so an alignment above 16 may cost up to `align - 16` bytes of padding.
fn fits(bytes: usize, layout: Layout) -> bool {
    layout
        .size()
        .checked_add(layout.align().saturating_sub(16))
        .is_some_and(|need| need <= bytes)
}

/// The arena's byte limit, the chunks no lane is using, and the count of
/// every chunk's bytes. See the [module docs](self).
pub(crate) struct ChunkCache {
    /// Idle chunks, reset.
    idle: Mutex<Idle>,
    /// The byte limit over all chunks, if any.
    limit: Option<usize>,
    /// Bytes new chunks may still take: `limit` (or `usize::MAX`) minus
    /// `reserved`, minus leases in flight.
    left: Budget,
    /// Bytes of every chunk the arena holds, idle or in a lane.
    reserved: AtomicUsize,
    /// Chunks made from the system, ever.
    made: AtomicU64,
    /// Whether new chunks ask for huge pages ([`Chunk::new`]), and so are
    /// [`HUGE_PAGE_BYTES`] each ([`chunk_bytes`](Self::chunk_bytes)).
    huge_pages: bool,
}

/// The idle chunks: ordinary ones, and large ones largest first (sorted at
/// every reset; lanes only remove from them between resets).
#[derive(Default)]
struct Idle {
    ordinary: Vec<Chunk>,
    large: Vec<Chunk>,
}

impl Idle {
    fn all(&self) -> impl Iterator<Item = &Chunk> {
        self.ordinary.iter().chain(&self.large)
    }
}

/// The cache during one reset, locked once: see [`ChunkCache::at_reset`].
pub(super) struct AtReset<'c> {
    cache: &'c ChunkCache,
    idle: MutexGuard<'c, Idle>,
    /// Whether a large chunk came back (the large ones are then sorted).
    large_back: bool,
}

impl AtReset<'_> {
    /// Takes back a lane's chunks: each is reset (its blocks are gone; the
    /// caller's `&mut` proves none is borrowed) and kept idle.
    pub(super) fn give_back(&mut self, chunks: &mut Vec<Chunk>) {
        for mut chunk in chunks.drain(..) {
            poison_chunk(&chunk);
            chunk.reset();
            if chunk.bytes() > self.cache.chunk_bytes() {
                self.idle.large.push(chunk);
                self.large_back = true;
            } else {
                self.idle.ordinary.push(chunk);
            }
        }
    }

    /// Ends the reset: sorts the idle large chunks largest first if one
    /// came back, then gives idle chunks back to the system down to `keep`
    /// bytes, if given (see [`ChunkCache::trim`]). Returns the bytes given
    /// back.
    pub(super) fn finish(mut self, keep: Option<usize>) -> usize {
        if self.large_back {
            self.idle
                .large
                .sort_unstable_by_key(|c| std::cmp::Reverse(c.bytes()));
        }
        keep.map_or(0, |keep| self.cache.trim_idle(&mut self.idle, keep))
    }
}

impl ChunkCache {
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            idle: Mutex::new(Idle::default()),
            limit,
            left: Budget::new(limit.unwrap_or(usize::MAX)),
            reserved: AtomicUsize::new(0),
            made: AtomicU64::new(0),
            huge_pages: false,
        }
    }

    /// From now on, ordinary chunks are [`HUGE_PAGE_BYTES`], aligned to a
    /// huge page, and ask the system for huge pages (as do large ones of at
    /// least that size). Chunks made before stay as they are (they are
    /// ordinary chunks still: no bigger than the new size).
    pub(super) fn use_huge_pages(&mut self) {
        self.huge_pages = true;
    }

    /// Whether new chunks ask for huge pages.
    pub(super) fn huge_pages(&self) -> bool {
        self.huge_pages
    }

    /// The size of an ordinary chunk: [`CHUNK_BYTES`], or
    /// [`HUGE_PAGE_BYTES`] when the chunks ask for huge pages.
    pub(super) fn chunk_bytes(&self) -> usize {
        if self.huge_pages {
            HUGE_PAGE_BYTES
        } else {
            CHUNK_BYTES
        }
    }

    pub(super) fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// Bytes of every chunk the arena holds.
    pub(crate) fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Chunks made from the system so far.
    pub(crate) fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// A chunk for a lane that needs room for `layout`: an idle one that
    /// fits (for a large request, the smallest), or a new one (then `true`).
    ///
    /// # Errors
    ///
    /// [`AllocError::LimitExceeded`] when a new chunk would pass the limit;
    /// [`AllocError::OutOfMemory`] when the system refuses one.
    pub(super) fn take(&self, layout: Layout) -> Result<(Chunk, bool), AllocError> {
        let large = !fits(self.chunk_bytes(), layout);
        {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if large {
                // Largest first: the last that fits is the smallest.
                if let Some(i) = idle.large.iter().rposition(|c| fits(c.bytes(), layout)) {
                    return Ok((idle.large.remove(i), false));
                }
            } else if let Some(i) = idle
                .ordinary
                .iter()
                // All fit, but one made short near the limit.
                .rposition(|c| fits(c.bytes(), layout))
            {
                return Ok((idle.ordinary.swap_remove(i), false));
            }
        }
        self.make(layout).map(|chunk| (chunk, true))
    }

    /// A new chunk from the system, within the limit: an ordinary one, or
    /// for a request that does not fit in one, one of its own size.
    #[cold]
    fn make(&self, layout: Layout) -> Result<Chunk, AllocError> {
        let requested = layout.size();
        // Room for the block and any alignment padding, in whole pages.
        let need = requested
            .checked_add(layout.align())
            .and_then(|n| n.checked_next_multiple_of(PAGE_BYTES))
            // A lane's pending counts hold one chunk's bytes (`lane.rs`).
            .filter(|&n| n as u64 <= MAX_CHUNK_BYTES)
            .ok_or(AllocError::OutOfMemory { requested })?;
        let want = self.chunk_bytes().max(need);
        let lease = self.left.lease(want);
        if lease < need {
            self.left.give_back(lease);
            return Err(self.refused(requested, true));
        }
        // Near the limit, a smaller chunk than wanted: whole pages of what
        // was granted.
        let size = lease - lease % PAGE_BYTES;
        self.left.give_back(lease - size);
        let Some(chunk) = Chunk::new(size, self.huge_pages) else {
            self.left.give_back(size);
            return Err(self.refused(requested, false));
        };
        self.reserved.fetch_add(size, Ordering::Relaxed);
        self.made.fetch_add(1, Ordering::Relaxed);
        Ok(chunk)
    }

    fn refused(&self, requested: usize, by_limit: bool) -> AllocError {
        match self.limit {
            Some(limit) if by_limit => AllocError::LimitExceeded { requested, limit },
            _ => AllocError::OutOfMemory { requested },
        }
    }

    /// Makes idle ordinary chunks until the arena holds `needed` bytes (at
    /// a reset, for the next frame), or the limit or the system says no.
    /// Returns how many it made.
    pub(super) fn provision(&self, needed: usize) -> usize {
        let mut made = 0;
        while self.reserved() < needed {
            let Ok(chunk) = self.make(Layout::new::<u8>()) else {
                break;
            };
            self.lock_idle().ordinary.push(chunk);
            made += 1;
        }
        made
    }

    /// The idle chunks, locked (a poisoned lock is taken anyway: no user
    /// code runs under it).
    fn lock_idle(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes of the idle chunks.
    pub(crate) fn idle_bytes(&self) -> usize {
        self.lock_idle().all().map(Chunk::bytes).sum()
    }

    /// The cache for one reset: its lock is taken once for every lane's
    /// give-back, the sort and the trim, instead of once for each (a lock
    /// and an unlock cost two atomic read-modify-writes; a reset of an
    /// arena that one thread used took five of them, which was most of its
    /// cost). `&mut` of the arena (or of the ring whose slots share the
    /// cache) is held meanwhile, so no lane waits for it.
    pub(super) fn at_reset(&self) -> AtReset<'_> {
        AtReset {
            cache: self,
            idle: self.lock_idle(),
            large_back: false,
        }
    }

    /// Gives idle chunks back to the system, large ones first (largest
    /// first), while what stays is at least `keep` bytes. Returns the bytes
    /// given back.
    pub(crate) fn trim(&self, keep: usize) -> usize {
        self.trim_idle(&mut self.lock_idle(), keep)
    }

    /// [`trim`](Self::trim) with the lock held.
    fn trim_idle(&self, idle: &mut Idle, keep: usize) -> usize {
        let mut reserved = self.reserved();
        let mut freed = 0;
        // Large ones from the largest, then ordinary ones.
        idle.large.reverse();
        for list in [&mut idle.large, &mut idle.ordinary] {
            while let Some(last) = list.last() {
                let bytes = last.bytes();
                if reserved - bytes < keep {
                    break;
                }
                let chunk = list.pop().expect("the chunk just looked at");
                unpoison_chunk(&chunk);
                drop(chunk);
                reserved -= bytes;
                freed += bytes;
            }
        }
        idle.large.reverse();
        if freed > 0 {
            self.reserved.fetch_sub(freed, Ordering::Relaxed);
            self.left.give_back(freed);
        }
        freed
    }

    /// The cache's invariants, given the chunk bytes all lanes hold (see the
    /// [module docs](self)); panics naming the values when one is broken.
    /// `in_lanes` is a lower bound when `all_lanes` is false (an arena that
    /// shares the cache sees its own lanes only).
    pub(crate) fn check_invariants(&self, in_lanes: usize, sorted: bool, all_lanes: bool) {
        let idle = self.lock_idle();
        let mut idle_bytes = 0;
        for chunk in idle.all() {
            chunk.check();
            idle_bytes += chunk.bytes();
        }
        for chunk in &idle.ordinary {
            let bytes = chunk.bytes();
            assert!(
                bytes <= self.chunk_bytes(),
                "arena: an idle ordinary chunk holds {bytes} bytes, more than {}",
                self.chunk_bytes()
            );
        }
        if sorted {
            assert!(
                idle.large
                    .is_sorted_by_key(|c| std::cmp::Reverse(c.bytes())),
                "arena: idle large chunks are not sorted largest first"
            );
        }
        let reserved = self.reserved();
        assert!(
            reserved == idle_bytes + in_lanes || (!all_lanes && reserved > idle_bytes + in_lanes),
            "arena: reserved says {reserved} bytes, but idle chunks hold {idle_bytes} and lanes \
             {in_lanes}"
        );
    }

    /// With a limit, the budget left plus `reserved` is the limit (`&mut`:
    /// no lease in flight).
    pub(super) fn check_limit(&mut self) {
        let reserved = self.reserved();
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
            .all()
        {
            unpoison_chunk(chunk);
        }
    }
}

/// Poisons a chunk's used bytes before its reset (the `asan` feature): a
/// block read after the arena's reset is then reported.
#[cfg_attr(not(feature = "asan"), allow(unused_variables))]
fn poison_chunk(chunk: &Chunk) {
    #[cfg(feature = "asan")]
    // SAFETY: the caller holds the chunk exclusively (a reset's `&mut`), so
    // none of its blocks is borrowed; the range is inside the chunk's
    // block, which the chunk still holds. Ranges are unpoisoned when handed
    // out again.
    unsafe {
        let (start, used) = chunk.used_range();
        poison::poison(start, used);
    }
}

/// Unpoisons a whole reset chunk before it goes back to the system: it
/// leaves clean.
#[cfg_attr(not(feature = "asan"), allow(unused_variables))]
fn unpoison_chunk(chunk: &Chunk) {
    #[cfg(feature = "asan")]
    // SAFETY: the range is the chunk's whole block, which it still holds;
    // the caller holds it exclusively and is about to drop it.
    unsafe {
        let (start, _) = chunk.used_range();
        poison::unpoison(start, chunk.bytes());
    }
}

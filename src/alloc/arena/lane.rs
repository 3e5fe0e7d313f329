//! One thread's part of an [`Arena`](super::Arena): a `bumpalo::Bump` that
//! takes a new chunk only with budget leased from the arena's byte limit.
//!
//! Invariants (checked by [`ArenaLane::check_invariants`] after each new
//! chunk and each reset):
//! - the `Bump`'s allocation limit equals the bytes it holds, so every new
//!   chunk goes through [`ArenaLane::grow`] and its lease;
//! - the lane's `reserved` counter equals the bytes the `Bump` holds.
//!
//! And over all lanes ([`ChunkBudget::check_invariants`]): with a limit, the
//! budget left plus the bytes all lanes hold equals the limit.

use std::alloc::Layout;
use std::ptr::NonNull;

use bumpalo::Bump;

use crate::alloc::AllocError;
use crate::alloc::lanes::{Budget, LaneCounter};
use crate::alloc::poison;

/// Spare bytes leased on top of the chunk a lane is expected to ask for, so
/// the lease covers bumpalo's rounding of chunk sizes.
const LEASE_SLACK_BYTES: usize = 16 * 1024;

/// One thread's bump allocator.
pub(super) struct ArenaLane {
    /// Its allocation limit is always the bytes it holds, so every new chunk
    /// goes through [`ArenaLane::grow`].
    bump: Bump,
}

/// A lane's counters, readable from any thread.
#[derive(Default)]
pub(super) struct LaneStats {
    pub(super) allocations: LaneCounter,
    pub(super) frees: LaneCounter,
    /// Requested bytes since the last reset.
    pub(super) bytes: LaneCounter,
    /// Chunk bytes the lane's `Bump` holds.
    pub(super) reserved: LaneCounter,
}

impl LaneStats {
    /// Counts `allocations` more, of `bytes` in all. Only the lane's thread
    /// calls it (single writer).
    #[inline(always)]
    pub(super) fn add(&self, allocations: u64, bytes: u64) {
        self.allocations.add(allocations);
        self.bytes.add(bytes);
    }
}

/// The arena's byte limit, and the bytes lanes may still lease under it.
#[derive(Debug)]
pub(super) struct ChunkBudget {
    /// The byte limit over all lanes' chunks, if any.
    limit: Option<usize>,
    /// Bytes lanes may still lease: `limit` (or `usize::MAX`) minus the sum of
    /// the lanes' chunk bytes, minus leases in flight.
    left: Budget,
}

impl ChunkBudget {
    pub(super) fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            left: Budget::new(limit.unwrap_or(usize::MAX)),
        }
    }

    pub(super) fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// After a reset: the lanes together hold `held_bytes`.
    pub(super) fn reset(&mut self, held_bytes: usize) {
        self.left.set(
            self.limit
                .map_or(usize::MAX, |l| l.saturating_sub(held_bytes)),
        );
    }

    /// With a limit, the bytes left plus `held_bytes` (all lanes' chunks)
    /// make the limit. Without one there is nothing to check: the budget is
    /// `usize::MAX` minus what lanes took since the last reset.
    pub(super) fn check_invariants(&mut self, held_bytes: usize) {
        if let Some(limit) = self.limit {
            let left = self.left.left();
            assert_eq!(
                left + held_bytes,
                limit,
                "arena budget: {left} bytes left + {held_bytes} held by lanes != limit {limit}"
            );
        }
    }
}

impl ArenaLane {
    pub(super) fn new() -> Self {
        let bump = Bump::new();
        // No chunk yet, and none without a lease.
        bump.set_allocation_limit(Some(0));
        Self { bump }
    }

    /// Whether the lane holds no chunk (it has never grown, or only ever
    /// failed to).
    pub(super) fn holds_nothing(&self) -> bool {
        self.bump.allocated_bytes() == 0
    }

    /// Bump-allocates `layout` in the current chunk: a subtraction, a mask and
    /// a compare (bumpalo's fast path) plus two counter updates. `None` when
    /// the chunk is full: [`grow`](Self::grow) then.
    #[inline(always)]
    pub(super) fn try_bump(&self, layout: Layout, stats: &LaneStats) -> Option<NonNull<u8>> {
        let ptr = self.bump.try_alloc_layout(layout).ok()?;
        Some(self.count(ptr, layout, stats))
    }

    /// [`try_bump`](Self::try_bump) without the counters: the caller counts
    /// (a per-thread handle keeps its own counts until it drops).
    #[inline(always)]
    pub(super) fn try_bump_uncounted(&self, layout: Layout) -> Option<NonNull<u8>> {
        let ptr = self.bump.try_alloc_layout(layout).ok()?;
        // SAFETY: `ptr..ptr + size` is the block just handed out, inside one
        // of this lane's chunks.
        unsafe { poison::unpoison(ptr.as_ptr(), layout.size()) };
        Some(ptr)
    }

    /// Counts a block handed out and unpoisons it.
    #[inline(always)]
    fn count(&self, ptr: NonNull<u8>, layout: Layout, stats: &LaneStats) -> NonNull<u8> {
        // SAFETY: `ptr..ptr + size` is the block just handed out, inside one
        // of this lane's chunks.
        unsafe { poison::unpoison(ptr.as_ptr(), layout.size()) };
        stats.add(1, layout.size() as u64);
        ptr
    }

    /// The current chunk is full: lease budget for a new one and allocate.
    #[cold]
    #[inline(never)]
    pub(super) fn grow(
        &self,
        layout: Layout,
        stats: &LaneStats,
        budget: &ChunkBudget,
    ) -> Result<NonNull<u8>, AllocError> {
        let held = self.bump.allocated_bytes();
        // bumpalo's next chunk is at most twice what it holds, or the request.
        let want = held
            .saturating_mul(2)
            .max(layout.size().saturating_add(layout.align()))
            .saturating_add(LEASE_SLACK_BYTES);
        let lease = budget.left.lease(want);
        self.bump.set_allocation_limit(Some(held + lease));
        let result = self.bump.try_alloc_layout(layout);
        let now = self.bump.allocated_bytes();
        self.bump.set_allocation_limit(Some(now));
        budget.left.give_back(lease - (now - held));
        stats.reserved.set(now as u64);
        if cfg!(debug_assertions) {
            self.check_invariants(stats);
        }
        match result {
            Ok(ptr) => Ok(self.count(ptr, layout, stats)),
            Err(_) => Err(match budget.limit {
                Some(limit) if lease < want => AllocError::LimitExceeded {
                    requested: layout.size(),
                    limit,
                },
                _ => AllocError::OutOfMemory {
                    requested: layout.size(),
                },
            }),
        }
    }

    /// `allocator_api2`'s `grow` through bumpalo's: in place when `ptr` is
    /// this lane's latest block (bumpalo extends it and moves the contents
    /// down), else a new block in the current chunk and a copy. `None` when
    /// the chunk has no room: the caller then grows the usual way.
    ///
    /// # Safety
    ///
    /// `allocator_api2::alloc::Allocator::grow`'s contract:
    /// - `ptr` is a live block of `old_layout` from the arena that owns this
    ///   lane;
    /// - `new_layout.size() >= old_layout.size()`.
    pub(super) unsafe fn grow_block(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
        stats: &LaneStats,
    ) -> Option<NonNull<[u8]>> {
        // SAFETY: the caller's promises are `grow`'s contract. bumpalo only
        // moves the block in place when `ptr` is its own latest block; for any
        // other block (another lane's, or this lane's older one) it allocates
        // a new one and copies, which is valid for any live block.
        let grown = unsafe {
            allocator_api2::alloc::Allocator::grow(&&self.bump, ptr, old_layout, new_layout)
        };
        let block = grown.ok()?;
        // SAFETY: the block is inside one of this lane's chunks.
        unsafe { poison::unpoison(block.as_ptr().cast(), new_layout.size()) };
        // In place, bumpalo bumped down from the old block's start and moved
        // the contents there, so the new block overlaps the old one and only
        // the bytes below the old start are new. Otherwise it made a fresh
        // block (which cannot overlap the live old one) and copied: an
        // allocation, and the old block a free.
        let (start, old_start) = (block.cast::<u8>().addr().get(), ptr.addr().get());
        if start <= old_start && old_start < start + new_layout.size() {
            stats.add(0, (old_start - start) as u64);
        } else {
            stats.add(1, new_layout.size() as u64);
            stats.frees.add(1);
        }
        Some(block)
    }

    /// Whether the lane holds no chunk bytes.
    pub(super) fn held_bytes(&self) -> usize {
        self.bump.allocated_bytes()
    }

    /// Releases every block, keeping the largest chunk. Returns the chunk
    /// bytes still held.
    pub(super) fn reset(&mut self, stats: &mut LaneStats) -> usize {
        #[cfg(feature = "asan")]
        // SAFETY: `&mut self` means no block of this lane is borrowed; the
        // current chunk (the first yielded) is kept by `reset` and stays
        // poisoned until handed out again.
        unsafe {
            if let Some((ptr, len)) = self.bump.iter_allocated_chunks_raw().next() {
                poison::poison(ptr, len);
            }
        }
        self.bump.reset();
        let held = self.bump.allocated_bytes();
        self.bump.set_allocation_limit(Some(held));
        stats.reserved.set(held as u64);
        stats.bytes.set(0);
        held
    }

    /// Releases every block and every chunk (the lane of a thread that has
    /// exited). Returns the chunk bytes still held: none.
    pub(super) fn release_all(&mut self, stats: &mut LaneStats) -> usize {
        #[cfg(feature = "asan")]
        // SAFETY: `&mut self`: no block of this lane is borrowed. The chunks
        // go back to the system allocator clean.
        unsafe {
            for (ptr, len) in self.bump.iter_allocated_chunks_raw() {
                poison::unpoison(ptr, len);
            }
        }
        *self = Self::new();
        stats.reserved.set(0);
        stats.bytes.set(0);
        0
    }

    /// Lifts the lease limit, breaking an invariant on purpose.
    #[cfg(test)]
    pub(super) fn break_lease_limit_for_test(&self) {
        self.bump.set_allocation_limit(None);
    }

    /// The lane's invariants (see the module docs); panics naming the values
    /// when one is broken.
    pub(super) fn check_invariants(&self, stats: &LaneStats) {
        let held = self.bump.allocated_bytes();
        let limit = self.bump.allocation_limit();
        assert_eq!(
            limit,
            Some(held),
            "arena lane: allocation limit {limit:?} is not the {held} bytes held, so a chunk \
             could be taken without a lease"
        );
        let reserved = stats.reserved.get();
        assert_eq!(
            reserved, held as u64,
            "arena lane: the reserved counter says {reserved} bytes but the Bump holds {held}"
        );
    }
}

//! One thread's part of an [`Arena`](super::Arena): the chunk it bumps, the
//! chunks it filled this frame, and its counters.
//!
//! The lane owns no memory across frames: it takes chunks from the arena's
//! [`ChunkCache`] as it needs room and gives every one back at the reset
//! (`chunks.rs` says why).
//!
//! Invariants (checked by [`ArenaLane::check_invariants`] after each new
//! chunk and in the arena's checks):
//! - `current` is a chunk, or the empty chunk while the lane holds none;
//! - every chunk in `full` is a chunk (none empty), and every chunk keeps
//!   its own invariant ([`Chunk::check`](super::chunk::Chunk::check));
//! - `taken` is the bytes of `current` and `full` together;
//! - a *detached* lane (the stand-in of a handle on a thread without a lane
//!   id, `local.rs`) never holds a chunk.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;

use super::chunk::{Chunk, MIN_ALIGN};
use super::chunks::{AtReset, ChunkCache, MAX_CHUNK_BYTES};
use crate::alloc::AllocError;
use crate::alloc::lanes::LaneCounter;
use crate::alloc::poison;

/// One thread's bump allocator.
///
/// `current` and `full` are `UnsafeCell`s because a lane is reached through
/// `&ArenaLane` (see `lanes/`: only by the thread holding its id, or under
/// the fallback's lock). Every borrow of them is made inside a method of this
/// file, lasts for one chunk call or one `Vec` call that runs no user code
/// and no other lane method, and so never overlaps another.
pub(super) struct ArenaLane {
    /// The chunk being bumped; the empty chunk before the lane's first
    /// chunk of the frame.
    current: UnsafeCell<Chunk>,
    /// This frame's chunks the lane filled before `current`: their blocks
    /// are live until the reset.
    full: UnsafeCell<Vec<Chunk>>,
    /// Chunk bytes in `current` and `full`.
    taken: Cell<usize>,
    /// What per-thread handles ([`ArenaLocal`](super::ArenaLocal)) counted
    /// on their fast path and have not yet folded into the lane's
    /// [`LaneStats`]: plain cells, since only the lane's thread touches them.
    /// Kept in the lane rather than in each handle so that a handle is a few
    /// pointers (bevy's `for_each_init` moves it for every item).
    pending: Pending,
    /// Where per-thread handles on this lane find the arena and the lane's
    /// counters, written by every [`Arena::local`](super::Arena::local) on
    /// the lane's thread: a handle is then one pointer, to the lane
    /// (`local.rs` says why that matters, and why these stay right).
    home: Cell<LaneHome>,
    /// A stand-in for a thread without a lane id (`local.rs`): it holds no
    /// chunk, so every non-zero allocation fails its fast path, and the
    /// handle's slow path goes through `&Arena`.
    detached: bool,
}

/// The arena a lane belongs to and the lane's counters (for a detached
/// stand-in, the fallback's), as the last `Arena::local` on the lane's
/// thread saw them: addresses only, read by that thread's handles
/// (`local.rs`). Null before the lane's first handle.
#[derive(Clone, Copy)]
pub(super) struct LaneHome {
    pub(super) arena: *const super::Arena,
    pub(super) stats: *const LaneStats,
}

// SAFETY: `home`'s pointers are the only part of a lane that is not `Send`
// by itself. They are addresses, dereferenced only by a handle on the thread
// that holds the lane (`local.rs`), after that thread's `Arena::local` wrote
// them. A thread that inherits the lane (its id handed over, `lanes/ids.rs`)
// writes them again in its own `Arena::local` before any handle of its reads
// them, so moving a lane to another thread moves no live borrow.
unsafe impl Send for ArenaLane {}

/// Counts not yet in a lane's [`LaneStats`] (see `ArenaLane::pending`).
///
/// The fast path adds to one word: the allocations in its top
/// [`ALLOCATION_BITS`], the bytes below. One store an allocation instead of
/// two: in a loop that also writes its blocks and keeps their pointers,
/// stores are what bounds the loop (`frame_1000x64B/framemem_arena_local`,
/// the README). Why neither field can spill into the other:
/// - **bytes**: every lane folds its pending counts when it takes a new
///   chunk ([`ArenaLane::grow`]), so the pending bytes are blocks of one
///   chunk, and no chunk asked for is larger than [`MAX_CHUNK_BYTES`]
///   (`chunks.rs` refuses one), half of what the bytes field holds;
/// - **allocations**: when the field wraps, the add carries out of the
///   word (the bytes field cannot carry into it, above), and the carry is
///   counted in `wraps`.
#[derive(Default)]
struct Pending {
    packed: Cell<u64>,
    /// How many times the allocations field wrapped (each time,
    /// `1 << ALLOCATION_BITS` allocations).
    wraps: Cell<u64>,
    frees: Cell<u64>,
}

/// Bits of [`Pending::packed`] that count allocations (the top ones).
const ALLOCATION_BITS: u32 = 20;
/// Bits of [`Pending::packed`] that count bytes (the rest).
const BYTES_BITS: u32 = u64::BITS - ALLOCATION_BITS;
/// One allocation in [`Pending::packed`].
const ONE_ALLOCATION: u64 = 1 << BYTES_BITS;
/// The bytes field of [`Pending::packed`].
const BYTES_MASK: u64 = ONE_ALLOCATION - 1;
// The pending bytes, blocks of one chunk, fit in the bytes field, even if
// a chunk were twice the largest asked for.
const _: () = assert!(2 * MAX_CHUNK_BYTES <= BYTES_MASK);

impl Pending {
    /// `(allocations, bytes)`.
    fn get(&self) -> (u64, u64) {
        let packed = self.packed.get();
        let allocations = (packed >> BYTES_BITS) + (self.wraps.get() << ALLOCATION_BITS);
        (allocations, packed & BYTES_MASK)
    }

    /// `(allocations, bytes, frees)`, zeroing them.
    fn take(&self) -> (u64, u64, u64) {
        let counts = self.get();
        self.packed.set(0);
        self.wraps.set(0);
        (counts.0, counts.1, self.frees.take())
    }
}

/// A lane's counters, readable from any thread.
#[derive(Default)]
pub(super) struct LaneStats {
    pub(super) allocations: LaneCounter,
    pub(super) frees: LaneCounter,
    /// Requested bytes since the last reset.
    pub(super) bytes: LaneCounter,
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

impl ArenaLane {
    pub(super) fn new() -> Self {
        Self {
            current: UnsafeCell::new(Chunk::empty()),
            full: UnsafeCell::new(Vec::new()),
            taken: Cell::new(0),
            pending: Pending::default(),
            home: Cell::new(LaneHome {
                arena: std::ptr::null(),
                stats: std::ptr::null(),
            }),
            detached: false,
        }
    }

    /// Records where this lane's handles find the arena and the counters
    /// (see [`LaneHome`]). Only the lane's thread calls it, or the owner of
    /// a detached stand-in.
    #[inline(always)]
    pub(super) fn set_home(&self, arena: &super::Arena, stats: &LaneStats) {
        self.home.set(LaneHome { arena, stats });
    }

    /// What the last [`set_home`](Self::set_home) recorded.
    #[inline(always)]
    pub(super) fn home(&self) -> LaneHome {
        self.home.get()
    }

    /// A lane that never takes a chunk, for a handle on a thread without a
    /// lane id: its fast path fails for every non-zero size.
    pub(super) fn detached() -> Self {
        Self {
            detached: true,
            ..Self::new()
        }
    }

    /// Whether this is a detached stand-in (see [`detached`](Self::detached)).
    #[inline(always)]
    pub(super) fn is_detached(&self) -> bool {
        self.detached
    }

    /// Counts one allocation of `bytes` made on a handle's fast path: one
    /// add to one word (see [`Pending`]).
    #[inline(always)]
    pub(super) fn count_pending(&self, bytes: usize) {
        let p = &self.pending;
        // `bytes` is a block of the lane's current chunk (or 0), so below
        // `BYTES_MASK`: `ONE_ALLOCATION + bytes` does not overflow.
        let (sum, wrapped) = p
            .packed
            .get()
            .overflowing_add(ONE_ALLOCATION + bytes as u64);
        p.packed.set(sum);
        if wrapped {
            Self::count_wrap(p);
        }
    }

    /// The allocations field of the pending word wrapped (once every
    /// `1 << ALLOCATION_BITS` allocations without a fold).
    #[cold]
    #[inline(never)]
    fn count_wrap(p: &Pending) {
        p.wraps.set(p.wraps.get() + 1);
    }

    /// Counts one `free` made through a handle.
    #[inline(always)]
    pub(super) fn count_pending_free(&self) {
        let p = &self.pending;
        p.frees.set(p.frees.get() + 1);
    }

    /// The counts not yet folded: `(allocations, bytes)`.
    pub(super) fn pending(&self) -> (u64, u64) {
        self.pending.get()
    }

    /// Folds the pending counts into `stats`. Only the lane's thread calls
    /// it (single writer of the lane's counters), or `&mut` at a reset, or
    /// the holder of the fallback's lock for a detached lane's.
    pub(super) fn fold_pending(&self, stats: &LaneStats) {
        let (allocations, bytes, frees) = self.pending.take();
        if allocations | bytes | frees != 0 {
            stats.add(allocations, bytes);
            stats.frees.add(frees);
        }
    }

    /// The chunk being bumped, for one chunk call.
    #[inline(always)]
    fn current(&self) -> &Chunk {
        // SAFETY: see the struct docs: only this lane's thread reaches it,
        // and `current` is replaced only in `grow` (through `&mut self`
        // methods otherwise), which holds no `&Chunk` from here meanwhile.
        unsafe { &*self.current.get() }
    }

    /// Whether the lane holds no chunk this frame.
    pub(super) fn holds_nothing(&self) -> bool {
        self.taken.get() == 0
    }

    /// Chunk bytes the lane holds this frame.
    pub(super) fn held_bytes(&self) -> usize {
        self.taken.get()
    }

    /// Bump-allocates `layout` in the current chunk (the padding, two
    /// compares, a store; `chunk.rs`) plus the counter update. `None` when
    /// the chunk is full: [`grow`](Self::grow) then.
    #[inline(always)]
    pub(super) fn try_bump(&self, layout: Layout, stats: &LaneStats) -> Option<NonNull<u8>> {
        let ptr = self.current().try_alloc(layout)?;
        Some(self.count(ptr, layout, stats))
    }

    /// [`try_bump`](Self::try_bump) without the counters: the caller counts
    /// (a per-thread handle keeps its own counts until it drops).
    #[inline(always)]
    pub(super) fn try_bump_uncounted(&self, layout: Layout) -> Option<NonNull<u8>> {
        let ptr = self.current().try_alloc(layout)?;
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

    /// The current chunk is full (or `layout` needs more alignment than the
    /// fast path gives: then the current chunk first): keep it with the
    /// frame's full chunks, take another from the cache (or a new one), and
    /// allocate there. Folds the pending counts first (`stats` are the
    /// lane's).
    #[cold]
    #[inline(never)]
    pub(super) fn grow(
        &self,
        layout: Layout,
        stats: &LaneStats,
        cache: &ChunkCache,
    ) -> Result<NonNull<u8>, AllocError> {
        debug_assert!(!self.detached, "a detached arena lane never takes a chunk");
        // The pending bytes are then blocks of the new chunk only (see
        // `Pending`). The lane's thread calls this: the single writer.
        self.fold_pending(stats);
        if layout.align() > MIN_ALIGN {
            // The fast path refuses these (`chunk.rs`): the current chunk
            // may still have room, padding first.
            if let Some(ptr) = self.current().try_alloc_aligned(layout) {
                return Ok(self.count(ptr, layout, stats));
            }
        }
        loop {
            let (chunk, _made) = cache.take(layout)?;
            self.taken.set(self.taken.get() + chunk.bytes());
            // SAFETY: see the struct docs; no `&Chunk` from `current()` is
            // alive (this is the lane's only method running on it).
            let old = unsafe { std::mem::replace(&mut *self.current.get(), chunk) };
            if old.bytes() > 0 {
                // SAFETY: as above, for `full`. `push` may allocate, through
                // the global allocator, never through this arena.
                unsafe { (*self.full.get()).push(old) };
            }
            if cfg!(debug_assertions) {
                self.check_invariants();
            }
            // A chunk that `fits` the layout serves it (`chunks.rs`): the
            // loop is a guard, never taken twice.
            if let Some(ptr) = self.current().try_alloc_aligned(layout) {
                return Ok(self.count(ptr, layout, stats));
            }
        }
    }

    /// `allocator_api2`'s `grow` in place: when `ptr` is this lane's latest
    /// block, aligned for `new_layout`, and the chunk has room, the block
    /// grows where it is (the chunk's next free byte moves; nothing is
    /// copied). `None` otherwise: the caller then moves the block the usual
    /// way (a new block, a copy, and the old one a free).
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
        if !self.current().grow_in_place(ptr, old_layout, new_layout) {
            return None;
        }
        // SAFETY: `ptr` ends where the chunk's free bytes began (the caller's
        // promise: a live block of this arena), so `ptr..ptr + new size` is
        // the old block and the bytes just taken, all in the current chunk.
        unsafe { poison::unpoison(ptr.as_ptr(), new_layout.size()) };
        stats.add(0, (new_layout.size() - old_layout.size()) as u64);
        Some(NonNull::slice_from_raw_parts(ptr, new_layout.size()))
    }

    /// Hands every chunk of the frame back to the cache and zeroes the frame's
    /// byte count. Returns the chunk bytes the lane held.
    pub(super) fn reset(&mut self, stats: &mut LaneStats, cache: &mut AtReset<'_>) -> usize {
        debug_assert_eq!(
            self.pending(),
            (0, 0),
            "arena lane: counts pending at the reset (fold them first)"
        );
        let taken = self.taken.replace(0);
        let current = std::mem::replace(self.current.get_mut(), Chunk::empty());
        // Through `full`, which keeps its capacity: no heap traffic a frame.
        let chunks = self.full.get_mut();
        if current.bytes() > 0 {
            chunks.push(current);
        }
        cache.give_back(chunks);
        stats.bytes.set(0);
        taken
    }

    /// Moves the current chunk's next free byte past its end, breaking an
    /// invariant on purpose.
    #[cfg(test)]
    pub(super) fn break_chunk_for_test(&self) {
        self.current().break_for_test();
    }

    /// The lane's invariants (see the module docs); panics naming the values
    /// when one is broken.
    pub(super) fn check_invariants(&self) {
        let current = self.current();
        current.check();
        let mut held = current.bytes();
        // SAFETY: see the struct docs; a shared borrow for this loop only.
        for chunk in unsafe { &*self.full.get() } {
            chunk.check();
            assert!(
                chunk.bytes() > 0,
                "arena lane: an empty chunk among its full ones"
            );
            held += chunk.bytes();
        }
        let taken = self.taken.get();
        assert!(
            !self.detached || taken == 0,
            "arena lane: a detached stand-in holds {taken} chunk bytes"
        );
        assert_eq!(
            taken, held,
            "arena lane: counts {taken} chunk bytes taken, but its chunks hold {held}"
        );
    }
}

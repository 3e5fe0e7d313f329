//! [`Chunk`]: one block of memory from the system, which a lane bumps
//! *upward*. The arena's bump allocation, and its unsafe core.
//!
//! Why its own, and not a `bumpalo::Bump` (the arena's engine until issue
//! 19): bumpalo bumps down, so each block lies below the one allocated
//! before it, and a frame that reads its blocks in the order it made them
//! (an entity's trail after the previous entity's) walks memory backwards
//! from block to block. Out of the last-level cache that read took 7.8 ms
//! against 6.3-6.6 ms for the same blocks laid out upward
//! (`cargo bench -p framemem --bench read_order`), and it was what kept the
//! arena behind a frame `Vec` at 200,000 entities (`--compare`). Upward,
//! a block's growth in place (a `Vec` at the end of the chunk) also needs
//! no copy. The arena never wanted the rest of bumpalo: a chunk is one
//! block, never a list, and the cache (`chunks.rs`) owns the chunks.
//!
//! Why it is sound:
//! - a chunk owns its block (`Chunk::new`, freed in `drop`), and every
//!   pointer it hands out is derived from the block's, with its provenance;
//! - blocks handed out are disjoint: each lies in `[next, next + padding +
//!   size)`, checked against the end before `next` moves past it, and
//!   `next` only moves up until [`Chunk::reset`], which takes `&mut self`
//!   (the arena's reset, when no block is borrowed);
//! - `next` is a `Cell`: a chunk is used by one thread at a time (a lane's
//!   thread, or under the fallback's lock), and no method runs user code.
//!
//! Invariants ([`Chunk::check`]): `start <= next <= start + bytes`, `next`
//! is a multiple of [`MIN_ALIGN`], and the empty chunk (no block, 0 bytes)
//! hands out zero-size blocks only.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::NonNull;

/// The alignment of every chunk's block (at least): what `fits` in
/// `chunks.rs` assumes.
pub(super) const CHUNK_ALIGN: usize = 16;

/// The size and alignment of a huge page (x86-64 and aarch64 Linux with
/// 4 KiB base pages): chunks of an arena that asks for huge pages
/// ([`Arena::with_huge_pages`](super::Arena::with_huge_pages)) are aligned
/// to it when they are at least this big.
pub(super) const HUGE_PAGE_BYTES: usize = 2 << 20;

/// What `next` is always a multiple of (see [`Chunk::try_alloc`]).
pub(super) const MIN_ALIGN: usize = 8;

/// The address of the empty chunk's dangling pointer: zero-size blocks of
/// any alignment up to a page succeed there, as in a real chunk, without
/// taking one.
const EMPTY_ADDR: usize = 4096;

/// One block of memory, bumped upward. See the [module docs](self).
pub(super) struct Chunk {
    /// The block's start (from the global allocator, with
    /// `Layout(bytes, align)`), or a dangling pointer for the empty chunk.
    start: NonNull<u8>,
    /// The block's size; 0 for the empty chunk.
    bytes: usize,
    /// The block's alignment: [`CHUNK_ALIGN`], or [`HUGE_PAGE_BYTES`] for
    /// a chunk that asked for huge pages (`drop` frees it with the layout
    /// it was allocated with).
    align: usize,
    /// `start`'s address plus `bytes`: one load on the fast path.
    end: usize,
    /// Where the next block may start, with `start`'s provenance:
    /// `start <= next <= start + bytes`.
    next: Cell<NonNull<u8>>,
}

// SAFETY: a chunk owns its block alone (nothing else points into it except
// the blocks it handed out, whose users the arena's borrows order before
// any reset or drop); moving it to another thread moves that ownership.
unsafe impl Send for Chunk {}

impl Chunk {
    /// A chunk with no block: every non-zero size fails.
    pub(super) fn empty() -> Self {
        let start =
            NonNull::new(std::ptr::without_provenance_mut(EMPTY_ADDR)).expect("a non-zero address");
        Self {
            start,
            bytes: 0,
            align: CHUNK_ALIGN,
            end: EMPTY_ADDR,
            next: Cell::new(start),
        }
    }

    /// A chunk of `bytes` (more than 0) from the global allocator, or `None`
    /// when it refuses. With `huge_pages`, a chunk of at least
    /// [`HUGE_PAGE_BYTES`] is aligned to a huge page and the system is
    /// asked to back it with huge pages ([`advise_huge_pages`]).
    pub(super) fn new(bytes: usize, huge_pages: bool) -> Option<Self> {
        debug_assert!(bytes > 0);
        let huge = huge_pages && bytes >= HUGE_PAGE_BYTES;
        let align = if huge { HUGE_PAGE_BYTES } else { CHUNK_ALIGN };
        let layout = Layout::from_size_align(bytes, align).ok()?;
        // SAFETY: `layout` has a non-zero size.
        let start = NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        if huge {
            advise_huge_pages(start, bytes);
        }
        Some(Self {
            start,
            bytes,
            align,
            end: start.addr().get() + bytes,
            next: Cell::new(start),
        })
    }

    /// The block's size (0 for the empty chunk).
    #[inline(always)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes handed out since the last reset, padding included.
    pub(super) fn used(&self) -> usize {
        self.next.get().addr().get() - self.start.addr().get()
    }

    /// A block for `layout` at the next address, or `None` when the chunk has
    /// no room for it or `layout` needs more than [`MIN_ALIGN`] (then
    /// [`try_alloc_aligned`](Self::try_alloc_aligned)).
    ///
    /// `next` is always a multiple of [`MIN_ALIGN`]: sizes are rounded up to
    /// it. So a block aligned to at most `MIN_ALIGN` (almost every one, and
    /// known at compile time for a constant layout) needs no padding, and
    /// the bump is one addition on the loop-carried path (bumpalo's
    /// downward bump is a subtraction and a mask; rounding `next` up for
    /// every block made a frame of 1,000 blocks 20-25% slower).
    #[inline(always)]
    pub(super) fn try_alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        let next = self.next.get();
        // No overflow: a layout's size is at most `isize::MAX`.
        let size = layout.size().next_multiple_of(MIN_ALIGN);
        if layout.align() > MIN_ALIGN || size > self.end - next.addr().get() {
            return None;
        }
        // SAFETY: `size <= end - next`: the block and the new `next` are
        // inside the chunk's block (or, in the empty chunk, `size` is 0 and
        // nothing moves); `add` keeps `next`'s provenance.
        self.next.set(unsafe { next.add(size) });
        Some(next)
    }

    /// [`try_alloc`](Self::try_alloc) for any alignment, padding first:
    /// the lane's slow path, for an alignment above [`MIN_ALIGN`], which
    /// `try_alloc` refuses. Inline, the padding was computed for every block
    /// and selected away on the loop-carried path; a second out-of-line
    /// call beside the slow path's made the callers' loops spill.
    pub(super) fn try_alloc_aligned(&self, layout: Layout) -> Option<NonNull<u8>> {
        let next = self.next.get();
        let addr = next.addr().get();
        let size = layout.size().next_multiple_of(MIN_ALIGN);
        let pad = addr.wrapping_neg() & (layout.align() - 1);
        let room = self.end - addr;
        if pad > room || size > room - pad {
            return None;
        }
        // SAFETY: `pad + size <= room`: the block and the new `next` are
        // inside the chunk's block (in the empty chunk, both are 0); `add`
        // keeps `next`'s provenance.
        unsafe {
            let block = next.add(pad);
            self.next.set(block.add(size));
            Some(block)
        }
    }

    /// Grows `ptr`'s block from `old` to `new` where it is, if it is the
    /// chunk's latest block, is aligned for `new`, and the chunk has room:
    /// then only `next` moves. Returns whether it grew.
    ///
    /// Any `ptr` is safe to pass: only its address is compared, and it is
    /// never dereferenced. A zero-size `old` is never grown: such a block is
    /// a dangling pointer that may share its address with this chunk's
    /// next free byte without being part of the chunk (its provenance is
    /// not the chunk's), so growing it would hand out the chunk's bytes
    /// through a pointer that may not touch them.
    pub(super) fn grow_in_place(&self, ptr: NonNull<u8>, old: Layout, new: Layout) -> bool {
        let next = self.next.get().addr().get();
        let addr = ptr.addr().get();
        let (old_size, new_size) = (
            old.size().next_multiple_of(MIN_ALIGN),
            new.size().next_multiple_of(MIN_ALIGN),
        );
        if old.size() == 0
            || addr < self.start.addr().get()
            || addr.checked_add(old_size) != Some(next)
            || !addr.is_multiple_of(new.align())
            || new_size < old_size
            || new_size - old_size > self.end - next
        {
            return false;
        }
        // SAFETY: `new_size - old_size <= end - next`: the new `next` is
        // inside the block; `add` keeps its provenance.
        self.next
            .set(unsafe { self.next.get().add(new_size - old_size) });
        true
    }

    /// Forgets every block handed out: the next one starts at the block's
    /// start again. `&mut`: no block of this chunk is borrowed.
    pub(super) fn reset(&mut self) {
        *self.next.get_mut() = self.start;
    }

    /// The block's start and the bytes handed out since the reset (for
    /// poisoning).
    #[cfg_attr(not(feature = "asan"), allow(dead_code))]
    pub(super) fn used_range(&self) -> (*const u8, usize) {
        (self.start.as_ptr(), self.used())
    }

    /// The chunk's invariant; panics naming the values when it is broken.
    pub(super) fn check(&self) {
        let (start, next) = (self.start.addr().get(), self.next.get().addr().get());
        assert!(
            self.end == start + self.bytes
                && start <= next
                && next <= self.end
                && next.is_multiple_of(MIN_ALIGN),
            "arena chunk: its next block would start at {next:#x}, outside its {} bytes from \
             {start:#x} or not a multiple of {MIN_ALIGN}",
            self.bytes
        );
    }

    /// Moves `next` past the end, breaking the invariant on purpose.
    #[cfg(test)]
    pub(super) fn break_for_test(&self) {
        let past = self.end + 1;
        self.next.set(
            self.next
                .get()
                .with_addr(past.try_into().expect("non-zero")),
        );
    }
}

/// Asks the system to back the block at `start` (`bytes` long, aligned to
/// [`HUGE_PAGE_BYTES`]) with transparent huge pages, before it is touched:
/// `madvise(MADV_HUGEPAGE)` on Linux, where the common default
/// (`/sys/kernel/mm/transparent_hugepage/enabled` set to `madvise`) gives
/// huge pages only to memory that asks. Advice only: if the system says no
/// (huge pages off, none free), the block keeps its ordinary pages and
/// nothing else changes. Elsewhere, and under Miri (no system calls), it
/// does nothing.
fn advise_huge_pages(start: NonNull<u8>, bytes: usize) {
    #[cfg(all(target_os = "linux", not(miri)))]
    {
        // SAFETY: `[start, start + bytes)` is a block this chunk owns (from
        // the global allocator, not yet handed out), starting on a page
        // boundary (it is aligned to a huge page). `MADV_HUGEPAGE` changes
        // how the kernel backs those pages, never their contents, their
        // protection or whether they are mapped, so no pointer into the
        // block, and no other memory, is affected. The result is ignored:
        // the advice may be refused.
        unsafe {
            libc::madvise(start.as_ptr().cast(), bytes, libc::MADV_HUGEPAGE);
        }
    }
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = (start, bytes);
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if self.bytes > 0 {
            // SAFETY: `start` came from `alloc` with this layout (`bytes`
            // and `align`) in `new`, which checked it, and is freed once,
            // here.
            unsafe {
                std::alloc::dealloc(
                    self.start.as_ptr(),
                    Layout::from_size_align_unchecked(self.bytes, self.align),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_go_up_aligned_and_disjoint_until_the_chunk_is_full() {
        let mut chunk = Chunk::new(256, false).unwrap();
        let a = chunk
            .try_alloc(Layout::from_size_align(3, 1).unwrap())
            .unwrap();
        let b = chunk
            .try_alloc(Layout::from_size_align(8, 8).unwrap())
            .unwrap();
        assert_eq!(
            b.addr().get(),
            a.addr().get() + MIN_ALIGN,
            "sizes round up to 8"
        );
        assert_eq!(chunk.used(), 16);
        // More alignment: the fast path refuses it, the aligned one pads.
        let c1 = Layout::from_size_align(1, 64).unwrap();
        assert!(chunk.try_alloc(c1).is_none());
        let c = chunk.try_alloc_aligned(c1).unwrap();
        assert_eq!(c.addr().get() % 64, 0);
        assert_eq!(chunk.used(), c.addr().get() + 8 - a.addr().get());
        chunk.check();
        // No room: nothing moves.
        let used = chunk.used();
        assert!(
            chunk
                .try_alloc(Layout::from_size_align(250, 1).unwrap())
                .is_none()
        );
        assert!(
            chunk
                .try_alloc(Layout::from_size_align(usize::MAX / 2, 1).unwrap())
                .is_none()
        );
        assert_eq!(chunk.used(), used);
        // The latest block grows in place; an earlier one, or past the end,
        // does not.
        let c40 = Layout::from_size_align(40, 64).unwrap();
        assert!(chunk.grow_in_place(c, c1, c40));
        assert_eq!(chunk.used(), used + 32);
        let b16 = Layout::from_size_align(16, 8).unwrap();
        assert!(!chunk.grow_in_place(b, Layout::new::<u64>(), b16));
        assert!(!chunk.grow_in_place(c, c40, Layout::from_size_align(1000, 64).unwrap()));
        // A zero-size block at the chunk's next free byte is not the
        // chunk's: it does not grow there.
        let zero = chunk.try_alloc(Layout::new::<()>()).unwrap();
        assert!(!chunk.grow_in_place(zero, Layout::new::<()>(), b16));
        // SAFETY: `c` holds 40 bytes now, inside the chunk.
        unsafe { c.as_ptr().write_bytes(7, 40) };
        chunk.check();
        chunk.reset();
        assert_eq!(chunk.used(), 0);
        assert_eq!(chunk.try_alloc(Layout::new::<u8>()), Some(a));
    }

    #[test]
    fn the_empty_chunk_gives_zero_sizes_only() {
        let chunk = Chunk::empty();
        assert!(chunk.try_alloc(Layout::new::<u8>()).is_none());
        for align in [1, 8] {
            let zero = Layout::from_size_align(0, align).unwrap();
            assert_eq!(chunk.try_alloc(zero).unwrap().addr().get() % align, 0);
        }
        for align in [1, 64, 4096] {
            let zero = Layout::from_size_align(0, align).unwrap();
            assert_eq!(
                chunk.try_alloc_aligned(zero).unwrap().addr().get() % align,
                0
            );
        }
        assert!(chunk.try_alloc_aligned(Layout::new::<u8>()).is_none());
        chunk.check();
    }
}

//! The rules every strategy's `allocator_api2::alloc::Allocator` impl
//! follows, and the helpers they share.
//!
//! - **A shrink never needs memory.** It keeps the block where it is (the
//!   arena and the slab: the block already holds the smaller size), or asks
//!   the system allocator to shrink it in place (`realloc`, the heap and the
//!   slab's large blocks), and keeps the block as it was if that fails. Only a
//!   shrink that asks for *more* alignment than the block has moves it, and
//!   may then fail with an error (never an abort).
//! - **Zero sizes never reach the strategy**, as with std's `Global`:
//!   `allocate` of zero bytes returns a dangling pointer, `deallocate` of zero
//!   bytes does nothing, and a shrink to zero bytes frees the block. None of
//!   them is counted, so a `Vec` that shrinks to nothing (and then never
//!   frees its dangling pointer) leaves `allocations` equal to `frees`.
//!   Through framemem's own [`AllocStrategy`](super::AllocStrategy) trait, zero sizes
//!   are counted, as [`Stats::allocations`](super::Stats::allocations) says.
//! - **A block that moves** is a new allocation and a free of the old one in
//!   the counts, as allocator_api2's default `grow` makes it.

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::dangling;

/// A strategy's own `alloc` and `free`, which its allocator_api2 impl wraps:
/// framemem's [`AllocStrategy`](super::AllocStrategy), or a per-thread handle's
/// methods with the same contract ([`ArenaLocal`](super::ArenaLocal)).
pub(crate) trait BlockSource {
    /// As [`AllocStrategy::alloc`](super::AllocStrategy::alloc).
    fn alloc_block(&self, layout: Layout) -> Result<NonNull<u8>, super::AllocError>;

    /// As [`AllocStrategy::free`](super::AllocStrategy::free).
    ///
    /// # Safety
    ///
    /// As [`AllocStrategy::free`](super::AllocStrategy::free):
    /// - `ptr` came from [`alloc_block`](Self::alloc_block) on this source,
    ///   with this `layout`;
    /// - it has not been freed (or reset) since, and is not used after.
    unsafe fn free_block(&self, ptr: NonNull<u8>, layout: Layout);
}

impl<A: super::AllocStrategy + ?Sized> BlockSource for A {
    #[inline(always)]
    fn alloc_block(&self, layout: Layout) -> Result<NonNull<u8>, super::AllocError> {
        self.alloc(layout)
    }

    #[inline(always)]
    unsafe fn free_block(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's promise is `free`'s contract.
        unsafe { self.free(ptr, layout) }
    }
}

/// allocator_api2's `allocate` on `source`: a zero size gets a dangling
/// block and never reaches it (nor its counts); an error is `AllocError`.
#[inline(always)]
pub(crate) fn allocate<S: BlockSource + ?Sized>(
    source: &S,
    layout: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    if layout.size() == 0 {
        return Ok(empty_block(layout));
    }
    let ptr = source.alloc_block(layout).map_err(|_| AllocError)?;
    Ok(block(ptr, layout.size()))
}

/// allocator_api2's `deallocate` on `source`: a zero size was never
/// allocated there (see [`allocate`]), so it is not passed on.
///
/// # Safety
///
/// allocator_api2's `deallocate` contract: `ptr` is a live block from
/// [`allocate`] (or a resize) on this source, `layout` fits it, and it is not
/// used after; the source's `free_block` takes such a layout (the arena's
/// frees nothing, the slab finds the block's real class or size itself).
#[inline(always)]
pub(crate) unsafe fn deallocate<S: BlockSource + ?Sized>(
    source: &S,
    ptr: NonNull<u8>,
    layout: Layout,
) {
    if layout.size() != 0 {
        // SAFETY: a non-zero size, so `ptr` is a live block of the source
        // (the caller's promise), with a layout its `free_block` takes.
        unsafe { source.free_block(ptr, layout) }
    }
}

/// A zero-size block for `layout`: dangling, aligned, never dereferenced.
#[inline(always)]
pub(crate) fn empty_block(layout: Layout) -> NonNull<[u8]> {
    NonNull::slice_from_raw_parts(dangling(layout), 0)
}

/// `ptr` as a block of `size` bytes.
#[inline(always)]
pub(crate) fn block(ptr: NonNull<u8>, size: usize) -> NonNull<[u8]> {
    NonNull::slice_from_raw_parts(ptr, size)
}

/// Whether `ptr` is aligned for `layout`.
#[inline(always)]
pub(crate) fn is_aligned_for(ptr: NonNull<u8>, layout: Layout) -> bool {
    ptr.addr().get() & (layout.align() - 1) == 0
}

/// Moves a block to a new one of `new` from `alloc`: allocate, copy the
/// smaller of the two sizes, free the old one. allocator_api2's default
/// `grow` and `shrink`, for the cases that cannot stay in place.
///
/// # Safety
///
/// `ptr` is a live block of `alloc` that fits `old`, and is not used after
/// this call unless it fails.
pub(crate) unsafe fn move_block<A: Allocator + ?Sized>(
    alloc: &A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    let fresh = alloc.allocate(new)?;
    // SAFETY: `fresh` is a new block, so the two do not overlap; both hold
    // at least the smaller size.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.as_ptr(),
            fresh.cast::<u8>().as_ptr(),
            old.size().min(new.size()),
        );
    }
    // SAFETY: the caller's promise: a live block of `alloc` fitting `old`.
    unsafe { alloc.deallocate(ptr, old) };
    Ok(fresh)
}

/// allocator_api2's `grow`: a block of zero bytes is a fresh allocation;
/// otherwise `in_place()`'s block if it has one (the block, or a new one
/// holding the old contents, that the strategy made itself), else the block
/// moves.
///
/// `in_place` runs only for a non-zero `old.size()`; returning `None`, it
/// must leave the block untouched.
///
/// # Safety
///
/// allocator_api2's `grow` contract: `ptr` is a live block of `alloc`
/// fitting `old`, and `new.size() >= old.size()`.
#[inline(always)]
pub(crate) unsafe fn grow_with<A: Allocator + ?Sized>(
    alloc: &A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
    in_place: impl FnOnce() -> Option<NonNull<[u8]>>,
) -> Result<NonNull<[u8]>, AllocError> {
    if old.size() == 0 {
        return alloc.allocate(new);
    }
    match in_place() {
        Some(block) => Ok(block),
        // SAFETY: the caller's promise; `in_place` left the block untouched.
        None => unsafe { move_block(alloc, ptr, old, new) },
    }
}

/// allocator_api2's `shrink`: a shrink to zero bytes frees the block;
/// otherwise `in_place()`'s block if it has one (the same block, or one the
/// strategy resized, holding `new`), else the block moves.
///
/// `in_place` runs only for a non-zero `new.size()`; returning `None`, it
/// must leave the block untouched.
///
/// # Safety
///
/// allocator_api2's `shrink` contract: `ptr` is a live block of `alloc`
/// fitting `old`, and `new.size() <= old.size()`.
#[inline(always)]
pub(crate) unsafe fn shrink_with<A: Allocator + ?Sized>(
    alloc: &A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
    in_place: impl FnOnce() -> Option<NonNull<[u8]>>,
) -> Result<NonNull<[u8]>, AllocError> {
    if new.size() == 0 {
        // SAFETY: the caller's promise; the block is not used after.
        unsafe { alloc.deallocate(ptr, old) };
        return Ok(empty_block(new));
    }
    match in_place() {
        Some(block) => Ok(block),
        // SAFETY: the caller's promise; `in_place` left the block untouched.
        None => unsafe { move_block(alloc, ptr, old, new) },
    }
}

/// allocator_api2's `shrink` for a strategy whose blocks hold any smaller
/// size as they are (the arena): the same block, unless `new` asks for more
/// alignment than it has. A shrink to zero frees it.
///
/// # Safety
///
/// allocator_api2's `shrink` contract: `ptr` is a live block of `alloc`
/// fitting `old`, and `new.size() <= old.size()`.
pub(crate) unsafe fn shrink_in_place<A: Allocator + ?Sized>(
    alloc: &A,
    ptr: NonNull<u8>,
    old: Layout,
    new: Layout,
) -> Result<NonNull<[u8]>, AllocError> {
    let in_place = || is_aligned_for(ptr, new).then(|| block(ptr, new.size()));
    // SAFETY: the caller's promise, passed on.
    unsafe { shrink_with(alloc, ptr, old, new, in_place) }
}

/// allocator_api2's `allocate` and `deallocate` for `&Strategy`, inside
/// its `impl allocator_api2::alloc::Allocator`: [`allocate`] and
/// [`deallocate`] on the strategy (zero sizes get a dangling pointer and
/// are never passed on). The same two methods in every impl, written once.
macro_rules! forward_allocate_deallocate {
    () => {
        #[inline(always)]
        fn allocate(
            &self,
            layout: ::std::alloc::Layout,
        ) -> Result<::std::ptr::NonNull<[u8]>, ::allocator_api2::alloc::AllocError> {
            $crate::alloc::api2::allocate(*self, layout)
        }

        #[inline(always)]
        unsafe fn deallocate(&self, ptr: ::std::ptr::NonNull<u8>, layout: ::std::alloc::Layout) {
            // SAFETY: `deallocate`'s contract, passed on: a live block of
            // this strategy with a layout that fits it.
            unsafe { $crate::alloc::api2::deallocate(*self, ptr, layout) }
        }
    };
}
pub(crate) use forward_allocate_deallocate;

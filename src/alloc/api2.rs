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
//!   Through framemem's own [`Allocator`](super::Allocator) trait, zero sizes
//!   are counted, as [`Stats::allocations`](super::Stats::allocations) says.
//! - **A block that moves** is a new allocation and a free of the old one in
//!   the counts, as allocator_api2's default `grow` makes it.

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};

use super::dangling;

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
    if new.size() == 0 {
        // SAFETY: the caller's promise; the block is not used after.
        unsafe { alloc.deallocate(ptr, old) };
        return Ok(empty_block(new));
    }
    if is_aligned_for(ptr, new) {
        return Ok(block(ptr, new.size()));
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { move_block(alloc, ptr, old, new) }
}

//! `allocator_api2::alloc::Allocator` for `&Arena`, so that
//! `allocator_api2::vec::Vec` and `hashbrown` collections run on an arena.
//!
//! Its own impl, not a plain forwarding one, for `grow` and `shrink`: a `Vec`
//! growing at the end of the calling thread's lane grows in place, and a
//! shrink keeps the block where it is (it never needs memory, so a full
//! limited arena can still shrink: `alloc/api2.rs` has the rules every
//! strategy follows).

use std::alloc::Layout;
use std::ptr::NonNull;

use super::Arena;
use crate::alloc::api2;

// SAFETY: `allocate` and `deallocate` forward to the `AllocStrategy` impl above
// (zero sizes get a dangling pointer and are never passed on), whose blocks
// stay valid until a reset, which needs `&mut Arena` and so cannot happen
// while this `&Arena` (and any collection holding it) is alive. `grow`
// returns either the same block grown in place in the calling thread's
// lane's chunk (its old contents where they were, valid until the same
// reset) or a moved block (allocate, copy, free), allocator_api2's
// default. `shrink` returns the same block, which holds any smaller size
// until the reset, or moves it when it needs more alignment.
unsafe impl allocator_api2::alloc::Allocator for &Arena {
    api2::forward_allocate_deallocate!();

    /// Grows in place when `ptr` is the calling thread's lane's latest block
    /// (the chunk's next free byte moves; nothing is copied), so a `Vec`
    /// growing at the end of the frame's memory does not leave its old
    /// buffers behind. Otherwise, a new block and a copy.
    ///
    /// In place, `bytes_in_use` counts the growth; moved, the new block is
    /// an allocation and the old one a free.
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let in_place = || {
            let (lane, stats) = self.lanes.local()?;
            // SAFETY: allocator_api2's `grow` contract, passed on unchanged.
            unsafe { lane.grow_block(ptr, old_layout, new_layout, stats) }
        };
        // No lane, not the latest block, or the lane needs a new chunk: the
        // block moves, through our own slow path.
        // SAFETY: `grow`'s contract, passed on.
        unsafe { api2::grow_with(self, ptr, old_layout, new_layout, in_place) }
    }

    /// Keeps the block: it needs no memory, so it cannot fail on a full
    /// arena (unless `new_layout` asks for more alignment than the block
    /// has). The bytes stay counted until the reset, as with any free.
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        // SAFETY: `shrink`'s contract, passed on.
        unsafe { api2::shrink_in_place(self, ptr, old_layout, new_layout) }
    }
}

//! `allocator_api2::alloc::Allocator` for `&Arena`, so that
//! `allocator_api2::vec::Vec` and `hashbrown` collections run on an arena.
//!
//! Apart from the other strategies' forwarding impl (`forward_allocator_api2!`
//! in `alloc/mod.rs`) because of `grow`: a `Vec` growing at the end of the
//! calling thread's lane grows in place.

use std::alloc::Layout;
use std::ptr::NonNull;

use super::Arena;
use crate::alloc::Allocator;

// SAFETY: `allocate` and `deallocate` forward to the `Allocator` impl above,
// whose blocks stay valid until a reset, which needs `&mut Arena` and so
// cannot happen while this `&Arena` (and any collection holding it) is alive.
// `grow` returns either bumpalo's answer for the calling thread's lane (a
// block of `new_layout` holding the old contents, from the same `Bump`, valid
// until the same reset) or a fresh block from `allocate` with the contents
// copied, which is allocator_api2's default.
unsafe impl allocator_api2::alloc::Allocator for &Arena {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let ptr = Allocator::alloc(*self, layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: allocator_api2 passes a block from `allocate` with its
        // layout, not used afterwards: `free`'s contract.
        unsafe { Allocator::free(*self, ptr, layout) }
    }

    /// Grows in place when `ptr` is the calling thread's lane's latest block
    /// (bumpalo extends it and moves the contents down, reusing the old
    /// bytes), so a `Vec` growing at the end of the frame's memory does not
    /// leave its old buffers behind. Otherwise, a new block and a copy.
    ///
    /// The arena's `bytes_in_use` counts the new size in full either way.
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        if let Some((lane, stats)) = self.lanes.local() {
            // SAFETY: allocator_api2's `grow` contract, passed on unchanged.
            if let Some(block) = unsafe { lane.grow_block(ptr, old_layout, new_layout, stats) } {
                return Ok(block);
            }
        }
        // No lane, or the lane needs a new chunk (bumpalo stops at the
        // lane's lease): the default way, through our own slow path.
        let block = self.allocate(new_layout)?;
        // SAFETY: the new block is fresh, so the two do not overlap, and it is
        // at least `old_layout.size()` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(ptr.as_ptr(), block.as_ptr().cast(), old_layout.size())
        };
        Ok(block)
    }
}

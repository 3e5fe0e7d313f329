//! `allocator_api2::alloc::Allocator` for `&Slab`, so that
//! `allocator_api2::vec::Vec` and `hashbrown` collections run on a slab.
//!
//! Its own impl, not a plain forwarding one: a block is resized in place
//! whenever it can be (the rules every strategy follows are in
//! `alloc/api2.rs`):
//! - a slot holds any layout of its class or a smaller one at its address,
//!   so growth within the class and every shrink keep it (the chunk map
//!   tells `free` the slot's real class later, `chunk_map.rs`);
//! - a large block is resized by the system's `realloc` (with the same
//!   alignment), also into a small size: it stays a large block, and a
//!   shrink the system refuses keeps it as it is;
//! - anything else (a slot outgrowing its class, a shrink asking for more
//!   alignment than the block has) moves: allocate, copy, free.

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::AllocError;

use super::Slab;
use crate::alloc::api2;

// SAFETY: `allocate` and `deallocate` forward to the `AllocStrategy` impl (zero
// sizes get a dangling pointer and are never passed on). A block resized in
// place is the same live block, which holds the new layout: a slot of a
// class at least the new one's, aligned for it, or a large block that the
// system's `realloc` resized (contents kept up to the smaller size), or that
// is left as it was when a shrink is refused and still holds the larger
// size. Other resizes move the block: allocator_api2's default.
unsafe impl allocator_api2::alloc::Allocator for &Slab {
    api2::forward_allocate_deallocate!();

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `grow`'s contract: a live block of this slab fitting
        // `old`; `grow_with` asks only for a non-zero size.
        let in_place = || unsafe { self.resize_in_place(ptr, new) };
        // SAFETY: `grow`'s contract, passed on.
        unsafe { api2::grow_with(self, ptr, old, new, in_place) }
    }

    /// Needs no memory unless `new` asks for more alignment than the block
    /// has: a slot keeps its place, a large block is shrunk by the system
    /// (or kept as it is).
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: `shrink`'s contract: a live block of this slab fitting
        // `old`; `shrink_with` asks only for a non-zero size.
        let in_place = || unsafe { self.resize_in_place(ptr, new) };
        // SAFETY: `shrink`'s contract, passed on.
        unsafe { api2::shrink_with(self, ptr, old, new, in_place) }
    }
}

impl Slab {
    /// The block at `ptr`, resized in place to hold `new`, or `None` (the
    /// block untouched) when it must move.
    ///
    /// # Safety
    ///
    /// `ptr` is a live block of this slab; `new.size()` is non-zero.
    unsafe fn resize_in_place(&self, ptr: NonNull<u8>, new: Layout) -> Option<NonNull<[u8]>> {
        if self.slot_class(ptr, new).is_some() {
            // A slot whose class, at its address, holds `new`: `free` will
            // find that class from the chunk.
            return Some(api2::block(ptr, new.size()));
        }
        if self.registry.chunk_tag(ptr.addr().get()) != 0 {
            return None; // a slot too small, or not aligned enough, for `new`
        }
        let held = self.registry.large_layout(ptr)?;
        // The system reallocates with the alignment the block was made with,
        // which must cover `new`'s; and the rounded size must stay a layout.
        if new.align() > held.align() || Layout::from_size_align(new.size(), held.align()).is_err()
        {
            return None;
        }
        // SAFETY: a live large block holding `held` (from the registry); the
        // size is non-zero and rounds to a valid layout (checked above).
        match unsafe { self.registry.realloc_large(ptr, held, new.size()) } {
            Some(moved) => Some(api2::block(moved, new.size())),
            // Refused. A shrink keeps the block as it is: it still holds
            // `held`, which `new` fits, and `free` frees it with `held`.
            None if new.size() <= held.size() => Some(api2::block(ptr, new.size())),
            None => None,
        }
    }
}

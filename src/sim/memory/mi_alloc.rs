//! [`MiAlloc`]: mimalloc as an `allocator_api2` allocator, so that
//! `allocator_api2::vec::Vec<T, MiAlloc>` allocates from mimalloc whatever
//! the process's global allocator is. The `mimalloc` strategy's payloads
//! and scratch use it.
//!
//! A zero-sized adaptor over `mimalloc::MiMalloc`'s `GlobalAlloc`, behind a
//! [`CountingAllocator`] of its own: the binary's global allocator is
//! counted the same way, so the heap strategy (`malloc`) and this one pay
//! the same counter (one uncontended atomic add per call), and the reports'
//! heap counts ([`counts`], added to the global allocator's by
//! `Simulation::step`) include mimalloc's calls. mimalloc keeps its own
//! per-thread heaps, so this is thread-safe and lock-free on its fast path,
//! as the global allocator would be.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator};
use mimalloc::MiMalloc;

use crate::alloc::{AllocCounts, CountingAllocator};

/// Every block [`MiAlloc`] hands out comes from here.
static MIMALLOC: CountingAllocator<MiMalloc> = CountingAllocator::new(MiMalloc);

/// Calls into mimalloc through [`MiAlloc`] so far, process-wide.
pub fn counts() -> AllocCounts {
    MIMALLOC.snapshot()
}

/// Bytes mimalloc holds from the system now: its committed memory, which
/// on Linux mimalloc estimates as the read/write memory it has reserved
/// (`mi_process_info`), eagerly committed arena memory not touched yet
/// included. The mimalloc strategy's own holding, since nothing else in the
/// process allocates from mimalloc; `None` (not measured) when the
/// `mimalloc` feature made it the global allocator, where it would be the
/// whole process's.
pub fn committed_bytes() -> Option<u64> {
    if cfg!(feature = "mimalloc") {
        return None;
    }
    let mut commit = 0usize;
    let none = std::ptr::null_mut();
    // SAFETY: every out-parameter may be null (mimalloc's contract); `commit`
    // is a live, writable `usize`.
    unsafe {
        libmimalloc_sys::mi_process_info(none, none, none, none, none, &mut commit, none, none)
    };
    Some(commit as u64)
}

/// Has mimalloc give back what it can without stopping to search for it
/// (`mi_collect(false)`): freed pages whose purge delay has passed go back
/// to the system. What the `mimalloc` strategy calls at the end of every
/// frame: mimalloc checks the delay only when it next needs memory, and
/// after a spike it does not, so without this a spike's memory stays
/// committed for ever. A no-op when the `mimalloc` feature made it the
/// global allocator (the whole process is then on it, and the report does
/// not measure it).
pub fn collect() {
    if cfg!(feature = "mimalloc") {
        return;
    }
    // SAFETY: no preconditions; mimalloc's collect is thread-safe.
    unsafe { libmimalloc_sys::mi_collect(false) }
}

/// mimalloc through `allocator_api2`. See the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MiAlloc;

impl MiAlloc {
    /// A zero-length block for `layout`: a dangling pointer aligned for it,
    /// as the standard allocators return (nothing to free).
    fn empty(layout: Layout) -> NonNull<[u8]> {
        // An alignment is a non-zero power of two, so this is a valid,
        // aligned, non-null address; no provenance is needed for 0 bytes.
        let dangling = NonNull::<u8>::without_provenance(
            std::num::NonZeroUsize::new(layout.align()).expect("alignments are non-zero"),
        );
        NonNull::slice_from_raw_parts(dangling, 0)
    }

    /// `ptr` from mimalloc as a block of `size` bytes, or the error when it
    /// is null.
    fn block(ptr: *mut u8, size: usize) -> Result<NonNull<[u8]>, AllocError> {
        NonNull::new(ptr)
            .map(|p| NonNull::slice_from_raw_parts(p, size))
            .ok_or(AllocError)
    }
}

// SAFETY: every block handed out comes from mimalloc (`GlobalAlloc::alloc`,
// `alloc_zeroed` or `realloc`) with the layout asked for, or is the empty
// block for a zero size, and stays valid until it is deallocated through
// `MiAlloc` (any copy: the adaptor has no state, so all `MiAlloc`s are the
// same allocator). Moving or copying `MiAlloc` does not invalidate blocks.
unsafe impl Allocator for MiAlloc {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(Self::empty(layout));
        }
        // SAFETY: `layout` has a non-zero size (checked above), as
        // `GlobalAlloc::alloc` requires.
        Self::block(unsafe { MIMALLOC.alloc(layout) }, layout.size())
    }

    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if layout.size() == 0 {
            return Ok(Self::empty(layout));
        }
        // SAFETY: `layout` has a non-zero size (checked above).
        Self::block(unsafe { MIMALLOC.alloc_zeroed(layout) }, layout.size())
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: the caller guarantees that `ptr` is a block currently
            // allocated by this allocator with `layout`; a non-zero size
            // means it came from mimalloc (zero-sized blocks are dangling
            // and never reach it).
            unsafe { MIMALLOC.dealloc(ptr.as_ptr(), layout) }
        }
    }

    #[inline]
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        debug_assert!(
            new_layout.size() >= old_layout.size(),
            "grow from {old_layout:?} to the smaller {new_layout:?}"
        );
        if old_layout.size() == 0 || old_layout.align() != new_layout.align() {
            // Nothing to keep, or an alignment `realloc` cannot change:
            // allocate, copy, free.
            let new = self.allocate(new_layout)?;
            // SAFETY: the caller guarantees that `ptr` holds `old_layout`
            // from this allocator; the new block is at least as large and
            // distinct from it (it is live while `ptr` is); `ptr` is freed
            // once, after the copy.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    ptr.as_ptr(),
                    new.cast::<u8>().as_ptr(),
                    old_layout.size(),
                );
                self.deallocate(ptr, old_layout);
            }
            return Ok(new);
        }
        // SAFETY: `ptr` is a block currently allocated by mimalloc with
        // `old_layout` (the caller's guarantee, and a non-zero size means
        // it came from mimalloc), the new size is non-zero (at least the
        // old one), and the alignment is unchanged, as `realloc` requires.
        // `realloc` copies the old size's bytes, not the new one's.
        let new = unsafe { MIMALLOC.realloc(ptr.as_ptr(), old_layout, new_layout.size()) };
        Self::block(new, new_layout.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vec_on_mimalloc_grows_keeps_its_values_and_frees() {
        let mut v = allocator_api2::vec::Vec::new_in(MiAlloc);
        for i in 0..10_000u64 {
            v.push(i);
        }
        assert!(v.iter().copied().eq(0..10_000));
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v.as_slice(), [0, 1, 2]);
    }

    #[test]
    fn zero_sized_and_over_aligned_layouts_are_honoured() {
        let empty = Layout::from_size_align(0, 64).unwrap();
        let block = MiAlloc.allocate(empty).unwrap();
        assert_eq!(block.cast::<u8>().as_ptr() as usize % 64, 0);
        // SAFETY: `block` came from `MiAlloc` with `empty`.
        unsafe { MiAlloc.deallocate(block.cast(), empty) };

        let small = Layout::from_size_align(24, 8).unwrap();
        let big = Layout::from_size_align(4096, 256).unwrap();
        let block = MiAlloc.allocate_zeroed(small).unwrap().cast::<u8>();
        // SAFETY: the block holds 24 bytes.
        unsafe { block.as_ptr().write_bytes(7, 24) };
        // SAFETY: `block` holds `small` from this allocator; 4096 >= 24.
        let grown = unsafe { MiAlloc.grow(block, small, big) }
            .unwrap()
            .cast::<u8>();
        assert_eq!(grown.as_ptr() as usize % 256, 0);
        // SAFETY: the first 24 bytes were copied by `grow`.
        let kept = unsafe { std::slice::from_raw_parts(grown.as_ptr(), 24) };
        assert!(kept.iter().all(|&b| b == 7));
        // SAFETY: `grown` holds `big` from this allocator.
        unsafe { MiAlloc.deallocate(grown, big) };
    }
}

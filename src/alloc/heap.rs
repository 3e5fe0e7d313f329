//! [`Heap`]: the system allocator behind the [`Allocator`] trait, the baseline
//! every other strategy is measured against.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::{AllocError, Allocator, Stats, dangling};

/// The system allocator (`malloc`/`free`) through the [`Allocator`] trait.
///
/// Its counters are shared atomics, so every call pays a few uncontended
/// read-modify-writes on top of `malloc`; that is the honest cost of a
/// thread-safe baseline with statistics.
///
/// `reset` cannot release blocks the heap does not track; it only counts.
///
/// ```
/// use framealloc::{Allocator, Heap};
/// use std::alloc::Layout;
///
/// let heap = Heap::new();
/// let layout = Layout::new::<[u64; 4]>();
/// let ptr = heap.alloc(layout).unwrap();
/// // SAFETY: `ptr` came from `heap.alloc(layout)` and is freed once.
/// unsafe { heap.free(ptr, layout) };
/// assert_eq!(heap.stats().frees, 1);
/// ```
#[derive(Debug, Default)]
pub struct Heap {
    allocations: AtomicU64,
    frees: AtomicU64,
    /// Requested bytes of live blocks.
    bytes_in_use: AtomicUsize,
    peak_bytes_in_use: AtomicUsize,
    resets: u64,
}

impl Heap {
    /// A heap allocator with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }
}

// SAFETY: blocks come from `System`, which upholds the memory contract for
// non-zero sizes; zero sizes get an aligned dangling pointer. Blocks live
// until freed, and `reset` frees nothing, so no block is invalidated early.
unsafe impl Allocator for Heap {
    #[inline]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let ptr = if layout.size() == 0 {
            dangling(layout)
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { System.alloc(layout) };
            NonNull::new(raw).ok_or(AllocError::OutOfMemory {
                requested: layout.size(),
            })?
        };
        self.allocations.fetch_add(1, Relaxed);
        let now = self.bytes_in_use.fetch_add(layout.size(), Relaxed) + layout.size();
        self.peak_bytes_in_use.fetch_max(now, Relaxed);
        Ok(ptr)
    }

    #[inline]
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        self.frees.fetch_add(1, Relaxed);
        self.bytes_in_use.fetch_sub(layout.size(), Relaxed);
        if layout.size() != 0 {
            // SAFETY: the caller promises `ptr` came from `alloc` with this
            // layout, hence from `System.alloc(layout)`, and is freed once.
            unsafe { System.dealloc(ptr.as_ptr(), layout) };
        }
    }

    fn reset(&mut self) {
        self.resets += 1;
    }

    fn stats(&self) -> Stats {
        let bytes_in_use = self.bytes_in_use.load(Relaxed);
        Stats {
            allocations: self.allocations.load(Relaxed),
            frees: self.frees.load(Relaxed),
            bytes_in_use,
            peak_bytes_in_use: self.peak_bytes_in_use.load(Relaxed),
            bytes_reserved: bytes_in_use,
            large_allocations: 0,
            resets: self.resets,
        }
    }
}

// SAFETY: forwards to the `Allocator` impl above, whose blocks satisfy
// allocator_api2's contract (valid, aligned, unaliased until deallocated).
unsafe impl allocator_api2::alloc::Allocator for &Heap {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let ptr = Allocator::alloc(*self, layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: allocator_api2 guarantees `ptr` was allocated by this
        // allocator with `layout` and is not used afterwards.
        unsafe { Allocator::free(*self, ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::tests_common::exercise_alignments;

    #[test]
    fn every_alignment_up_to_4096() {
        exercise_alignments(&Heap::new());
    }

    #[test]
    fn stats_count_live_bytes() {
        let heap = Heap::new();
        let a = Layout::from_size_align(100, 8).unwrap();
        let b = Layout::from_size_align(28, 4).unwrap();
        let pa = heap.alloc(a).unwrap();
        let pb = heap.alloc(b).unwrap();
        assert_eq!(heap.stats().bytes_in_use, 128);
        // SAFETY: each pointer freed once with its own layout.
        unsafe { heap.free(pa, a) };
        assert_eq!(heap.stats().bytes_in_use, 28);
        assert_eq!(heap.stats().peak_bytes_in_use, 128);
        // SAFETY: as above.
        unsafe { heap.free(pb, b) };
        let s = heap.stats();
        assert_eq!((s.allocations, s.frees, s.bytes_in_use), (2, 2, 0));
    }
}

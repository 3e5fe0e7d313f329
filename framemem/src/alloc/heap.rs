//! [`Heap`]: the global allocator (the system's `malloc` unless the program
//! installs another) behind the [`AllocStrategy`] trait: what `Box` and `Vec`
//! use, the baseline every other strategy is measured against.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::lanes::{LaneCounter, Lanes};
use super::{AllocError, AllocStrategy, Stats, api2, dangling};

/// The global allocator (what `Box` and `Vec` use) through the [`AllocStrategy`]
/// trait.
///
/// Its counters live in per-thread lanes (see `lanes.rs`), so counting adds a
/// few plain stores to `malloc`, not atomic read-modify-writes: the baseline
/// is not slowed by its own bookkeeping.
///
/// `reset` cannot release blocks the heap does not track; it only counts.
///
/// ```
/// use framemem::{AllocStrategy, Heap};
/// use std::alloc::Layout;
///
/// let heap = Heap::new();
/// let layout = Layout::new::<[u64; 4]>();
/// let ptr = heap.alloc(layout).unwrap();
/// // SAFETY: `ptr` came from `heap.alloc(layout)` and is freed once.
/// unsafe { heap.free(ptr, layout) };
/// assert_eq!(heap.stats().frees, 1);
/// ```
#[derive(Debug)]
pub struct Heap {
    /// Counters only: a lane has no local state, and the fallback lane's
    /// lock serialises the counters of threads without a lane.
    lanes: Lanes<(), HeapLaneStats>,
    /// The largest `bytes_in_use` seen by `stats` or `reset`.
    peak_sampled: AtomicUsize,
    resets: u64,
}

#[derive(Debug, Default)]
struct HeapLaneStats {
    allocations: LaneCounter,
    frees: LaneCounter,
    /// Requested bytes allocated minus freed on this lane, wrapping: a lane
    /// that frees what others allocated goes below zero; the sum is exact.
    bytes_net: LaneCounter,
}

impl HeapLaneStats {
    #[inline(always)]
    fn count(&self, allocation: bool, bytes: usize) {
        if allocation {
            self.allocations.add(1);
            self.bytes_net.add(bytes as u64);
        } else {
            self.frees.add(1);
            self.bytes_net.add((bytes as u64).wrapping_neg());
        }
    }

    /// A block of `old` bytes now holds `new` (a `realloc`): neither an
    /// allocation nor a free.
    #[inline(always)]
    fn resize(&self, old: usize, new: usize) {
        self.bytes_net.add((new as u64).wrapping_sub(old as u64));
    }
}

impl Heap {
    /// A heap allocator with zeroed counters.
    pub fn new() -> Self {
        Self {
            lanes: Lanes::new(|| (), ()),
            peak_sampled: AtomicUsize::new(0),
            resets: 0,
        }
    }

    /// Counts a reset: the heap frees nothing at a frame's end, each block
    /// goes when it is freed ([`AllocStrategy::reset`]; inherent, so it needs
    /// no `use framemem::AllocStrategy`).
    pub fn reset(&mut self) {
        self.sample();
        self.resets += 1;
    }

    /// The heap's counters, see [`Stats`] ([`AllocStrategy::stats`]; inherent,
    /// so it needs no `use framemem::AllocStrategy`).
    pub fn stats(&self) -> Stats {
        self.sample()
    }

    #[inline(always)]
    fn count(&self, allocation: bool, bytes: usize) {
        self.lanes
            .with_lane(|(), stats| stats.count(allocation, bytes));
    }

    fn sample(&self) -> Stats {
        let mut s = Stats {
            resets: self.resets,
            ..Stats::default()
        };
        // Frees first: every free seen has its allocation seen after it
        // (`lanes/counters.rs`), so `frees <= allocations`.
        for lane in self.lanes.all_shared() {
            s.frees += lane.frees.get();
        }
        let mut net = 0u64;
        for lane in self.lanes.all_shared() {
            s.allocations += lane.allocations.get();
            net = net.wrapping_add(lane.bytes_net.get());
        }
        // Negative only while another thread's update is in flight.
        s.bytes_in_use = (net as i64).max(0) as usize;
        s.bytes_reserved = s.bytes_in_use;
        let peak = self.peak_sampled.fetch_max(s.bytes_in_use, Relaxed);
        s.peak_bytes_in_use = peak.max(s.bytes_in_use);
        s
    }
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: blocks come from the global allocator, which upholds the memory contract for
// non-zero sizes; zero sizes get an aligned dangling pointer. Blocks live
// until freed, and `reset` frees nothing, so no block is invalidated early.
unsafe impl AllocStrategy for Heap {
    #[inline]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let ptr = if layout.size() == 0 {
            dangling(layout)
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { std::alloc::alloc(layout) };
            NonNull::new(raw).ok_or(AllocError::OutOfMemory {
                requested: layout.size(),
            })?
        };
        self.count(true, layout.size());
        Ok(ptr)
    }

    #[inline]
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        self.count(false, layout.size());
        if layout.size() != 0 {
            // SAFETY: the caller promises `ptr` came from `alloc` with this
            // layout, hence from `std::alloc::alloc(layout)`, and is freed once.
            unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
        }
    }

    fn reset(&mut self) {
        Heap::reset(self);
    }

    fn stats(&self) -> Stats {
        Heap::stats(self)
    }
}

// SAFETY: `allocate` and `deallocate` forward to the `AllocStrategy` impl above
// (zero sizes get a dangling pointer and are never passed on, `api2.rs`).
// `grow` and `shrink` with the same alignment are the global allocator's
// `realloc`, which keeps the contents up to the smaller size and leaves the
// old block untouched when it fails; other alignments move the block
// (allocate, copy, free), allocator_api2's default.
unsafe impl allocator_api2::alloc::Allocator for &Heap {
    api2::forward_allocate_deallocate!();

    /// Not `api2::grow_with`: a `realloc` that cannot grow the block is
    /// out of memory, an error here, where a move would ask the system for
    /// the same memory again.
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        if old.size() == 0 {
            return self.allocate(new);
        }
        if old.align() != new.align() {
            // SAFETY: `grow`'s contract, passed on.
            return unsafe { api2::move_block(self, ptr, old, new) };
        }
        // SAFETY: `grow`'s contract: a live block of `old`, non-zero sizes.
        unsafe { self.realloc(ptr, old, new.size()) }.ok_or(allocator_api2::alloc::AllocError)
    }

    /// Needs no memory when the alignment stays: the global allocator's
    /// `realloc` shrinks the block (glibc's and mimalloc's in place). A
    /// global allocator that refuses (the system's never does) moves it:
    /// the block must still be freed with the size it was made with, so it
    /// cannot stay as it is.
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let in_place = || {
            if old.align() != new.align() {
                return None;
            }
            // SAFETY: `shrink`'s contract: a live block of `old`;
            // `shrink_with` asks only for a non-zero `new.size()`.
            unsafe { self.realloc(ptr, old, new.size()) }
        };
        // SAFETY: `shrink`'s contract, passed on.
        unsafe { api2::shrink_with(self, ptr, old, new, in_place) }
    }
}

impl Heap {
    /// The global allocator's `realloc` of a block of `old` to `new_size`
    /// bytes (same alignment), counted; `None`, with the block untouched, if
    /// it refused.
    ///
    /// # Safety
    ///
    /// `ptr` is a live block of this heap allocated with `old`, and both
    /// sizes are non-zero.
    unsafe fn realloc(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new_size: usize,
    ) -> Option<NonNull<[u8]>> {
        // SAFETY: the caller's promise: the block came from
        // `std::alloc::alloc(old)`; `new_size` is non-zero and, being a
        // valid layout's size, does not overflow `isize` when rounded.
        let raw = unsafe { std::alloc::realloc(ptr.as_ptr(), old, new_size) };
        let moved = NonNull::new(raw)?;
        self.lanes
            .with_lane(|(), stats| stats.resize(old.size(), new_size));
        Some(api2::block(moved, new_size))
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
        assert_eq!(
            heap.stats().peak_bytes_in_use,
            128,
            "sampled by the stats call above"
        );
        // SAFETY: as above.
        unsafe { heap.free(pb, b) };
        let s = heap.stats();
        assert_eq!((s.allocations, s.frees, s.bytes_in_use), (2, 2, 0));
    }
}

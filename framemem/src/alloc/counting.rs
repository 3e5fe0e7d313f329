//! [`CountingAllocator`]: a `GlobalAlloc` wrapper that counts heap traffic.
//!
//! This is how framemem measures what garbage-collected languages call GC
//! pressure: install it as the global allocator, take a [`snapshot`] before
//! and after a frame, and the [difference](AllocCounts::since) is the heap
//! traffic of that frame.
//!
//! ```
//! use framemem::CountingAllocator;
//! use std::alloc::System;
//!
//! // In a binary: #[global_allocator]
//! static COUNTING: CountingAllocator<System> = CountingAllocator::new(System);
//! ```
//!
//! Counters are striped: each thread adds to one of 16 cache-line
//! sized groups, picked once per thread, so threads rarely share a cache
//! line and an update is an uncontended atomic add. A snapshot sums the
//! stripes; it is exact once the counted threads are quiet, and off by the
//! operations in flight otherwise.
//!
//! `&CountingAllocator<A>` is also an `allocator_api2` allocator, so a
//! collection can allocate from a second, counted allocator beside the
//! global one (a `static` mimalloc, say) with no unsafe code of its own:
//!
//! ```
//! use allocator_api2::vec::Vec;
//! use framemem::CountingAllocator;
//! use std::alloc::System;
//!
//! static SIDE: CountingAllocator<System> = CountingAllocator::new(System);
//!
//! let mut v = Vec::new_in(&SIDE);
//! v.extend_from_slice(&[1u32, 2, 3]);
//! assert!(SIDE.snapshot().allocations >= 1);
//! ```
//!
//! [`snapshot`]: CountingAllocator::snapshot

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::api2;

/// Counter groups; a power of two above the thread counts of a desktop game.
const STRIPES: usize = 16;

/// Counts of heap operations, as returned by [`CountingAllocator::snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AllocCounts {
    /// Successful calls to `alloc` and `alloc_zeroed` (a null result is not
    /// counted).
    pub allocations: u64,
    /// Calls to `dealloc`.
    pub frees: u64,
    /// Successful calls to `realloc` (a failed one left the block as it was).
    pub reallocations: u64,
    /// Bytes requested by `alloc`, `alloc_zeroed` and growing `realloc`s.
    pub bytes_allocated: u64,
    /// Bytes released by `dealloc` and shrinking `realloc`s.
    pub bytes_freed: u64,
}

impl AllocCounts {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &AllocCounts) -> AllocCounts {
        AllocCounts {
            allocations: self.allocations.wrapping_sub(earlier.allocations),
            frees: self.frees.wrapping_sub(earlier.frees),
            reallocations: self.reallocations.wrapping_sub(earlier.reallocations),
            bytes_allocated: self.bytes_allocated.wrapping_sub(earlier.bytes_allocated),
            bytes_freed: self.bytes_freed.wrapping_sub(earlier.bytes_freed),
        }
    }

    /// Every call that asked the heap for a block: `allocations` plus
    /// `reallocations` (a `realloc` may move the block, so it counts as one).
    pub fn heap_calls(&self) -> u64 {
        self.allocations + self.reallocations
    }

    /// Bytes allocated minus bytes freed (negative when more was freed).
    pub fn net_bytes(&self) -> i64 {
        self.bytes_allocated.wrapping_sub(self.bytes_freed) as i64
    }
}

/// Two counters' sums: the traffic of two allocators together.
impl std::ops::Add for AllocCounts {
    type Output = AllocCounts;

    fn add(self, other: AllocCounts) -> AllocCounts {
        AllocCounts {
            allocations: self.allocations.wrapping_add(other.allocations),
            frees: self.frees.wrapping_add(other.frees),
            reallocations: self.reallocations.wrapping_add(other.reallocations),
            bytes_allocated: self.bytes_allocated.wrapping_add(other.bytes_allocated),
            bytes_freed: self.bytes_freed.wrapping_add(other.bytes_freed),
        }
    }
}

#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    allocations: AtomicU64,
    frees: AtomicU64,
    reallocations: AtomicU64,
    bytes_allocated: AtomicU64,
    bytes_freed: AtomicU64,
}

impl Stripe {
    const fn new() -> Self {
        Self {
            allocations: AtomicU64::new(0),
            frees: AtomicU64::new(0),
            reallocations: AtomicU64::new(0),
            bytes_allocated: AtomicU64::new(0),
            bytes_freed: AtomicU64::new(0),
        }
    }
}

/// Hands out stripe numbers round-robin, one per thread.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's stripe, `usize::MAX` until first use. No destructor and
    /// a `const` initialiser: reading it never allocates, which matters
    /// inside a global allocator.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

#[inline(always)]
fn stripe_index() -> usize {
    // `try_with` fails only during thread teardown; stripe 0 is as good.
    STRIPE
        .try_with(|cell| {
            let s = cell.get();
            if s != usize::MAX {
                s
            } else {
                let s = NEXT_STRIPE.fetch_add(1, Relaxed) % STRIPES;
                cell.set(s);
                s
            }
        })
        .unwrap_or(0)
}

/// A `GlobalAlloc` that forwards to `A` and counts every call.
pub struct CountingAllocator<A> {
    inner: A,
    stripes: [Stripe; STRIPES],
}

impl<A> CountingAllocator<A> {
    /// Wraps `inner`. `const`, so it can initialise a `static`.
    pub const fn new(inner: A) -> Self {
        Self {
            inner,
            stripes: [const { Stripe::new() }; STRIPES],
        }
    }

    /// The counts so far.
    pub fn snapshot(&self) -> AllocCounts {
        let mut c = AllocCounts::default();
        for s in &self.stripes {
            c.allocations += s.allocations.load(Relaxed);
            c.frees += s.frees.load(Relaxed);
            c.reallocations += s.reallocations.load(Relaxed);
            c.bytes_allocated += s.bytes_allocated.load(Relaxed);
            c.bytes_freed += s.bytes_freed.load(Relaxed);
        }
        c
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    #[inline(always)]
    fn stripe(&self) -> &Stripe {
        &self.stripes[stripe_index()]
    }

    /// Counts an allocation that succeeded (a refused one is not heap
    /// traffic: nothing was handed out, and nothing will be freed).
    #[inline(always)]
    fn count_allocation(&self, bytes: usize) {
        let s = self.stripe();
        s.allocations.fetch_add(1, Relaxed);
        s.bytes_allocated.fetch_add(bytes as u64, Relaxed);
    }
}

impl<A> fmt::Debug for CountingAllocator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingAllocator")
            .field("counts", &self.snapshot())
            .finish_non_exhaustive()
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments
// unchanged and returns its result unchanged, so `inner`'s contract is ours;
// the counting touches only atomics and a const thread-local, which never
// allocate (no re-entry).
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            self.count_allocation(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if !ptr.is_null() {
            self.count_allocation(layout.size());
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let s = self.stripe();
        s.frees.fetch_add(1, Relaxed);
        s.bytes_freed.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        // A failed realloc leaves the old block as it was: nothing happened.
        if new.is_null() {
            return new;
        }
        let s = self.stripe();
        s.reallocations.fetch_add(1, Relaxed);
        // Count the change in size, measured against the *old* size.
        if new_size >= layout.size() {
            s.bytes_allocated
                .fetch_add((new_size - layout.size()) as u64, Relaxed);
        } else {
            s.bytes_freed
                .fetch_add((layout.size() - new_size) as u64, Relaxed);
        }
        new
    }
}

// SAFETY: every block comes from `GlobalAlloc::alloc`, `alloc_zeroed` or
// `realloc` on `self` with the layout asked for (so it is valid, aligned and
// distinct from every other live block, by `A`'s contract), or is the
// dangling empty block for a zero size, which never reaches `A`
// (`api2.rs`'s rule). A block stays valid until it is deallocated through a
// reference to the same `CountingAllocator`: copies of `&self` are the same
// allocator, and moving the reference moves no block. `grow` and `shrink`
// with the same alignment are `realloc`, which keeps the contents up to the
// smaller size and leaves the old block untouched when it fails; other
// alignments move the block (allocate, copy, free).
unsafe impl<A: GlobalAlloc> allocator_api2::alloc::Allocator for &CountingAllocator<A> {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        if layout.size() == 0 {
            return Ok(api2::empty_block(layout));
        }
        // SAFETY: a non-zero size, as `GlobalAlloc::alloc` requires.
        let ptr = unsafe { GlobalAlloc::alloc(*self, layout) };
        api2_block(ptr, layout.size())
    }

    #[inline]
    fn allocate_zeroed(
        &self,
        layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        if layout.size() == 0 {
            return Ok(api2::empty_block(layout));
        }
        // SAFETY: a non-zero size, as `GlobalAlloc::alloc_zeroed` requires.
        let ptr = unsafe { GlobalAlloc::alloc_zeroed(*self, layout) };
        api2_block(ptr, layout.size())
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: the caller's promise: `ptr` is a live block from this
            // allocator with `layout`; a non-zero size means it came from
            // `A` (zero-sized blocks are dangling and never reach it).
            unsafe { GlobalAlloc::dealloc(*self, ptr.as_ptr(), layout) }
        }
    }

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
        // SAFETY: `grow`'s contract: a live block of `old` from `A` (a
        // non-zero size), a new size at least as large (so non-zero), the
        // same alignment, as `realloc` requires.
        let new_ptr = unsafe { GlobalAlloc::realloc(*self, ptr.as_ptr(), old, new.size()) };
        api2_block(new_ptr, new.size())
    }

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
            // SAFETY: `shrink`'s contract: a live block of `old` from `A`;
            // `shrink_with` asks only for a non-zero `new.size()`.
            let new_ptr = unsafe { GlobalAlloc::realloc(*self, ptr.as_ptr(), old, new.size()) };
            NonNull::new(new_ptr).map(|p| api2::block(p, new.size()))
        };
        // SAFETY: `shrink`'s contract, passed on.
        unsafe { api2::shrink_with(self, ptr, old, new, in_place) }
    }
}

/// A block of `size` bytes at `ptr` from `A`, or allocator_api2's error
/// when `A` returned null.
#[inline(always)]
fn api2_block(
    ptr: *mut u8,
    size: usize,
) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
    NonNull::new(ptr)
        .map(|p| api2::block(p, size))
        .ok_or(allocator_api2::alloc::AllocError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn counts_each_kind_of_call() {
        let counting = CountingAllocator::new(System);
        let before = counting.snapshot();
        let layout = Layout::from_size_align(100, 8).unwrap();
        // SAFETY: standard GlobalAlloc use: non-zero layout, pointers freed
        // once with the layout (and size) they were made with.
        unsafe {
            let p = counting.alloc(layout);
            assert!(!p.is_null());
            let p = counting.realloc(p, layout, 300);
            assert!(!p.is_null());
            let grown = Layout::from_size_align(300, 8).unwrap();
            let p = counting.realloc(p, grown, 50);
            counting.dealloc(p, Layout::from_size_align(50, 8).unwrap());
            let z = counting.alloc_zeroed(layout);
            assert_eq!(*z, 0);
            counting.dealloc(z, layout);
        }
        let d = counting.snapshot().since(&before);
        assert_eq!(d.allocations, 2);
        assert_eq!(d.frees, 2);
        assert_eq!(d.reallocations, 2);
        assert_eq!(d.bytes_allocated, 100 + 200 + 100);
        assert_eq!(d.bytes_freed, 250 + 50 + 100);
        assert_eq!(d.net_bytes(), 0);
    }

    #[test]
    fn threads_are_all_counted() {
        let counting = CountingAllocator::new(System);
        let layout = Layout::new::<u64>();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..if cfg!(miri) { 50 } else { 1000 } {
                        // SAFETY: alloc then dealloc with the same layout.
                        unsafe {
                            let p = counting.alloc(layout);
                            counting.dealloc(p, layout);
                        }
                    }
                });
            }
        });
        let c = counting.snapshot();
        let n = if cfg!(miri) { 200 } else { 4000 };
        assert_eq!((c.allocations, c.frees), (n, n));
    }

    /// The allocator_api2 face: zero sizes never reach the inner allocator
    /// nor the counts, over-aligned layouts are honoured, a grow keeps the
    /// contents and a changed alignment moves the block.
    #[test]
    fn api2_zero_sizes_alignment_and_grow() {
        use allocator_api2::alloc::Allocator as _;
        let counting = CountingAllocator::new(System);
        let a = &counting;
        let empty = Layout::from_size_align(0, 64).unwrap();
        let block = a.allocate(empty).unwrap();
        assert_eq!(block.cast::<u8>().as_ptr().addr() % 64, 0);
        // SAFETY: `block` came from `a` with `empty`.
        unsafe { a.deallocate(block.cast(), empty) };
        assert_eq!(counting.snapshot(), AllocCounts::default());

        let small = Layout::from_size_align(24, 8).unwrap();
        let big = Layout::from_size_align(4096, 256).unwrap();
        let block = a.allocate_zeroed(small).unwrap().cast::<u8>();
        // SAFETY: the block holds 24 bytes.
        unsafe { block.as_ptr().write_bytes(7, 24) };
        // SAFETY: `block` holds `small` from `a`; 4096 >= 24.
        let grown = unsafe { a.grow(block, small, big) }.unwrap().cast::<u8>();
        assert_eq!(grown.as_ptr().addr() % 256, 0);
        // SAFETY: `grow` copied the first 24 bytes.
        let kept = unsafe { std::slice::from_raw_parts(grown.as_ptr(), 24) };
        assert!(kept.iter().all(|&b| b == 7));
        let same_align = Layout::from_size_align(8192, 256).unwrap();
        // SAFETY: `grown` holds `big` from `a`; 8192 >= 4096.
        let regrown = unsafe { a.grow(grown, big, same_align) }.unwrap();
        // SAFETY: `regrown` holds `same_align`; 24 <= 8192, same alignment.
        let shrunk =
            unsafe { a.shrink(regrown.cast(), same_align, small.align_to(256).unwrap()) }.unwrap();
        // SAFETY: `shrunk` holds 24 bytes aligned to 256 from `a`.
        unsafe { a.deallocate(shrunk.cast(), small.align_to(256).unwrap()) };
        let c = counting.snapshot();
        assert_eq!(c.allocations, 2, "{c:?}"); // the first and the moved block
        assert_eq!(c.frees, 2, "{c:?}"); // the moved-from block and the last
        assert_eq!(c.reallocations, 2, "{c:?}"); // the grow and the shrink in place
    }

    #[test]
    fn api2_vec_grows_keeps_its_values_and_frees() {
        let counting = CountingAllocator::new(System);
        let mut v = allocator_api2::vec::Vec::new_in(&counting);
        for i in 0..10_000u64 {
            v.push(i);
        }
        assert!(v.iter().copied().eq(0..10_000));
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v.as_slice(), [0, 1, 2]);
        drop(v);
        let c = counting.snapshot();
        assert_eq!(c.allocations, c.frees, "{c:?}");
    }
}

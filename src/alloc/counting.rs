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
//! [`snapshot`]: CountingAllocator::snapshot

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Counter groups; a power of two above the thread counts of a desktop game.
const STRIPES: usize = 16;

/// Counts of heap operations, as returned by [`CountingAllocator::snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
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
}

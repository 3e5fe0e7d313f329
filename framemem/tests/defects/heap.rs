//! The heap's and the `CountingAllocator`'s defects: 2 (coherent stats)
//! and 7 (counts that drift).

use std::alloc::{GlobalAlloc, Layout};

use framemem::{CountingAllocator, Heap};

use crate::{stats_stay_coherent_under_cross_thread_frees, zero_size_shrink_balances};

#[test]
fn heap_stats_are_coherent_while_other_threads_allocate_and_free() {
    let seen = stats_stay_coherent_under_cross_thread_frees(&Heap::new(), usize::MAX);
    assert!(seen.is_none(), "incoherent heap stats: {}", seen.unwrap());
}

#[test]
fn zero_size_shrink_keeps_heap_allocation_and_free_counts_equal() {
    let st = zero_size_shrink_balances(&Heap::new());
    assert_eq!(st.allocations, st.frees, "{st:?}");
}

/// A `GlobalAlloc` that refuses every request.
struct Empty;

// SAFETY: returning null is always allowed; nothing is ever handed out, so
// `dealloc` is never legitimately called.
unsafe impl GlobalAlloc for Empty {
    unsafe fn alloc(&self, _: Layout) -> *mut u8 {
        std::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    unsafe fn realloc(&self, _: *mut u8, _: Layout, _: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
}

#[test]
fn counting_allocator_does_not_count_failed_allocations() {
    let counting = CountingAllocator::new(Empty);
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: a non-zero layout; nothing is handed out, so nothing to free.
    let (a, z) = unsafe { (counting.alloc(layout), counting.alloc_zeroed(layout)) };
    assert!(a.is_null() && z.is_null());
    let c = counting.snapshot();
    assert_eq!(
        (c.allocations, c.bytes_allocated),
        (0, 0),
        "failed allocations counted: {c:?}"
    );
}

#[test]
fn counting_allocator_does_not_count_failed_reallocations() {
    let counting = CountingAllocator::new(Empty);
    let layout = Layout::from_size_align(8, 8).unwrap();
    let mut word = 0u64;
    // SAFETY: `Empty::realloc` never touches the pointer; the call fails.
    let p = unsafe { counting.realloc((&raw mut word).cast(), layout, 4096) };
    assert!(p.is_null());
    let c = counting.snapshot();
    assert_eq!(
        (c.reallocations, c.bytes_allocated),
        (0, 0),
        "a failed realloc counted: {c:?}"
    );
}

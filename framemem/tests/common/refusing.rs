//! A global allocator that can refuse: `System`, except that inside
//! [`without_memory`] it refuses every request that needs new memory on the
//! calling thread. That is how "a shrink must never need memory" is checked
//! for the strategies that have no limit (`tests/fresh_process.rs`).
//!
//! The binary that uses it installs it:
//! `#[global_allocator] static GLOBAL: Refusing = Refusing;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Set by `without_memory`: refuse new memory on this thread.
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

fn refusing() -> bool {
    REFUSE.try_with(Cell::get).unwrap_or(false)
}

/// `System`, except that it returns null for any request that needs new
/// memory on a thread inside [`without_memory`]. Shrinking `realloc`s pass:
/// giving memory back is not needing it.
pub struct Refusing;

// SAFETY: forwards to `System` with the caller's arguments, or returns null,
// which `GlobalAlloc` allows for `alloc`, `alloc_zeroed` and `realloc`.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refusing() && new_size > layout.size() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` with every request for new memory on this thread refused.
/// `f` must not panic (the panic message itself needs memory): compute,
/// return, and assert outside.
pub fn without_memory<R>(f: impl FnOnce() -> R) -> R {
    REFUSE.set(true);
    let result = f();
    REFUSE.set(false);
    result
}

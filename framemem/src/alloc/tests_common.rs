//! Checks shared by the strategies' unit tests.

use std::alloc::Layout;
use std::ptr::NonNull;

use super::AllocStrategy;

/// Sizes tried at each alignment: zero, tiny, exact, odd and larger than a page.
fn sizes_for(align: usize) -> [usize; 6] {
    [0, 1, align, 3 * align + 5, 100, 5000]
}

/// Every power-of-two alignment up to 4096 with several sizes: each block is
/// aligned, holds its own pattern while all are live, and frees cleanly.
pub(crate) fn exercise_alignments<A: AllocStrategy>(alloc: &A) {
    let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
    let mut align = 1;
    let mut tag = 1u8;
    while align <= 4096 {
        for size in sizes_for(align) {
            let layout = Layout::from_size_align(size, align).unwrap();
            let ptr = alloc.alloc(layout).unwrap();
            assert_eq!(
                ptr.as_ptr() as usize % align,
                0,
                "block for {layout:?} at {ptr:p} is misaligned"
            );
            fill(ptr, layout, tag);
            live.push((ptr, layout, tag));
            tag = tag.wrapping_add(1).max(1);
        }
        align *= 2;
    }
    for &(ptr, layout, tag) in &live {
        check(ptr, layout, tag);
    }
    for (ptr, layout, _) in live {
        // SAFETY: each block came from `alloc` with `layout` and is freed once.
        unsafe { alloc.free(ptr, layout) };
    }
}

/// Writes `tag` into every byte of the block.
pub(crate) fn fill(ptr: NonNull<u8>, layout: Layout, tag: u8) {
    // SAFETY: callers pass a live block of `layout.size()` bytes.
    unsafe { ptr.as_ptr().write_bytes(tag, layout.size()) };
}

/// Asserts every byte of the block still holds `tag`.
pub(crate) fn check(ptr: NonNull<u8>, layout: Layout, tag: u8) {
    // SAFETY: callers pass a live block of `layout.size()` initialised bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), layout.size()) };
    // Compare whole slices first: `==` on bytes is one `memcmp`, which Miri
    // runs natively instead of interpreting a loop byte by byte.
    if bytes == vec![tag; bytes.len()].as_slice() {
        return;
    }
    if let Some(pos) = bytes.iter().position(|&b| b != tag) {
        panic!(
            "block {ptr:p} ({layout:?}) was overwritten at byte {pos}: {:#x} instead of {tag:#x}",
            bytes[pos]
        );
    }
}

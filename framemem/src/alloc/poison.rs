//! Memory poisoning for AddressSanitizer (the `asan` feature).
//!
//! With the feature on (and the build made with `-Zsanitizer=address`), freed
//! slab slots and reset arena memory are poisoned, so a use after free inside a
//! chunk, which the system allocator never sees, is still reported. Without the
//! feature both functions are empty and vanish.

#[cfg(feature = "asan")]
unsafe extern "C" {
    fn __asan_poison_memory_region(addr: *const u8, size: usize);
    fn __asan_unpoison_memory_region(addr: *const u8, size: usize);
}

/// Marks `len` bytes at `ptr` as unaddressable.
///
/// # Safety
///
/// - `ptr..ptr + len` lies inside memory this crate obtained from the system
///   allocator and still holds;
/// - nothing will access that range until [`unpoison`] is called on it.
#[inline(always)]
#[allow(unused_variables)]
pub(crate) unsafe fn poison(ptr: *const u8, len: usize) {
    #[cfg(feature = "asan")]
    // SAFETY: the caller promises the range is ours and unused; ASan only
    // updates its shadow bytes.
    unsafe {
        __asan_poison_memory_region(ptr, len)
    };
}

/// Marks `len` bytes at `ptr` as addressable again.
///
/// # Safety
///
/// `ptr..ptr + len` lies inside memory this crate obtained from the system
/// allocator and still holds.
#[inline(always)]
#[allow(unused_variables)]
pub(crate) unsafe fn unpoison(ptr: *const u8, len: usize) {
    #[cfg(feature = "asan")]
    // SAFETY: the caller promises the range is ours; ASan only updates its
    // shadow bytes.
    unsafe {
        __asan_unpoison_memory_region(ptr, len)
    };
}

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

/// Bytes mimalloc holds from the system now; `None` (not measured) when the
/// `mimalloc` feature made it the global allocator, where it would be the
/// whole process's. Nothing else in the process allocates from mimalloc, so
/// this is the mimalloc strategy's own holding.
///
/// On Linux: the resident bytes of the arena mimalloc allocates from (its
/// mapping's `Rss` in `/proc/self/smaps`). Not its committed counter
/// (`mi_process_info`): mimalloc gives freed pages back with
/// `MADV_DONTNEED`, which empties them but leaves that counter as it was
/// (mimalloc 3.3's `_mi_prim_decommit` on Linux), so after a spike it would
/// show the spike for ever. mimalloc reserves its arenas 1 GiB at a time,
/// so the one holding its first block holds every block of these runs.
/// Elsewhere, or if smaps cannot be read: the committed counter, an upper
/// bound.
pub fn resident_bytes() -> Option<u64> {
    if cfg!(feature = "mimalloc") {
        return None;
    }
    #[cfg(target_os = "linux")]
    if let Some(rss) = arena_rss_bytes() {
        return Some(rss);
    }
    Some(committed_bytes())
}

/// mimalloc's committed counter (`mi_process_info`).
fn committed_bytes() -> u64 {
    let mut commit = 0usize;
    let none = std::ptr::null_mut();
    // SAFETY: every out-parameter may be null (mimalloc's contract); `commit`
    // is a live, writable `usize`.
    unsafe {
        libmimalloc_sys::mi_process_info(none, none, none, none, none, &mut commit, none, none)
    };
    commit as u64
}

/// The `Rss` of the mapping that holds a block mimalloc handed out, from
/// `/proc/self/smaps`; `None` if it cannot be read or found.
#[cfg(target_os = "linux")]
fn arena_rss_bytes() -> Option<u64> {
    use std::io::BufRead;
    use std::sync::OnceLock;
    /// The address of a block kept for the life of the process, to find
    /// mimalloc's arena by.
    static PROBE: OnceLock<usize> = OnceLock::new();
    let probe = *PROBE.get_or_init(|| {
        let block = MiAlloc
            .allocate(Layout::new::<u64>())
            .expect("mimalloc has 8 bytes");
        block.cast::<u8>().as_ptr().addr()
    });
    let smaps = std::fs::File::open("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in std::io::BufReader::new(smaps).lines() {
        let line = line.ok()?;
        // A mapping's header, `start-end perms offset dev inode [path]`
        // with hex addresses, then its fields (`Rss:  123 kB`).
        if let Some((start, end)) = mapping_range(&line) {
            inside = (start..end).contains(&probe);
        } else if inside && let Some(kib) = line.strip_prefix("Rss:") {
            let kib: u64 = kib.trim().strip_suffix("kB")?.trim().parse().ok()?;
            return Some(kib * 1024);
        }
    }
    None
}

/// The address range of an smaps header line; `None` for a field line.
#[cfg(target_os = "linux")]
fn mapping_range(line: &str) -> Option<(usize, usize)> {
    let (range, _) = line.split_once(' ')?;
    let (start, end) = range.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
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

    #[cfg(target_os = "linux")]
    #[test]
    fn smaps_headers_give_their_range_and_fields_none() {
        let header = "7f3a1c000000-7f3a5c000000 rw-p 00000000 00:00 0 ";
        assert_eq!(
            mapping_range(header),
            Some((0x7f3a1c000000, 0x7f3a5c000000))
        );
        assert_eq!(mapping_range("Rss:                1024 kB"), None);
        assert_eq!(mapping_range("VmFlags: rd wr mr mw me ac sd"), None);
    }

    /// What mimalloc holds follows what is live in it: up after a large
    /// allocation is touched, down once it is freed.
    #[cfg(all(target_os = "linux", not(feature = "mimalloc")))]
    #[test]
    fn resident_bytes_follow_a_touched_block() {
        let before = resident_bytes().expect("measured");
        let layout = Layout::from_size_align(32 << 20, 64).unwrap();
        let block = MiAlloc.allocate(layout).unwrap().cast::<u8>();
        // SAFETY: the block holds 32 MiB.
        unsafe { block.as_ptr().write_bytes(1, 32 << 20) };
        let touched = resident_bytes().unwrap();
        // SAFETY: `block` holds `layout` from this allocator.
        unsafe { MiAlloc.deallocate(block, layout) };
        assert!(
            touched >= before + (24 << 20),
            "{before} B before, {touched} B with 32 MiB touched"
        );
    }

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

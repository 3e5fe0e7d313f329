//! [`MiAlloc`]: mimalloc as an `allocator_api2` allocator, so that
//! `allocator_api2::vec::Vec<T, MiAlloc>` allocates from mimalloc whatever
//! the process's global allocator is. The `mimalloc` strategy's payloads
//! and scratch use it.
//!
//! A reference to a `static` [`CountingAllocator`] over
//! `mimalloc::MiMalloc`'s `GlobalAlloc`: framemem implements
//! `allocator_api2`'s `AllocStrategy` for `&CountingAllocator<A>` (its zero-size
//! and resize rules, under Miri there), so this file needs no unsafe code.
//! The binary's global allocator is counted the same way, so the heap
//! strategy (`malloc`) and this one pay the same counter (one uncontended
//! atomic add per call), and the reports' heap counts ([`counts`], added to
//! the global allocator's by `Simulation::step`) include mimalloc's calls.
//! mimalloc keeps its own per-thread heaps, so this is thread-safe and
//! lock-free on its fast path, as the global allocator would be.

use std::alloc::Layout;

use allocator_api2::alloc::Allocator;
use framemem::{AllocCounts, CountingAllocator};
use mimalloc::MiMalloc;

/// Every block [`MiAlloc`] hands out comes from here.
static MIMALLOC: CountingAllocator<MiMalloc> = CountingAllocator::new(MiMalloc);

/// mimalloc through `allocator_api2`, counted. See the module docs.
pub type MiAlloc = &'static CountingAllocator<MiMalloc>;

/// The allocator: every [`MiAlloc`] is this one.
pub fn mi_alloc() -> MiAlloc {
    &MIMALLOC
}

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
/// Elsewhere, or if smaps cannot be read: `None` (not measured). The
/// committed counter would be an upper bound there, but reading it is an
/// FFI call, and the lab has no unsafe code.
pub fn resident_bytes() -> Option<u64> {
    if cfg!(feature = "mimalloc") {
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        arena_rss_bytes()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
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
        let block = mi_alloc()
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
        let mut block = allocator_api2::vec::Vec::with_capacity_in(32 << 20, mi_alloc());
        block.resize(32 << 20, 1u8); // every page touched
        let touched = resident_bytes().unwrap();
        drop(block);
        assert!(
            touched >= before + (24 << 20),
            "{before} B before, {touched} B with 32 MiB touched"
        );
    }

    #[test]
    fn a_vec_on_mimalloc_grows_keeps_its_values_frees_and_is_counted() {
        let before = counts();
        let mut v = allocator_api2::vec::Vec::new_in(mi_alloc());
        for i in 0..10_000u64 {
            v.push(i);
        }
        assert!(v.iter().copied().eq(0..10_000));
        v.truncate(3);
        v.shrink_to_fit();
        assert_eq!(v.as_slice(), [0, 1, 2]);
        drop(v);
        let calls = counts().since(&before);
        assert!(calls.allocations >= 1 && calls.frees >= 1, "{calls:?}");
    }
}

//! The process's global allocator, and the heap counts frames read from it.
//!
//! Normally [`CountingAllocator`](framemem::CountingAllocator) over the
//! system allocator, whose counters cost one uncontended atomic add per
//! call. With the `mimalloc` feature the counter wraps mimalloc instead: the
//! comparison then includes what many users try first, swapping malloc, and
//! the `heap` strategy (and bevy) allocate from mimalloc. With the `dhat-heap`
//! feature it is dhat's instead, which records every allocation's call stack
//! and writes `dhat-heap.json` when the run ends (view it in DHAT's viewer,
//! `dh_view.html`). A process has one global allocator, so the counter gives
//! way to dhat's, and the frames' heap counts come from dhat's totals (see
//! [`snapshot`]). dhat takes a global lock and a backtrace on every
//! allocation: frame times of such a build are not comparable with a normal
//! one.

use framemem::AllocCounts;

/// The global allocator's name in reports: `system`, `mimalloc`, or `dhat`
/// (which wins when both features are on: a process has one global
/// allocator).
pub const NAME: &str = if cfg!(feature = "dhat-heap") {
    "dhat"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

#[cfg(not(feature = "dhat-heap"))]
mod counting {
    use framemem::{AllocCounts, CountingAllocator};

    #[cfg(not(feature = "mimalloc"))]
    use std::alloc::System as Underlying;

    #[cfg(feature = "mimalloc")]
    use mimalloc::MiMalloc as Underlying;

    /// Every heap allocation of the process is counted; frames read the
    /// counts.
    #[global_allocator]
    static GLOBAL: CountingAllocator<Underlying> = CountingAllocator::new(Underlying);

    pub fn snapshot() -> AllocCounts {
        GLOBAL.snapshot()
    }
}

#[cfg(feature = "dhat-heap")]
mod dhat_heap {
    use framemem::AllocCounts;

    #[global_allocator]
    static GLOBAL: dhat::Alloc = dhat::Alloc;

    /// dhat's totals in the counter's terms. dhat counts a `realloc` as a
    /// new block, so here a `realloc` is an allocation of the new size and a
    /// free of the old one (`reallocations` stays 0); allocations plus
    /// reallocations, the figure the reports show, is the same either way.
    pub fn snapshot() -> AllocCounts {
        let stats = dhat::HeapStats::get();
        AllocCounts {
            allocations: stats.total_blocks,
            frees: stats.total_blocks - stats.curr_blocks as u64,
            reallocations: 0,
            bytes_allocated: stats.total_bytes,
            bytes_freed: stats.total_bytes - stats.curr_bytes as u64,
        }
    }
}

/// The heap counts so far; frames take their difference.
///
/// With `dhat-heap`, only while the [`HeapProfile`] runs (dhat panics
/// otherwise).
pub fn snapshot() -> AllocCounts {
    #[cfg(not(feature = "dhat-heap"))]
    return counting::snapshot();
    #[cfg(feature = "dhat-heap")]
    return dhat_heap::snapshot();
}

/// dhat's heap profiler while it runs: dropping it writes `dhat-heap.json`
/// and a summary on stderr. Nothing without the `dhat-heap` feature.
#[derive(Debug)]
pub struct HeapProfile {
    #[cfg(feature = "dhat-heap")]
    _profiler: dhat::Profiler,
}

impl HeapProfile {
    /// Starts dhat's heap profiler (with `dhat-heap`).
    pub fn start() -> HeapProfile {
        HeapProfile {
            #[cfg(feature = "dhat-heap")]
            _profiler: dhat::Profiler::new_heap(),
        }
    }

    /// Whether this build profiles the heap with dhat.
    pub const ENABLED: bool = cfg!(feature = "dhat-heap");
}

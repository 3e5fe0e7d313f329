//! The allocation strategies and the trait they share (the crate root
//! re-exports them; its docs have the table of strategies).
//!
//! Nothing in this module knows about the ECS, the profiler or any I/O: it is
//! the layer everything else builds on.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

mod api2;
mod arena;
mod counting;
mod heap;
mod lanes;
mod pool;
mod ring;
mod slab;
mod stamp;
mod trim;
mod typed;

pub(crate) mod poison;
#[cfg(test)]
pub(crate) mod tests_common;

pub use arena::{Arena, ArenaLocal, ArenaSlice};
pub use counting::{AllocCounts, CountingAllocator};
pub use heap::Heap;
/// For the bevy attribution's per-thread shards.
#[cfg(feature = "bevy")]
pub(crate) use lanes::{MAX_LANES, lane_hint};
pub use pool::{
    CallRecycle, ClearBuffer, Pool, PoolLocal, PoolLocalGuard, PoolStats, Pooled, Recycle,
    ResetHook,
};
pub use ring::{
    ExpiryRing, RingError, RingFrames, RingLocal, RingOverflow, RingSlice, RingStats, SlotStats,
};
pub use slab::{ClassStats, Slab, SlabLocal, SlabSlice};
pub use trim::TrimPolicy;
pub use typed::TypedAlloc;
pub(crate) use typed::sealed::Sealed;

#[cfg(framemem_loom)]
#[doc(hidden)]
pub use lanes::{LaneIds, ModelLaneLock, ModelLanes};

/// A source of raw memory with a frame-oriented contract.
///
/// # Safety
///
/// Implementors promise, and safe code relies on it, that:
/// - every pointer returned by [`alloc`](AllocStrategy::alloc) is valid for reads
///   and writes of `layout.size()` bytes and aligned to `layout.align()`;
/// - a returned block overlaps no other block that is still live (not freed
///   and not released by [`reset`](AllocStrategy::reset));
/// - a block stays valid until it is passed to [`free`](AllocStrategy::free), until
///   [`reset`](AllocStrategy::reset), or until the allocator is dropped, whichever
///   comes first;
/// - a zero-size layout succeeds with a dangling pointer aligned to
///   `layout.align()`, which must not be read or written.
pub unsafe trait AllocStrategy {
    /// Allocates a block for `layout`.
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the request cannot be served: the system is out of
    /// memory, or the allocator's own limit would be exceeded.
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError>;

    /// Returns a block to the allocator.
    ///
    /// # Safety
    ///
    /// - `ptr` was returned by [`alloc`](AllocStrategy::alloc) on this same
    ///   allocator, with this same `layout`;
    /// - the block has not been freed since, and no [`reset`](AllocStrategy::reset)
    ///   happened since it was allocated;
    /// - nothing reads or writes the block after this call.
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout);

    /// Releases every allocation at once.
    ///
    /// It takes `&mut self`, so the borrow checker rejects any reference
    /// borrowed from the allocator that would outlive the reset.
    fn reset(&mut self);

    /// The allocator's counters, see [`Stats`].
    fn stats(&self) -> Stats;
}

/// Why an allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AllocError {
    /// The system allocator refused the request.
    OutOfMemory {
        /// Bytes asked for.
        requested: usize,
    },
    /// The allocator's configured byte limit would be exceeded.
    LimitExceeded {
        /// Bytes asked for.
        requested: usize,
        /// The configured limit, in bytes.
        limit: usize,
    },
    /// The size, rounded up to the alignment, overflows `isize`.
    InvalidLayout,
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::OutOfMemory { requested } => {
                write!(f, "out of memory: the system refused {requested} bytes")
            }
            AllocError::LimitExceeded { requested, limit } => write!(
                f,
                "allocation of {requested} bytes would exceed the limit of {limit} bytes"
            ),
            AllocError::InvalidLayout => write!(f, "invalid layout: size overflows isize"),
        }
    }
}

impl std::error::Error for AllocError {}

/// Counters every strategy keeps.
///
/// `allocations` and `frees` only grow (a reset does not count as frees).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stats {
    /// Successful calls to `alloc`, zero-size ones included.
    pub allocations: u64,
    /// Calls to `free`.
    pub frees: u64,
    /// Bytes of live blocks: the requested sizes for [`Heap`] and [`Arena`]
    /// (for the arena, everything since the last reset, since its frees
    /// reclaim nothing); the slot sizes for [`Slab`], its rounding included.
    pub bytes_in_use: usize,
    /// The high-water mark of `bytes_in_use`, across resets. Exact for the
    /// [`Arena`]; for [`Heap`] and [`Slab`], whose counters are per thread, the
    /// largest value seen when it was sampled (at every `stats` and `reset`,
    /// and when the slab takes a new chunk), so a lower bound.
    pub peak_bytes_in_use: usize,
    /// Bytes the strategy holds from the system allocator right now.
    pub bytes_reserved: usize,
    /// Allocations passed through to the system allocator because no size
    /// class fits them ([`Slab`] only).
    pub large_allocations: u64,
    /// Calls to `reset`.
    pub resets: u64,
    /// New chunks taken from the system allocator, ever ([`Arena`] only; 0
    /// for the others). Flat across steady frames: the arena reuses its
    /// chunks.
    pub chunks_taken: u64,
}

/// A dangling, well-aligned pointer for zero-size allocations.
#[inline(always)]
pub(crate) fn dangling(layout: Layout) -> NonNull<u8> {
    // `Layout` guarantees a power-of-two alignment, so `MIN + (align - 1)` is
    // the alignment itself: non-null and aligned. It is never dereferenced.
    NonNull::without_provenance(std::num::NonZeroUsize::MIN.saturating_add(layout.align() - 1))
}

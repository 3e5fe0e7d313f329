//! The mimalloc strategy: the heap strategy with mimalloc instead of the
//! global allocator, in the same process ([`VecMemory`] on [`OnMimalloc`]).
//! Every trail is a `Vec` on [`MiAlloc`], freed by `Drop` when its entity is
//! despawned; scratch vectors are allocated afresh from mimalloc each time.
//! Everything else (bevy's own tables and entity records) stays on the
//! global allocator, as in the heap strategy.
//!
//! What most programmers try first is swapping the global allocator; this
//! measures the same trade without a rebuild, beside the other strategies.
//! (`--features mimalloc` still swaps the global allocator, for bevy too.)

use allocator_api2::vec::Vec as ApiVec;

use crate::sim::memory::mi_alloc::{self, MiAlloc, mi_alloc};
use crate::sim::memory::vec_memory::{VecAlloc, VecMemory};
use crate::sim::strategy::Strategy;

/// The mimalloc strategy. See the module docs.
pub type MimallocMemory = VecMemory<OnMimalloc>;

/// The mimalloc strategy's vectors: `allocator_api2`'s `Vec` on
/// [`MiAlloc`], mimalloc counted (`mi_alloc.rs`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OnMimalloc;

impl VecAlloc for OnMimalloc {
    const STRATEGY: Strategy = Strategy::Mimalloc;
    type Vec<T: Copy + Send + Sync + 'static> = ApiVec<T, MiAlloc>;

    #[inline]
    fn with_capacity<T: Copy + Send + Sync + 'static>(capacity: usize) -> ApiVec<T, MiAlloc> {
        ApiVec::with_capacity_in(capacity, mi_alloc())
    }

    /// What mimalloc holds from the system (`mi_alloc::resident_bytes`):
    /// nothing else in the process allocates from it.
    fn bytes_reserved() -> Option<u64> {
        mi_alloc::resident_bytes()
    }
}

//! The heap strategy, the baseline: idiomatic Rust, every trail a `Vec` from
//! the global allocator, freed by `Drop` when its entity is despawned, and
//! scratch vectors allocated afresh each time ([`VecMemory`] on the global
//! allocator).

use allocator_api2::alloc::Global;

use crate::sim::memory::vec_memory::{VecAlloc, VecMemory};
use crate::sim::strategy::Strategy;

/// The heap strategy. See the module docs.
pub type HeapMemory = VecMemory<Global>;

/// The global allocator, through std's own `Vec`: what idiomatic code uses.
impl VecAlloc for Global {
    const STRATEGY: Strategy = Strategy::Heap;
    type Vec<T: Copy + Send + Sync + 'static> = Vec<T>;

    #[inline]
    fn with_capacity<T: Copy + Send + Sync + 'static>(capacity: usize) -> Vec<T> {
        Vec::with_capacity(capacity)
    }
}

//! The arena's defects: 2 (coherent stats) and 7 (counts that drift).

use framemem::Arena;

use crate::{stats_stay_coherent_under_cross_thread_frees, zero_size_shrink_balances};

#[test]
fn arena_stats_are_coherent_while_other_threads_allocate_and_free() {
    let seen = stats_stay_coherent_under_cross_thread_frees(&Arena::new(), 500_000);
    assert!(seen.is_none(), "incoherent arena stats: {}", seen.unwrap());
}

#[test]
fn zero_size_shrink_keeps_arena_allocation_and_free_counts_equal() {
    let st = zero_size_shrink_balances(&Arena::new());
    assert_eq!(st.allocations, st.frees, "{st:?}");
}

//! The slab's defects: 1 (resizes inside a class), 2 (coherent stats), 6
//! (`Slab::free` misuse caught in release builds too) and 7 (counts).

use std::alloc::Layout;

use allocator_api2::alloc::Allocator as _;
use framemem::{AllocStrategy, Slab};

use crate::{stats_stay_coherent_under_cross_thread_frees, zero_size_shrink_balances};

#[test]
fn shrink_within_a_slab_class_keeps_the_block_in_place() {
    // 40 B and 48 B are both served by the 48 B class: nothing to move.
    let slab = Slab::new();
    let old = Layout::from_size_align(48, 8).unwrap();
    let new = Layout::from_size_align(40, 8).unwrap();
    let block = AllocStrategy::alloc(&slab, old).unwrap();
    // SAFETY: live block, its layout, a smaller one.
    let shrunk = unsafe { (&slab).shrink(block, old, new) }.unwrap();
    let moved = shrunk.cast::<u8>() != block;
    // SAFETY: the shrunk block, with its new layout.
    unsafe { AllocStrategy::free(&slab, shrunk.cast(), new) };
    assert!(
        !moved,
        "a shrink inside one size class moved the block (a new slot and a copy)"
    );
}

#[test]
fn grow_within_a_slab_class_keeps_the_block_in_place() {
    // 17 B and 32 B are both served by the 32 B class.
    let slab = Slab::new();
    let old = Layout::from_size_align(17, 1).unwrap();
    let new = Layout::from_size_align(32, 1).unwrap();
    let block = AllocStrategy::alloc(&slab, old).unwrap();
    // SAFETY: live block, its layout, a larger one.
    let grown = unsafe { (&slab).grow(block, old, new) }.unwrap();
    let moved = grown.cast::<u8>() != block;
    // SAFETY: the grown block, with its new layout.
    unsafe { AllocStrategy::free(&slab, grown.cast(), new) };
    assert!(
        !moved,
        "a growth inside one size class moved the block (a new slot and a copy)"
    );
}

#[test]
fn slab_stats_are_coherent_while_other_threads_allocate_and_free() {
    let seen = stats_stay_coherent_under_cross_thread_frees(&Slab::new(), usize::MAX);
    assert!(seen.is_none(), "incoherent slab stats: {}", seen.unwrap());
}

#[test]
fn zero_size_shrink_keeps_slab_allocation_and_free_counts_equal() {
    let st = zero_size_shrink_balances(&Slab::new());
    assert_eq!(st.allocations, st.frees, "{st:?}");
}

// `Slab::free` misuse is caught in release builds too: the calls below break
// `free`'s safety contract on purpose; the slab must detect it and panic
// instead of corrupting a free list.

#[test]
#[should_panic(expected = "Slab::free")]
fn slab_free_of_a_foreign_pointer_panics_in_every_build() {
    let owner = Slab::new();
    let other = Slab::new();
    let layout = Layout::from_size_align(64, 8).unwrap();
    let _warm = other.alloc(layout).unwrap(); // `other` has a chunk of that class
    let block = owner.alloc(layout).unwrap();
    // SAFETY: none: a deliberate free on the wrong slab, which must panic.
    unsafe { other.free(block, layout) };
}

#[test]
#[should_panic(expected = "Slab::free")]
fn slab_free_with_a_layout_of_another_class_panics_in_every_build() {
    let slab = Slab::new();
    let made = Layout::from_size_align(48, 8).unwrap();
    let wrong = Layout::from_size_align(4096, 8).unwrap();
    let _warm = slab.alloc(wrong).unwrap(); // a 4 KiB chunk exists too
    let block = slab.alloc(made).unwrap();
    // SAFETY: none: a deliberate free with the wrong layout, which must panic.
    unsafe { slab.free(block, wrong) };
}

#[test]
#[should_panic(expected = "Slab::free")]
fn slab_free_of_a_slot_with_a_large_layout_panics_in_every_build() {
    let slab = Slab::new();
    let made = Layout::from_size_align(64, 8).unwrap();
    let wrong = Layout::from_size_align(8192, 8).unwrap();
    let block = slab.alloc(made).unwrap();
    // SAFETY: none: a deliberate free with the wrong layout, which must panic.
    unsafe { slab.free(block, wrong) };
}

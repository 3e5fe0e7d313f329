use std::alloc::Layout;

use super::classes::{CHUNK_BYTES, SIZE_CLASSES, class_of};
use super::magazine::MAGAZINE_BYTES;
use super::*;
use crate::alloc::TypedAlloc;
use crate::alloc::tests_common::{check, exercise_alignments, fill};

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn every_alignment_up_to_4096() {
    exercise_alignments(&Slab::new());
}

#[test]
fn freed_slots_are_reused_lifo() {
    let slab = Slab::new();
    let l = layout(64, 8);
    let a = slab.alloc(l).unwrap();
    // SAFETY: `a` came from this slab with `l`, freed once.
    unsafe { slab.free(a, l) };
    let b = slab.alloc(l).unwrap();
    assert_eq!(a, b, "the last freed slot is handed out first");
    // SAFETY: as above.
    unsafe { slab.free(b, l) };
}

#[test]
fn sizes_of_one_class_share_slots() {
    let slab = Slab::new();
    let a = slab.alloc(layout(33, 1)).unwrap();
    // SAFETY: freed with the layout it was made with.
    unsafe { slab.free(a, layout(33, 1)) };
    let b = slab.alloc(layout(48, 16)).unwrap();
    assert_eq!(a, b, "33 B and 48 B both live in the 48 B class");
    // SAFETY: as above.
    unsafe { slab.free(b, layout(48, 16)) };
}

#[test]
fn large_requests_go_to_the_system_and_are_counted() {
    let slab = Slab::new();
    let big = layout(10_000, 8);
    let p = slab.alloc(big).unwrap();
    fill(p, big, 0xAB);
    let over_aligned = layout(64, 8192);
    let q = slab.alloc(over_aligned).unwrap();
    assert_eq!(q.as_ptr() as usize % 8192, 0);
    let s = slab.stats();
    assert_eq!(s.large_allocations, 2);
    assert_eq!(s.bytes_in_use, 10_064);
    check(p, big, 0xAB);
    // SAFETY: each freed once with its layout.
    unsafe {
        slab.free(p, big);
        slab.free(q, over_aligned);
    }
    assert_eq!(slab.stats().bytes_in_use, 0);
}

#[test]
fn stats_arithmetic() {
    let mut slab = Slab::new();
    let l = layout(100, 4); // 112 B class
    let ptrs: Vec<_> = (0..10).map(|_| slab.alloc(l).unwrap()).collect();
    let zero = slab.alloc(layout(0, 4)).unwrap();
    let s = slab.stats();
    assert_eq!(s.allocations, 11);
    assert_eq!(s.bytes_in_use, 1120, "ten 112 B slots");
    assert_eq!(s.bytes_reserved, CHUNK_BYTES);
    for &p in &ptrs[..4] {
        // SAFETY: each freed once with its layout.
        unsafe { slab.free(p, l) };
    }
    // SAFETY: zero-size blocks are freed like any other.
    unsafe { slab.free(zero, layout(0, 4)) };
    let s = slab.stats();
    assert_eq!((s.allocations, s.frees, s.bytes_in_use), (11, 5, 672));
    assert_eq!(s.peak_bytes_in_use, 1120);
    let class = slab.class_stats()[class_of(l).unwrap()];
    assert_eq!(class.slot_bytes, 112);
    assert_eq!(
        (class.allocations, class.frees, class.slots_in_use),
        (10, 4, 6)
    );
    slab.reset();
    let s = slab.stats();
    assert_eq!((s.bytes_in_use, s.resets), (0, 1));
    assert_eq!(
        s.peak_bytes_in_use, 1120,
        "the high-water mark survives a reset"
    );
    assert_eq!(slab.class_stats()[class_of(l).unwrap()].slots_in_use, 0);
    slab.check_invariants();
}

#[test]
fn reset_makes_chunks_reusable_without_new_memory() {
    let mut slab = Slab::new();
    let l = layout(64, 8);
    let n = if cfg!(miri) { 1100 } else { 3000 };
    for _ in 0..n {
        slab.alloc(l).unwrap();
    }
    let reserved = slab.stats().bytes_reserved;
    slab.reset();
    // Another class now reuses the spare chunks: 9/10 of the bytes, in
    // slots four times as large.
    for _ in 0..n * 9 / 40 {
        slab.alloc(layout(256, 8)).unwrap();
    }
    assert_eq!(slab.stats().bytes_reserved, reserved);
    slab.check_invariants();
}

#[test]
fn contents_survive_a_churn_of_sizes() {
    let slab = Slab::new();
    let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
    let mut rng = fastrand::Rng::with_seed(7);
    let rounds = if cfg!(miri) { 100 } else { 5000 };
    for i in 0..rounds {
        if live.is_empty() || rng.u8(..3) > 0 {
            let l = layout(rng.usize(1..=4096), 1 << rng.u32(0..5));
            let p = slab.alloc(l).unwrap();
            let tag = (i % 251) as u8 + 1;
            fill(p, l, tag);
            live.push((p, l, tag));
        } else {
            let (p, l, tag) = live.swap_remove(rng.usize(..live.len()));
            check(p, l, tag);
            // SAFETY: each block is freed once with its layout.
            unsafe { slab.free(p, l) };
        }
    }
    let mut slab = slab;
    slab.check_invariants();
    for (p, l, tag) in live {
        check(p, l, tag);
        // SAFETY: as above.
        unsafe { slab.free(p, l) };
    }
    assert_eq!(slab.stats().bytes_in_use, 0);
    slab.check_invariants();
}

#[test]
fn long_free_lists_are_handed_to_other_threads() {
    // One thread allocates, another frees: the freeing lane's list overflows
    // to the central list, where the allocating lane finds the slots again
    // instead of carving new chunks forever.
    let slab = Slab::new();
    let l = layout(4096, 8);
    let rounds = if cfg!(miri) { 2 } else { 50 };
    struct SendPtr(NonNull<u8>);
    // SAFETY: the pointer is only a token handed to the freeing thread.
    unsafe impl Send for SendPtr {}
    let (tx, rx) = std::sync::mpsc::sync_channel::<SendPtr>(64);
    std::thread::scope(|s| {
        let slab = &slab;
        s.spawn(move || {
            for _ in 0..rounds * 64 {
                let p = slab.alloc(l).unwrap();
                fill(p, l, 0x5A);
                tx.send(SendPtr(p)).unwrap();
            }
        });
        s.spawn(move || {
            for SendPtr(p) in rx {
                check(p, l, 0x5A);
                // SAFETY: each block is freed once, on this thread, with its
                // layout; the channel orders the other thread's writes before.
                unsafe { slab.free(p, l) };
            }
        });
    });
    let mut slab = slab;
    slab.check_invariants();
    let s = slab.stats();
    assert_eq!(s.bytes_in_use, 0);
    // 64 slots in flight at most, plus what sits in the freeing lane's
    // magazine (MAGAZINE_BYTES) before it is handed over.
    let bound = 2 * MAGAZINE_BYTES + 4 * CHUNK_BYTES;
    assert!(s.bytes_reserved <= bound, "{} > {bound}", s.bytes_reserved);
}

#[test]
fn handles_are_stamped() {
    let mut slab = Slab::new();
    let mut h = slab.handle_slice_fill_with(10, |i| i as u32);
    slab.get_mut(&mut h)[9] = 99;
    assert_eq!(slab.get(&h)[9], 99);
    let kept = slab.handle_slice_copy(&[1u8; 3]);
    assert!(slab.free_slice(h));
    slab.reset();
    assert!(slab.try_get(&kept).is_none());
    assert!(!slab.free_slice(kept), "a stale handle frees nothing");
}

#[test]
#[should_panic(expected = "stale SlabSlice")]
fn stale_handle_panics() {
    let mut slab = Slab::new();
    let h = slab.handle_slice_copy(&[1u64, 2]);
    slab.reset();
    let _ = slab.get(&h);
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "double free")]
fn double_free_panics_in_debug() {
    let slab = Slab::new();
    let l = layout(24, 8);
    let p = slab.alloc(l).unwrap();
    // SAFETY: deliberately wrong, to see the debug check fire before the
    // second free touches the slot.
    unsafe {
        slab.free(p, l);
        slab.free(p, l);
    }
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "not allocated by this Slab")]
fn foreign_pointer_panics_in_debug() {
    let a = Slab::new();
    let b = Slab::new();
    let l = layout(24, 8);
    let p = a.alloc(l).unwrap();
    // SAFETY: deliberately wrong; the debug check fires before any write.
    unsafe { b.free(p, l) };
}

#[test]
#[should_panic(expected = "does not fit it (wrong layout)")]
fn wrong_layout_panics_in_every_build() {
    let slab = Slab::new();
    let p = slab.alloc(layout(24, 8)).unwrap();
    // SAFETY: deliberately wrong; the chunk map's check fires before any write.
    unsafe { slab.free(p, layout(200, 8)) };
}

#[test]
fn a_slot_shrunk_in_place_is_freed_into_its_own_class() {
    let slab = Slab::new();
    let p = slab.alloc(layout(1000, 8)).unwrap(); // a 1024 B slot
    // SAFETY: the allocator_api2 "fits" rule: a smaller size, same alignment.
    unsafe { slab.free(p, layout(100, 8)) };
    let class = |size| SIZE_CLASSES.iter().position(|&c| c == size).unwrap();
    let stats = slab.class_stats();
    assert_eq!((stats[class(1024)].frees, stats[class(112)].frees), (1, 0));
    assert_eq!(
        slab.alloc(layout(1000, 8)).unwrap(),
        p,
        "the slot is free again"
    );
}

#[test]
fn collections_run_on_the_slab() {
    let slab = Slab::new();
    let mut v = allocator_api2::vec::Vec::new_in(&slab);
    for i in 0..2000u64 {
        v.push(i);
    }
    assert_eq!(v.iter().sum::<u64>(), 1_999_000);
    drop(v);
    assert_eq!(slab.stats().bytes_in_use, 0);
}

/// Drives the reclaim of an exited thread's lane (for Miri and TSan). Other
/// tests' threads run in this process and may inherit the exited thread's id
/// at once (then its lane is theirs, not dead), so only what holds either
/// way is checked here; `tests/fresh_process.rs` proves the outcome in a process
/// of its own.
#[test]
fn free_slots_of_an_exited_thread_are_reused() {
    let mut slab = Slab::new();
    let big = layout(4096, 8); // 16 slots per chunk
    std::thread::scope(|s| {
        s.spawn(|| {
            let blocks: Vec<_> = (0..16).map(|_| slab.alloc(big).unwrap()).collect();
            // SAFETY: each freed once with its layout.
            blocks
                .into_iter()
                .for_each(|b| unsafe { slab.free(b, big) });
        })
        .join()
        .unwrap();
    });
    let blocks: Vec<_> = (0..16).map(|_| slab.alloc(big).unwrap()).collect();
    assert!(slab.stats().bytes_reserved <= 2 * CHUNK_BYTES);
    // SAFETY: each freed once with its layout.
    blocks
        .into_iter()
        .for_each(|b| unsafe { slab.free(b, big) });
    slab.check_invariants();
}

#[test]
#[should_panic(expected = "was not allocated by this Slab")]
fn a_pointer_of_another_slab_panics_in_every_build() {
    let (owner, other) = (Slab::new(), Slab::new());
    let l = layout(64, 8);
    let _warm = other.alloc(l).unwrap();
    let p = owner.alloc(l).unwrap();
    // SAFETY: none: a deliberate free on the wrong slab, caught by the chunk map.
    unsafe { other.free(p, l) };
}

#[test]
fn the_chunk_map_grows_and_finds_every_chunk() {
    let mut slab = Slab::new();
    let big = layout(4096, 8);
    // 40 chunks: the map (16 chunks before its first growth) grows twice.
    let n = 40 * (CHUNK_BYTES / 4096);
    let blocks: Vec<_> = (0..n).map(|_| slab.alloc(big).unwrap()).collect();
    slab.check_invariants();
    // SAFETY: each freed once with its layout; the map finds each chunk.
    blocks
        .into_iter()
        .for_each(|b| unsafe { slab.free(b, big) });
    assert_eq!(slab.stats().bytes_in_use, 0);
    slab.reset();
}

#[test]
fn allocator_api2_resizes_in_place_across_classes_and_the_large_path() {
    use allocator_api2::alloc::Allocator as _;
    let slab = Slab::new();
    let (small, mid, large) = (layout(100, 8), layout(1000, 8), layout(10_000, 8));
    let p = (&slab).allocate(mid).unwrap().cast::<u8>();
    // SAFETY: a live block of `mid`, shrunk: the slot stays.
    let q = unsafe { (&slab).shrink(p, mid, small) }
        .unwrap()
        .cast::<u8>();
    assert_eq!(p, q);
    // SAFETY: a live block fitting `small`, grown past 4 KiB: it moves.
    let r = unsafe { (&slab).grow(q, small, large) }
        .unwrap()
        .cast::<u8>();
    // SAFETY: a live large block, shrunk into a small size: it stays large.
    let t = unsafe { (&slab).shrink(r, large, small) }
        .unwrap()
        .cast::<u8>();
    // SAFETY: freed once with the layout it was last resized to.
    unsafe { (&slab).deallocate(t, small) };
    let st = slab.stats();
    assert_eq!(
        (st.allocations, st.frees, st.bytes_in_use),
        (2, 2, 0),
        "{st:?}"
    );
}

#[test]
fn handles_count_in_the_lane_and_a_leaked_handles_counts_are_folded_at_the_reset() {
    let mut slab = Slab::new();
    let l = layout(64, 8);
    let outer = slab.local();
    let a = outer.alloc(l).unwrap();
    {
        let inner = slab.local();
        let b = inner.alloc(l).unwrap();
        // SAFETY: `b` came from this slab with `l` and is freed once.
        unsafe { inner.free(b, l) };
    } // folds the lane's counts: the outer handle's allocation too
    let s = slab.stats();
    assert_eq!((s.allocations, s.frees, s.bytes_in_use), (2, 1, 64));
    let _c = outer.alloc(l).unwrap();
    // SAFETY: `a` came from this slab with `l` and is freed once.
    unsafe { outer.free(a, l) };
    std::mem::forget(outer);
    assert_eq!(
        slab.stats().allocations,
        2,
        "a live handle's counts are pending"
    );
    // A hostile user leaked the handle with counts pending: the reset folds
    // them before it reads the slots in use, so none stays counted in use.
    slab.reset();
    let s = slab.stats();
    assert_eq!((s.allocations, s.frees, s.bytes_in_use), (3, 2, 0));
    // And no later handle brings them back.
    drop(slab.local());
    let s = slab.stats();
    assert_eq!((s.allocations, s.frees, s.bytes_in_use), (3, 2, 0));
}

#[test]
fn a_trim_folds_a_leaked_handles_counts_first() {
    let mut slab = Slab::new();
    let l = layout(64, 8);
    let local = slab.local();
    let n = if cfg!(miri) { 200 } else { 2000 };
    let kept: Vec<_> = (0..n).map(|_| local.alloc(l).unwrap()).collect();
    std::mem::forget(local);
    // The live slots are counted only in the lane's pending cells: the trim
    // folds them before it reads the slots in use, and gives back no chunk
    // that holds one.
    slab.trim(0);
    for (i, &p) in kept.iter().enumerate() {
        // SAFETY: live slots of 64 bytes.
        unsafe { p.as_ptr().write_bytes(i as u8, 64) };
    }
    assert_eq!(slab.stats().bytes_in_use, n * 64);
    slab.check_invariants();
}

//! `Arena::with_huge_pages`: 2 MiB chunks aligned to a huge page, reused
//! from frame to frame, large blocks, a limit below a huge page, and chunks
//! made before the switch.

use super::*;
use crate::alloc::tests_common::{check, fill};

/// The part of a block of `layout` the tests write and check: all of it,
/// or under Miri a prefix (writing megabytes there is slow).
fn touched(layout: Layout) -> Layout {
    if cfg!(miri) {
        Layout::new::<[u8; 64]>()
    } else {
        layout
    }
}

#[test]
fn huge_pages_chunks_are_2_mib_aligned_and_reused() {
    const HUGE: usize = 2 << 20;
    let block = Layout::from_size_align(64 << 10, 16).unwrap();
    let touched = touched(block);
    let mut arena = Arena::new().with_huge_pages();
    assert!(arena.huge_pages());
    let (mut taken_at_first, mut steady) = (0, 0);
    for frame in 0..3 {
        // 3 MiB in 64 KiB blocks: two chunks, every block inside one.
        let mut blocks = Vec::new();
        for i in 0..48 {
            let p = arena.alloc(block).unwrap();
            fill(p, touched, i as u8);
            blocks.push(p);
        }
        assert_eq!(
            blocks[0].addr().get() % HUGE,
            0,
            "frame {frame}: the first block starts its chunk, on a huge page"
        );
        for (i, &p) in blocks.iter().enumerate() {
            check(p, touched, i as u8);
        }
        // Whole huge chunks, and (after the first reset, which holds a
        // chunk ahead per thread as it does with 64 KiB chunks) no new one.
        let stats = arena.stats();
        assert!(
            stats.bytes_reserved >= 2 * HUGE && stats.bytes_reserved.is_multiple_of(HUGE),
            "frame {frame}: {} B reserved",
            stats.bytes_reserved
        );
        if frame == 0 {
            taken_at_first = stats.chunks_taken;
        } else {
            assert!(
                stats.chunks_taken <= taken_at_first + 2,
                "frame {frame}: {} chunks taken, {taken_at_first} in frame 0",
                stats.chunks_taken
            );
            if frame == 2 {
                assert_eq!(stats.chunks_taken, steady, "a steady frame takes no chunk");
            }
            steady = stats.chunks_taken;
        }
        arena.check_invariants();
        arena.reset();
    }
}

#[test]
fn huge_pages_serve_large_blocks_and_respect_a_limit() {
    const HUGE: usize = 2 << 20;
    // A block larger than a chunk gets a large chunk of its own, aligned
    // to a huge page too.
    let mut arena = Arena::new().with_huge_pages();
    let big = Layout::from_size_align(5 << 20, 64).unwrap();
    let p = arena.alloc(big).unwrap();
    assert_eq!(p.addr().get() % HUGE, 0);
    fill(p, touched(big), 7);
    check(p, touched(big), 7);
    arena.check_invariants();
    arena.reset();
    arena.check_invariants();

    // A limit below a huge page: the one chunk is made short (ordinary
    // pages), and the limit holds.
    let mut limited = Arena::with_limit(1 << 20).with_huge_pages();
    let block = Layout::from_size_align(4096, 8).unwrap();
    let mut fitted = 0;
    let err = loop {
        match limited.alloc(block) {
            Ok(_) => fitted += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::LimitExceeded { .. }), "{err:?}");
    assert!(fitted >= 255, "{fitted} blocks of 4 KiB in 1 MiB");
    assert!(limited.stats().bytes_reserved <= 1 << 20);
    limited.check_invariants();
    limited.reset();
}

#[test]
fn huge_pages_asked_for_after_chunks_exist_keep_them() {
    let small = Layout::from_size_align(64, 8).unwrap();
    let mut arena = Arena::new();
    arena.alloc(small).unwrap();
    arena.reset();
    let before = arena.stats().bytes_reserved;
    assert!(before.is_multiple_of(64 << 10));
    let mut arena = arena.with_huge_pages();
    // The 64 KiB chunks made before are still ordinary chunks, used first.
    arena.alloc(small).unwrap();
    arena.check_invariants();
    assert_eq!(arena.stats().bytes_reserved, before);
    arena.reset();
    arena.check_invariants();
}

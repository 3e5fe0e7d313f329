use super::*;
use crate::alloc::TypedAlloc;

/// Whether `handle` resolves, checked both ways.
fn live<T: Copy + PartialEq + fmt::Debug>(ring: &ExpiryRing, handle: RingSlice<T>) -> bool {
    let resolved = ring.try_get(handle).is_some();
    assert_eq!(resolved, ring.is_live(handle));
    resolved
}

#[test]
fn lifetime_k_is_readable_for_exactly_k_frames() {
    let depth = 5;
    for k in 0..=depth as u32 {
        let mut ring = ExpiryRing::new(depth);
        // Start a few frames in, so the slots wrap.
        for _ in 0..3 {
            ring.end_frame();
        }
        let handle = ring.for_frames(k).handle_slice_copy(&[k; 3]);
        assert_eq!(handle.expires_at(), 3 + u64::from(k.max(1)) - 1);
        for ended in 0..k.max(1) {
            assert!(live(&ring, handle), "k {k}: stale after {ended} frame ends");
            assert_eq!(ring.get(handle), &[k; 3]);
            ring.end_frame();
        }
        assert!(
            !live(&ring, handle),
            "k {k}: live after {} frame ends",
            k.max(1)
        );
        ring.check_invariants();
    }
}

#[test]
fn three_frame_data_survives_two_frame_ends_and_expires_at_the_third() {
    let mut ring = ExpiryRing::new(4);
    let handle = ring.for_frames(3).handle_slice_copy(&[1.5f32, 2.5]);
    ring.end_frame();
    ring.end_frame();
    assert_eq!(ring.get(handle), &[1.5, 2.5]);
    ring.end_frame();
    assert_eq!(ring.try_get(handle), None);
}

#[test]
fn end_frame_resets_exactly_the_expiring_slot() {
    let depth = 4;
    let mut ring = ExpiryRing::new(depth);
    let handles: Vec<RingSlice<u64>> = (1..=depth as u32)
        .map(|k| ring.for_frames(k).handle_slice_copy(&[u64::from(k); 4]))
        .collect();
    let bytes_before: Vec<usize> = ring.slot_stats().map(|s| s.bytes_in_use).collect();
    assert_eq!(bytes_before, vec![32; depth], "one 32-byte slice per slot");
    for ended in 0..depth {
        ring.end_frame();
        for (i, &handle) in handles.iter().enumerate() {
            assert_eq!(
                live(&ring, handle),
                i > ended,
                "after {} frame ends, the handle for {} frames",
                ended + 1,
                i + 1
            );
        }
        // The slots still to expire keep their bytes; the one reset is
        // now the last to expire, empty.
        let in_use: Vec<usize> = ring.slot_stats().map(|s| s.bytes_in_use).collect();
        let mut want = vec![32; depth - ended - 1];
        want.resize(depth, 0);
        assert_eq!(in_use, want);
    }
    ring.check_invariants();
}

#[test]
#[should_panic(expected = "RingSlice used after its slot expired at frame 1")]
fn stale_handle_panics_with_message() {
    let mut ring = ExpiryRing::new(3);
    let handle = ring.for_frames(2).handle_slice_copy(&[1u8]);
    ring.end_frame();
    ring.end_frame();
    ring.get(handle);
}

#[test]
#[should_panic(expected = "RingSlice from another ring")]
fn foreign_handle_panics_with_message() {
    let a = ExpiryRing::new(3);
    let b = ExpiryRing::new(3);
    let handle = a.for_frames(2).handle_slice_copy(&[1u8]);
    assert_eq!(b.try_get(handle), None);
    b.get(handle);
}

#[test]
fn beyond_depth_fails_without_overflow() {
    let ring = ExpiryRing::new(3);
    assert_eq!(ring.overflow(), RingOverflow::Fail);
    assert!(ring.for_frames(3).try_handle_slice_copy(&[1u8]).is_ok());
    let err = ring
        .for_frames(4)
        .try_handle_slice_copy(&[1u8])
        .unwrap_err();
    assert_eq!(
        err,
        RingError::BeyondDepth {
            lifetime_frames: 4,
            depth: 3
        }
    );
    assert!(
        err.to_string().contains("beyond the ring's depth of 3"),
        "{err}"
    );
    assert!(
        ring.for_frames(9)
            .try_handle_slice_fill_with(2, |i| i)
            .is_err()
    );
    assert_eq!(ring.stats().allocations, 1, "a refusal allocates nothing");
}

#[test]
fn overflow_goes_to_the_slab_and_is_freed_at_its_frame_end() {
    let mut ring = ExpiryRing::with_overflow(2, RingOverflow::Slab);
    let long = ring.for_frames(5).handle_slice_copy(&[9u32; 10]);
    let longer = ring.for_frames(7).handle_slice_fill_with(3, |i| i as u16);
    let short = ring.for_frames(2).handle_slice_copy(&[1u8; 8]);
    let s = ring.stats();
    assert_eq!(s.overflow_allocations, 2);
    assert_eq!(s.overflow_bytes_in_use, 40 + 6);
    assert_eq!(s.bytes_in_use, 40 + 6 + 8);
    for frame in 0..7 {
        assert_eq!(live(&ring, long), frame <= 4, "frame {frame}");
        assert!(live(&ring, longer), "frame {frame}");
        assert_eq!(live(&ring, short), frame <= 1, "frame {frame}");
        if frame <= 4 {
            assert_eq!(ring.get(long), &[9; 10]);
        }
        assert_eq!(ring.get(longer), &[0, 1, 2]);
        ring.end_frame();
        ring.check_invariants();
        let want = match frame {
            0..4 => 46,
            4..6 => 6,
            _ => 0,
        };
        assert_eq!(
            ring.stats().overflow_bytes_in_use,
            want,
            "after frame {frame}"
        );
    }
    assert!(!live(&ring, longer));
    assert_eq!(ring.stats().overflow_bytes_in_use, 0);
    assert_eq!(ring.stats().bytes_in_use, 0);
}

#[test]
fn reset_releases_every_lifetime_and_every_handle_goes_stale() {
    let mut ring = ExpiryRing::with_overflow(2, RingOverflow::Slab);
    let short = ring.for_frames(1).handle_slice_copy(&[1u8; 8]);
    let long = ring.for_frames(5).handle_slice_copy(&[9u32; 10]);
    ring.end_frame();
    let frame = ring.frame();
    assert!(live(&ring, long));
    ring.reset();
    ring.check_invariants();
    assert!(!live(&ring, short));
    assert!(!live(&ring, long));
    assert_eq!(ring.frame(), frame, "a reset is not a frame end");
    let s = ring.stats();
    assert_eq!((s.bytes_in_use, s.overflow_bytes_in_use), (0, 0));
    let fresh = ring.for_frames(5).handle_slice_copy(&[3u16; 2]);
    assert_eq!(ring.get(fresh), &[3, 3]);
}

#[test]
fn a_panicking_fill_leaks_nothing_past_its_frame() {
    let mut ring = ExpiryRing::with_overflow(2, RingOverflow::Slab);
    for k in [1, 6] {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ring.for_frames(k)
                .handle_slice_fill_with(4, |i| if i == 2 { panic!("fill") } else { i })
        }));
        assert!(result.is_err());
    }
    assert!(
        ring.stats().bytes_in_use > 0,
        "the blocks are held until their frame ends"
    );
    for _ in 0..6 {
        ring.end_frame();
    }
    assert_eq!(ring.stats().bytes_in_use, 0);
    ring.check_invariants();
}

#[test]
fn stats_are_coherent() {
    let mut ring = ExpiryRing::with_overflow(3, RingOverflow::Slab);
    ring.for_frames(1).handle_slice_copy(&[0u8; 100]);
    ring.for_frames(3).handle_slice_copy(&[0u16; 10]);
    ring.for_frames(3).handle_slice_copy(&[0u16; 5]);
    ring.for_frames(10).handle_slice_copy(&[0u64; 2]);
    let s = ring.stats();
    let slots: Vec<SlotStats> = ring.slot_stats().collect();
    assert_eq!(
        slots.iter().map(|s| s.expires_at).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(
        slots.iter().map(|s| s.bytes_in_use).collect::<Vec<_>>(),
        [100, 0, 30]
    );
    let slot_bytes: usize = slots.iter().map(|s| s.bytes_in_use).sum();
    assert_eq!(s.bytes_in_use, slot_bytes + s.overflow_bytes_in_use);
    assert_eq!(s.overflow_bytes_in_use, 16);
    assert_eq!(s.allocations, 4);
    assert_eq!(s.overflow_allocations, 1);
    let slot_reserved: usize = slots.iter().map(|s| s.bytes_reserved).sum();
    assert!(
        s.bytes_reserved > slot_reserved,
        "the slab's chunk is counted"
    );
    ring.end_frame();
    let s = ring.stats();
    assert_eq!((s.frame, s.bytes_in_use, s.allocations), (1, 46, 4));
    assert_eq!(ring.slot_stats().next().unwrap().expires_at, 1);
}

#[test]
fn local_caches_four_slots_and_serves_more_through_the_arena() {
    let mut ring = ExpiryRing::with_overflow(8, RingOverflow::Slab);
    let handles: Vec<RingSlice<u32>> = {
        let local = ring.local();
        assert_eq!(
            local.cached_slots().count(),
            0,
            "no lane until it allocates"
        );
        let handles = (1..=9)
            .flat_map(|k| {
                [
                    local.for_frames(k).handle_slice_copy(&[k, k]),
                    local.for_frames(k).handle_slice_fill_with(2, |_| k),
                ]
            })
            .collect();
        assert_eq!(local.cached_slots().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(format!("{local:?}").contains("cached_slots"));
        handles
    };
    let s = ring.stats();
    assert_eq!(s.allocations, 18, "the local's counts arrive when it drops");
    assert_eq!(s.overflow_allocations, 2, "k = 9 is beyond the depth");
    assert_eq!(s.bytes_in_use, 18 * 8);
    for frame in 0..9u32 {
        for (i, &handle) in handles.iter().enumerate() {
            let k = i as u32 / 2 + 1;
            assert_eq!(live(&ring, handle), frame < k);
            if frame < k {
                assert_eq!(ring.get(handle), &[k, k]);
            }
        }
        ring.end_frame();
    }
    ring.check_invariants();
}

#[test]
fn threads_allocate_through_the_ring_and_their_locals() {
    let mut ring = ExpiryRing::with_overflow(3, RingOverflow::Slab);
    let per_thread = if cfg!(miri) { 4 } else { 100 };
    let handles: Vec<(u32, RingSlice<u32>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2u32)
            .map(|t| {
                let ring = &ring;
                s.spawn(move || {
                    let local = ring.local();
                    (0..per_thread)
                        .map(|i| {
                            let k = i % 5 + 1;
                            let value = t * 1000 + i;
                            let handle = if i % 2 == 0 {
                                local.for_frames(k).handle_slice_copy(&[value; 3])
                            } else {
                                ring.for_frames(k).handle_slice_copy(&[value; 3])
                            };
                            (value, handle)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(ring.stats().allocations, 2 * u64::from(per_thread));
    for frame in 0..5u64 {
        for &(value, handle) in &handles {
            let k = u64::from(value % 1000 % 5 + 1);
            assert_eq!(ring.try_get(handle), (frame < k).then_some(&[value; 3][..]));
        }
        ring.end_frame();
    }
    assert_eq!(ring.stats().bytes_in_use, 0);
    ring.check_invariants();
}

#[test]
fn empty_and_zero_sized_and_over_aligned_values() {
    #[derive(Clone, Copy, Debug, PartialEq)]
    #[repr(align(256))]
    struct Aligned(u8);

    let mut ring = ExpiryRing::with_overflow(2, RingOverflow::Slab);
    let empty = ring.for_frames(1).handle_slice_copy(&[] as &[u64]);
    let units = ring.for_frames(5).handle_slice_fill_with(7, |_| ());
    let aligned = [
        ring.for_frames(2).handle_slice_copy(&[Aligned(1); 3]),
        ring.for_frames(4).handle_slice_copy(&[Aligned(2); 3]),
    ];
    assert!(empty.is_empty() && ring.get(empty).is_empty());
    assert_eq!(ring.get(units).len(), 7);
    for (i, handle) in aligned.into_iter().enumerate() {
        let values = ring.get(handle);
        assert_eq!(values.as_ptr() as usize % 256, 0, "handle {i} misaligned");
        assert_eq!(values, &[Aligned(i as u8 + 1); 3]);
    }
    for _ in 0..5 {
        ring.end_frame();
    }
    assert!(!ring.is_live(units));
    ring.check_invariants();
}

#[test]
fn steady_frames_reuse_the_slots_memory() {
    let mut ring = ExpiryRing::new(4);
    let frames = if cfg!(miri) { 16 } else { 200 };
    let mut reserved_after_warmup = 0;
    for frame in 0..frames {
        for k in 1..=4 {
            ring.for_frames(k).handle_slice_fill_with(256, |i| i as u32);
        }
        ring.end_frame();
        // Each slot's arena keeps its largest chunk at a reset; by frame 8
        // the chunks fit a slot's four frames of data (measured).
        if frame == 11 {
            reserved_after_warmup = ring.stats().bytes_reserved;
        }
    }
    assert_eq!(ring.stats().bytes_reserved, reserved_after_warmup);
}

#[test]
#[should_panic(expected = "at least one slot")]
fn depth_zero_panics() {
    ExpiryRing::new(0);
}

#[test]
fn debug_and_accessors() {
    let ring = ExpiryRing::new(6);
    assert_eq!(
        (
            ring.depth(),
            ring.frame(),
            ring.expires_at(0),
            ring.expires_at(6)
        ),
        (6, 0, 0, 5)
    );
    let handle = ring.for_frames(2).handle_slice_copy(&[1u8]);
    assert!(format!("{ring:?}").contains("depth: 6"));
    assert!(format!("{handle:?}").contains("expires_at: 1"));
}

#[test]
fn a_handle_is_the_size_of_a_vec() {
    // Trails of handles are read every frame: no larger than a `Vec`.
    assert!(std::mem::size_of::<RingSlice<u64>>() <= std::mem::size_of::<Vec<u64>>());
    assert_eq!(
        std::mem::size_of::<Option<RingSlice<u64>>>(),
        std::mem::size_of::<RingSlice<u64>>()
    );
}

#[test]
fn a_slice_longer_than_a_handle_holds_is_an_error() {
    let ring = ExpiryRing::new(2);
    let len = u32::MAX as usize + 1;
    let result = ring.for_frames(1).try_handle_slice_fill_with(len, |_| ());
    assert_eq!(result.unwrap_err(), RingError::SliceTooLong { len });
    let local = ring.local();
    let result = local.for_frames(1).try_handle_slice_fill_with(len, |_| ());
    drop(local);
    assert_eq!(result.unwrap_err(), RingError::SliceTooLong { len });
    // The longest one a handle holds is still made: a copy of that many
    // zero-sized values (no 4 billion calls of `fill`, which take a minute
    // in a debug build), on both paths.
    let zsts = {
        let len = u32::MAX as usize;
        // SAFETY: a dangling, aligned pointer is a valid slice of any length
        // of a zero-sized type.
        unsafe { std::slice::from_raw_parts(std::ptr::NonNull::<()>::dangling().as_ptr(), len) }
    };
    let local = ring.local();
    assert_eq!(
        local.for_frames(1).handle_slice_copy(zsts).len(),
        zsts.len()
    );
    drop(local);
    let longest = ring.for_frames(1).try_handle_slice_copy(zsts);
    assert_eq!(longest.unwrap().len(), u32::MAX as usize);
}

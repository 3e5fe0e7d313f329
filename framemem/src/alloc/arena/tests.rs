use super::*;
use crate::alloc::TypedAlloc;
use crate::alloc::tests_common::{check, exercise_alignments, fill};

mod huge_pages;

#[test]
fn every_alignment_up_to_4096() {
    exercise_alignments(&Arena::new());
}

#[test]
fn a_local_handle_is_one_pointer() {
    // bevy's `for_each_init` passes the handle through its fold for every
    // item: one pointer stays in a register (it was 48 bytes, then 24).
    let size = std::mem::size_of::<ArenaLocal<'static>>();
    assert_eq!(
        size,
        std::mem::size_of::<usize>(),
        "ArenaLocal is {size} bytes"
    );
}

#[test]
fn a_local_handle_finds_the_arena_after_it_moved() {
    // The lane's `home` is written by every `local()`: a handle taken after
    // the arena moved must fold into, and resolve against, the arena where
    // it is now.
    let layout = Layout::from_size_align(64, 8).unwrap();
    let arena = Arena::new();
    {
        let local = arena.local();
        local.alloc(layout).unwrap();
    }
    // To the heap: a new address, whatever the optimiser does.
    let moved = Box::new(arena);
    let arena = &*moved;
    {
        let local = arena.local();
        assert!(std::ptr::eq(local.arena(), arena));
        local.alloc(layout).unwrap();
        let handle = local.handle_slice_copy(&[1u32, 2]);
        assert_eq!(arena.get(handle), &[1, 2]);
    }
    assert_eq!(arena.stats().allocations, 3);
}

#[test]
fn zero_size_is_aligned_and_dangling() {
    let arena = Arena::new();
    for align in [1, 8, 64, 4096] {
        let layout = Layout::from_size_align(0, align).unwrap();
        let ptr = arena.alloc(layout).unwrap();
        assert_eq!(ptr.as_ptr() as usize % align, 0);
    }
    assert_eq!(arena.stats().bytes_reserved, 0, "zero sizes take no chunk");
}

#[test]
fn reset_releases_and_reuses_memory() {
    let mut arena = Arena::new();
    let layout = Layout::from_size_align(64, 8).unwrap();
    for _ in 0..1000 {
        arena.alloc(layout).unwrap();
    }
    let before = arena.stats();
    assert_eq!(before.bytes_in_use, 64_000);
    arena.reset();
    let after = arena.stats();
    assert_eq!(after.bytes_in_use, 0);
    assert_eq!(after.peak_bytes_in_use, 64_000);
    assert_eq!(after.resets, 1);
    // The kept chunks serve the next frame without growing.
    for _ in 0..500 {
        arena.alloc(layout).unwrap();
    }
    assert_eq!(arena.stats().bytes_reserved, after.bytes_reserved);
    assert_eq!(arena.stats().chunks_taken, after.chunks_taken);
    arena.check_invariants();
}

#[test]
fn limit_is_an_error_not_an_abort() {
    let arena = Arena::with_limit(64 * 1024);
    let layout = Layout::from_size_align(1024, 8).unwrap();
    let mut ok = 0;
    let err = loop {
        match arena.alloc(layout) {
            Ok(_) => ok += 1,
            Err(e) => break e,
        }
        assert!(ok <= 64, "more than the limit fitted");
    };
    let mut arena = arena;
    arena.check_invariants();
    assert!(ok >= 16, "only {ok} KiB fitted under a 64 KiB limit");
    assert_eq!(
        err,
        AllocError::LimitExceeded {
            requested: 1024,
            limit: 64 * 1024
        }
    );
    assert!(arena.stats().bytes_reserved <= 64 * 1024);
}

#[test]
fn oversized_request_fails_cleanly() {
    let arena = Arena::with_limit(1 << 20);
    let layout = Layout::from_size_align(4 << 20, 8).unwrap();
    assert!(matches!(
        arena.alloc(layout),
        Err(AllocError::LimitExceeded { .. })
    ));
    // Still usable afterwards.
    assert!(arena.alloc(Layout::new::<u64>()).is_ok());
}

#[test]
fn a_request_past_the_largest_chunk_fails_with_out_of_memory() {
    // 8 TiB: past `MAX_CHUNK_BYTES`, refused before the system is asked.
    let layout = Layout::from_size_align(1 << 43, 8).unwrap();
    let arena = Arena::new();
    assert!(matches!(
        arena.alloc(layout),
        Err(AllocError::OutOfMemory { requested }) if requested == 1 << 43
    ));
    assert!(matches!(
        arena.local().alloc(layout),
        Err(AllocError::OutOfMemory { .. })
    ));
    assert_eq!(arena.stats().allocations, 0);
}

/// A handle's pending counts share one word (`lane.rs`, `Pending`): more
/// allocations than its field holds, and bytes over several chunks, still
/// come out exact.
#[test]
#[cfg_attr(miri, ignore = "two million allocations")]
fn a_local_handle_counts_past_its_pending_word() {
    let mut arena = Arena::new();
    let block = Layout::from_size_align(100, 4).unwrap();
    // 5,000 blocks fill several chunks (a fold at each); then more
    // zero-size allocations than the word's allocations field holds, twice
    // over; then blocks again.
    let (blocks, zeros) = (5_000u64, (1u64 << 21) + 3);
    {
        let local = arena.local();
        for _ in 0..blocks {
            local.alloc(block).unwrap();
        }
        for _ in 0..zeros {
            local.alloc(Layout::new::<()>()).unwrap();
        }
        for _ in 0..10 {
            local.alloc(block).unwrap();
        }
    }
    let stats = arena.stats();
    assert_eq!(stats.allocations, blocks + zeros + 10);
    assert_eq!(stats.bytes_in_use as u64, 100 * (blocks + 10));
    arena.reset();
}

#[test]
fn limit_budget_comes_back_at_reset() {
    let mut arena = Arena::with_limit(256 * 1024);
    let layout = Layout::from_size_align(4096, 8).unwrap();
    for _frame in 0..5 {
        let mut n = 0;
        while arena.alloc(layout).is_ok() {
            n += 1;
        }
        assert!(n >= 16, "frame fitted only {n} blocks");
        arena.check_invariants();
        arena.reset();
        arena.check_invariants();
    }
}

#[test]
fn contents_survive_until_reset() {
    let arena = Arena::new();
    let blocks: Vec<_> = (0..300u32)
        .map(|i| {
            let layout = Layout::from_size_align(1 + (i as usize * 37) % 700, 8).unwrap();
            let ptr = arena.alloc(layout).unwrap();
            fill(ptr, layout, i as u8);
            (ptr, layout, i as u8)
        })
        .collect();
    for (ptr, layout, tag) in blocks {
        check(ptr, layout, tag);
    }
}

#[test]
fn stale_handle_is_detected() {
    let mut arena = Arena::new();
    let h = arena.handle_slice_copy(&[1u8, 2, 3]);
    assert_eq!(arena.get(h), &[1, 2, 3]);
    assert!(arena.is_live(h));
    arena.reset();
    assert!(arena.try_get(h).is_none());
    assert!(!arena.is_live(h));
}

#[test]
#[should_panic(expected = "stale ArenaSlice")]
fn stale_handle_panics_with_message() {
    let mut arena = Arena::new();
    let h = arena.handle_slice_fill_with(4, |i| i as u32);
    arena.reset();
    let _ = arena.get(h);
}

#[test]
fn handle_from_another_arena_is_rejected() {
    let a = Arena::new();
    let b = Arena::new();
    let h = a.handle_slice_copy(&[5u16]);
    assert!(b.try_get(h).is_none());
}

#[test]
fn slice_helpers() {
    let arena = Arena::new();
    let squares = arena.alloc_slice_fill_with(5, |i| (i * i) as u64);
    assert_eq!(squares, &[0, 1, 4, 9, 16]);
    let v = arena.alloc_value(Some(3u8));
    *v = None;
    assert_eq!(*v, None);
    let empty: &mut [u32] = arena.alloc_slice_copy(&[]);
    assert!(empty.is_empty());
}

#[test]
fn threads_allocate_from_one_arena() {
    let mut arena = Arena::new();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let arena = &arena;
            s.spawn(move || {
                let layout = Layout::from_size_align(48, 16).unwrap();
                let blocks: Vec<_> = (0..200)
                    .map(|_| {
                        let p = arena.alloc(layout).unwrap();
                        fill(p, layout, t + 1);
                        p
                    })
                    .collect();
                for p in blocks {
                    check(p, layout, t + 1);
                }
            });
        }
    });
    let s = arena.stats();
    assert_eq!(s.allocations, 800);
    assert_eq!(s.bytes_in_use, 800 * 48);
    arena.check_invariants();
    arena.reset();
    arena.check_invariants();
    assert_eq!(arena.stats().bytes_in_use, 0);
}

#[test]
fn a_growing_vec_reuses_its_own_bytes() {
    let arena = Arena::new();
    let mut v = allocator_api2::vec::Vec::with_capacity_in(16, &arena);
    v.extend(0..16u32);
    let (before, old_cap) = (v.as_ptr().addr(), v.capacity());
    v.push(16); // grows: the Vec is the lane's latest block
    let (after, new_cap) = (v.as_ptr().addr(), v.capacity());
    // Chunks bump upwards: grown in place, the block stays where it is and
    // only the added bytes are counted (a copy would count a new block).
    assert!(new_cap > old_cap);
    assert_eq!(after, before, "not grown in place");
    assert_eq!(arena.stats().bytes_in_use, new_cap * 4);
    assert_eq!(arena.stats().allocations, 1);
    assert!(v.iter().copied().eq(0..17));
    // Not the latest block any more: the growth copies, contents kept.
    let mut w = allocator_api2::vec::Vec::with_capacity_in(4, &arena);
    w.extend([1u64, 2, 3, 4]);
    arena.alloc_value(0u8);
    w.push(5);
    assert_eq!(&w[..], &[1, 2, 3, 4, 5]);
    drop((v, w));
    let mut arena = arena;
    arena.check_invariants();
}

#[test]
fn collections_run_on_the_arena() {
    let arena = Arena::new();
    let mut v = allocator_api2::vec::Vec::new_in(&arena);
    for i in 0..1000u32 {
        v.push(i);
    }
    assert_eq!(v.iter().sum::<u32>(), 499_500);
}

#[test]
#[should_panic(expected = "arena chunk: its next block would start at")]
fn check_invariants_reports_a_chunk_bumped_past_its_end() {
    let mut arena = Arena::new();
    arena.lanes.fallback_mut().0.break_chunk_for_test();
    arena.check_invariants();
}

/// Drives the reclaim of an exited thread's lane (for Miri and TSan). Other
/// tests' threads run in this process and may inherit the exited thread's id
/// at once (then its lane is theirs, not dead), so only what holds either
/// way is checked here; `tests/fresh_process.rs` proves the outcome in a process
/// of its own.
#[test]
fn reset_releases_the_chunks_of_an_exited_thread() {
    let mut arena = Arena::with_limit(256 * 1024);
    let block = Layout::from_size_align(64 * 1024, 8).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            arena.alloc(block).unwrap();
        })
        .join()
        .unwrap();
    });
    arena.reset();
    arena.check_invariants();
    assert!(arena.alloc(block).is_ok());
}

#[test]
fn a_spike_s_chunk_goes_back_a_window_after_the_spike() {
    use crate::alloc::trim::WINDOW_FRAMES;
    let mut arena = Arena::new();
    // One copy of a zeroed buffer fills the block: Miri interprets a
    // per-byte fill slowly, a copy quickly.
    let frame = |arena: &mut Arena, bytes: usize| {
        arena.alloc_slice_copy(&vec![0u8; bytes]);
        arena.reset();
    };
    for _ in 0..WINDOW_FRAMES {
        frame(&mut arena, 1024);
    }
    let steady = arena.stats().bytes_reserved;
    // The spike: the lane keeps its chunk.
    let spike = if cfg!(miri) { 1 << 20 } else { 8 << 20 };
    frame(&mut arena, spike);
    assert!(arena.stats().bytes_reserved >= spike);
    for _ in 0..WINDOW_FRAMES {
        frame(&mut arena, 1024);
    }
    let after = arena.stats().bytes_reserved;
    assert!(
        after <= steady.max(64 << 10) && after < spike,
        "still {after} bytes held a window after the spike (steady: {steady})"
    );
}

/// Frames that move between threads, as a bevy executor moves systems:
/// frame `f` runs `work` on thread `f % threads` (threads that live for the
/// whole run, so each keeps its lane), and the arena resets between frames.
/// Returns the arena and, per frame, what `work` returned and the arena's
/// stats after the reset.
fn take_turns<R: Send>(
    arena: Arena,
    threads: usize,
    frames: usize,
    work: impl Fn(&Arena) -> R + Sync,
) -> (Arena, Vec<(R, Stats)>) {
    use std::sync::{RwLock, mpsc};
    // Workers read-lock it for their frame; the reset write-locks it.
    let arena = RwLock::new(arena);
    let mut after = Vec::with_capacity(frames);
    std::thread::scope(|s| {
        let (done_tx, done_rx) = mpsc::channel();
        let turns: Vec<_> = (0..threads)
            .map(|_| {
                let (tx, rx) = mpsc::channel::<()>();
                let (done, arena, work) = (done_tx.clone(), &arena, &work);
                s.spawn(move || {
                    for () in rx {
                        let result = work(&arena.read().unwrap());
                        done.send(result).unwrap();
                    }
                });
                tx
            })
            .collect();
        for frame in 0..frames {
            turns[frame % threads].send(()).unwrap();
            let result = done_rx.recv().unwrap();
            let mut arena = arena.write().unwrap();
            arena.reset();
            after.push((result, arena.stats()));
        }
        drop(turns);
    });
    (arena.into_inner().unwrap(), after)
}

#[test]
fn a_steady_load_moving_between_threads_takes_no_new_chunk() {
    // 16,384 x 64 B = 1 MiB a frame (8 KiB under Miri).
    let (blocks, frames) = if cfg!(miri) { (128, 12) } else { (16_384, 240) };
    let layout = Layout::from_size_align(64, 8).unwrap();
    for threads in [1, 2, 4] {
        let (mut arena, after) = take_turns(Arena::new(), threads, frames, |arena| {
            for _ in 0..blocks {
                arena.alloc(layout).unwrap();
            }
        });
        let warm = frames / 4;
        let first = &after[warm].1;
        for (frame, ((), s)) in after.iter().enumerate().skip(warm) {
            assert_eq!(
                (s.bytes_reserved, s.chunks_taken),
                (first.bytes_reserved, first.chunks_taken),
                "{threads} threads taking turns, frame {frame}: the arena took a chunk from the \
                 system at a steady load"
            );
        }
        let used = blocks * 64;
        // Its bytes, a 64 KiB chunk per thread, and rounding to chunks.
        assert!(
            first.bytes_reserved <= used + (threads + 2) * 64 * 1024,
            "{threads} threads taking turns hold {} bytes for {used} in use: more than one \
             frame's peak",
            first.bytes_reserved
        );
        arena.check_invariants();
    }
}

#[test]
fn a_limited_arena_fits_nearly_its_limit_whichever_thread_fills_it() {
    const LIMIT: usize = 1 << 20;
    let block = Layout::from_size_align(4096, 8).unwrap();
    let frames = if cfg!(miri) { 4 } else { 20 };
    for threads in [1, 4] {
        let (mut arena, after) = take_turns(Arena::with_limit(LIMIT), threads, frames, |arena| {
            let mut fitted = 0;
            while arena.alloc(block).is_ok() {
                fitted += block.size();
            }
            fitted
        });
        for (frame, (fitted, _)) in after.iter().enumerate() {
            assert!(
                fitted * 10 >= LIMIT * 9,
                "{threads} threads taking turns, frame {frame}: only {fitted} bytes of a \
                 {LIMIT}-byte limit fitted"
            );
        }
        arena.check_invariants();
    }
}

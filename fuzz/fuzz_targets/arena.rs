//! `Arena`, optionally limited: raw blocks, `allocator_api2` grow and shrink,
//! a `Vec` on `&Arena` (shrinks included), blocks from threads that then
//! exit, handles, resets, checked against a model of the live blocks and of
//! the stats.
//!
//! Also the defects `framemem/tests/defects/arena.rs` pins, now that they are
//! fixed: `Vec::shrink_to_fit` / `shrink_to` on a full limited arena needs
//! no memory (defect 1: it aborted the process); a thread's blocks outlive
//! it until the reset, counted exactly (defect 3's threads; that a dead
//! thread's lease comes back is `tests/torture.rs`'s).

#![no_main]

use std::alloc::Layout;

use allocator_api2::alloc::Allocator as _;
use allocator_api2::vec::Vec as AVec;
use arbitrary::Arbitrary;
use framemem::{AllocError, AllocStrategy, Arena, ArenaSlice, TypedAlloc};
use framemem_fuzz::{AllocArgs, GrowArgs, Live, SendPtr, ShrinkArgs};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc(AllocArgs),
    Free {
        which: u8,
    },
    Grow(GrowArgs),
    Shrink(ShrinkArgs),
    VecPush {
        n: u8,
    },
    VecTruncate {
        len: u16,
    },
    /// `shrink_to(min)` on the `Vec`, or `shrink_to_fit` for `u16::MAX`.
    VecShrink {
        min: u16,
    },
    /// A thread allocates a block and exits; the block lives on.
    AllocElsewhere(AllocArgs),
    Handle {
        len: u8,
    },
    Reset,
    Stats,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// A limit in KiB (0: none).
    limit_kib: u8,
    ops: Vec<Op>,
}

/// Alignments up to 4 KiB; sizes up to 64 KiB.
const MAX_ALIGN_LOG: u8 = 12;

fuzz_target!(|input: Input| {
    let limit = (input.limit_kib != 0).then(|| usize::from(input.limit_kib) * 4096);
    let mut arena = match limit {
        Some(l) => Arena::with_limit(l),
        None => Arena::new(),
    };
    let mut resets = 0;
    // Frames: the Vec and the handles borrow or belong to one epoch.
    let mut ops = input.ops.into_iter().peekable();
    while ops.peek().is_some() {
        let mut live = Live::default();
        // Requested bytes since the reset, as the arena counts them, while
        // `exact` (no shrink so far: its count depends on how it is done).
        let mut model_bytes = 0usize;
        let mut exact = true;
        let mut handles: Vec<(ArenaSlice<u32>, u32)> = Vec::new();
        {
            let arena = &arena;
            let mut vec: AVec<u32, &Arena> = AVec::new_in(arena);
            for op in ops.by_ref() {
                match op {
                    Op::Reset => break,
                    Op::Alloc(a) => {
                        let Some(l) = a.layout(&live, MAX_ALIGN_LOG) else {
                            continue;
                        };
                        match arena.alloc(l) {
                            Ok(p) => {
                                live.add(p, l);
                                model_bytes += l.size();
                            }
                            Err(e) => expect_limit(e, limit, l),
                        }
                    }
                    Op::Free { which } => {
                        if let Some(i) = live.pick(which) {
                            let b = live.take(i);
                            // SAFETY: a live block of this arena, with its layout.
                            unsafe { arena.free(b.ptr, b.layout) };
                        }
                    }
                    Op::Grow(g) => {
                        let Some(r) = g.pick(&live, MAX_ALIGN_LOG) else {
                            continue;
                        };
                        let (new, old, old_ptr) = (r.new, r.old, r.ptr);
                        // SAFETY: a live block with its layout; `new` is no smaller.
                        match unsafe { arena.grow(old_ptr, old, new) } {
                            Ok(p) => {
                                live.replace(r.index, p.cast(), new, r.kept);
                                // In place (the latest block of an upward
                                // chunk grows where it is), only the added
                                // bytes are new; a moved block (which cannot
                                // start where the live old one does) counts
                                // in full.
                                model_bytes += if p.cast::<u8>() == old_ptr {
                                    new.size() - old.size()
                                } else {
                                    new.size()
                                };
                            }
                            Err(_) => {
                                assert!(limit.is_some(), "grow failed without a limit");
                                live.check_all(); // the old block is intact
                            }
                        }
                    }
                    Op::Shrink(sh) => {
                        let Some(r) = sh.pick(&live, MAX_ALIGN_LOG) else {
                            continue;
                        };
                        let (new, old_ptr) = (r.new, r.ptr);
                        let keeps_place =
                            new.size() == 0 || old_ptr.as_ptr().addr() % new.align() == 0;
                        // SAFETY: a live block with its layout; `new` is no larger.
                        match unsafe { arena.shrink(old_ptr, r.old, new) } {
                            // A shrink to nothing frees the block (as std's
                            // `Global` does): gone, not to be freed again.
                            Ok(_) if new.size() == 0 => drop(live.blocks.swap_remove(r.index)),
                            Ok(p) => {
                                live.replace(r.index, p.cast(), new, r.kept);
                                // Kept in place (defect 1): nothing new. Moved
                                // (more alignment than the block had): a new
                                // block, counted in full.
                                if p.cast::<u8>() != old_ptr && new.size() != 0 {
                                    model_bytes += new.size();
                                }
                            }
                            // A shrink needs no memory unless it needs more
                            // alignment than the block has (then it moves).
                            Err(e) => {
                                assert!(!keeps_place, "a shrink in place failed: {e:?}");
                                assert!(limit.is_some(), "shrink failed without a limit");
                                live.check_all();
                            }
                        }
                    }
                    Op::VecPush { n } => {
                        for _ in 0..n {
                            // try_reserve first: a plain push on a full
                            // limited arena aborts (handle_alloc_error).
                            if vec.try_reserve(1).is_err() {
                                assert!(limit.is_some(), "Vec growth failed without a limit");
                                break;
                            }
                            vec.push(vec.len() as u32);
                        }
                        exact = false; // growths in place count like any alloc, but
                        // how often the Vec grows is allocator_api2's business
                    }
                    Op::VecTruncate { len } => vec.truncate(len.into()),
                    Op::VecShrink { min } => {
                        // Needs no memory on any arena, however full.
                        if min == u16::MAX {
                            vec.shrink_to_fit();
                        } else {
                            vec.shrink_to(min.into());
                        }
                        exact = false;
                    }
                    Op::AllocElsewhere(a) => {
                        let Some(l) = a.layout(&live, MAX_ALIGN_LOG) else {
                            continue;
                        };
                        let got = std::thread::scope(|s| {
                            s.spawn(|| arena.alloc(l).map(SendPtr)).join().unwrap()
                        });
                        match got {
                            Ok(p) => {
                                live.add(p.0, l);
                                model_bytes += l.size();
                            }
                            Err(e) => expect_limit(e, limit, l),
                        }
                    }
                    Op::Handle { len } => {
                        let values: Vec<u32> = (0..u32::from(len)).collect();
                        match arena.try_handle_slice_copy(&values) {
                            Ok(h) => {
                                handles.push((h, u32::from(len)));
                                model_bytes += values.len() * 4;
                            }
                            Err(e) => expect_limit(e, limit, Layout::for_value(&values[..])),
                        }
                    }
                    Op::Stats => {
                        live.check_all();
                        let s = arena.stats();
                        check_stats(&s, limit, resets);
                        if exact {
                            assert_eq!(s.bytes_in_use, model_bytes, "{s:?}");
                        } else {
                            assert!(s.bytes_in_use >= live.bytes(), "{s:?}");
                        }
                    }
                }
                assert!(vec.iter().copied().eq(0..vec.len() as u32));
            }
            live.check_all();
            for (h, len) in &handles {
                assert!(arena.get(*h).iter().copied().eq(0..*len));
            }
        }
        let s = arena.stats();
        check_stats(&s, limit, resets);
        arena.reset();
        resets += 1;
        let s = arena.stats();
        assert_eq!(s.bytes_in_use, 0, "{s:?}");
        check_stats(&s, limit, resets);
        for (h, _) in handles {
            assert!(arena.try_get(h).is_none(), "a handle survived the reset");
        }
    }
});

fn expect_limit(e: AllocError, limit: Option<usize>, l: Layout) {
    match (e, limit) {
        (
            AllocError::LimitExceeded {
                requested,
                limit: got,
            },
            Some(limit),
        ) => {
            assert_eq!((requested, got), (l.size(), limit));
        }
        _ => panic!("{e} for {l:?} with limit {limit:?}"),
    }
}

fn check_stats(s: &framemem::Stats, limit: Option<usize>, resets: u64) {
    assert!(s.frees <= s.allocations, "{s:?}");
    assert!(s.bytes_in_use <= s.peak_bytes_in_use, "{s:?}");
    assert_eq!(s.resets, resets, "{s:?}");
    if let Some(limit) = limit {
        assert!(s.bytes_reserved <= limit, "{s:?}");
    }
}

//! `Slab`: raw blocks of every size class and of the large (> 4 KiB) path,
//! `allocator_api2` grow and shrink across classes and into and out of the
//! large path, frees on another thread, `SlabSlice` handles, resets; checked
//! against a model of the live blocks and of `bytes_in_use`.
//!
//! Also the defects `framemem/tests/defects/slab.rs` pins, now that they are
//! fixed: frees of a foreign pointer or with a layout of another class panic
//! (in release builds too) and leave the slab as it was (defect 6); every
//! allocation is matched by a free once all blocks are freed, shrinks to
//! nothing included (defect 7); stats read while another thread frees are
//! coherent (defect 2).

#![no_main]

use std::alloc::Layout;

use allocator_api2::alloc::Allocator as _;
use arbitrary::Arbitrary;
use framemem::{AllocStrategy, Slab, SlabSlice, TypedAlloc};
use framemem_fuzz::{AllocArgs, Block, GrowArgs, Live, SendPtr, ShrinkArgs, expect_panic};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Alloc(AllocArgs),
    Free {
        which: u8,
    },
    /// Freed by a short-lived thread (which then exits).
    FreeElsewhere {
        which: u8,
    },
    Grow(GrowArgs),
    Shrink(ShrinkArgs),
    Slice {
        len: u8,
    },
    FreeSlice {
        which: u8,
    },
    Reset,
    Stats,
    /// Frees a live class block with a layout larger than its slot (another
    /// class, or the large path): must panic and change nothing.
    FreeWrongLayout {
        which: u8,
        size_log: u8,
    },
    /// Frees a block of another slab: must panic and change nothing.
    FreeForeign {
        size: u16,
    },
    /// Another thread frees a block while this one reads the stats.
    StatsWhileFreedElsewhere {
        which: u8,
    },
    /// Give back empty chunks until at most `keep_kib` KiB of chunk memory
    /// is free.
    Trim {
        keep_kib: u16,
    },
}

/// Alignments up to 8 KiB: past the largest slot, into the large path.
const MAX_ALIGN_LOG: u8 = 13;

/// The bytes a block occupies, as the slab counts them: its slot for a size
/// class, the request for the large path, nothing for a zero size.
/// A resized block's new charge: its old one plus what the resize changed
/// `bytes_in_use` by. It must hold the new size, and be no more than the
/// larger of the old charge (the block kept) and a fresh block's (moved).
fn recharge(old: usize, before: usize, after: usize, new: Layout) -> usize {
    let charge = (old + after)
        .checked_sub(before)
        .expect("a resize freed more than the block was charged");
    assert!(
        new.size() <= charge && charge <= old.max(charged(new)),
        "{new:?} charged {charge} B after a resize (was {old} B)"
    );
    charge
}

fn charged(l: Layout) -> usize {
    if l.size() == 0 {
        return 0;
    }
    if l.size() > 4096 || l.align() > 4096 {
        return l.size();
    }
    *Slab::SIZE_CLASSES
        .iter()
        .find(|&&c| c >= l.size() && c % l.align() == 0)
        .expect("every layout up to 4 KiB has a class")
}

struct SendBlock(Block);
// SAFETY: the block is owned by whoever holds it.
unsafe impl Send for SendBlock {}

/// Stats every reader may rely on, whatever other threads do.
fn check_coherent(s: &framemem::Stats) {
    assert!(s.bytes_in_use <= s.peak_bytes_in_use, "{s:?}");
    assert!(s.bytes_in_use <= s.bytes_reserved, "{s:?}");
    assert!(s.frees <= s.allocations, "{s:?}");
}

fuzz_target!(|ops: Vec<Op>| {
    let mut slab = Slab::new();
    // For foreign frees: blocks of another slab.
    let other = Slab::new();
    let mut live = Live::default();
    // Per live block (same order as `live.blocks`), the bytes the slab
    // charges it: its slot, or its size on the large path. A resize in
    // place keeps the slot (a shrink across classes too), so the charge
    // follows the block, not its current layout.
    let mut charges: Vec<usize> = Vec::new();
    let mut slices: Vec<(SlabSlice<u16>, u16)> = Vec::new();
    let mut resets = 0u64;
    // Zero-size blocks handed from `AllocStrategy` to allocator_api2 (Grow).
    let mut uncounted_frees = 0u64;
    for op in ops {
        match op {
            Op::Alloc(a) => {
                let Some(l) = a.layout(&live, MAX_ALIGN_LOG) else {
                    continue;
                };
                let p = slab.alloc(l).expect("the slab has no limit");
                live.add(p, l);
                charges.push(charged(l));
            }
            Op::Free { which } => {
                if let Some(i) = live.pick(which) {
                    let b = live.take(i);
                    charges.swap_remove(i);
                    // SAFETY: a live block of this slab, with its layout.
                    unsafe { slab.free(b.ptr, b.layout) };
                }
            }
            Op::FreeElsewhere { which } => {
                if let Some(i) = live.pick(which) {
                    let b = SendBlock(live.take(i));
                    charges.swap_remove(i);
                    let slab = &slab;
                    // Joined (not left to the scope): the thread's exit, its
                    // lane's release included, is over before the next op.
                    std::thread::scope(|s| {
                        s.spawn(move || {
                            let b = b;
                            // SAFETY: a live block of this slab, with its layout.
                            unsafe { slab.free(b.0.ptr, b.0.layout) };
                        })
                        .join()
                        .unwrap();
                    });
                }
            }
            Op::Grow(g) => {
                let Some(r) = g.pick(&live, MAX_ALIGN_LOG) else {
                    continue;
                };
                let (i, new) = (r.index, r.new);
                if r.old.size() == 0 && new.size() != 0 {
                    // A zero-size block of `AllocStrategy::alloc` (counted)
                    // that allocator_api2's `grow` takes for a dangling one
                    // (uncounted, as std's `Global` does): its free is never
                    // counted (`alloc/api2.rs`). Grown to zero size, the
                    // dangling block it returns is allocated uncounted too,
                    // and its later `free` makes up for the first.
                    uncounted_frees += 1;
                }
                let before = slab.stats().bytes_in_use;
                // SAFETY: a live block with its layout; `new` is no smaller.
                let p = unsafe { (&slab).grow(r.ptr, r.old, new) }.expect("the slab has no limit");
                live.replace(i, p.cast(), new, r.kept);
                charges[i] = recharge(charges[i], before, slab.stats().bytes_in_use, new);
            }
            Op::Shrink(sh) => {
                let Some(r) = sh.pick(&live, MAX_ALIGN_LOG) else {
                    continue;
                };
                let (i, new) = (r.index, r.new);
                if r.old.size() == 0 {
                    // As in `Grow`: allocator_api2's `shrink` frees a
                    // zero-size block as a dangling one, uncounted.
                    uncounted_frees += 1;
                }
                let before = slab.stats().bytes_in_use;
                // SAFETY: a live block with its layout; `new` is no larger.
                let p =
                    unsafe { (&slab).shrink(r.ptr, r.old, new) }.expect("a shrink must not fail");
                if new.size() == 0 {
                    // A shrink to nothing frees the block (as std's `Global`
                    // does): gone, not to be freed again.
                    live.blocks.swap_remove(i); // freed: no contents to check
                    assert_eq!(before - slab.stats().bytes_in_use, charges.swap_remove(i));
                    continue;
                }
                live.replace(i, p.cast(), new, r.kept);
                charges[i] = recharge(charges[i], before, slab.stats().bytes_in_use, new);
            }
            Op::Slice { len } => {
                let values: Vec<u16> = (0..u16::from(len)).collect();
                slices.push((slab.handle_slice_copy(&values), u16::from(len)));
            }
            Op::FreeSlice { which } => {
                if !slices.is_empty() {
                    let (s, len) = slices.swap_remove(which as usize % slices.len());
                    assert!(slab.get(&s).iter().copied().eq(0..len));
                    assert!(slab.free_slice(s), "a live slice was not freed");
                }
            }
            Op::Reset => {
                live.check_all();
                for (s, len) in &slices {
                    assert!(slab.get(s).iter().copied().eq(0..*len));
                }
                slab.reset();
                resets += 1;
                live = Live::default();
                charges.clear();
                for (s, _) in slices.drain(..) {
                    assert!(slab.try_get(&s).is_none(), "a slice survived the reset");
                    assert!(!slab.free_slice(s), "a stale slice was freed");
                }
                assert_eq!(slab.stats().bytes_in_use, 0);
            }
            Op::FreeWrongLayout { which, size_log } => {
                let Some(i) = live.pick(which) else { continue };
                let b = &live.blocks[i];
                if b.layout.size() == 0 {
                    continue; // a dangling block: nothing to check
                }
                // A size past what the block holds: its slot for a class
                // block (a larger class, or past the largest, 8 KiB), its
                // request for a large one (`charges` holds both). (A smaller
                // layout can be the block's own after a shrink in place,
                // which keeps the slot.)
                let wrong = Layout::from_size_align(8 << (size_log % 11), 8).unwrap();
                if wrong.size() <= charges[i] {
                    continue;
                }
                let before = slab.stats();
                let (ptr, ok) = (b.ptr, b.layout);
                // SAFETY: none: a deliberate free with the wrong layout, which
                // the slab must catch before touching anything.
                expect_panic("Slab::free", || unsafe { slab.free(ptr, wrong) });
                assert_eq!(slab.stats(), before, "a refused free changed the stats");
                live.check_all();
                // Still live: its right free works.
                let b = live.take(i);
                charges.swap_remove(i);
                debug_assert_eq!(b.layout, ok);
                // SAFETY: a live block of this slab, with its layout.
                unsafe { slab.free(b.ptr, b.layout) };
            }
            Op::FreeForeign { size } => {
                let l = Layout::from_size_align(usize::from(size % 4096) + 1, 8).unwrap();
                // The slab has a chunk of that class, so that the check is
                // the chunk map's, not "no such class".
                let warm = slab.alloc(l).expect("the slab has no limit");
                let foreign = other.alloc(l).expect("the slab has no limit");
                let before = slab.stats();
                // SAFETY: none: a deliberate free on the wrong slab, which
                // must panic.
                expect_panic("Slab::free", || unsafe { slab.free(foreign, l) });
                assert_eq!(slab.stats(), before, "a refused free changed the stats");
                // SAFETY: blocks of these slabs, with their layouts.
                unsafe {
                    other.free(foreign, l);
                    slab.free(warm, l);
                }
            }
            Op::StatsWhileFreedElsewhere { which } => {
                let Some(i) = live.pick(which) else { continue };
                let b = live.take(i);
                charges.swap_remove(i);
                let (ptr, layout) = (SendPtr(b.ptr), b.layout);
                let slab = &slab;
                std::thread::scope(|s| {
                    let freeing = s.spawn(move || {
                        let ptr = ptr;
                        // SAFETY: a live block of this slab, with its layout.
                        unsafe { slab.free(ptr.0, layout) };
                    });
                    for _ in 0..64 {
                        check_coherent(&slab.stats());
                    }
                    freeing.join().unwrap();
                });
            }
            Op::Trim { keep_kib } => {
                let before = slab.stats();
                let given_back = slab.trim(usize::from(keep_kib) * 1024);
                let after = slab.stats();
                assert_eq!(
                    after.bytes_in_use, before.bytes_in_use,
                    "{before:?} -> {after:?}"
                );
                assert_eq!(after.bytes_reserved, before.bytes_reserved - given_back);
                assert!(
                    given_back % (64 * 1024) == 0,
                    "{given_back} B is not whole chunks"
                );
                live.check_all();
                for (s, len) in &slices {
                    assert!(slab.get(s).iter().copied().eq(0..*len));
                }
            }
            Op::Stats => {
                live.check_all();
                let model: usize = charges.iter().sum::<usize>()
                    + slices
                        .iter()
                        .map(|(s, _)| charged(Layout::array::<u16>(s.len()).unwrap()))
                        .sum::<usize>();
                let s = slab.stats();
                assert_eq!(s.bytes_in_use, model, "{s:?}");
                check_coherent(&s);
                assert_eq!(s.resets, resets);
                let classes = slab.class_stats();
                let slots: usize = classes
                    .iter()
                    .map(|c| c.slots_in_use as usize * c.slot_bytes)
                    .sum();
                assert!(slots <= s.bytes_in_use, "{classes:?} vs {s:?}");
            }
        }
    }
    live.check_all();
    for b in live.blocks.drain(..) {
        // SAFETY: a live block of this slab, with its layout.
        unsafe { slab.free(b.ptr, b.layout) };
    }
    for (s, _) in slices {
        assert!(slab.free_slice(s));
    }
    let s = slab.stats();
    assert_eq!(s.bytes_in_use, 0);
    if resets == 0 {
        // Every block was freed (a reset drops blocks uncounted).
        assert_eq!(s.allocations, s.frees + uncounted_frees, "{s:?}");
    }
});

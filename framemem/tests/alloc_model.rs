//! Property tests: random sequences of alloc / free / reset against a model.
//!
//! For every strategy behind the `AllocStrategy` trait the model is the set of
//! live blocks. After every step: every live block is aligned, no two live
//! blocks overlap, every live block still holds the bytes written into it,
//! and the strategy's counters match the model's.
//!
//! Cases: 10,000 per strategy in a release run
//! (`cargo test --release --test alloc_model`), 500 in a debug run, 4 under
//! Miri.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use framemem::{AllocStrategy, Arena, Heap, Slab, Stats};
use proptest::prelude::*;

/// The slab's chunk size (`src/alloc/slab/classes.rs`): what a trim gives
/// back at a time.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Clone, Debug)]
enum Op {
    /// Allocate `size` bytes aligned to `2^align_log2`.
    Alloc { size: usize, align_log2: u32 },
    /// Free the live block at `index % live.len()`.
    Free { index: usize },
    /// Reset the allocator.
    Reset,
    /// Give memory held for reuse back (the slab's empty chunks), keeping
    /// at most `keep_chunks` chunks' worth free.
    Trim { keep_chunks: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (size(), 0u32..=12).prop_map(|(size, align_log2)| Op::Alloc { size, align_log2 }),
        4 => any::<usize>().prop_map(|index| Op::Free { index }),
        1 => Just(Op::Reset),
        1 => (0usize..3).prop_map(|keep_chunks| Op::Trim { keep_chunks }),
    ]
}

/// Mostly small sizes, some around class boundaries, a few large ones.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..=256,
        3 => 257usize..=4096,
        1 => 4097usize..=if cfg!(miri) { 6000 } else { 20_000 },
    ]
}

struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
    tag: u8,
}

/// What each strategy counts as the bytes of a block (see `Stats`).
trait Accounting: AllocStrategy {
    fn accounted_bytes(layout: Layout) -> usize;
    /// Whether `reset` releases the live blocks.
    const RESET_RELEASES: bool;
    /// Whether `free` gives the bytes back before the next reset.
    const FREE_RELEASES: bool = true;
    /// Gives memory kept for reuse back, keeping at most `keep_free` bytes
    /// free; returns what it gave back. Only the slab has a trim.
    fn trim(&mut self, _keep_free: usize) -> usize {
        0
    }
}

impl Accounting for Heap {
    fn accounted_bytes(layout: Layout) -> usize {
        layout.size()
    }
    const RESET_RELEASES: bool = false;
}

impl Accounting for Arena {
    fn accounted_bytes(layout: Layout) -> usize {
        layout.size()
    }
    const RESET_RELEASES: bool = true;
    const FREE_RELEASES: bool = false;
}

impl Accounting for Slab {
    /// The slot size, for small blocks: the smallest class that fits the
    /// size and is a multiple of the alignment.
    fn accounted_bytes(layout: Layout) -> usize {
        if layout.size() == 0 {
            return 0;
        }
        Slab::SIZE_CLASSES
            .iter()
            .copied()
            .find(|&c| c >= layout.size() && c % layout.align() == 0)
            .unwrap_or(layout.size())
    }
    const RESET_RELEASES: bool = true;
    fn trim(&mut self, keep_free: usize) -> usize {
        Slab::trim(self, keep_free)
    }
}

fn fill(block: &Block) {
    // SAFETY: a live block of `layout.size()` bytes.
    unsafe {
        block
            .ptr
            .as_ptr()
            .write_bytes(block.tag, block.layout.size())
    };
}

fn check(block: &Block) -> Result<(), TestCaseError> {
    // SAFETY: a live block, filled when it was allocated.
    let bytes = unsafe { std::slice::from_raw_parts(block.ptr.as_ptr(), block.layout.size()) };
    prop_assert!(
        // `==` on bytes is one memcmp (fast under Miri too).
        bytes == vec![block.tag; bytes.len()].as_slice(),
        "block {:p} ({:?}) lost its contents",
        block.ptr,
        block.layout
    );
    Ok(())
}

fn check_no_overlap(live: &[Block]) -> Result<(), TestCaseError> {
    let mut spans: Vec<(usize, usize)> = live
        .iter()
        .filter(|b| b.layout.size() > 0)
        .map(|b| (b.ptr.as_ptr() as usize, b.layout.size()))
        .collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let ((a, a_len), (b, _)) = (pair[0], pair[1]);
        prop_assert!(
            a + a_len <= b,
            "blocks at {a:#x}+{a_len} and {b:#x} overlap"
        );
    }
    Ok(())
}

fn run<A: Accounting>(mut alloc: A, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut live: Vec<Block> = Vec::new();
    let mut expected = Stats::default();
    let mut model_bytes = 0usize;
    let mut peak = 0usize;
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Alloc { size, align_log2 } => {
                let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
                let ptr = alloc.alloc(layout).expect("no limit is set");
                prop_assert_eq!(ptr.as_ptr() as usize % layout.align(), 0, "misaligned");
                let block = Block {
                    ptr,
                    layout,
                    tag: (step % 251) as u8 + 1,
                };
                fill(&block);
                live.push(block);
                expected.allocations += 1;
                model_bytes += A::accounted_bytes(layout);
            }
            Op::Free { index } => {
                if live.is_empty() {
                    continue;
                }
                let block = live.swap_remove(index % live.len());
                check(&block)?;
                // SAFETY: the block is live and freed once with its layout.
                unsafe { alloc.free(block.ptr, block.layout) };
                expected.frees += 1;
                if A::FREE_RELEASES {
                    model_bytes -= A::accounted_bytes(block.layout);
                }
            }
            Op::Reset => {
                for block in &live {
                    check(block)?;
                }
                alloc.reset();
                expected.resets += 1;
                if A::RESET_RELEASES {
                    live.clear();
                    model_bytes = 0;
                }
            }
            Op::Trim { keep_chunks } => {
                let keep_free = keep_chunks * CHUNK_BYTES;
                let before = alloc.stats();
                let given_back = alloc.trim(keep_free);
                let after = alloc.stats();
                prop_assert_eq!(after.bytes_reserved, before.bytes_reserved - given_back);
                prop_assert_eq!(given_back % CHUNK_BYTES, 0);
                for block in &live {
                    check(block)?;
                }
                // What a trim left is what it must keep: a second one
                // finds nothing more.
                prop_assert_eq!(alloc.trim(keep_free), 0);
            }
        }
        peak = peak.max(model_bytes);
        check_no_overlap(&live)?;
        let s = alloc.stats();
        prop_assert_eq!(s.allocations, expected.allocations);
        prop_assert_eq!(s.frees, expected.frees);
        prop_assert_eq!(s.resets, expected.resets);
        prop_assert_eq!(s.bytes_in_use, model_bytes);
        // `stats` samples after every step, so the sampled peak is exact here.
        prop_assert_eq!(s.peak_bytes_in_use, peak);
    }
    for block in &live {
        check(block)?;
    }
    for block in live {
        // SAFETY: every remaining block is live and freed once.
        unsafe { alloc.free(block.ptr, block.layout) };
    }
    Ok(())
}

/// Operations per case: fewer under Miri, where each is slow (the ring's
/// model does the same).
const MAX_OPS: usize = if cfg!(miri) { 24 } else { 64 };

proptest! {
    #![proptest_config(common::model::config(500))]

    #[test]
    fn heap_matches_the_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run(Heap::new(), ops)?;
    }

    #[test]
    fn arena_matches_the_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run(Arena::new(), ops)?;
    }

    #[test]
    fn slab_matches_the_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run(Slab::new(), ops)?;
    }
}

//! Reading a frame's blocks in the order they were allocated, as the lab's
//! `update_payloads` reads the trails its spawn system wrote: for each of
//! 200,000 trails (1 to 21 points of 12 bytes, mean 11: the swarm
//! scenario's), the last point, then every point.
//!
//!   cargo bench -p framemem --bench read_order
//!
//! The same trails, the same order, laid out by four allocators:
//! - `bumpalo` and `framemem_arena` bump *down*: each block lies below the
//!   one allocated before it, so reading in allocation order walks memory
//!   backwards from block to block (and forwards inside each);
//! - `bump_scope` (bump-scope's default, upward `Bump`) and `one_vec` (all
//!   points in one `Vec`, what the lab's framevec does) lay blocks out
//!   upwards, so the same reads are one forward stream.
//!
//! Before each read the bench writes `EVICT_BYTES` elsewhere, as the
//! frame's other phases and threads do between spawn and simulate: with
//! 8 MiB (twice this machine's L2) the trails come from its shared
//! last-level cache, with 64 MiB from further (this machine is a VM on a
//! shared host); both are measured. This is the
//! cause of the arena's slower `simulate` phase at 200,000 entities
//! (`--compare`, the README).

// criterion_group! and criterion_main! generate public functions without docs.
#![allow(missing_docs)]

use std::alloc::Layout;
use std::hint::black_box;
use std::ptr::NonNull;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use framemem::Arena;

type Point = [f32; 3];
/// Each trail's first point and length, in allocation order.
type Trails = Vec<(NonNull<Point>, usize)>;

const TRAILS: usize = 200_000;
/// What is written between two reads, by group.
const EVICT_BYTES: [usize; 2] = [8 << 20, 64 << 20];

/// The trails' lengths: 1 to 21 points, from a fixed xorshift sequence.
fn lengths() -> Vec<usize> {
    let mut seed = 0x1234_5678_u64;
    (0..TRAILS)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            1 + (seed % 21) as usize
        })
        .collect()
}

/// Allocates every trail with `alloc` (a block of `len` points) and fills
/// it; returns each trail's start and length, in allocation order.
fn build(lengths: &[usize], mut alloc: impl FnMut(Layout) -> NonNull<u8>) -> Trails {
    lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let block = alloc(Layout::array::<Point>(len).expect("small")).cast::<Point>();
            for j in 0..len {
                // SAFETY: `block` holds `len` points, freshly allocated.
                unsafe { block.add(j).write([(i + j) as f32; 3]) };
            }
            (block, len)
        })
        .collect()
}

/// The lab's read: each trail's last point, then every point.
fn read(trails: &[(NonNull<Point>, usize)]) -> f32 {
    let mut sum = 0.0f32;
    for &(start, len) in trails {
        // SAFETY: `start` holds `len` initialised points, alive for the
        // bench (the allocator that made them outlives it).
        let trail = unsafe { std::slice::from_raw_parts(start.as_ptr(), len) };
        let tail = trail.last().copied().unwrap_or_default();
        let mut reach = 0.0f32;
        for p in trail {
            let d = (p[0] - tail[0]) + (p[1] - tail[1]) + (p[2] - tail[2]);
            reach = reach.max(d * d);
        }
        sum += reach;
    }
    sum
}

fn read_order(c: &mut Criterion) {
    let lengths = lengths();
    let points: usize = lengths.iter().sum();
    let mut layouts: Vec<(&str, Trails)> = Vec::new();

    let bump = bumpalo::Bump::new();
    let trails = build(&lengths, |layout| bump.alloc_layout(layout));
    assert!(trails[1].0 < trails[0].0, "bumpalo bumps down");
    layouts.push(("bumpalo", trails));

    let arena = Arena::new();
    let local = arena.local();
    let trails = build(&lengths, |layout| {
        local.alloc(layout).expect("out of memory")
    });
    layouts.push(("framemem_arena", trails));

    let scope: bump_scope::Bump = bump_scope::Bump::new();
    let trails = build(&lengths, |layout| {
        use bump_scope::traits::BumpAllocatorTyped;
        scope.allocate_layout(layout)
    });
    assert!(trails[1].0 > trails[0].0, "bump-scope bumps up");
    layouts.push(("bump_scope", trails));

    let mut all: Vec<Point> = Vec::with_capacity(points);
    let mut starts = Vec::with_capacity(TRAILS);
    for (i, &len) in lengths.iter().enumerate() {
        starts.push(all.len());
        all.extend((0..len).map(|j| [(i + j) as f32; 3]));
    }
    let base = NonNull::new(all.as_mut_ptr()).expect("a Vec's buffer");
    // SAFETY: each start is an offset inside `all`, which does not move
    // again (no more pushes).
    let trails = starts
        .iter()
        .zip(&lengths)
        .map(|(&start, &len)| (unsafe { base.add(start) }, len))
        .collect();
    layouts.push(("one_vec", trails));

    for evict_bytes in EVICT_BYTES {
        let mut evict = vec![0u8; evict_bytes];
        let mut g = c.benchmark_group(format!(
            "read_200k_trails_in_allocation_order_after_{}MiB",
            evict_bytes >> 20
        ));
        g.throughput(Throughput::Elements(TRAILS as u64));
        for (name, trails) in &layouts {
            g.bench_function(*name, |b| {
                b.iter_batched(
                    || {
                        for byte in evict.iter_mut().step_by(64) {
                            *byte = byte.wrapping_add(1);
                        }
                    },
                    |()| black_box(read(black_box(trails))),
                    BatchSize::PerIteration,
                )
            });
        }
        g.finish();
    }
    drop(local);
}

criterion_group!(benches, read_order);
criterion_main!(benches);

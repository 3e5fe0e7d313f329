//! Prints the README's guide table: what each strategy costs, measured on
//! this machine, in one run of about a minute.
//!
//! `cargo run --release --example guide_table`
//!
//! 1. **The allocators alone.** A frame of 1,000 blocks (all 64 B, then
//!    16-512 B mixed) allocated, each written once, then freed (the arena:
//!    one reset). The strategies take turns, repetition after repetition, so
//!    machine noise falls on all of them alike; each figure is the median
//!    over the repetitions, per block. "Held / requested" is the memory the
//!    strategy holds from the system once the 1,000 blocks are live, over the
//!    bytes asked for.
//! 2. **The frame loop.** The default scenario at 50,000 entities, the
//!    strategies taking turns in blocks of frames: median frame time, its
//!    ratio to the heap, and heap allocations per frame (counted by
//!    `CountingAllocator`, installed below as the global allocator).
//!
//! Medians of interleaved runs make the ratios comparable within one run;
//! absolute figures move with the machine and its load.

// The one place in the lab with unsafe code, allowed by name: part 1 times
// framemem's raw `AllocStrategy::alloc`/`free` and `malloc`/`free` themselves,
// which hand out raw pointers (the lab's crates `forbid` it).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;
use std::time::Instant;

use framemem::{AllocStrategy, Arena, CountingAllocator, Pool, Slab};
use framemem_lab::sim::{DEFAULT_SEED, Scenario, SimOptions, Simulation, Strategy};

#[global_allocator]
static GLOBAL: CountingAllocator<System> = CountingAllocator::new(System);

const BLOCKS: usize = 1000;
const REPETITIONS: usize = 3000;

/// Alloc and free costs of one strategy, ns per block, per repetition.
#[derive(Default)]
struct Costs {
    alloc_ns: Vec<f64>,
    free_ns: Vec<f64>,
    held_over_requested: Option<f64>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One frame on a raw allocator: allocate every layout, write each block,
/// then free them all or reset. Returns (alloc ns, free ns) per block and the
/// bytes held once all blocks were live.
fn raw_frame<A: AllocStrategy>(
    a: &mut A,
    layouts: &[Layout],
    live: &mut Vec<NonNull<u8>>,
    reset: bool,
) -> (f64, f64, usize) {
    let t0 = Instant::now();
    for &l in layouts {
        let p = a.alloc(l).expect("out of memory");
        // SAFETY: a live block of at least one byte.
        unsafe { p.as_ptr().write(1) };
        live.push(p);
    }
    let t1 = Instant::now();
    let held = a.stats().bytes_reserved;
    if reset {
        black_box(&mut *live).clear();
        a.reset();
    } else {
        for (p, &l) in live.drain(..).zip(layouts) {
            // SAFETY: each block came from `a.alloc(l)` and is freed once.
            unsafe { a.free(black_box(p), l) };
        }
    }
    let t2 = Instant::now();
    let per = |d: std::time::Duration| d.as_nanos() as f64 / layouts.len() as f64;
    (per(t1 - t0), per(t2 - t1), held)
}

/// The same frame on `malloc`/`free` directly: what `Box` and `Vec` cost.
/// Not through `Heap`, which here would go through the counting global
/// allocator installed for part 2 and pay its atomic counters.
fn malloc_frame(layouts: &[Layout], live: &mut Vec<NonNull<u8>>) -> (f64, f64) {
    let t0 = Instant::now();
    for &l in layouts {
        // SAFETY: non-zero layouts; each block is freed once below.
        let p = NonNull::new(unsafe { System.alloc(l) }).expect("out of memory");
        // SAFETY: a live block of at least one byte.
        unsafe { p.as_ptr().write(1) };
        live.push(p);
    }
    let t1 = Instant::now();
    for (p, &l) in live.drain(..).zip(layouts) {
        // SAFETY: `p` came from `System.alloc(l)`.
        unsafe { System.dealloc(black_box(p).as_ptr(), l) };
    }
    let t2 = Instant::now();
    let per = |d: std::time::Duration| d.as_nanos() as f64 / layouts.len() as f64;
    (per(t1 - t0), per(t2 - t1))
}

/// The same frame on a pool of fixed `N`-byte blocks (the pool is typed: a
/// mixed-size workload gets blocks of the largest size).
fn pool_frame<const N: usize>(pool: &BlockPool<N>) -> (f64, f64) {
    let t0 = Instant::now();
    let mut live: Vec<_> = Vec::with_capacity(BLOCKS);
    for _ in 0..BLOCKS {
        let mut block = pool.get();
        block[0] = 1;
        live.push(block);
    }
    let t1 = Instant::now();
    drop(black_box(live));
    let t2 = Instant::now();
    let per = |d: std::time::Duration| d.as_nanos() as f64 / BLOCKS as f64;
    (per(t1 - t0), per(t2 - t1))
}

/// A pool of `N`-byte blocks, with nothing to clean on return.
type BlockPool<const N: usize> = Pool<Box<[u8; N]>, fn(&mut Box<[u8; N]>)>;

fn no_reset<const N: usize>(_: &mut Box<[u8; N]>) {}

fn measure_allocators(title: &str, layouts: &[Layout]) {
    let requested: usize = layouts.iter().map(|l| l.size()).sum();
    let largest = layouts.iter().map(|l| l.size()).max().unwrap_or(0);
    let (mut arena, mut slab) = (Arena::new(), Slab::new());
    let pool64: BlockPool<64> = Pool::with(BLOCKS, || Box::new([0; 64]), no_reset::<64>);
    let pool512: BlockPool<512> = Pool::with(BLOCKS, || Box::new([0; 512]), no_reset::<512>);
    let mut costs: [Costs; 4] = Default::default();
    let mut live = Vec::with_capacity(BLOCKS);
    for rep in 0..REPETITIONS {
        for k in 0..4 {
            let which = (k + rep) % 4;
            let c = &mut costs[which];
            let (alloc_ns, free_ns, held) = match which {
                0 => {
                    let (a, f) = malloc_frame(layouts, &mut live);
                    (a, f, 0)
                }
                1 => raw_frame(&mut arena, layouts, &mut live, true),
                2 => raw_frame(&mut slab, layouts, &mut live, false),
                _ if largest <= 64 => {
                    let (a, f) = pool_frame(&pool64);
                    (a, f, BLOCKS * 64)
                }
                _ => {
                    let (a, f) = pool_frame(&pool512);
                    (a, f, BLOCKS * 512)
                }
            };
            c.alloc_ns.push(alloc_ns);
            c.free_ns.push(free_ns);
            // The heap's own bookkeeping is not visible from the program.
            if which != 0 {
                c.held_over_requested = Some(held as f64 / requested as f64);
            }
        }
    }
    println!("\n{title}: {BLOCKS} blocks a frame, median of {REPETITIONS} interleaved frames\n");
    println!("| strategy | alloc ns/block | free ns/block | held / requested |");
    println!("| --- | ---: | ---: | ---: |");
    let names = ["heap (malloc)", "arena", "slab", "pool"];
    for (name, c) in names.iter().zip(&mut costs) {
        let held = match c.held_over_requested {
            Some(r) => format!("{r:.2}x"),
            None => "not visible (malloc's own)".to_string(),
        };
        let free_label = if *name == "arena" { " (one reset)" } else { "" };
        println!(
            "| {name} | {:.2} | {:.2}{free_label} | {held} |",
            median(&mut c.alloc_ns),
            median(&mut c.free_ns),
        );
    }
}

fn measure_frames() {
    const ENTITIES: u64 = 50_000;
    const BLOCK_FRAMES: usize = 10;
    const ROUNDS: usize = 20;
    let threads = framemem_lab::sim::init_task_pool(None);
    let mut scenario = Scenario::builtin();
    scenario.entities_per_frame = ENTITIES;
    let mut sims: Vec<Simulation> = Strategy::ALL
        .iter()
        .map(|&s| {
            Simulation::new(
                s,
                &scenario,
                SimOptions::for_scenario(&scenario, DEFAULT_SEED),
            )
            .count_allocations_with(|| GLOBAL.snapshot())
        })
        .collect();
    for sim in &mut sims {
        for _ in 0..10 {
            sim.step(); // warm-up
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); sims.len()];
    let mut allocs: Vec<u64> = vec![0; sims.len()];
    for round in 0..ROUNDS {
        for k in 0..sims.len() {
            let i = (k + round) % sims.len();
            sims[i].step(); // the first frame after another world ran is cold
            for _ in 0..BLOCK_FRAMES {
                let r = sims[i].step();
                times[i].push(r.time_ns as f64 / 1e6);
                allocs[i] += r.heap.allocations;
            }
        }
    }
    let frames = (ROUNDS * BLOCK_FRAMES) as f64;
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    let heap = Strategy::ALL
        .iter()
        .position(|&s| s == Strategy::Heap)
        .expect("heap is a strategy");
    println!(
        "\nframe loop: default scenario, {ENTITIES} entities/frame, {threads} threads, \
         median of {} interleaved frames each\n",
        ROUNDS * BLOCK_FRAMES
    );
    println!("| strategy | frame ms (p50) | vs heap | heap allocs/frame |");
    println!("| --- | ---: | ---: | ---: |");
    for (i, s) in Strategy::ALL.iter().enumerate() {
        println!(
            "| {} | {:.2} | {:.2}x | {:.0} |",
            s.name(),
            medians[i],
            medians[i] / medians[heap],
            allocs[i] as f64 / frames
        );
    }
}

fn main() {
    let started = Instant::now();
    let fixed = vec![Layout::from_size_align(64, 8).unwrap(); BLOCKS];
    let mut rng = fastrand::Rng::with_seed(42);
    let mixed: Vec<_> = (0..BLOCKS)
        .map(|_| Layout::from_size_align(rng.usize(16..=512), 8).unwrap())
        .collect();
    measure_allocators("64 B blocks", &fixed);
    measure_allocators("16-512 B blocks", &mixed);
    measure_frames();
    println!("\n(measured in {:.0} s)", started.elapsed().as_secs_f64());
}

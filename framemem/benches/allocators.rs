//! The allocators side by side, the way a frame uses them.
//!
//! `cargo bench --bench allocators` runs every group; one group:
//! `cargo bench --bench allocators -- frame_1000x64B`.
//!
//! - `frame_1000x64B`: 1,000 allocations of 64 B (each written once), then all
//!   freed (or one reset). The ids are fixed so runs can be compared;
//!   framemem's own carry its name as prefix, and `_local` marks a
//!   per-thread handle taken once per frame (`Arena::local` and its kin)
//!   rather than `&Arena` per call. `blink_alloc` (blink-alloc's
//!   single-thread `BlinkAlloc`) and `bump_scope` (bump-scope's `Bump`) are
//!   the published local bump allocators.
//! - `pair_64B`: one allocation and its free.
//! - `frame_1000_mixed_16_512B`: the frame pattern with sizes drawn from 16 to
//!   512 B (the same sequence for every allocator).
//! - `frame_1x64B`: a frame of one allocation and the reset, for the bump
//!   allocators: what a frame costs besides its allocations (taking a
//!   handle, the first chunk, the reset).
//! - `frame_2threads_1000x64B`: two threads run the frame pattern at once on
//!   one shared allocator. The arena is absent: a shared arena resets only
//!   when every thread has let go of it, which is a frame barrier, not an
//!   allocator cost.
//!
//! Throughput is in elements (allocations), so criterion reports time per
//! allocation+free.

// criterion_group! and criterion_main! generate public functions without docs.
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use framemem::{AllocStrategy, Arena, Heap, Pool, Slab};

const FRAME: usize = 1000;
const OBJECT: Layout = match Layout::from_size_align(64, 8) {
    Ok(l) => l,
    Err(_) => panic!(),
};

type Object = [u64; 8];

/// Writes `i` into the block so no allocator gets away with untouched memory.
#[inline(always)]
fn touch(ptr: NonNull<u8>, i: usize) {
    // SAFETY: every caller passes a live block of at least 8 bytes, 8-aligned.
    unsafe { ptr.cast::<u64>().write(i as u64) };
}

/// The frame pattern on any `GlobalAlloc`.
fn global_frame<G: GlobalAlloc>(g: &G, layouts: &[Layout], live: &mut Vec<NonNull<u8>>) {
    for (i, &l) in layouts.iter().enumerate() {
        // SAFETY: non-zero layouts; each block is freed once below.
        let p = NonNull::new(unsafe { g.alloc(l) }).expect("out of memory");
        touch(p, i);
        live.push(p);
    }
    for (p, &l) in live.drain(..).zip(layouts) {
        // SAFETY: `p` came from `g.alloc(l)`.
        unsafe { g.dealloc(black_box(p).as_ptr(), l) };
    }
}

/// The frame pattern on one of framemem's allocators: frees, or one reset.
fn framemem_frame<A: AllocStrategy>(
    a: &mut A,
    layouts: &[Layout],
    live: &mut Vec<NonNull<u8>>,
    reset: bool,
) {
    for (i, &l) in layouts.iter().enumerate() {
        let p = a.alloc(l).expect("out of memory");
        touch(p, i);
        live.push(p);
    }
    if reset {
        black_box(&mut *live).clear();
        a.reset();
    } else {
        for (p, &l) in live.drain(..).zip(layouts) {
            // SAFETY: `p` came from `a.alloc(l)` and is freed once.
            unsafe { a.free(black_box(p), l) };
        }
    }
}

fn frame_group(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, layouts: &[Layout]) {
    let fixed = layouts.iter().all(|&l| l == OBJECT);
    let mut live = Vec::with_capacity(layouts.len());
    g.bench_function("system", |b| {
        b.iter(|| global_frame(&System, layouts, &mut live))
    });
    g.bench_function("mimalloc", |b| {
        b.iter(|| global_frame(&mimalloc::MiMalloc, layouts, &mut live))
    });
    g.bench_function("bumpalo", |b| {
        let mut bump = bumpalo::Bump::new();
        b.iter(|| {
            for (i, &l) in layouts.iter().enumerate() {
                let p = bump.alloc_layout(l);
                touch(p, i);
                live.push(p);
            }
            black_box(&mut live).clear();
            bump.reset();
        })
    });
    g.bench_function("blink_alloc", |b| {
        let mut blink = blink_alloc::BlinkAlloc::new();
        b.iter(|| {
            for (i, &l) in layouts.iter().enumerate() {
                let p = blink.allocate(l).expect("out of memory").cast::<u8>();
                touch(p, i);
                live.push(p);
            }
            black_box(&mut live).clear();
            blink.reset();
        })
    });
    g.bench_function("bump_scope", |b| {
        use bump_scope::traits::BumpAllocatorTyped;
        let mut bump: bump_scope::Bump = bump_scope::Bump::new();
        b.iter(|| {
            for (i, &l) in layouts.iter().enumerate() {
                let p = bump.allocate_layout(l);
                touch(p, i);
                live.push(p);
            }
            black_box(&mut live).clear();
            bump.reset();
        })
    });
    if fixed {
        g.bench_function("slab_crate", |b| {
            let mut slab = slab::Slab::<Object>::with_capacity(FRAME);
            let mut keys = Vec::with_capacity(FRAME);
            b.iter(|| {
                for i in 0..FRAME {
                    keys.push(slab.insert([i as u64; 8]));
                }
                for k in keys.drain(..) {
                    black_box(slab.remove(k));
                }
            })
        });
        g.bench_function("vec_freelist", |b| {
            let mut free: Vec<Box<Object>> = Vec::new();
            let mut live: Vec<Box<Object>> = Vec::with_capacity(FRAME);
            b.iter(|| {
                for i in 0..FRAME {
                    let mut obj = free.pop().unwrap_or_else(|| Box::new([0; 8]));
                    obj[0] = i as u64;
                    live.push(obj);
                }
                free.append(black_box(&mut live));
            })
        });
    }
    g.bench_function("framemem_heap", |b| {
        let mut heap = Heap::new();
        b.iter(|| framemem_frame(&mut heap, layouts, &mut live, false))
    });
    g.bench_function("framemem_arena", |b| {
        let mut arena = Arena::new();
        b.iter(|| framemem_frame(&mut arena, layouts, &mut live, true))
    });
    g.bench_function("framemem_arena_local", |b| {
        let mut arena = Arena::new();
        b.iter(|| {
            // One handle per frame: the batch.
            let local = arena.local();
            for (i, &l) in layouts.iter().enumerate() {
                let p = local.alloc(l).expect("out of memory");
                touch(p, i);
                live.push(p);
            }
            black_box(&mut live).clear();
            drop(local);
            arena.reset();
        })
    });
    g.bench_function("framemem_slab", |b| {
        let mut slab = Slab::new();
        b.iter(|| framemem_frame(&mut slab, layouts, &mut live, false))
    });
    g.bench_function("framemem_slab_local", |b| {
        let slab = Slab::new();
        b.iter(|| {
            let local = slab.local();
            for (i, &l) in layouts.iter().enumerate() {
                let p = local.alloc(l).expect("out of memory");
                touch(p, i);
                live.push(p);
            }
            for (p, &l) in live.drain(..).zip(layouts) {
                // SAFETY: `p` came from this slab with `l` and is freed once.
                unsafe { local.free(black_box(p), l) };
            }
        })
    });
    if fixed {
        g.bench_function("framemem_pool", |b| {
            let pool = Pool::with(4 * FRAME, || Box::new([0u64; 8]), |_: &mut Box<Object>| {});
            let mut live = Vec::with_capacity(FRAME);
            b.iter(|| {
                for i in 0..FRAME {
                    let mut obj = pool.get();
                    obj[0] = i as u64;
                    live.push(obj);
                }
                black_box(&mut live).clear(); // every guard goes back to the pool
            })
        });
        g.bench_function("framemem_pool_local", |b| {
            let pool = Pool::with(4 * FRAME, || Box::new([0u64; 8]), |_: &mut Box<Object>| {});
            // One handle for the whole run; the guards go back through it.
            let local = pool.local();
            let mut live = Vec::with_capacity(FRAME);
            b.iter(|| {
                for i in 0..FRAME {
                    let mut obj = local.get();
                    obj[0] = i as u64;
                    live.push(obj);
                }
                black_box(&mut live).clear();
            })
        });
    }
}

fn frame_1000x64b(c: &mut Criterion) {
    let layouts = vec![OBJECT; FRAME];
    let mut g = c.benchmark_group("frame_1000x64B");
    g.throughput(Throughput::Elements(FRAME as u64));
    frame_group(&mut g, &layouts);
    g.finish();
}

fn frame_mixed(c: &mut Criterion) {
    let mut rng = fastrand::Rng::with_seed(42);
    let layouts: Vec<_> = (0..FRAME)
        .map(|_| Layout::from_size_align(rng.usize(16..=512), 8).unwrap())
        .collect();
    let mut g = c.benchmark_group("frame_1000_mixed_16_512B");
    g.throughput(Throughput::Elements(FRAME as u64));
    frame_group(&mut g, &layouts);
    g.finish();
}

fn frame_1x64b(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_1x64B");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bumpalo", |b| {
        let mut bump = bumpalo::Bump::new();
        b.iter(|| {
            touch(bump.alloc_layout(OBJECT), 1);
            bump.reset();
        })
    });
    g.bench_function("framemem_arena", |b| {
        let mut arena = Arena::new();
        b.iter(|| {
            touch(arena.alloc(OBJECT).expect("out of memory"), 1);
            arena.reset();
        })
    });
    g.bench_function("framemem_arena_local", |b| {
        let mut arena = Arena::new();
        b.iter(|| {
            let local = arena.local();
            touch(local.alloc(OBJECT).expect("out of memory"), 1);
            drop(local);
            arena.reset();
        })
    });
    g.finish();
}

fn pair_64b(c: &mut Criterion) {
    let mut g = c.benchmark_group("pair_64B");
    g.throughput(Throughput::Elements(1));
    g.bench_function("system", |b| {
        b.iter(|| {
            // SAFETY: alloc and dealloc of one non-zero layout.
            unsafe {
                let p = System.alloc(black_box(OBJECT));
                System.dealloc(black_box(p), OBJECT);
            }
        })
    });
    g.bench_function("mimalloc", |b| {
        b.iter(|| {
            // SAFETY: as above.
            unsafe {
                let p = mimalloc::MiMalloc.alloc(black_box(OBJECT));
                mimalloc::MiMalloc.dealloc(black_box(p), OBJECT);
            }
        })
    });
    let mut pair = |name: &str, a: &dyn Fn()| {
        g.bench_function(name, |b| b.iter(a));
    };
    let heap = Heap::new();
    pair("framemem_heap", &|| {
        let p = heap.alloc(black_box(OBJECT)).unwrap();
        // SAFETY: freed once with its layout.
        unsafe { heap.free(black_box(p), OBJECT) };
    });
    let slab = Slab::new();
    pair("framemem_slab", &|| {
        let p = slab.alloc(black_box(OBJECT)).unwrap();
        // SAFETY: freed once with its layout.
        unsafe { slab.free(black_box(p), OBJECT) };
    });
    let pool = Pool::with(64, || Box::new([0u64; 8]), |_: &mut Box<Object>| {});
    pair("framemem_pool", &|| {
        black_box(pool.get());
    });
    g.finish();
}

/// Runs `frame` on two threads at once, `iters` frames each, and returns the
/// wall time from a common start.
fn two_threads(iters: u64, frame: &(dyn Fn() + Sync)) -> Duration {
    let start_line = Barrier::new(3);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                start_line.wait();
                for _ in 0..iters {
                    frame();
                }
            });
        }
        start_line.wait();
        let t = Instant::now();
        // The scope joins both threads before returning.
        t
    })
    .elapsed()
}

fn frame_two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_2threads_1000x64B");
    g.throughput(Throughput::Elements(2 * FRAME as u64));
    let layouts = vec![OBJECT; FRAME];
    let system = || global_frame(&System, &layouts, &mut Vec::with_capacity(FRAME));
    g.bench_function("system", |b| b.iter_custom(|n| two_threads(n, &system)));
    let mi = || {
        global_frame(
            &mimalloc::MiMalloc,
            &layouts,
            &mut Vec::with_capacity(FRAME),
        )
    };
    g.bench_function("mimalloc", |b| b.iter_custom(|n| two_threads(n, &mi)));
    let heap = Heap::new();
    let heap_frame = || shared_frame(&heap, &layouts);
    g.bench_function("framemem_heap", |b| {
        b.iter_custom(|n| two_threads(n, &heap_frame))
    });
    let slab = Slab::new();
    let slab_frame = || shared_frame(&slab, &layouts);
    g.bench_function("framemem_slab", |b| {
        b.iter_custom(|n| two_threads(n, &slab_frame))
    });
    let pool = Pool::with(4 * FRAME, || Box::new([0u64; 8]), |_: &mut Box<Object>| {});
    let pool_frame = || {
        let mut live = Vec::with_capacity(FRAME);
        for i in 0..FRAME {
            let mut obj = pool.get();
            obj[0] = i as u64;
            live.push(obj);
        }
        black_box(&mut live).clear();
    };
    g.bench_function("framemem_pool", |b| {
        b.iter_custom(|n| two_threads(n, &pool_frame))
    });
    g.finish();
}

/// The frame pattern on a shared `&A` (no reset: other threads use it).
fn shared_frame<A: AllocStrategy>(a: &A, layouts: &[Layout]) {
    let mut live = Vec::with_capacity(FRAME);
    for (i, &l) in layouts.iter().enumerate() {
        let p = a.alloc(l).expect("out of memory");
        touch(p, i);
        live.push(p);
    }
    for (p, &l) in live.drain(..).zip(layouts) {
        // SAFETY: `p` came from `a.alloc(l)` and is freed once.
        unsafe { a.free(black_box(p), l) };
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = frame_1000x64b, frame_1x64b, pair_64b, frame_mixed, frame_two_threads
}
criterion_main!(benches);

//! The `frame_1000x64B` pattern for instruction counts under callgrind:
//! `scripts/callgrind.sh` runs `instructions PATTERN FRAMES` twice under
//! `valgrind --tool=callgrind`, with `FRAMES` = 0 and = N, and divides the
//! difference by `N * 1000`: instructions per allocation (and its free or
//! share of the reset), start-up, warm-up and chunk growth subtracted.
//!
//! Without arguments (as `cargo bench` runs it) every pattern runs a few
//! frames, a smoke test.

// A bench binary, not a library: nothing to document for users.
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::ptr::NonNull;

use framemem::{AllocStrategy, Arena, Pool, Slab};

const FRAME: usize = 1000;
const WARM_UP_FRAMES: usize = 10;
const OBJECT: Layout = match Layout::from_size_align(64, 8) {
    Ok(l) => l,
    Err(_) => panic!(),
};

type Object = [u64; 8];

/// The patterns, by the ids of `frame_1000x64B` in `benches/allocators.rs`.
const PATTERNS: [&str; 11] = [
    "harness",
    "bumpalo",
    "blink_alloc",
    "bump_scope",
    "mimalloc",
    "vec_freelist",
    "framemem_arena",
    "framemem_arena_local",
    "framemem_slab",
    "framemem_slab_local",
    "framemem_pool",
];
const POOL_LOCAL: &str = "framemem_pool_local";

#[inline(always)]
fn touch(ptr: NonNull<u8>, i: usize) {
    // SAFETY: every caller passes a live block of at least 8 bytes, 8-aligned.
    unsafe { ptr.cast::<u64>().write(i as u64) };
}

/// Runs `frame` for the warm-up frames, then `frames` more.
fn run(frames: usize, mut frame: impl FnMut()) {
    for _ in 0..WARM_UP_FRAMES + frames {
        frame();
    }
}

fn pattern(name: &str, frames: usize) {
    let mut live: Vec<NonNull<u8>> = Vec::with_capacity(FRAME);
    match name {
        // The loop, the writes and the `Vec` of pointers, no allocator: the
        // floor every row includes.
        "harness" => {
            let mut block = [0u64; 8];
            let p = NonNull::from(&mut block).cast::<u8>();
            run(frames, || {
                for i in 0..FRAME {
                    touch(black_box(p), i);
                    live.push(p);
                }
                black_box(&mut live).clear();
            })
        }
        "bumpalo" => {
            let mut bump = bumpalo::Bump::new();
            run(frames, || {
                for i in 0..FRAME {
                    let p = bump.alloc_layout(OBJECT);
                    touch(p, i);
                    live.push(p);
                }
                black_box(&mut live).clear();
                bump.reset();
            })
        }
        "blink_alloc" => {
            let mut blink = blink_alloc::BlinkAlloc::new();
            run(frames, || {
                for i in 0..FRAME {
                    let p = blink.allocate(OBJECT).expect("out of memory").cast();
                    touch(p, i);
                    live.push(p);
                }
                black_box(&mut live).clear();
                blink.reset();
            })
        }
        "bump_scope" => {
            use bump_scope::traits::BumpAllocatorTyped;
            let mut bump: bump_scope::Bump = bump_scope::Bump::new();
            run(frames, || {
                for i in 0..FRAME {
                    let p = bump.allocate_layout(OBJECT);
                    touch(p, i);
                    live.push(p);
                }
                black_box(&mut live).clear();
                bump.reset();
            })
        }
        "mimalloc" => run(frames, || {
            for i in 0..FRAME {
                // SAFETY: a non-zero layout; freed once below.
                let p = NonNull::new(unsafe { mimalloc::MiMalloc.alloc(OBJECT) }).expect("oom");
                touch(p, i);
                live.push(p);
            }
            for p in live.drain(..) {
                // SAFETY: from `MiMalloc.alloc(OBJECT)`.
                unsafe { mimalloc::MiMalloc.dealloc(black_box(p).as_ptr(), OBJECT) };
            }
        }),
        "vec_freelist" => {
            let mut free: Vec<Box<Object>> = Vec::new();
            let mut live: Vec<Box<Object>> = Vec::with_capacity(FRAME);
            run(frames, || {
                for i in 0..FRAME {
                    let mut obj = free.pop().unwrap_or_else(|| Box::new([0; 8]));
                    obj[0] = i as u64;
                    live.push(obj);
                }
                free.append(black_box(&mut live));
            })
        }
        "framemem_arena" => {
            let mut arena = Arena::new();
            run(frames, || {
                for i in 0..FRAME {
                    let p = arena.alloc(OBJECT).expect("out of memory");
                    touch(p, i);
                    live.push(p);
                }
                black_box(&mut live).clear();
                arena.reset();
            })
        }
        "framemem_arena_local" => {
            let mut arena = Arena::new();
            run(frames, || {
                let local = arena.local();
                for i in 0..FRAME {
                    let p = local.alloc(OBJECT).expect("out of memory");
                    touch(p, i);
                    live.push(p);
                }
                black_box(&mut live).clear();
                drop(local);
                arena.reset();
            })
        }
        "framemem_slab" => {
            let slab = Slab::new();
            run(frames, || {
                for i in 0..FRAME {
                    let p = slab.alloc(OBJECT).expect("out of memory");
                    touch(p, i);
                    live.push(p);
                }
                for p in live.drain(..) {
                    // SAFETY: from this slab with `OBJECT`, freed once.
                    unsafe { slab.free(black_box(p), OBJECT) };
                }
            })
        }
        "framemem_slab_local" => {
            let slab = Slab::new();
            run(frames, || {
                let local = slab.local();
                for i in 0..FRAME {
                    let p = local.alloc(OBJECT).expect("out of memory");
                    touch(p, i);
                    live.push(p);
                }
                for p in live.drain(..) {
                    // SAFETY: from this slab with `OBJECT`, freed once.
                    unsafe { local.free(black_box(p), OBJECT) };
                }
            })
        }
        "framemem_pool" => {
            let pool = Pool::with(4 * FRAME, || Box::new([0u64; 8]), |_: &mut Box<Object>| {});
            let mut live = Vec::with_capacity(FRAME);
            run(frames, || {
                for i in 0..FRAME {
                    let mut obj = pool.get();
                    obj[0] = i as u64;
                    live.push(obj);
                }
                black_box(&mut live).clear();
            })
        }
        POOL_LOCAL => {
            let pool = Pool::with(4 * FRAME, || Box::new([0u64; 8]), |_: &mut Box<Object>| {});
            let local = pool.local();
            let mut live = Vec::with_capacity(FRAME);
            run(frames, || {
                for i in 0..FRAME {
                    let mut obj = local.get();
                    obj[0] = i as u64;
                    live.push(obj);
                }
                black_box(&mut live).clear();
            })
        }
        other => panic!("unknown pattern {other:?}; one of {PATTERNS:?} or {POOL_LOCAL}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [name, frames] if !name.starts_with('-') => {
            pattern(name, frames.parse().expect("FRAMES is a number"));
        }
        // `cargo bench` passes `--bench`: a smoke run of every pattern.
        _ => {
            for name in PATTERNS.iter().copied().chain([POOL_LOCAL]) {
                pattern(name, 2);
            }
        }
    }
}

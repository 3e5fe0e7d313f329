//! A user's torture test: the allocators driven the way an application
//! would, through the public API only, and checked against `std` models.
//!
//! - `hashbrown` maps and `allocator_api2` vectors on `&Slab`, `&Arena` and
//!   `&Heap`, random operations (fastrand, fixed seeds) mirrored on `std`
//!   collections, byte buffers that grow and shrink across every slab size
//!   class and into and out of the large (> 4 KiB) path;
//! - more than 100 threads at once on one allocator, so that threads past
//!   the 64 lanes take the locked fallback;
//! - blocks freed on other threads, and after the allocating thread exited;
//! - over-aligned types from 64 B to 64 KiB;
//! - limited arenas filled to the brim: every failure an `AllocError` (or a
//!   `try_reserve` error), never an abort.
//!
//! Checks that today's code fails because of a known defect live in
//! `tests/defects/` and `tests/fresh_process.rs` instead (named there): shrinking on a full limited
//! arena, counts that drift on a zero-size shrink, stats read while other
//! threads work, resources of exited threads. So nothing here calls
//! `shrink_to_fit` on a limited arena, or compares `allocations` with
//! `frees`, or reads `stats` while other threads allocate.
//!
//! Sizes shrink under Miri (`cfg(miri)`), where the lanes are 4, not 64, so
//! the fallback is exercised with far fewer threads.

use std::alloc::Layout;
use std::collections::HashMap as StdMap;
use std::hash::RandomState;
use std::sync::Barrier;

use allocator_api2::alloc::Allocator as Api2;
use allocator_api2::vec::Vec as AVec;
use framemem::{AllocError, AllocStrategy, Arena, Heap, Pool, Slab};

/// Random operations per model run.
const OPS: usize = if cfg!(miri) { 150 } else { 6_000 };
/// Threads at once: more than the 64 lanes (Miri: more than its 4).
const THREADS: usize = if cfg!(miri) { 6 } else { 128 };
/// Work per thread in the many-threads tests.
const THREAD_ROUNDS: usize = if cfg!(miri) { 5 } else { 100 };

type Map<'a, A> = hashbrown::HashMap<u32, u64, RandomState, &'a A>;

/// A byte buffer's expected contents: byte `i` is `tag ^ (i % 256)`.
fn pattern_table(tag: u8) -> [u8; 256] {
    std::array::from_fn(|j| tag ^ j as u8)
}

/// Grows `b` to `new_len` bytes of its pattern (whole slices: fast in debug).
fn extend_pattern<A: Api2>(b: &mut AVec<u8, A>, tag: u8, new_len: usize) {
    let table = pattern_table(tag);
    while b.len() < new_len {
        let at = b.len() % 256;
        let n = (256 - at).min(new_len - b.len());
        b.extend_from_slice(&table[at..at + n]);
    }
}

/// Whether `b` holds its pattern.
fn has_pattern(b: &[u8], tag: u8) -> bool {
    let table = pattern_table(tag);
    b.chunks(256).all(|c| c == &table[..c.len()])
}

#[path = "torture/collections.rs"]
mod collections;

// ---------------------------------------------------------------------------
// More than 100 threads at once

/// `THREADS` threads start together (a barrier), each building and checking
/// its own collections on the shared allocator.
fn many_threads_share<A>(alloc: &A)
where
    A: AllocStrategy + Sync,
    for<'a> &'a A: Api2,
{
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let start = &start;
            s.spawn(move || {
                start.wait();
                let tag = t as u8;
                let mut map: Map<'_, A> =
                    hashbrown::HashMap::with_hasher_in(RandomState::new(), alloc);
                let mut bufs: Vec<AVec<u8, &A>> = Vec::new();
                for i in 0..THREAD_ROUNDS {
                    map.insert(i as u32, (t * 1_000_000 + i) as u64);
                    let mut b = AVec::new_in(alloc);
                    extend_pattern(&mut b, tag, (i * 97 + t * 13) % 5_000);
                    bufs.push(b);
                    if i % 3 == 0 {
                        let b = bufs.swap_remove((i * 7) % bufs.len());
                        assert!(has_pattern(&b, tag));
                    }
                }
                for i in 0..THREAD_ROUNDS {
                    assert_eq!(map[&(i as u32)], (t * 1_000_000 + i) as u64);
                }
                for b in &bufs {
                    assert!(has_pattern(b, tag));
                }
            });
        }
    });
}

#[test]
fn slab_serves_more_threads_than_lanes() {
    let slab = Slab::new();
    many_threads_share(&slab);
    assert_eq!(slab.stats().bytes_in_use, 0);
}

#[test]
fn heap_serves_more_threads_than_lanes() {
    let heap = Heap::new();
    many_threads_share(&heap);
    assert_eq!(heap.stats().bytes_in_use, 0);
}

#[test]
fn arena_serves_more_threads_than_lanes() {
    let mut arena = Arena::new();
    for _frame in 0..2 {
        many_threads_share(&arena);
        arena.reset();
        assert_eq!(arena.stats().bytes_in_use, 0);
    }
}

#[test]
fn pool_serves_more_threads_than_lanes() {
    let pool: Pool<Vec<u32>> = Pool::new(256);
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS as u32 {
            let (pool, start) = (&pool, &start);
            s.spawn(move || {
                start.wait();
                for i in 0..THREAD_ROUNDS as u32 {
                    let mut a = pool.get();
                    assert!(a.is_empty(), "a recycled Vec comes back clean");
                    a.extend([t, i]);
                    let b = pool.take();
                    assert!(b.is_empty());
                    assert_eq!(&a[..], &[t, i]);
                    pool.put(b);
                }
            });
        }
    });
    let s = pool.stats();
    let total = (THREADS * THREAD_ROUNDS) as u64;
    assert_eq!(s.hits + s.misses, 2 * total, "{s:?}");
    assert_eq!(s.returns, 2 * total, "{s:?}");
    assert!(s.held <= s.capacity, "{s:?}");
}

// ---------------------------------------------------------------------------
// Blocks freed on other threads, and after their thread exited

/// Threads fill buffers and exit; the test thread checks and frees them all,
/// and a second wave of threads frees half of them on their own thread.
fn frees_outlive_their_thread<A>(alloc: &A)
where
    A: AllocStrategy + Sync,
    for<'a> &'a A: Api2,
{
    let n = if cfg!(miri) { 4 } else { 32 };
    let orphans: Vec<Vec<(AVec<u8, &A>, u8)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|t| {
                s.spawn(move || {
                    (0..THREAD_ROUNDS / 4)
                        .map(|i| {
                            let tag = (t * 31 + i) as u8;
                            let mut b = AVec::new_in(alloc);
                            extend_pattern(&mut b, tag, (i * 211) % 9_000);
                            (b, tag)
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Every allocating thread has exited by now.
    let (freed_here, freed_there): (Vec<_>, Vec<_>) = orphans
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    for (_, bufs) in freed_here {
        for (b, tag) in bufs {
            assert!(has_pattern(&b, tag));
        }
    }
    std::thread::scope(|s| {
        for (_, bufs) in freed_there {
            s.spawn(move || {
                for (mut b, tag) in bufs {
                    assert!(has_pattern(&b, tag));
                    // Grown on a thread that did not allocate it.
                    let len = b.len();
                    extend_pattern(&mut b, tag, len + 100);
                    assert!(has_pattern(&b, tag));
                }
            });
        }
    });
}

#[test]
fn slab_blocks_are_freed_after_their_thread_exited() {
    let slab = Slab::new();
    frees_outlive_their_thread(&slab);
    assert_eq!(slab.stats().bytes_in_use, 0);
    // The slots came back: a second round fits in what is reserved.
    let reserved = slab.stats().bytes_reserved;
    frees_outlive_their_thread(&slab);
    assert_eq!(slab.stats().bytes_in_use, 0);
    assert!(slab.stats().bytes_reserved <= 2 * reserved);
}

#[test]
fn heap_blocks_are_freed_after_their_thread_exited() {
    let heap = Heap::new();
    frees_outlive_their_thread(&heap);
    assert_eq!(heap.stats().bytes_in_use, 0);
}

#[test]
fn arena_blocks_outlive_their_thread_until_reset() {
    let mut arena = Arena::new();
    frees_outlive_their_thread(&arena);
    arena.reset();
    frees_outlive_their_thread(&arena);
}

// ---------------------------------------------------------------------------
// Over-aligned types, 64 B to 64 KiB

macro_rules! over_aligned {
    ($($name:ident = $align:literal),* $(,)?) => {
        $(
            #[derive(Clone, Copy, Debug, PartialEq)]
            #[repr(C, align($align))]
            struct $name(u64);
        )*

        /// Vectors and raw blocks of every over-aligned type on `alloc`.
        fn over_aligned_types_on<A>(alloc: &A)
        where
            A: AllocStrategy,
            for<'a> &'a A: Api2,
        {
            $(
                {
                    let n = if $align >= 16384 { 3 } else { 9 };
                    let mut v: AVec<$name, &A> = AVec::new_in(alloc);
                    for i in 0..n {
                        v.push($name(i));
                        let addr = v.as_ptr().addr();
                        assert_eq!(addr % $align, 0, "{} at {addr:#x}", stringify!($name));
                    }
                    assert!(v.iter().map(|x| x.0).eq(0..n));
                    v.truncate(1);
                    v.shrink_to_fit();
                    assert_eq!(v.as_ptr().addr() % $align, 0);
                    assert_eq!(v[0], $name(0));

                    for size in [1, $align / 2, $align, $align + 1] {
                        let layout = Layout::from_size_align(size, $align).unwrap();
                        let p = alloc.alloc(layout).unwrap();
                        assert_eq!(p.as_ptr().addr() % $align, 0, "{layout:?}");
                        // SAFETY: a live block of `size` bytes.
                        unsafe { p.as_ptr().write_bytes(0xA5, size) };
                        // SAFETY: freed once, with its layout.
                        unsafe { alloc.free(p, layout) };
                    }
                }
            )*
        }
    };
}

over_aligned!(
    A64 = 64,
    A128 = 128,
    A256 = 256,
    A512 = 512,
    A1K = 1024,
    A2K = 2048,
    A4K = 4096,
    A8K = 8192,
    A16K = 16384,
    A32K = 32768,
    A64K = 65536,
);

#[test]
fn over_aligned_types_on_the_slab() {
    let slab = Slab::new();
    over_aligned_types_on(&slab);
    assert_eq!(slab.stats().bytes_in_use, 0);
}

#[test]
fn over_aligned_types_on_the_heap() {
    let heap = Heap::new();
    over_aligned_types_on(&heap);
    assert_eq!(heap.stats().bytes_in_use, 0);
}

#[test]
fn over_aligned_types_on_the_arena() {
    let mut arena = Arena::new();
    over_aligned_types_on(&arena);
    arena.reset();
    over_aligned_types_on(&arena);
}

#[test]
fn over_aligned_types_on_a_limited_arena_fail_cleanly() {
    // A 64 KiB-aligned 64 KiB block cannot fit under a 64 KiB limit.
    let arena = Arena::with_limit(64 * 1024);
    let layout = Layout::from_size_align(64 * 1024, 64 * 1024).unwrap();
    assert!(matches!(
        arena.alloc(layout),
        Err(AllocError::LimitExceeded { .. })
    ));
    let mut v: AVec<A4K, &Arena> = AVec::new_in(&arena);
    let mut pushed = 0;
    while v.try_reserve(1).is_ok() {
        v.push(A4K(pushed));
        pushed += 1;
        assert!(pushed <= 16, "more than the limit fitted");
    }
    assert!(v.iter().map(|x| x.0).eq(0..pushed));
    assert!(arena.stats().bytes_reserved <= 64 * 1024);
}

// ---------------------------------------------------------------------------
// Limited arenas filled to the brim

#[test]
fn a_limited_arena_filled_to_the_brim_fails_with_alloc_errors() {
    const LIMIT: usize = if cfg!(miri) { 64 * 1024 } else { 1 << 20 };
    let mut arena = Arena::with_limit(LIMIT);
    for frame in 0..3u8 {
        // A vector grows until the limit refuses it.
        let mut v: AVec<u64, &Arena> = AVec::new_in(&arena);
        while v.try_reserve(v.capacity().max(1)).is_ok() {
            let n = v.capacity() - v.len();
            let from = v.len() as u64;
            v.extend(from..from + n as u64);
        }
        assert!(v.iter().copied().eq(0..v.len() as u64), "frame {frame}");
        // A map too.
        let mut map: Map<'_, Arena> =
            hashbrown::HashMap::with_hasher_in(RandomState::new(), &arena);
        let mut k = 0u32;
        while map.try_reserve(1).is_ok() {
            map.insert(k, u64::from(k));
            k += 1;
        }
        for i in 0..k {
            assert_eq!(map[&i], u64::from(i));
        }
        // Then raw blocks of shrinking sizes, to the last byte.
        for size in [4096, 512, 64, 8, 1] {
            let layout = Layout::from_size_align(size, 1).unwrap();
            loop {
                match arena.alloc(layout) {
                    Ok(_) => {}
                    Err(AllocError::LimitExceeded { requested, limit }) => {
                        assert_eq!((requested, limit), (size, LIMIT));
                        break;
                    }
                    Err(e) => panic!("frame {frame}: {e} instead of LimitExceeded"),
                }
            }
        }
        // Full: even a growth of the vector fails cleanly, contents kept.
        assert!(v.try_reserve(1).is_err());
        assert!(v.iter().copied().eq(0..v.len() as u64));
        let s = arena.stats();
        assert!(s.bytes_reserved <= LIMIT, "frame {frame}: {s:?}");
        assert!(s.bytes_in_use <= s.bytes_reserved, "frame {frame}: {s:?}");
        // Nothing may shrink here: that is defect 1 (tests/fresh_process.rs).
        drop((v, map));
        arena.reset();
        assert_eq!(arena.stats().bytes_in_use, 0);
    }
}

#[test]
fn a_limited_arena_filled_by_many_threads_stays_within_its_limit() {
    const LIMIT: usize = if cfg!(miri) { 256 * 1024 } else { 4 << 20 };
    let mut arena = Arena::with_limit(LIMIT);
    let threads = if cfg!(miri) { 3 } else { 16 };
    for _frame in 0..2 {
        let fitted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let arena = &arena;
                    s.spawn(move || {
                        let mut bytes = 0;
                        let mut i = t;
                        loop {
                            let size = 1 + (i * 131) % 3000;
                            let layout = Layout::from_size_align(size, 1 << (i % 6)).unwrap();
                            match arena.alloc(layout) {
                                Ok(p) => {
                                    // SAFETY: a live block of `size` bytes.
                                    unsafe { p.as_ptr().write_bytes(t as u8, size) };
                                    bytes += size;
                                }
                                Err(AllocError::LimitExceeded { .. }) => break bytes,
                                Err(e) => panic!("{e} instead of LimitExceeded"),
                            }
                            i += threads;
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        let s = arena.stats();
        assert!(s.bytes_reserved <= LIMIT, "{s:?}");
        assert_eq!(s.bytes_in_use, fitted, "{s:?}");
        assert!(
            fitted >= LIMIT / 4,
            "only {fitted} bytes fitted under {LIMIT}"
        );
        arena.reset();
    }
}

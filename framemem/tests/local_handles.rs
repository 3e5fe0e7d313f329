//! The per-thread handles (`Arena::local`, `Slab::local`, `Pool::local`):
//! contents, counts folded into the shared stats, several handles on one
//! thread mixed with the shared `&` path, threads without a lane, and a
//! handle dropped during its thread's teardown. Run under Miri by
//! `scripts/miri.sh`, where only 4 threads get a lane, so the lane-less
//! handles are checked too.

use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::LazyLock;

use framemem::{AllocStrategy, Arena, Pool, Slab, TypedAlloc};

/// More threads than Miri's 4 lanes, so some handles have no lane.
const THREADS: usize = 6;
const N: usize = if cfg!(miri) { 50 } else { 2_000 };

#[test]
fn arena_local_allocations_are_intact_and_counted_when_it_drops() {
    let mut arena = Arena::new();
    {
        let local = arena.local();
        let slices: Vec<&mut [u32]> = (0..N)
            .map(|i| local.alloc_slice_fill_with(4, |k| (i * 4 + k) as u32))
            .collect();
        for (i, s) in slices.iter().enumerate() {
            assert_eq!(s[3], (i * 4 + 3) as u32);
        }
        // Only the slow path (a new chunk) counts at once.
        assert!(
            arena.stats().allocations < N as u64 / 10,
            "a live handle's fast-path counts are its own"
        );
    }
    let stats = arena.stats();
    assert_eq!(stats.allocations, N as u64);
    assert_eq!(stats.bytes_in_use, N * 16);
    arena.reset();
    assert_eq!(arena.stats().bytes_in_use, 0);
}

#[test]
fn two_arena_handles_and_the_shared_path_on_one_thread_do_not_overlap() {
    let arena = Arena::new();
    let (a, b) = (arena.local(), arena.local());
    let mut blocks = Vec::new();
    for i in 0..N {
        let value = i as u64;
        let block: &mut u64 = match i % 3 {
            0 => a.alloc_value(value),
            1 => b.alloc_value(value),
            _ => arena.alloc_value(value),
        };
        blocks.push(block);
    }
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(**block, i as u64, "block {i} was overwritten");
    }
    let handle = a.handle_slice_copy(&[1u8, 2, 3]);
    assert_eq!(b.arena().get(handle), &[1, 2, 3]);
    drop((a, b));
    assert_eq!(arena.stats().allocations, N as u64 + 1);
}

#[test]
fn arena_handles_count_zero_sizes_and_frees_with_or_without_a_lane() {
    let mut arena = Arena::new();
    let barrier = std::sync::Barrier::new(THREADS);
    let rounds = N / 10;
    let (zero, eight) = (Layout::new::<()>(), Layout::new::<u64>());
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            let (arena, barrier) = (&arena, &barrier);
            s.spawn(move || {
                // Every thread holds its handle at once: under Miri some
                // have no lane, and their stand-in lane counts.
                let local = arena.local();
                barrier.wait();
                for _ in 0..rounds {
                    let p = local.alloc(zero).unwrap();
                    local.alloc(eight).unwrap();
                    // SAFETY: `p` came from this arena with `zero`.
                    unsafe { local.free(p, zero) };
                }
                barrier.wait();
            });
        }
    });
    let stats = arena.stats();
    let calls = (THREADS * rounds) as u64;
    assert_eq!((stats.allocations, stats.frees), (2 * calls, calls));
    assert_eq!(stats.bytes_in_use, THREADS * rounds * 8);
    arena.reset();
    assert_eq!(arena.stats().bytes_in_use, 0);
    assert_eq!(arena.stats().allocations, 2 * calls);
}

#[test]
fn an_arena_local_vec_grows_in_place_and_keeps_its_contents() {
    let arena = Arena::new();
    let local = arena.local();
    let mut v = allocator_api2::vec::Vec::new_in(&local);
    for i in 0..N as u32 {
        v.push(i);
    }
    assert!(v.iter().copied().eq(0..N as u32));
}

#[test]
fn handles_on_threads_without_a_lane_still_work() {
    let arena = Arena::new();
    let slab = Slab::new();
    let pool: Pool<Vec<u8>> = Pool::new(64);
    let barrier = std::sync::Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (arena, slab, pool, barrier) = (&arena, &slab, &pool, &barrier);
            s.spawn(move || {
                // Every thread holds its handles at once.
                let (a, sl, p) = (arena.local(), slab.local(), pool.local());
                barrier.wait();
                for i in 0..N / 10 {
                    let x = a.alloc_value([t as u8; 24]);
                    let trail = sl.handle_slice_copy(&[t as u32; 10]);
                    let mut buf = p.get();
                    buf.push(i as u8);
                    assert_eq!(*x, [t as u8; 24]);
                    assert_eq!(slab.get(&trail), &[t as u32; 10]);
                    assert!(sl.free_slice(trail));
                }
                barrier.wait();
            });
        }
    });
    let count = (THREADS * (N / 10)) as u64;
    assert_eq!(arena.stats().allocations, count);
    let slab_stats = slab.stats();
    assert_eq!((slab_stats.allocations, slab_stats.frees), (count, count));
    let pool_stats = pool.stats();
    assert_eq!(pool_stats.hits + pool_stats.misses, count);
    assert_eq!(pool_stats.returns, count);
}

#[test]
fn slab_local_frees_blocks_of_the_shared_path_and_back() {
    let slab = Slab::new();
    let layout = Layout::from_size_align(64, 8).unwrap();
    let local = slab.local();
    let mine: Vec<_> = (0..N).map(|_| local.alloc(layout).unwrap()).collect();
    let shared: Vec<_> = (0..N).map(|_| slab.alloc(layout).unwrap()).collect();
    for (i, p) in mine.iter().chain(&shared).enumerate() {
        // SAFETY: live 64-byte blocks.
        unsafe { p.cast::<u64>().write(i as u64) };
    }
    for (i, p) in mine.iter().chain(&shared).enumerate() {
        // SAFETY: as above.
        assert_eq!(unsafe { p.cast::<u64>().read() }, i as u64);
    }
    for p in mine {
        // SAFETY: from this slab with `layout`, freed once.
        unsafe { slab.free(p, layout) };
    }
    for p in shared {
        // SAFETY: as above.
        unsafe { local.free(p, layout) };
    }
    // Zero-size and large requests take the shared path and count at once.
    let big = Layout::from_size_align(8192, 8).unwrap();
    let p = local.alloc(big).unwrap();
    // SAFETY: as above.
    unsafe { local.free(p, big) };
    drop(local);
    let stats = slab.stats();
    assert_eq!(
        (stats.allocations, stats.frees),
        (2 * N as u64 + 1, 2 * N as u64 + 1)
    );
    assert_eq!(stats.bytes_in_use, 0);
}

#[test]
fn a_slab_local_vec_keeps_its_contents() {
    let slab = Slab::new();
    let local = slab.local();
    let mut v = allocator_api2::vec::Vec::new_in(&local);
    for i in 0..N as u64 {
        v.push(i);
    }
    assert!(v.iter().copied().eq(0..N as u64));
    drop(v);
    drop(local);
    assert_eq!(slab.stats().bytes_in_use, 0);
}

#[test]
fn pool_handles_and_the_shared_path_keep_the_lane_consistent() {
    // A small pool: lanes lease and hand over, so slow paths (which check the
    // lane's invariants in debug builds) run with pending handle counts.
    let mut pool: Pool<Vec<u32>> = Pool::new(16);
    let (a, b) = (pool.local(), pool.local());
    let mut held = Vec::new();
    for i in 0..N {
        match i % 4 {
            0 => held.push(a.take()),
            1 => held.push(b.take()),
            2 => held.push(pool.take()),
            _ => {
                if let Some(v) = held.pop() {
                    a.put(v);
                }
                let mut guard = b.get();
                guard.push(i as u32);
                drop(guard);
                drop(pool.get());
            }
        }
    }
    for v in held.drain(..) {
        b.put(v);
    }
    drop((a, b));
    let s = pool.stats();
    assert_eq!(s.hits + s.misses, s.returns, "every object taken came back");
    assert!(s.held <= 16);
    pool.reset();
}

#[test]
fn a_leaked_pool_handle_leaves_the_pool_usable() {
    let mut pool: Pool<Vec<u8>> = Pool::new(8);
    let local = pool.local();
    drop(local.get());
    drop(local.get());
    std::mem::forget(local);
    drop(pool.get());
    pool.reset(); // folds the leaked handle's counts; checks the invariants
    let s = pool.stats();
    assert_eq!((s.hits + s.misses, s.returns), (3, 3));
}

static TEARDOWN_ARENA: LazyLock<Arena> = LazyLock::new(Arena::new);

/// Holds a handle until the thread's thread-locals are torn down, and
/// allocates through it then.
struct LateUser(RefCell<Option<framemem::ArenaLocal<'static>>>);

impl Drop for LateUser {
    fn drop(&mut self) {
        if let Some(local) = self.0.borrow_mut().take() {
            // The thread's lane-id guard may already have run; the handle's
            // pin keeps the lane this thread's until it drops.
            for i in 0..10u64 {
                assert_eq!(*local.alloc_value(i), i);
            }
        }
    }
}

thread_local! {
    static LATE: LateUser = const { LateUser(RefCell::new(None)) };
}

#[test]
fn a_handle_dropped_during_thread_teardown_keeps_its_lane() {
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(|| {
                // Registered before the lane id's guard, so (destructors run
                // in reverse) dropped after it.
                LATE.with(|_| ());
                let local = TEARDOWN_ARENA.local();
                local.alloc_value(1u8);
                LATE.with(|late| *late.0.borrow_mut() = Some(local));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Every thread's 11 allocations were counted when its handle dropped.
    assert_eq!(TEARDOWN_ARENA.stats().allocations, THREADS as u64 * 11);
}

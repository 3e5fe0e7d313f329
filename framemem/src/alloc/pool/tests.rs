use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn objects_come_back_clean() {
    let pool: Pool<Vec<u32>> = Pool::new(4);
    {
        let mut v = pool.get();
        v.extend([1, 2, 3]);
    }
    let v = pool.get();
    assert!(v.is_empty());
    assert!(v.capacity() >= 3, "capacity is kept");
    let s = pool.stats();
    assert_eq!((s.hits, s.misses, s.returns), (1, 1, 1));
}

#[test]
fn custom_reset_hook_runs_on_return() {
    let resets = Arc::new(AtomicUsize::new(0));
    let counter = resets.clone();
    let pool = Pool::with(
        8,
        || String::from("new"),
        move |s: &mut String| {
            counter.fetch_add(1, Ordering::Relaxed);
            s.clear();
        },
    );
    drop(pool.get());
    pool.put(String::from("dirty"));
    assert_eq!(resets.load(Ordering::Relaxed), 2);
    assert_eq!(*pool.get(), "");
}

#[test]
fn capacity_bounds_idle_objects() {
    let mut pool: Pool<Vec<u8>> = Pool::new(3);
    let loans: Vec<_> = (0..10).map(|_| pool.get()).collect();
    drop(loans);
    let s = pool.stats();
    assert_eq!(s.held, 3, "{s:?}");
    assert_eq!(s.dropped, 7);
    pool.check_invariants();
    pool.reset();
    assert_eq!(pool.stats().held, 0);
    pool.check_invariants();
}

#[test]
fn large_batches_move_through_the_shared_list() {
    let mut pool: Pool<Vec<u64>> = Pool::new(5000);
    // More than one lane caches (LANE_CACHE_MAX), so batches move.
    let n = if cfg!(miri) { 1100 } else { 3000 };
    let all: Vec<_> = (0..n).map(|_| pool.take()).collect();
    for b in all {
        pool.put(b);
    }
    pool.check_invariants();
    assert_eq!(pool.stats().held, n);
    let again: Vec<_> = (0..n).map(|_| pool.take()).collect();
    assert_eq!(pool.stats().hits, n as u64, "every object was found again");
    drop(again);
    pool.check_invariants();
}

#[test]
fn pooled_returns_on_early_return_and_panic() {
    let pool: Pool<Vec<u8>> = Pool::new(8);
    fn early(pool: &Pool<Vec<u8>>) -> Option<()> {
        let _buf = pool.get();
        None?;
        Some(())
    }
    early(&pool);
    assert_eq!(pool.stats().held, 1);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _buf = pool.get();
        panic!("boom");
    }));
    assert!(result.is_err());
    assert_eq!(pool.stats().returns, 2);
    assert_eq!(pool.stats().held, 1);
}

#[test]
fn prefill_serves_every_thread_within_capacity() {
    let mut pool: Pool<Vec<u8>> = Pool::new(10);
    assert_eq!(pool.prefill(25), 10, "capped at the capacity");
    assert_eq!(pool.stats().held, 10);
    std::thread::scope(|s| {
        s.spawn(|| drop(pool.get()));
    });
    let s = pool.stats();
    assert_eq!(
        (s.hits, s.misses),
        (1, 0),
        "another thread found a prefilled object"
    );
    pool.check_invariants();
}

#[test]
fn into_inner_keeps_the_object() {
    let pool: Pool<Vec<u8>> = Pool::new(8);
    let v = pool.get().into_inner();
    drop(v);
    assert_eq!(pool.stats().returns, 0);
}

#[test]
fn byte_buffers_shrink_after_a_huge_request() {
    let pool = Pool::byte_buffers(4, 4096);
    {
        let mut buf = pool.get();
        assert!(buf.capacity() >= 4096);
        buf.resize(64 << 10, 0); // past four times the nominal 4 KiB
    }
    assert!(pool.get().capacity() < 64 << 10);
}

#[test]
fn cross_thread_returns_stay_bounded() {
    let mut pool: Pool<Vec<u8>> = Pool::new(256);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            for _ in 0..if cfg!(miri) { 200 } else { 5000 } {
                tx.send(pool.take()).unwrap();
            }
        });
        s.spawn(move || {
            for v in rx {
                pool.put(v);
            }
        });
    });
    let s = pool.stats();
    assert!(s.held <= 256, "{s:?}");
    assert_eq!(s.returns, if cfg!(miri) { 200 } else { 5000 });
    pool.check_invariants();
}

/// Runs `f` on a new thread, joined (so that its lane id is released), and
/// returns whether that thread had a lane (under Miri, with 4 lanes and
/// other tests running, it may not).
fn on_a_thread_that_exits<P: Sync>(
    pool: &P,
    has_lane: impl Fn(&P) -> bool + Sync,
    f: impl Fn(&P) + Sync,
) -> bool {
    std::thread::scope(|s| {
        s.spawn(|| {
            f(pool);
            has_lane(pool)
        })
        .join()
        .unwrap()
    })
}

/// Drives the reclaim of an exited thread's lane (for Miri and TSan). Other
/// tests' threads run in this process and may inherit the exited thread's id
/// at once (then its lane is theirs, not dead), so only what holds either
/// way is checked here; `tests/fresh_process.rs` proves the outcome in a process
/// of its own.
#[test]
fn idle_objects_of_an_exited_thread_are_found_again() {
    let mut pool: Pool<Vec<u8>> = Pool::new(8);
    let had_lane = on_a_thread_that_exits(
        &pool,
        |p| p.local().has_lane(),
        |p| {
            let taken: Vec<_> = (0..8).map(|_| p.take()).collect();
            taken.into_iter().for_each(|v| p.put(v));
        },
    );
    let taken: Vec<_> = (0..8).map(|_| pool.take()).collect();
    let st = pool.stats();
    assert_eq!(
        st.hits + st.misses,
        16,
        "{st:?} (the helper had a lane: {had_lane})"
    );
    taken.into_iter().for_each(|v| pool.put(v));
    assert!(pool.stats().held <= 8);
    pool.check_invariants();
}

#[test]
fn a_panicking_create_in_prefill_gives_its_lease_back() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let mut pool = Pool::with(
        4,
        move || {
            assert!(counter.fetch_add(1, Ordering::Relaxed) != 1, "deliberate");
            Vec::<u8>::new()
        },
        |v: &mut Vec<u8>| v.clear(),
    );
    let prefill = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.prefill(4)));
    assert!(prefill.is_err());
    pool.check_invariants();
    assert_eq!(pool.prefill(4), 4, "the whole capacity is still there");
    pool.check_invariants();
}

/// Runs `f` on a helper thread, then `then` here with what `f` returned,
/// while the helper stays alive and idle (its lane id held, no call in
/// progress).
fn while_a_helper_idles<R: Send>(
    pool: &Pool<Vec<u8>>,
    f: impl FnOnce(&Pool<Vec<u8>>) -> R + Send,
    then: impl FnOnce(R),
) {
    let (to_main, from_helper) = std::sync::mpsc::channel();
    let (to_helper, from_main) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        s.spawn(move || {
            to_main.send(f(pool)).unwrap();
            from_main.recv().unwrap(); // idle, alive, lane id held
        });
        then(from_helper.recv().unwrap());
        to_helper.send(()).unwrap();
    });
}

#[test]
fn a_taker_finds_the_idle_objects_of_a_live_threads_lane() {
    let mut pool: Pool<Vec<u8>> = Pool::new(8);
    while_a_helper_idles(
        &pool,
        |p| {
            let taken: Vec<_> = (0..8).map(|_| p.take()).collect();
            taken.into_iter().for_each(|v| p.put(v));
        },
        |()| {
            let taken: Vec<_> = (0..8).map(|_| pool.take()).collect();
            let s = pool.stats();
            assert_eq!((s.hits, s.misses), (8, 8), "{s:?}");
            taken.into_iter().for_each(|v| pool.put(v));
            let s = pool.stats();
            assert_eq!((s.dropped, s.held), (0, 8), "{s:?}");
        },
    );
    pool.check_invariants();
}

#[test]
fn a_returner_takes_the_empty_units_of_an_idle_lane() {
    let mut pool: Pool<Vec<u8>> = Pool::new(4);
    assert_eq!(pool.prefill(4), 4);
    // The helper takes the 4 prefilled objects, and with them their units,
    // and hands the objects over: its lane is left holding 4 empty units.
    while_a_helper_idles(
        &pool,
        |p| (0..4).map(|_| p.take()).collect::<Vec<_>>(),
        |taken| {
            taken.into_iter().for_each(|v| pool.put(v));
            let s = pool.stats();
            assert_eq!(
                (s.hits, s.dropped, s.held),
                (4, 0, 4),
                "the returns found the idle helper's empty units: {s:?}"
            );
        },
    );
    pool.check_invariants();
}

#[test]
fn a_lane_held_by_a_handle_is_skipped_not_waited_for() {
    let mut pool: Pool<Vec<u8>> = Pool::new(4);
    let (to_main, from_helper) = std::sync::mpsc::channel();
    let (to_helper, from_main) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            let local = pool.local();
            drop(local.get());
            // The handle keeps the lane locked while the main thread takes.
            to_main.send(local.has_lane()).unwrap();
            from_main.recv().unwrap();
        });
        let helper_has_lane = from_helper.recv().unwrap();
        drop(pool.take()); // does not block
        let s = pool.stats();
        if helper_has_lane {
            assert_eq!((s.hits, s.misses), (0, 2), "{s:?}");
        }
        to_helper.send(()).unwrap();
    });
    pool.check_invariants();
}

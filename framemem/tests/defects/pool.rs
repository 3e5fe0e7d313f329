//! The pool's defects: 2 (coherent stats) and 4 (panics in user code leave
//! the pool consistent).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use framemem::Pool;

use crate::{RACE_FOR, panic_message};

#[test]
fn pool_stats_are_coherent_while_another_thread_uses_the_pool() {
    let pool: Pool<Vec<u8>> = Pool::new(16);
    let stop = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        // Two workers, so that the sampling thread is also preempted inside
        // `stats` (this machine may have one free core, or none).
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    drop(pool.get());
                }
            });
        }
        let deadline = Instant::now() + RACE_FOR;
        let mut bad = None;
        while bad.is_none() && Instant::now() < deadline {
            // Debug builds may panic with an overflow inside `stats`.
            match catch_unwind(AssertUnwindSafe(|| pool.stats())) {
                // Every object returned was taken first (nothing is `put`
                // from outside), and the pool holds at most `capacity`.
                Ok(st) if st.held > st.capacity || st.returns > st.hits + st.misses => {
                    bad = Some(format!("{st:?}"));
                }
                Ok(_) => {}
                Err(e) => bad = Some(format!("stats() panicked: {}", panic_message(&*e))),
            }
        }
        stop.store(true, Ordering::Relaxed);
        bad
    });
    assert!(seen.is_none(), "incoherent pool stats: {}", seen.unwrap());
}

#[test]
fn pool_keeps_its_capacity_after_a_panicking_create_in_prefill() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let pool = Pool::with(
        8,
        move || {
            if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                panic!("create failed (deliberate)");
            }
            Vec::<u8>::new()
        },
        |v: &mut Vec<u8>| v.clear(),
    );
    assert!(catch_unwind(AssertUnwindSafe(|| pool.prefill(8))).is_err());
    drop(pool.get());
    let st = pool.stats();
    assert_eq!(
        (st.held, st.dropped),
        (1, 0),
        "after a panicking create in prefill the pool keeps nothing: {st:?}"
    );
    // The whole capacity is still there.
    let loans: Vec<_> = (0..8).map(|_| pool.get()).collect();
    drop(loans);
    assert_eq!(pool.stats().held, 8, "{:?}", pool.stats());
}

#[test]
fn pool_keeps_its_capacity_after_a_panicking_reset_hook() {
    let panic_next = Arc::new(AtomicBool::new(false));
    let flag = panic_next.clone();
    let pool = Pool::with(4, Vec::<u8>::new, move |v: &mut Vec<u8>| {
        if flag.swap(false, Ordering::Relaxed) {
            panic!("reset hook failed (deliberate)");
        }
        v.clear();
    });
    panic_next.store(true, Ordering::Relaxed);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(pool.get()))).is_err());
    let loans: Vec<_> = (0..4).map(|_| pool.get()).collect();
    drop(loans);
    let st = pool.stats();
    assert_eq!(
        (st.held, st.dropped),
        (4, 0),
        "after a panicking hook: {st:?}"
    );
}

/// Panics in `drop` when `BOMB_ARMED` is set (once: it disarms itself, so a
/// second panic during the unwind cannot abort).
struct Bomb(#[allow(dead_code)] u32);
static BOMB_ARMED: AtomicBool = AtomicBool::new(false);
impl Drop for Bomb {
    fn drop(&mut self) {
        if BOMB_ARMED.swap(false, Ordering::Relaxed) {
            panic!("T::drop failed (deliberate)");
        }
    }
}

#[test]
fn pool_keeps_its_capacity_after_a_panicking_drop_in_reset() {
    let mut pool = Pool::with(8, || Bomb(0), |_: &mut Bomb| {});
    // Idle objects both in this thread's lane and on the shared list.
    let loans: Vec<_> = (0..4).map(|_| pool.get()).collect();
    drop(loans);
    pool.prefill(4);
    assert_eq!(pool.stats().held, 8);
    BOMB_ARMED.store(true, Ordering::Relaxed);
    assert!(catch_unwind(AssertUnwindSafe(|| pool.reset())).is_err());
    BOMB_ARMED.store(false, Ordering::Relaxed);
    let after_clear = pool.stats();
    let loans: Vec<_> = (0..8).map(|_| pool.get()).collect();
    drop(loans);
    let st = pool.stats();
    assert!(
        after_clear.held <= 8,
        "held after the panicking reset: {after_clear:?}"
    );
    assert_eq!(
        (st.held, st.dropped),
        (8, 0),
        "capacity lost after a panicking T::drop in reset: {st:?}"
    );
}

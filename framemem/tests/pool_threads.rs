//! A `Pool` whose objects are taken on one thread and returned on another
//! (issue 17): what it recycles at steady state, and what a thread that
//! exits leaves behind.
//!
//! - **Taker and returner.** Thread A takes `demand` objects a frame and
//!   hands them to thread B, which returns them; the two take turns. From
//!   the second frame on, A must find almost every object again (at least
//!   99%), and B must drop none, at any capacity from `demand` up.
//! - **Roles that move.** As bevy's executor does, the taking and the
//!   returning system run on a different thread of a pool of workers each
//!   frame.
//! - **A thread that exits.** Its idle objects are found by the next takes,
//!   whether the thread was joined or only its scope ended (which waits for
//!   the closure, not for the thread-local destructors that release its
//!   lane id), with both cores kept busy so that a timing dependence shows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};

use framemem::{Pool, PoolStats};

const FRAMES: usize = if cfg!(miri) { 3 } else { 30 };

/// The difference of two readings of the counters.
fn delta(after: PoolStats, before: PoolStats) -> PoolStats {
    PoolStats {
        hits: after.hits - before.hits,
        misses: after.misses - before.misses,
        returns: after.returns - before.returns,
        dropped: after.dropped - before.dropped,
        ..after
    }
}

/// Thread A takes `demand` objects a frame and sends them to thread B, which
/// returns them; the next frame starts once B is done. Returns the counters
/// after the first frame and after the last.
fn taker_and_returner(capacity: usize, demand: usize) -> (PoolStats, PoolStats) {
    let pool: Pool<Vec<u8>> = Pool::new(capacity);
    let (to_returner, taken) = mpsc::channel::<Vec<Vec<u8>>>();
    let (to_taker, returned) = mpsc::channel::<()>();
    let mut after_first = PoolStats::default();
    std::thread::scope(|s| {
        let pool = &pool;
        let after_first = &mut after_first;
        s.spawn(move || {
            for frame in 0..FRAMES {
                let objects: Vec<_> = (0..demand)
                    .map(|i| {
                        let mut v = pool.take();
                        assert!(v.is_empty(), "a recycled object comes back clean");
                        v.push(i as u8);
                        v
                    })
                    .collect();
                to_returner.send(objects).unwrap();
                returned.recv().unwrap();
                if frame == 0 {
                    *after_first = pool.stats();
                }
            }
        });
        s.spawn(move || {
            for objects in taken {
                objects.into_iter().for_each(|v| pool.put(v));
                to_taker.send(()).unwrap();
            }
        });
    });
    (after_first, pool.stats())
}

/// Asserts the steady state of a run: at least 99% hits after the first
/// frame, and nothing dropped at all.
#[track_caller]
fn assert_recycles(capacity: usize, demand: usize, (first, last): (PoolStats, PoolStats)) {
    let later = delta(last, first);
    let takes = later.hits + later.misses;
    assert_eq!(takes, ((FRAMES - 1) * demand) as u64, "{later:?}");
    assert!(
        later.hits * 100 >= takes * 99,
        "capacity {capacity}, {demand} a frame: {} hits of {takes} takes after the first frame \
         (first frame {first:?}, whole run {last:?})",
        later.hits
    );
    assert_eq!(
        last.dropped, 0,
        "capacity {capacity}, {demand} a frame: returns dropped although the pool never held \
         more than {demand} idle objects: {last:?}"
    );
    assert!(last.held <= capacity, "{last:?}");
}

#[test]
fn a_taker_and_a_returner_thread_recycle_at_capacity_1024() {
    let demand = if cfg!(miri) { 40 } else { 400 };
    let capacity = if cfg!(miri) { 102 } else { 1024 };
    assert_recycles(capacity, demand, taker_and_returner(capacity, demand));
}

#[test]
fn a_taker_and_a_returner_thread_recycle_at_capacity_512() {
    let demand = if cfg!(miri) { 40 } else { 400 };
    let capacity = if cfg!(miri) { 51 } else { 512 };
    assert_recycles(capacity, demand, taker_and_returner(capacity, demand));
}

#[test]
fn a_taker_and_a_returner_thread_recycle_at_capacity_equal_to_demand() {
    let demand = if cfg!(miri) { 40 } else { 400 };
    assert_recycles(demand, demand, taker_and_returner(demand, demand));
}

#[test]
fn a_large_pool_recycles_between_a_taker_and_a_returner_thread() {
    let demand = if cfg!(miri) { 40 } else { 400 };
    let capacity = if cfg!(miri) { 409 } else { 4096 };
    assert_recycles(capacity, demand, taker_and_returner(capacity, demand));
}

/// `workers` threads; each frame one of them takes `demand` objects and
/// another returns them, both chosen anew (a fixed pseudo-random sequence).
/// Returns the counters after the first frame and after the last.
fn roles_move_between(workers: usize, capacity: usize, demand: usize) -> (PoolStats, PoolStats) {
    let pool: Pool<Vec<u8>> = Pool::new(capacity);
    let mut rng = fastrand::Rng::with_seed(17);
    let roles: Vec<(usize, usize)> = (0..FRAMES)
        .map(|_| {
            let taker = rng.usize(..workers);
            let returner = (taker + 1 + rng.usize(..workers - 1)) % workers;
            (taker, returner)
        })
        .collect();
    let handed_over: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
    let step = Barrier::new(workers);
    let after_first = Mutex::new(PoolStats::default());
    std::thread::scope(|s| {
        for me in 0..workers {
            let (pool, roles, handed_over, step, after_first) =
                (&pool, &roles, &handed_over, &step, &after_first);
            s.spawn(move || {
                for (frame, &(taker, returner)) in roles.iter().enumerate() {
                    if me == taker {
                        let taken: Vec<_> = (0..demand).map(|_| pool.take()).collect();
                        *handed_over.lock().unwrap() = taken;
                    }
                    step.wait();
                    if me == returner {
                        let objects = std::mem::take(&mut *handed_over.lock().unwrap());
                        objects.into_iter().for_each(|v| pool.put(v));
                    }
                    step.wait();
                    if frame == 0 {
                        if me == 0 {
                            *after_first.lock().unwrap() = pool.stats();
                        }
                        // No one takes for the next frame before the reading.
                        step.wait();
                    }
                }
            });
        }
    });
    (after_first.into_inner().unwrap(), pool.stats())
}

#[test]
fn roles_moving_between_4_threads_recycle() {
    let demand = if cfg!(miri) { 40 } else { 400 };
    let capacity = if cfg!(miri) { 102 } else { 1024 };
    assert_recycles(capacity, demand, roles_move_between(4, capacity, demand));
    assert_recycles(demand, demand, roles_move_between(4, demand, demand));
}

#[test]
fn roles_moving_between_8_threads_recycle() {
    let demand = if cfg!(miri) { 40 } else { 400 };
    let capacity = if cfg!(miri) { 51 } else { 512 };
    assert_recycles(capacity, demand, roles_move_between(8, capacity, demand));
    assert_recycles(demand, demand, roles_move_between(8, demand, demand));
}

/// How a helper thread ends before the test's thread goes on.
#[derive(Clone, Copy, Debug)]
enum Exit {
    /// `std::thread::spawn(..).join()`.
    SpawnJoin,
    /// `std::thread::scope` with an explicit `.join()` of the handle.
    ScopeJoin,
    /// `std::thread::scope` alone: its end waits for the closure, not for
    /// the thread's thread-local destructors (which release its lane id).
    ScopeEnd,
}

/// Runs `f` on a helper thread that ends as `exit` says.
fn on_a_helper(exit: Exit, pool: &Arc<Pool<Vec<u8>>>, f: fn(&Pool<Vec<u8>>)) {
    match exit {
        Exit::SpawnJoin => {
            let pool = Arc::clone(pool);
            std::thread::spawn(move || f(&pool)).join().unwrap()
        }
        Exit::ScopeJoin => std::thread::scope(|s| s.spawn(|| f(pool)).join().unwrap()),
        Exit::ScopeEnd => std::thread::scope(|s| {
            s.spawn(|| f(pool));
        }),
    }
}

/// Keeps both cores busy while it lives.
struct Spinners {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Spinners {
    fn start(n: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
    }
}

#[test]
fn idle_objects_of_an_exited_thread_are_found_however_it_ended_under_load() {
    let rounds = if cfg!(miri) { 2 } else { 50 };
    let _busy = Spinners::start(if cfg!(miri) { 1 } else { 2 });
    for exit in [Exit::SpawnJoin, Exit::ScopeJoin, Exit::ScopeEnd] {
        for round in 0..rounds {
            let pool = Arc::new(Pool::new(16));
            on_a_helper(exit, &pool, |pool| {
                let taken: Vec<_> = (0..16).map(|_| pool.take()).collect();
                taken.into_iter().for_each(|v| pool.put(v));
            });
            let before = pool.stats();
            assert_eq!(before.held, 16, "{exit:?}, round {round}: {before:?}");
            let taken: Vec<_> = (0..16).map(|_| pool.take()).collect();
            let after_takes = delta(pool.stats(), before);
            taken.into_iter().for_each(|v| pool.put(v));
            let after_returns = delta(pool.stats(), before);
            assert_eq!(
                (after_takes.hits, after_takes.misses),
                (16, 0),
                "{exit:?}, round {round}: the 16 idle objects of the exited helper were not \
                 all found: {after_takes:?}"
            );
            assert_eq!(
                (after_returns.dropped, after_returns.held),
                (0, 16),
                "{exit:?}, round {round}: returns dropped while the pool held nothing: \
                 {after_returns:?}"
            );
        }
    }
}

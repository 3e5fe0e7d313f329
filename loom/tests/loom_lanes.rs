//! loom model of the lane ids, the one lock-free structure in the crate, and
//! of the lane protocol built on them.
//!
//! Run: `cd loom && RUSTFLAGS="--cfg framemem_loom" cargo test --release`
//! (a crate-specific cfg, so that dependencies which know `cfg(loom)` are not
//! switched to loom too).
//!
//! The property: a lane is touched by at most one thread at a time, and the
//! next thread to get its id sees everything the previous holder wrote.
//!
//! - `a_lane_has_one_holder_at_a_time_and_sees_the_last_one`: the bare
//!   bitmap. Three threads claim an id, update the lane behind it without
//!   any lock (a loom `UnsafeCell`, which reports any access that is not
//!   ordered after the previous one), and release the id.
//! - `a_dead_threads_lane_is_reclaimed_once_and_its_id_reused`: the real
//!   `Lanes` (`ModelLanes`: the strategies' code with a loom cell in each
//!   lane), two lanes under loom, three threads. A thread's first use claims
//!   an id, its exit releases it (the thread guard's code, called as the
//!   thread's last step), one thread reclaims dead lanes while another,
//!   which may have found no free lane at first, claims a freed id on its
//!   next call. Every update must
//!   be counted exactly once, either reclaimed or still in a lane.
//!
//! - `a_lane_lock_lets_one_thread_at_a_time_move_the_lanes_objects`: the
//!   lock word of a lane others may take from (the pool's). The owner adds
//!   objects twice (taking the word each time, waiting for a thief) and
//!   exits, a thief tries to take them all (skipping a held lane), and once
//!   the owner is gone a reclaimer waits for the thief to take what is left. Every object must be counted once, and
//!   every access to the count ordered after the previous holder's.
//!
//! loom runs every interleaving the memory model allows (up to a preemption
//! bound of 3 for the second model: about a minute; 2 missed a released
//! id double-release that 3 finds).

#![cfg(framemem_loom)]

use framemem::{LaneIds, ModelLaneLock, ModelLanes};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

const THREADS: usize = 3;
/// Lanes under loom (`MAX_LANES`): fewer than the threads, so ids are
/// fought over and reused.
const LANES: usize = 2;

struct Lanes {
    ids: LaneIds,
    /// One lane per id that can be held at once, each a counter of uses.
    lanes: [UnsafeCell<u64>; LANES],
}

// SAFETY: the test's claim: `lanes[i]` is only touched by the holder of id
// `i`. loom checks it.
unsafe impl Sync for Lanes {}

fn use_a_lane(shared: &Lanes) {
    // Wait for a free id (loom needs the yield to leave a spin loop).
    let id = loop {
        match shared.ids.claim() {
            Some(id) => break id,
            None => thread::yield_now(),
        }
    };
    assert!(id < LANES, "ids are below MAX_LANES");
    shared.lanes[id].with_mut(|count| {
        // SAFETY: this thread holds id `id`; loom reports a race otherwise.
        unsafe { *count += 1 }
    });
    shared.ids.release(id);
}

#[test]
fn a_lane_has_one_holder_at_a_time_and_sees_the_last_one() {
    loom::model(|| {
        let shared = Arc::new(Lanes {
            ids: LaneIds::new(),
            lanes: std::array::from_fn(|_| UnsafeCell::new(0)),
        });
        let workers: Vec<_> = (0..THREADS - 1)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || use_a_lane(&shared))
            })
            .collect();
        use_a_lane(&shared);
        for w in workers {
            w.join().unwrap();
        }
        let total: u64 = shared
            .lanes
            .iter()
            // SAFETY: every worker has been joined.
            .map(|lane| lane.with(|count| unsafe { *count }))
            .sum();
        assert_eq!(total, THREADS as u64, "every use was counted once");
    });
}

#[test]
fn a_dead_threads_lane_is_reclaimed_once_and_its_id_reused() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let lanes = Arc::new(ModelLanes::new());
        let spawn = |bumps: usize, reclaim: bool| {
            let lanes = lanes.clone();
            thread::spawn(move || {
                for _ in 0..bumps {
                    lanes.bump();
                }
                let reclaimed = if reclaim { lanes.reclaim() } else { 0 };
                lanes.exit();
                reclaimed
            })
        };
        // Three threads, two lanes. Each first use claims an id, each exit
        // releases it (`exit`, the body of the thread guard's destructor). One thread may
        // find both ids held: it bumps the fallback, and tries again on its
        // second call, when the other may have exited. The third reclaims
        // dead lanes while the others claim, use and release theirs.
        let threads = [spawn(1, false), spawn(2, false), spawn(1, true)];
        let mut reclaimed: u64 = threads.map(|t| t.join().unwrap()).iter().sum();
        // Every thread has exited: their lanes are dead now. (The model's
        // main thread never claims a lane, so that no lane id outlives the
        // model's statics.)
        reclaimed += lanes.reclaim();
        let mut lanes = Arc::try_unwrap(lanes).expect("every thread joined");
        let left = lanes.total();
        assert_eq!(
            reclaimed + left,
            4,
            "every bump counted once: {reclaimed} reclaimed, {left} left in lanes"
        );
    });
}

#[test]
fn a_lane_lock_lets_one_thread_at_a_time_move_the_lanes_objects() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let lane = Arc::new(ModelLaneLock::default());
        let owner = {
            let lane = lane.clone();
            thread::spawn(move || {
                lane.owner_add(1);
                lane.owner_add(2);
            })
        };
        let thief = {
            let lane = lane.clone();
            thread::spawn(move || lane.try_steal().unwrap_or(0))
        };
        // As in the pool: a lane is reclaimed only once its owner is gone,
        // and may still meet a thief.
        owner.join().unwrap();
        let reclaimed = lane.reclaim();
        let stolen = thief.join().unwrap();
        let mut lane = Arc::try_unwrap(lane).expect("every thread joined");
        let left = lane.left();
        assert_eq!(
            stolen + reclaimed + left,
            3,
            "every object counted once: {stolen} stolen, {reclaimed} reclaimed, {left} left"
        );
    });
}

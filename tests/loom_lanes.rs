//! loom model of the lane ids, the one lock-free structure in the crate.
//!
//! Run: `RUSTFLAGS="--cfg framemem_loom" cargo test --release --no-default-features --test loom_lanes`
//! (a crate-specific cfg, so that dependencies which know `cfg(loom)` are not
//! switched to loom too).
//!
//! The property: a lane is touched by at most one thread at a time, and the
//! next thread to get its id sees everything the previous holder wrote. Three
//! threads claim an id, update the lane behind it without any lock (a loom
//! `UnsafeCell`, which reports any access that is not ordered after the
//! previous one), and release the id; ids are reused as soon as they are
//! released. loom runs every interleaving the memory model allows.

#![cfg(framemem_loom)]

use framemem::alloc::LaneIds;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

const THREADS: usize = 3;

struct Lanes {
    ids: LaneIds,
    /// One lane per id that can be held at once, each a counter of uses.
    lanes: [UnsafeCell<u64>; THREADS],
}

// SAFETY: the test's claim: `lanes[i]` is only touched by the holder of id
// `i`. loom checks it.
unsafe impl Sync for Lanes {}

fn use_a_lane(shared: &Lanes) {
    let id = shared.ids.claim().expect("at most THREADS ids are held");
    assert!(id < THREADS, "the lowest free id is taken");
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

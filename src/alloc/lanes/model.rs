//! [`ModelLanes`]: the real [`Lanes`] protocol with a loom-checked counter
//! in each lane, for `tests/loom_lanes.rs` (only under `--cfg
//! framemem_loom`).
//!
//! The lanes, the claim on first use, the late claim, the release at thread
//! exit ([`ModelLanes::exit`], what the thread's guard does) and
//! [`Lanes::reclaim_dead`] are the code the strategies run; only the lane's
//! content is a loom `UnsafeCell`, which reports any two accesses that are
//! not ordered.

use loom::cell::UnsafeCell;

use super::Lanes;

/// Lanes of one counter each. See the [module docs](self).
#[derive(Debug)]
pub struct ModelLanes {
    lanes: Lanes<UnsafeCell<u64>, ()>,
}

impl Default for ModelLanes {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelLanes {
    /// Counters at zero.
    pub fn new() -> Self {
        Self {
            lanes: Lanes::new(|| UnsafeCell::new(0), UnsafeCell::new(0)),
        }
    }

    /// Adds one to the calling thread's lane (claiming an id on first use,
    /// or trying again if it has none), or to the fallback under its lock.
    /// Returns whether it had a lane.
    pub fn bump(&self) -> bool {
        let had_lane = self.lanes.local().is_some();
        if had_lane {
            self.lanes.mark_current();
        }
        self.lanes.with_lane(|count, ()| {
            // SAFETY: `with_lane` hands out the only `&` to this lane in
            // use; loom reports any access that is not ordered after the
            // previous one.
            count.with_mut(|count| unsafe { *count += 1 })
        });
        had_lane
    }

    /// The calling thread exits: its lane id is released (what its guard
    /// does at a real thread's exit). Its last call.
    pub fn exit(&self) {
        super::ids::model_thread_exit();
    }

    /// Empties the lanes of exited threads; returns what they held.
    pub fn reclaim(&self) -> u64 {
        let mut total = 0;
        self.lanes.reclaim_dead(|count, ()| {
            // SAFETY: `reclaim_dead` hands out the only `&` to the lane.
            total += count.with_mut(|count| unsafe { std::mem::take(&mut *count) });
        });
        total
    }

    /// The sum of every lane and the fallback, with exclusive access.
    pub fn total(&mut self) -> u64 {
        self.lanes
            .all_mut()
            // SAFETY: `&mut self`: no other access.
            .map(|(count, ())| count.with(|count| unsafe { *count }))
            .sum()
    }
}

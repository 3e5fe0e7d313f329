//! [`ModelLanes`]: the real [`Lanes`] protocol with a loom-checked counter
//! in each lane, for `loom/tests/loom_lanes.rs` (only under `--cfg
//! framemem_loom`).
//!
//! The lanes, the claim on first use, the late claim, the release at thread
//! exit ([`ModelLanes::exit`], what the thread's guard does) and
//! [`Lanes::reclaim_dead`] are the code the strategies run; only the lane's
//! content is a loom `UnsafeCell`, which reports any two accesses that are
//! not ordered.

use loom::cell::UnsafeCell;

use super::{LaneLock, Lanes};

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

/// A [`LaneLock`] guarding a loom-checked count of objects, as a pool lane's
/// lock guards its cache: the owner adds under it, thieves try it and take
/// everything, a reclaimer waits for it. For `loom/tests/loom_lanes.rs`.
#[derive(Debug, Default)]
pub struct ModelLaneLock {
    lock: LaneLock,
    objects: UnsafeCell<u64>,
}

impl ModelLaneLock {
    /// The owner's call: takes the lock (waiting only for a thief), adds `n`
    /// objects, releases it. Only one thread may play the owner.
    pub fn owner_add(&self, n: u64) {
        // SAFETY: the model's one owner thread calls this, and unlocks below
        // since it took the word (no nested holds here).
        let took = unsafe { self.lock.lock_owner() };
        assert!(took, "no hold to nest in");
        // SAFETY: under the lock; loom reports an access not ordered after
        // the previous holder's.
        self.objects.with_mut(|objects| unsafe { *objects += n });
        self.lock.unlock_owner();
    }

    /// A thief: takes every object if the lock is free, none otherwise
    /// (never waits).
    pub fn try_steal(&self) -> Option<u64> {
        if !self.lock.try_lock_thief() {
            return None;
        }
        // SAFETY: under the lock, as above.
        let taken = self
            .objects
            .with_mut(|objects| unsafe { std::mem::take(&mut *objects) });
        self.lock.unlock_thief();
        Some(taken)
    }

    /// A reclaimer: waits for any thief, then takes every object.
    pub fn reclaim(&self) -> u64 {
        self.lock.lock_reclaimer();
        // SAFETY: under the lock, as above.
        let taken = self
            .objects
            .with_mut(|objects| unsafe { std::mem::take(&mut *objects) });
        self.lock.unlock_thief();
        taken
    }

    /// The objects left, with exclusive access; also checks that no one
    /// holds the lock.
    pub fn left(&mut self) -> u64 {
        assert_eq!(self.lock.held_mut(), (false, false), "lock left held");
        // SAFETY: `&mut self`: no other access.
        self.objects.with(|objects| unsafe { *objects })
    }
}

//! The pool's slow paths: where a thread whose lane ran out finds objects
//! and units of capacity. In order: the shared list; the lanes of exited
//! threads ([`Lanes::reclaim_dead`](crate::alloc::lanes::Lanes::reclaim_dead));
//! the lanes of live threads not inside a call at that moment, through their
//! lock word's `try_steal`, which never waits (`cache.rs`). A return with no
//! unit left takes the empty units of such lanes before it drops the object.
//! Threads without a lane (the fallback) go through the shared list.
//!
//! Every move takes objects with their units (or empty units alone) from
//! one place to another with both ends locked, so the pool's invariant
//! (units in lanes + shared objects + free budget = capacity) holds
//! whenever `&mut` access can check it.

use super::cache::{LANE_CACHE_MAX, LaneShared, OwnerHold, reserve_up_to};
use super::{LANE_BATCH, Pool, ResetHook};

impl<T: Send, H: ResetHook<T>> Pool<T, H> {
    /// The lane under `held` is empty: refills it with a batch from the
    /// shared list, from exited threads' lanes, or from another lane not in
    /// use, and returns one object of it (counted as a hit); `None` (counted
    /// as a miss) when there is none, for the caller to create one. Also
    /// returns a stray cache to drop once the hold ends (see
    /// [`Locked::put_back`]).
    #[cold]
    #[inline(never)]
    pub(super) fn refill(&self, held: &OwnerHold<'_, T>) -> (Option<T>, Vec<T>) {
        let lane = held.lane();
        // This thread's handles' counts first, so the lane's counters are
        // whole before this path adds to them.
        held.fold_pending();
        // The lane may hold units and objects from here on: thieves and
        // reclaims look only at marked lanes.
        self.lanes.mark_current();
        // The cache is empty, so every unit it holds is empty: those beyond
        // one lease go back to the budget, so a lane that only takes does not
        // hoard them.
        let units = held.units();
        if units > self.lease_batch {
            self.budget.give_back(units - self.lease_batch);
            held.set_units(self.lease_batch);
        }
        let mut cache = held.take_out();
        reserve_up_to(&mut cache, held.units() + LANE_BATCH);
        let mut n = self.take_shared_batch(&mut cache);
        if n == 0 {
            // Before making a new object: the idle objects of exited
            // threads' lanes, then those of lanes not in use.
            self.reclaim_dead_lanes();
            n = self.take_shared_batch(&mut cache);
        }
        if n == 0 {
            n = self.steal_objects(lane, &mut cache);
        }
        // The objects bring their units with them.
        held.set_units(held.units() + n);
        let value = cache.pop();
        let stray = held.put_back(cache);
        let stats = &lane.stats;
        if value.is_some() {
            stats.hits.add(1);
        } else {
            stats.misses.add(1);
        }
        if cfg!(debug_assertions) {
            held.check_invariants();
        }
        (value, stray)
    }

    /// Moves up to a batch of the shared list's objects into `cache`, within
    /// its spare capacity; returns how many.
    fn take_shared_batch(&self, cache: &mut Vec<T>) -> usize {
        let mut shared = self.lock_shared();
        let n = shared
            .len()
            .min(LANE_BATCH)
            .min(cache.capacity() - cache.len());
        let from = shared.len() - n;
        cache.extend(shared.drain(from..));
        n
    }

    /// Moves up to a batch of idle objects, with their units, from the first
    /// lane other than `mine` that has some and is not in use, into `cache`
    /// (within its spare capacity); returns how many. Never waits: a lane
    /// in use is skipped.
    fn steal_objects(&self, mine: &LaneShared<T>, cache: &mut Vec<T>) -> usize {
        for lane in self.lanes.marked_shared() {
            if std::ptr::eq(lane, mine) || !lane.may_give(true) {
                continue;
            }
            let Some(victim) = lane.try_steal() else {
                continue;
            };
            let n = victim.give_objects(cache, LANE_BATCH);
            if cfg!(debug_assertions) {
                victim.check_invariants();
            }
            if n > 0 {
                return n;
            }
        }
        0
    }

    /// Takes up to `want` empty units from lanes other than `mine` that are
    /// not in use; returns how many. Never waits.
    fn steal_units(&self, mine: Option<&LaneShared<T>>, want: usize) -> usize {
        let mut got = 0;
        for lane in self.lanes.marked_shared() {
            if got == want {
                break;
            }
            if mine.is_some_and(|mine| std::ptr::eq(lane, mine)) || !lane.may_give(false) {
                continue;
            }
            if let Some(victim) = lane.try_steal() {
                got += victim.give_empty_units(want - got);
                if cfg!(debug_assertions) {
                    victim.check_invariants();
                }
            }
        }
        got
    }

    /// The lane has no unit free, no room, or is full: hand a batch over,
    /// lease units (from the budget, exited threads' lanes, or idle lanes'
    /// empty units), grow, or reject the object. Returns the rejected
    /// object and a stray cache, for the caller to drop once the lane is
    /// unlocked (`T::drop` is user code).
    #[cold]
    #[inline(never)]
    pub(super) fn put_slow(&self, held: &OwnerHold<'_, T>, value: T) -> (Option<T>, Vec<T>) {
        let lane = held.lane();
        // As in `refill`: a drop counted below comes after its return.
        held.fold_pending();
        self.lanes.mark_current();
        let mut cache = held.take_out();
        if cache.len() >= LANE_CACHE_MAX {
            let len = cache.len();
            self.lock_shared().extend(cache.drain(len - LANE_BATCH..));
            // The objects take their units to the shared list.
            held.set_units(held.units() - LANE_BATCH);
        }
        if cache.len() >= held.units() {
            // A share, not a whole batch, when units run short: a lane that
            // leases and then stays in use (a live `PoolLocal`) keeps what
            // it leased from the other threads' returns.
            let mut leased = self.budget.lease_share(self.lease_batch);
            // Before dropping the object: the units of exited threads' lanes,
            // then the empty units of lanes not in use.
            if leased == 0 && self.reclaim_dead_lanes() > 0 {
                leased = self.budget.lease_share(self.lease_batch);
            }
            if leased == 0 {
                leased = self.steal_units(Some(lane), self.lease_batch);
            }
            held.set_units(held.units() + leased);
        }
        let rejected = if cache.len() < held.units() {
            reserve_up_to(&mut cache, held.units());
            cache.push(value);
            None
        } else {
            Some(value)
        };
        let stray = held.put_back(cache);
        if rejected.is_some() {
            lane.stats.dropped.add(1);
        }
        if cfg!(debug_assertions) {
            held.check_invariants();
        }
        (rejected, stray)
    }

    /// Moves the idle objects of exited threads' lanes to the shared list
    /// (their units with them) and gives their empty units back to the
    /// budget. Returns how many lanes it emptied. A slow path: before
    /// creating an object or dropping one.
    #[cold]
    #[inline(never)]
    pub(super) fn reclaim_dead_lanes(&self) -> usize {
        self.lanes.reclaim_dead(|(), lane| {
            // A thief may be taking from the lane: wait for it (a moment).
            let dead = lane.hold_dead();
            // Counts of a handle the thread leaked (its pin would have kept
            // the id, so normally none).
            dead.fold_pending();
            let (idle, empty) = dead.give_all();
            drop(dead);
            self.budget.give_back(empty);
            // No user code runs: the objects only move.
            self.lock_shared().extend(idle);
        })
    }

    /// A thread without a lane takes from the shared list, after moving
    /// exited threads' or idle lanes' objects there if it is empty, or
    /// creates.
    #[cold]
    #[inline(never)]
    pub(super) fn take_fallback(&self) -> T {
        if self.lock_shared().is_empty() {
            self.reclaim_dead_lanes();
            if self.lock_shared().is_empty() {
                self.steal_to_shared();
            }
        }
        let (fallback, stats) = self.lanes.lock_fallback();
        let stats = &stats.stats;
        let mut shared = self.lock_shared();
        if let Some(value) = shared.pop() {
            // Its unit goes back to the budget: the shared list holds no
            // empty units.
            self.budget.give_back(1);
            stats.hits.add(1);
            return value;
        }
        stats.misses.add(1);
        // `create` is user code, which may use the pool: no lock held.
        drop((shared, fallback));
        (self.create)()
    }

    /// Moves a batch of idle objects from a lane not in use to the shared
    /// list, with their units (for a thread without a lane).
    fn steal_to_shared(&self) {
        // Allocated before any lane is locked.
        let mut batch = Vec::with_capacity(LANE_BATCH);
        let mut n = 0;
        for lane in self.lanes.marked_shared() {
            if !lane.may_give(true) {
                continue;
            }
            if let Some(victim) = lane.try_steal() {
                n = victim.give_objects(&mut batch, LANE_BATCH);
            }
            if n > 0 {
                break;
            }
        }
        // The objects' units travel with them: the shared list's objects
        // hold one each.
        self.lock_shared().append(&mut batch);
    }

    /// A thread without a lane returns to the shared list, or drops.
    #[cold]
    #[inline(never)]
    pub(super) fn put_fallback(&self, value: T) {
        let mut unit = self.budget.lease(1);
        if unit == 0 && self.reclaim_dead_lanes() > 0 {
            unit = self.budget.lease(1);
        }
        if unit == 0 {
            unit = self.steal_units(None, 1);
        }
        let (fallback, stats) = self.lanes.lock_fallback();
        let stats = &stats.stats;
        stats.returns.add(1);
        if unit == 1 {
            self.lock_shared().push(value);
        } else {
            stats.dropped.add(1);
            // `T::drop` is user code, which may use the pool: no lock held.
            drop(fallback);
            drop(value);
        }
    }
}

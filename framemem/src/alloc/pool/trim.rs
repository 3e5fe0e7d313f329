//! [`Pool::trim`]: dropping the idle objects beyond what recent frames
//! needed, not all of them ([`Pool::reset`]), so the next frame does not
//! make its objects again.

use std::sync::PoisonError;

use super::{Pool, ResetHook};

impl<T: Send, H: ResetHook<T>> Pool<T, H> {
    /// Drops idle objects until at most `keep` are idle; returns how many
    /// it dropped. The shared list goes first (objects no thread is
    /// using), then the oldest of each lane's cache; lanes keep their
    /// units, so returns on every thread go on without locking.
    ///
    /// Dropped last, once the pool is whole again, as in [`reset`](Self::reset).
    ///
    /// ```
    /// use framemem::Pool;
    ///
    /// let mut pool: Pool<Vec<u8>> = Pool::new(1000);
    /// let spike: Vec<_> = (0..500).map(|_| pool.take()).collect();
    /// spike.into_iter().for_each(|v| pool.put(v));
    /// assert_eq!(pool.stats().held, 500);
    /// assert_eq!(pool.trim(100), 400);
    /// assert_eq!(pool.stats().held, 100);
    /// assert_eq!(pool.trim(100), 0);
    /// ```
    pub fn trim(&mut self, keep: usize) -> usize {
        let mut dropped: Vec<Vec<T>> = Vec::new();
        let in_lanes: usize = self.lanes.lanes_mut().map(|(_, lane)| lane.len_mut()).sum();
        let shared = self
            .shared
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut surplus = (in_lanes + shared.len()).saturating_sub(keep);
        let from_shared = surplus.min(shared.len());
        dropped.push(shared.split_off(shared.len() - from_shared));
        // Units of dropped shared objects go back to the budget.
        self.budget.give_back(from_shared);
        surplus -= from_shared;
        for ((), lane) in self.lanes.lanes_mut() {
            if surplus == 0 {
                break;
            }
            lane.fold_pending_mut();
            let keep_here = lane.len_mut().saturating_sub(surplus);
            let out = lane.keep_newest(keep_here);
            surplus -= out.len();
            dropped.push(out);
        }
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        let n = dropped.iter().map(Vec::len).sum();
        drop(dropped);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_objects_go_first_then_the_oldest_cached() {
        let mut pool: Pool<Vec<u32>> = Pool::new(4096);
        // Objects put on other threads: some stay in those lanes (until
        // they exit), the rest overflow to the shared list.
        // More than a lane caches (LANE_CACHE_MAX, 1024) per thread: some
        // reach the shared list.
        let per_thread = if cfg!(miri) { 1100 } else { 1500 };
        let both_took = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            for t in 0..2 {
                let (pool, both_took) = (&pool, &both_took);
                s.spawn(move || {
                    let taken: Vec<_> = (0..per_thread)
                        .map(|i| {
                            let mut v = pool.take();
                            v.push(t * 10_000 + i);
                            v
                        })
                        .collect();
                    both_took.wait();
                    taken.into_iter().for_each(|v| pool.put(v));
                });
            }
        });
        let mine: Vec<_> = (0..300).map(|_| pool.take()).collect();
        mine.into_iter().for_each(|v| pool.put(v));
        let held = pool.stats().held;
        assert!(held >= 2 * per_thread as usize, "{held} idle");

        assert_eq!(pool.trim(held + 1), 0);
        assert_eq!(pool.trim(200), held - 200);
        assert_eq!(pool.stats().held, 200);
        pool.check_invariants();
        // The pool goes on. (What this thread's takes reuse depends on
        // whether the exited threads' lanes were reclaimed, or their ids
        // taken by other tests' threads meanwhile.)
        let again: Vec<_> = (0..500).map(|_| pool.take()).collect();
        let left = pool.stats().held;
        assert!(left <= 200, "{left} idle");
        again.into_iter().for_each(|v| pool.put(v));
        assert_eq!(pool.stats().held, left + 500);
        assert_eq!(pool.trim(0), left + 500);
        pool.check_invariants();
    }
}

//! A pool's counters: [`PoolStats`], what [`Pool::stats`](super::Pool::stats)
//! returns, and [`LaneStats`], the per-lane counters it sums.
//!
//! Invariant: for a lane (not the fallback), [`LaneStats::cached`] is the
//! length of the lane's cache.

use crate::alloc::lanes::LaneCounter;

/// A lane's counters. The fast paths bump one each (`hits`, `returns`); the
/// lane's cache length, which `stats` reads from other threads, follows from
/// them: `returns - dropped - hits + moved_in` (wrapping).
#[derive(Default)]
pub(super) struct LaneStats {
    pub(super) hits: LaneCounter,
    pub(super) misses: LaneCounter,
    pub(super) returns: LaneCounter,
    pub(super) dropped: LaneCounter,
    /// Objects moved into the lane from the shared list, minus those moved
    /// out to it or cleared (wrapping).
    pub(super) moved_in: LaneCounter,
}

impl LaneStats {
    /// The lane's cache length.
    pub(super) fn cached(&self) -> u64 {
        self.returns
            .get()
            .wrapping_sub(self.dropped.get())
            .wrapping_sub(self.hits.get())
            .wrapping_add(self.moved_in.get())
    }

    /// Adds this lane's hits, misses, returns and drops to `total`.
    pub(super) fn add_to(&self, total: &mut PoolStats) {
        total.hits += self.hits.get();
        total.misses += self.misses.get();
        total.returns += self.returns.get();
        total.dropped += self.dropped.get();
    }
}

/// A pool's counters, from [`Pool::stats`](super::Pool::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PoolStats {
    /// `get`/`take` served by an idle object.
    pub hits: u64,
    /// `get`/`take` that had to create a new object.
    pub misses: u64,
    /// Objects given back (guards dropped, `put` calls).
    pub returns: u64,
    /// Objects given back while the pool was full, and so dropped.
    pub dropped: u64,
    /// Idle objects the pool holds now.
    pub held: usize,
    /// The most idle objects the pool will hold.
    pub capacity: usize,
}

//! A pool's counters: [`PoolStats`], what [`Pool::stats`](super::Pool::stats)
//! returns, and [`LaneStats`], the per-lane counters it sums.
//!
//! Invariant: for a lane (not the fallback), `LaneStats::cached` is the
//! length of the lane's cache.

use crate::alloc::lanes::LaneCounter;

/// A lane's counters. The fast paths bump one each (`hits`, `returns`) and
/// set `cached`.
#[derive(Default)]
pub(super) struct LaneStats {
    pub(super) hits: LaneCounter,
    pub(super) misses: LaneCounter,
    pub(super) returns: LaneCounter,
    pub(super) dropped: LaneCounter,
    /// The lane's cache length, set by its thread whenever it changes: one
    /// reading is a length the cache really had, never a difference of
    /// counters read at different moments.
    pub(super) cached: LaneCounter,
}

impl LaneStats {
    /// Adds this lane's hits, misses, returns and drops to `total`. Drops
    /// before returns: a drop is counted after its return, so a reading
    /// never has more drops than returns (`lanes/counters.rs`).
    pub(super) fn add_to(&self, total: &mut PoolStats) {
        total.dropped += self.dropped.get();
        total.returns += self.returns.get();
        total.hits += self.hits.get();
        total.misses += self.misses.get();
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
    /// Idle objects the pool holds now: exact when no other thread is using
    /// the pool; while one is, a reading lane by lane, between 0 and
    /// `capacity`.
    pub held: usize,
    /// The most idle objects the pool will hold.
    pub capacity: usize,
}

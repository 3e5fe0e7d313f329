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
    /// Adds the counters of `lanes` to `total`, read in the order their
    /// events happen backwards (`lanes/counters.rs`): every drop, then every
    /// return, then every take. A drop is counted after its return, and an
    /// object is returned (on any lane) after it was taken, so a reading
    /// never has more drops than returns, nor more returns than takes.
    pub(super) fn add_all<'a>(
        lanes: impl Iterator<Item = &'a Self> + Clone,
        total: &mut PoolStats,
    ) {
        for lane in lanes.clone() {
            total.dropped += lane.dropped.get();
        }
        for lane in lanes.clone() {
            total.returns += lane.returns.get();
        }
        for lane in lanes {
            total.hits += lane.hits.get();
            total.misses += lane.misses.get();
        }
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

//! A pool's counters: [`PoolStats`], what [`Pool::stats`](super::Pool::stats)
//! returns, and [`LaneStats`], the per-lane counters it sums.
//!
//! Invariant: for a lane (not the fallback), `LaneStats::cached` is the
//! length of the lane's cache and `LaneStats::units` its units.

use crate::alloc::lanes::LaneCounter;

/// A lane's counters. The fast paths bump one each (`hits`, `returns`) and
/// set `cached`.
///
/// `hits`, `misses`, `returns` and `dropped` have one writer, the lane's
/// thread (or the fallback's lock holder). `cached` and `units` mirror the
/// lane's store and are written by whoever holds the lane's lock (its
/// thread, or a thief): one writer at a time, ordered by the lock.
#[derive(Default)]
pub(super) struct LaneStats {
    pub(super) hits: LaneCounter,
    pub(super) misses: LaneCounter,
    pub(super) returns: LaneCounter,
    pub(super) dropped: LaneCounter,
    /// The lane's cache length, set whenever it changes: one reading is a
    /// length the cache really had, never a difference of counters read at
    /// different moments.
    pub(super) cached: LaneCounter,
    /// The units of capacity the lane holds, set whenever they change: with
    /// `cached`, how thieves find a lane with empty units without its lock.
    pub(super) units: LaneCounter,
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PoolStats {
    /// `get`/`take` served by an idle object (from the thread's lane, the
    /// shared list, or another thread's lane).
    pub hits: u64,
    /// `get`/`take` that had to create a new object: no idle object was in
    /// the pool but in the lanes of threads in use at that moment.
    pub misses: u64,
    /// Objects given back (guards dropped, `put` calls).
    pub returns: u64,
    /// Objects given back while the pool was full, and so dropped. Full:
    /// no unit of capacity was free in the budget, in an exited thread's
    /// lane or among the empty units of a lane not in use, so the idle
    /// objects used all of `capacity` but for the empty units of lanes in
    /// use at that moment (threads inside a call or holding a
    /// [`PoolLocal`](super::PoolLocal)).
    pub dropped: u64,
    /// Idle objects the pool holds now, wherever they are (any thread's
    /// lane, the shared list): exact when no other thread is using the pool;
    /// while one is, a reading lane by lane, between 0 and `capacity`.
    /// Never more than `capacity`.
    pub held: usize,
    /// The most idle objects the pool will hold.
    pub capacity: usize,
}

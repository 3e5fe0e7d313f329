//! The counters lanes keep: [`LaneCounter`], bumped by one thread and read by
//! any, and [`Budget`], units shared out to lanes in batches.
//!
//! Neither carries the ownership of memory. A [`LaneCounter`] is updated with
//! a `Release` store and read with an `Acquire` load (plain moves on x86) so
//! that `stats` can read a coherent snapshot without a lock: a reader that
//! sees a count sees every count made before it, on any thread (an
//! allocation counted before its block was sent to the thread that freed
//! it). So `stats` reads what happens *last* first (frees before
//! allocations, the bytes in use before the bytes reserved), and no figure
//! comes out above its bound (`tests/defects/`, `*_stats_are_coherent_*`).

/// A counter written by one thread and read by any: a load and a `Release`
/// store, no read-modify-write, so bumping it costs what a `Cell` would.
#[derive(Debug, Default)]
pub(crate) struct LaneCounter(std::sync::atomic::AtomicU64);

impl LaneCounter {
    /// Adds `n`. Only the lane's owner may call it (single writer).
    #[inline(always)]
    pub(crate) fn add(&self, n: u64) {
        use std::sync::atomic::Ordering::{Relaxed, Release};
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Release);
    }

    /// The current value, and (`Acquire`) every count made before it.
    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Sets the value. Only one writer at a time may call it: the lane's
    /// owner, `&mut` access, or (the pool's `cached` and `units`) the holder
    /// of a lock that orders the writers.
    #[inline(always)]
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, std::sync::atomic::Ordering::Release);
    }
}

/// Units (bytes, objects) shared out to lanes in batches: the arena's byte
/// limit and the pool's capacity. Touched only on slow paths.
#[derive(Debug)]
pub(crate) struct Budget(std::sync::atomic::AtomicUsize);

impl Budget {
    /// A budget of `units`.
    pub(crate) fn new(units: usize) -> Self {
        Self(std::sync::atomic::AtomicUsize::new(units))
    }

    /// Takes up to `want` units; returns how many it got (0 when empty).
    pub(crate) fn lease(&self, want: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let mut got = 0;
        // `fetch_update` retries when another lane leased in between; the
        // closure always returns `Some`, so it cannot fail.
        let _ = self.0.fetch_update(Relaxed, Relaxed, |left| {
            got = left.min(want);
            Some(left - got)
        });
        got
    }

    /// Takes up to `want` units, but at most a quarter of what is left
    /// (rounded up): when units run short, several lanes leasing in turn
    /// each get some, rather than the first taking what the others need.
    /// Returns how many it got (0 when empty).
    pub(crate) fn lease_share(&self, want: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let mut got = 0;
        // As in `lease`: the closure always returns `Some`.
        let _ = self.0.fetch_update(Relaxed, Relaxed, |left| {
            got = left.div_ceil(4).min(want);
            Some(left - got)
        });
        got
    }

    /// Returns `units` leased earlier.
    pub(crate) fn give_back(&self, units: usize) {
        self.0
            .fetch_add(units, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the units left, with exclusive access (a reset, a clear).
    pub(crate) fn set(&mut self, units: usize) {
        *self.0.get_mut() = units;
    }

    /// The units left, with exclusive access (for invariant checks).
    pub(crate) fn left(&mut self) -> usize {
        *self.0.get_mut()
    }
}

//! [`LaneCache<T>`]: one thread's idle objects in a [`Pool`](super::Pool), and
//! the units of capacity it holds. The pool's only unsafe code.
//!
//! The cache is a `Vec<T>` in an `UnsafeCell`, borrowed mutably for the
//! length of one `Vec` call that runs no user code and never allocates, in
//! the manner of `Cell::take` and `Cell::replace`:
//! - `LaneCache` is `!Sync`, and `Lanes` hands a lane's `&LaneCache` only to
//!   the thread holding the lane's id, so all the `&LaneCache` to one lane in
//!   use at once are on one thread;
//! - every borrow is made in [`LaneCache::with_vec`], private to this file,
//!   by a method below whose closure calls no user code (no hook, no
//!   `create`, no `T::drop`), no pool method and nothing that may allocate,
//!   so no second borrow can start while one lives.
//!
//! Slow paths that must grow the cache, drop objects or call user code move
//! it out with [`take_out`](LaneCache::take_out) and back with
//! [`put_back`](LaneCache::put_back).
//!
//! Invariants ([`LaneCache::check_invariants`]): the cache holds at most
//! `units` objects, and its capacity never exceeds [`LANE_CACHE_MAX`].

use std::cell::{Cell, UnsafeCell};

use crate::alloc::lanes::LaneCounter;

/// Idle objects one lane keeps before handing a batch to the shared list.
pub(super) const LANE_CACHE_MAX: usize = 1024;

/// One thread's idle objects. See the [module docs](self).
pub(super) struct LaneCache<T> {
    /// Idle objects: at most `units`, and at most [`LANE_CACHE_MAX`] (its
    /// capacity never exceeds that). Borrowed only inside `with_vec`.
    cache: UnsafeCell<Vec<T>>,
    /// Units of capacity this lane holds.
    units: Cell<usize>,
    /// Hits and returns of this thread's `PoolLocal` handles not yet counted
    /// in the lane's shared counters (`local.rs`). In the lane, not in each
    /// handle, so that a slow path on this thread sees them all.
    pending: PendingCounts,
}

/// Counts kept by a thread's handles until one of them drops: plain `Cell`s,
/// written only by the lane's thread.
#[derive(Default)]
pub(super) struct PendingCounts {
    pub(super) hits: Cell<u64>,
    pub(super) returns: Cell<u64>,
}

impl<T> LaneCache<T> {
    /// An empty cache holding no units.
    pub(super) fn new() -> Self {
        Self {
            cache: UnsafeCell::new(Vec::new()),
            units: Cell::new(0),
            pending: PendingCounts::default(),
        }
    }

    /// The counts this thread's handles have not folded in yet.
    #[inline(always)]
    pub(super) fn pending(&self) -> &PendingCounts {
        &self.pending
    }

    /// Runs `f` on the cache.
    ///
    /// # Safety
    ///
    /// `f` calls no user code (no hook, no `create`, no `T::drop`), no pool
    /// method and nothing that may allocate, so no second borrow of the cache
    /// can start while this one lives. `Vec::pop`, `Vec::len` and a
    /// `Vec::push` within capacity qualify.
    #[inline(always)]
    unsafe fn with_vec<R>(&self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        // SAFETY: all live `&self` are on one thread (module docs), and the
        // caller promises no re-entry while the borrow lives: this is the
        // only borrow.
        f(unsafe { &mut *self.cache.get() })
    }

    /// An idle object, if the cache has one. Cost: a length load and store,
    /// one move, one counter store. `cached` (the lane's shared mirror of
    /// the length) follows.
    #[inline(always)]
    pub(super) fn pop(&self, cached: &LaneCounter) -> Option<T> {
        // SAFETY: `pop` and a counter store run no user code and never
        // allocate.
        unsafe {
            self.with_vec(|cache| {
                let value = cache.pop()?;
                cached.set(cache.len() as u64);
                Some(value)
            })
        }
    }

    /// Keeps `value` if the cache holds fewer objects than its units and has
    /// room without growing; gives it back otherwise. `cached` follows.
    #[inline(always)]
    pub(super) fn push_within_units(&self, value: T, cached: &LaneCounter) -> Result<(), T> {
        let units = self.units.get();
        // SAFETY: the push happens only within capacity, so it never
        // allocates, and moving `value` or storing a counter runs no user
        // code.
        unsafe {
            self.with_vec(|cache| {
                if cache.len() < units && cache.len() < cache.capacity() {
                    cache.push(value);
                    cached.set(cache.len() as u64);
                    Ok(())
                } else {
                    Err(value)
                }
            })
        }
    }

    /// How many idle objects the cache holds.
    pub(super) fn len(&self) -> usize {
        // SAFETY: `len` runs no user code and never allocates.
        unsafe { self.with_vec(|cache| cache.len()) }
    }

    /// Units of capacity the lane holds.
    pub(super) fn units(&self) -> usize {
        self.units.get()
    }

    /// Sets the units of capacity the lane holds.
    pub(super) fn set_units(&self, units: usize) {
        self.units.set(units);
    }

    /// Moves the cache out, so that slow paths can grow it, drop objects or
    /// call user code freely; [`put_back`](Self::put_back) returns it.
    pub(super) fn take_out(&self) -> Vec<T> {
        // SAFETY: `mem::take` neither allocates nor runs user code.
        unsafe { self.with_vec(std::mem::take) }
    }

    /// Returns a cache moved out by [`take_out`](Self::take_out), and sets
    /// `cached` to its length. A cache
    /// put in meanwhile by a re-entrant call is dropped (its units stay
    /// counted; only a pool used from its own allocator gets here).
    pub(super) fn put_back(&self, cache: Vec<T>, cached: &LaneCounter) {
        cached.set(cache.len() as u64);
        // SAFETY: `mem::replace` neither allocates nor runs user code; the
        // old value is dropped after the borrow ends.
        let stray = unsafe { self.with_vec(|c| std::mem::replace(c, cache)) };
        drop(stray);
    }

    /// Empties the cache and gives up its units, with exclusive access.
    /// Returns the objects it held, for the caller to drop once the pool is
    /// consistent again (`T::drop` is user code, and may panic).
    pub(super) fn clear(&mut self) -> Vec<T> {
        *self.units.get_mut() = 0;
        std::mem::take(self.cache.get_mut())
    }

    /// Keeps the `keep` most recently cached objects and its units, with
    /// exclusive access; returns the others, for the caller to drop once
    /// the pool is consistent again (as [`clear`](Self::clear)).
    pub(super) fn keep_newest(&mut self, keep: usize) -> Vec<T> {
        let cache = self.cache.get_mut();
        let surplus = cache.len().saturating_sub(keep);
        cache.drain(..surplus).collect()
    }

    /// The cache's invariants (see the [module docs](self)); panics naming
    /// the values when one is broken.
    pub(super) fn check_invariants(&self) {
        // SAFETY: reads two lengths: no user code, no allocation.
        let (len, capacity) = unsafe { self.with_vec(|cache| (cache.len(), cache.capacity())) };
        let units = self.units.get();
        assert!(
            len <= units,
            "pool lane caches {len} objects but holds only {units} units"
        );
        assert!(
            capacity <= LANE_CACHE_MAX,
            "pool lane cache has capacity {capacity}, past LANE_CACHE_MAX {LANE_CACHE_MAX}"
        );
    }
}

/// Grows `cache` to hold `want` objects, never past [`LANE_CACHE_MAX`].
pub(super) fn reserve_up_to<T>(cache: &mut Vec<T>, want: usize) {
    let want = want.min(LANE_CACHE_MAX);
    if want > cache.capacity() {
        cache.reserve_exact(want - cache.len());
    }
}

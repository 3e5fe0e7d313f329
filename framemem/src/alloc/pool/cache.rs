//! One lane of a [`Pool`](super::Pool): its idle objects and units of
//! capacity ([`LaneShared`]), the lock word that guards them, and the part
//! only the lane's thread touches ([`LaneOwner`]). The pool's unsafe code,
//! but for the guards' `ManuallyDrop`.
//!
//! # The lock
//!
//! A lane's store (its cache of idle objects and its units) is reached only
//! by a thread that holds the lane's lock word (`lanes/lock.rs`, checked
//! under loom):
//! - **the owner** (the thread holding the lane id) takes it for each `&Pool`
//!   call, and a [`PoolLocal`](super::PoolLocal) takes it for its whole life.
//!   Holds nest on the owner's thread: a hold that finds the owner's flag
//!   already set is nested in another, and leaves it alone. Cost: a load
//!   and a store to take it, a load of the thief's flag, a store to leave
//!   it, all on a line the owner already has; no read-modify-write;
//! - **a thief** (another thread whose own lane and the shared list are
//!   empty, or that needs a unit) takes it with [`LaneShared::try_steal`],
//!   which fails at once on a lane in use and never waits;
//! - **a reclaimer** (a thread that claimed a dead thread's lane id) waits
//!   for a thief to finish ([`LaneShared::hold_dead`]).
//!
//! A thief or reclaimer holds the word only to move objects and units, never
//! running user code or waiting on anything, so an owner that finds it taken
//! spins for a moment at most. User code (`create`, the hook, `T::drop`)
//! runs outside a `&Pool` call's hold; under a `PoolLocal`'s hold the store
//! is consistent whenever user code runs.
//!
//! # Borrows
//!
//! The store is borrowed mutably for the length of one `Vec` call that runs
//! no user code and never allocates, in the manner of `Cell::replace`
//! ([`Locked::with_store`]): the lock makes the holder's thread the only
//! one reaching the store, and on that thread the several holds an owner
//! may have at once (a `PoolLocal`, a `&Pool` call) never overlap a borrow.
//! Slow paths that must grow the cache move it out with
//! [`take_out`](Locked::take_out) and back with [`put_back`](Locked::put_back).
//!
//! # Invariants
//!
//! The holds and the store operations they allow live in `cache/locked.rs`.
//!
//! Checked by [`LaneShared::check_invariants`] (with exclusive access) and
//! [`Locked::check_invariants`] (under the lock):
//! - the cache holds at most `units` objects, in a `Vec` of capacity at most
//!   [`LANE_CACHE_MAX`];
//! - the lane's `cached` and `units` counters are the cache length and the
//!   units (so `stats` and thieves read real values, never differences);
//! - the word is held by the owner only while one of its holds lives (with
//!   `&mut` access to the pool, only a leaked `PoolLocal` can keep it), and
//!   no thief's hold outlives the call that took it.

mod locked;

#[cfg(doc)]
use locked::Locked;
pub(super) use locked::{OwnerHold, ThiefHold};

use super::stats::LaneStats;
use crate::alloc::lanes::LaneLock;
use std::cell::UnsafeCell;

/// Idle objects one lane keeps before handing a batch to the shared list.
pub(super) const LANE_CACHE_MAX: usize = 1024;

/// The part of a lane every thread reaches (`Lanes`' `S`): the lock word,
/// the store it guards, and the counters.
pub(super) struct LaneShared<T> {
    /// Guards `store`; see the [module docs](self).
    lock: LaneLock,
    /// Reached only by the thread holding `lock`, or with `&mut self`.
    store: UnsafeCell<Store<T>>,
    /// The lane's counters. `hits`, `misses`, `returns` and `dropped` are
    /// written by the owner only; `cached` and `units` by whoever holds the
    /// lock (one writer at a time, ordered by the lock).
    pub(super) stats: LaneStats,
}

/// A lane's idle objects and units of capacity.
struct Store<T> {
    /// The idle objects' buffer: its first `stats.cached` values (the lane's
    /// counter) are the idle objects, at most `units`; capacity at most
    /// [`LANE_CACHE_MAX`]. The `Vec`'s own length stays 0 in the store: the
    /// counter is the one length, so a pop or a push writes one length,
    /// which `stats` and thieves read too. Moved out with its length by
    /// [`Store::take_cache`], back by [`Store::put_cache`].
    cache: Vec<T>,
    /// Units of capacity this lane holds.
    units: usize,
    /// `min(units, cache.capacity())`: the length below which a return is a
    /// push, so that the fast path compares once. Set by [`Store::sync_room`]
    /// wherever `units` or the cache's capacity changes.
    room: usize,
    /// Hits and returns of this thread's `PoolLocal` handles not yet counted
    /// in the lane's shared counters (`local.rs`). In the lane, not in each
    /// handle, so that a slow path on this thread sees them all; in the
    /// store, under the lock a handle holds for its life, so that a `&Pool`
    /// call finds its lane with no pointer to a part only its thread
    /// reaches.
    pending: PendingCounts,
}

/// Counts kept by a thread's handles until one of them drops or a slow path
/// folds them in.
#[derive(Default)]
struct PendingCounts {
    hits: u64,
    returns: u64,
}

impl<T> Store<T> {
    /// Sets `room` from `units` and the cache's capacity.
    #[inline]
    fn sync_room(&mut self) {
        self.room = self.units.min(self.cache.capacity());
    }

    /// Moves the cache out as a `Vec` of its `len` idle objects, leaving an
    /// empty one (the caller sets the lane's `cached` to 0).
    ///
    /// # Safety
    ///
    /// `len` is the lane's `cached` count, read by the holder of the lock
    /// (or with `&mut` access): the number of idle objects at the start of
    /// the buffer.
    unsafe fn take_cache(&mut self, len: usize) -> Vec<T> {
        let mut cache = std::mem::take(&mut self.cache);
        debug_assert!(
            cache.is_empty() && len <= cache.capacity(),
            "pool lane: {len} cached objects in a buffer of length {} and capacity {}",
            cache.len(),
            cache.capacity()
        );
        // SAFETY: the first `len` values are initialised and `len` is at
        // most the capacity (`cache`'s invariant, with the caller's `len`).
        unsafe { cache.set_len(len) };
        self.sync_room();
        cache
    }

    /// Moves `cache` in, in place of the store's, which must have been taken
    /// out (an idle object left in it would be leaked); returns its length,
    /// for the lane's `cached`.
    fn put_cache(&mut self, mut cache: Vec<T>) -> usize {
        let len = cache.len();
        // SAFETY: 0 is at most the capacity; the values stay initialised in
        // the buffer, owned by the store through the lane's `cached`.
        unsafe { cache.set_len(0) };
        self.cache = cache;
        self.sync_room();
        len
    }
}

// SAFETY: `store` is reached only by the one thread holding `lock` (whose
// `Acquire` load of the other side's flag is ordered after the previous
// holder's `Release` store clearing it) or through `&mut self`, so sharing
// `&LaneShared<T>` between threads moves `T` values between them but never
// shares one: `T: Send` is enough. `lock` and `stats` are atomics.
unsafe impl<T: Send> Sync for LaneShared<T> {}

impl<T> Drop for LaneShared<T> {
    fn drop(&mut self) {
        let len = self.stats.cached.get() as usize;
        // SAFETY: `&mut self`: `cached` is the number of idle objects in the
        // store's buffer. They drop with the returned `Vec`.
        drop(unsafe { self.store.get_mut().take_cache(len) });
    }
}

impl<T> Default for LaneShared<T> {
    fn default() -> Self {
        Self {
            lock: LaneLock::default(),
            store: UnsafeCell::new(Store {
                cache: Vec::new(),
                units: 0,
                room: 0,
                pending: PendingCounts::default(),
            }),
            stats: LaneStats::default(),
        }
    }
}

impl<T> LaneShared<T> {
    /// Takes the lane's lock for its owner, nested in any hold the owner
    /// already has. Waits only while a thief or reclaimer holds it (a moment:
    /// they only move objects).
    ///
    /// # Safety
    ///
    /// - `owner` is this lane's owner part;
    /// - the calling thread holds the lane's id (it got both from
    ///   `Lanes::local` or a pin), so no other thread reaches `owner` or
    ///   sets the owner's flag, and keeps it until the hold drops (for
    ///   the length of a call, or under a pin).
    #[inline(always)]
    pub(super) unsafe fn hold(&self) -> OwnerHold<'_, T> {
        // SAFETY: the caller is the lane's owner (this function's contract),
        // and the hold unlocks only if it took the lock (`Drop`).
        let outermost = unsafe { self.lock.lock_owner() };
        OwnerHold::new(self, outermost)
    }

    /// Takes the lane's lock for its owner unless the owner holds it
    /// already: the common case of [`hold`](Self::hold), whose hold unlocks
    /// with no flag to test. `None`, changing nothing, for a nested hold of
    /// this thread: the caller's cold path calls `hold`. (A thief holding
    /// the lane is waited for here, out of line.)
    ///
    /// # Safety
    ///
    /// As [`hold`](Self::hold).
    #[inline(always)]
    pub(super) unsafe fn try_hold_free(&self) -> Option<OwnerHold<'_, T>> {
        // SAFETY: the caller is the lane's owner (this function's contract),
        // and the hold, `outermost`, unlocks the lock it took (`Drop`).
        let took = unsafe { self.lock.lock_owner() };
        took.then(|| OwnerHold::new(self, true))
    }

    /// Takes the lane's lock for a thief, if no one holds it; `None` at once
    /// otherwise (the lane is in use).
    pub(super) fn try_steal(&self) -> Option<ThiefHold<'_, T>> {
        self.lock.try_lock_thief().then(|| ThiefHold::new(self))
    }

    /// Takes the lock of a lane whose thread has exited, for the reclaimer
    /// that holds its id: no owner can hold it, and a thief holds it only
    /// for a moment.
    pub(super) fn hold_dead(&self) -> ThiefHold<'_, T> {
        self.lock.lock_reclaimer();
        ThiefHold::new(self)
    }

    /// Whether the lane may have objects or empty units to give (hints read
    /// without the lock, for thieves to skip lanes cheaply).
    pub(super) fn may_give(&self, objects: bool) -> bool {
        let cached = self.stats.cached.get();
        if objects {
            cached > 0
        } else {
            self.stats.units.get() > cached
        }
    }

    /// Empties the cache and gives up its units, with exclusive access.
    /// Returns the objects it held, for the caller to drop once the pool is
    /// consistent again (`T::drop` is user code, and may panic).
    pub(super) fn clear(&mut self) -> Vec<T> {
        let len = self.len_mut();
        let store = self.store.get_mut();
        store.units = 0;
        // SAFETY: `&mut self`: `len` is the lane's `cached` count.
        let idle = unsafe { store.take_cache(len) };
        self.stats.units.set(0);
        self.stats.cached.set(0);
        idle
    }

    /// Keeps the `keep` most recently cached objects and its units, with
    /// exclusive access; returns the others, for the caller to drop once
    /// the pool is consistent again (as [`clear`](Self::clear)).
    pub(super) fn keep_newest(&mut self, keep: usize) -> Vec<T> {
        let len = self.len_mut();
        let store = self.store.get_mut();
        // SAFETY: `&mut self`: `len` is the lane's `cached` count.
        let mut cache = unsafe { store.take_cache(len) };
        let surplus = cache.len().saturating_sub(keep);
        let out = cache.drain(..surplus).collect();
        let kept = store.put_cache(cache);
        self.stats.cached.set(kept as u64);
        out
    }

    /// Folds the pending counts of this lane's handles into its counters,
    /// with exclusive access (a clear, a trim: counts of a handle that was
    /// leaked rather than dropped).
    pub(super) fn fold_pending_mut(&mut self) {
        let pending = std::mem::take(&mut self.store.get_mut().pending);
        self.stats.hits.add(pending.hits);
        self.stats.returns.add(pending.returns);
    }

    /// Idle objects cached, with exclusive access.
    pub(super) fn len_mut(&mut self) -> usize {
        self.stats.cached.get() as usize
    }

    /// Units held, with exclusive access.
    pub(super) fn units_mut(&mut self) -> usize {
        self.store.get_mut().units
    }

    /// The lane's invariants (see the [module docs](self)), with exclusive
    /// access; panics naming the values when one is broken.
    pub(super) fn check_invariants(&mut self) {
        let (_, by_thief) = self.lock.held_mut();
        assert!(!by_thief, "pool lane: a thief's hold outlived its steal");
        let len = self.len_mut();
        let store = self.store.get_mut();
        check_counts(
            (
                len,
                store.cache.capacity(),
                store.units,
                store.room,
                store.cache.len(),
            ),
            &self.stats,
        );
    }
}

/// A store's invariants, given its cache's length (the lane's `cached`) and
/// capacity, its units, its room and its buffer's own length, against its
/// lane's counters.
fn check_counts(
    (len, capacity, units, room, vec_len): (usize, usize, usize, usize, usize),
    stats: &LaneStats,
) {
    assert_eq!(
        vec_len, 0,
        "pool lane: the buffer's own length is {vec_len}, not 0 (its length is the lane's \
         `cached` counter)"
    );
    assert_eq!(
        room,
        units.min(capacity),
        "pool lane: room {room} for {units} units and a cache of capacity {capacity}"
    );
    assert!(
        len <= units,
        "pool lane caches {len} objects but holds only {units} units"
    );
    assert!(
        capacity <= LANE_CACHE_MAX,
        "pool lane cache has capacity {capacity}, past LANE_CACHE_MAX {LANE_CACHE_MAX}"
    );
    let units_seen = stats.units.get();
    assert_eq!(
        units_seen, units as u64,
        "pool lane: its counter says {units_seen} units, its store holds {units}"
    );
}

/// Grows `cache` to hold `want` objects, never past [`LANE_CACHE_MAX`].
pub(super) fn reserve_up_to<T>(cache: &mut Vec<T>, want: usize) {
    let want = want.min(LANE_CACHE_MAX);
    if want > cache.capacity() {
        cache.reserve_exact(want - cache.len());
    }
}

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
//!   Holds nest on the owner's thread: a hold that finds the word already
//!   held by the owner is nested in another, and leaves it alone. Cost: one
//!   uncontended compare-exchange on a line the owner already has, and one
//!   store;
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
//! Checked by [`LaneShared::check_invariants`] (with exclusive access) and
//! [`Locked::check_invariants`] (under the lock):
//! - the cache holds at most `units` objects, in a `Vec` of capacity at most
//!   [`LANE_CACHE_MAX`];
//! - the lane's `cached` and `units` counters are the cache length and the
//!   units (so `stats` and thieves read real values, never differences);
//! - the word is held by the owner only while one of its holds lives (with
//!   `&mut` access to the pool, only a leaked `PoolLocal` can keep it), and
//!   no thief's hold outlives the call that took it.

use super::stats::LaneStats;
use crate::alloc::lanes::LaneLock;
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::Deref;

/// Idle objects one lane keeps before handing a batch to the shared list.
pub(super) const LANE_CACHE_MAX: usize = 1024;

/// The part of a lane only its thread reaches (`Lanes`' `L`).
#[derive(Default)]
pub(super) struct LaneOwner {
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

impl LaneOwner {
    /// The counts this thread's handles have not folded in yet.
    #[inline(always)]
    pub(super) fn pending(&self) -> &PendingCounts {
        &self.pending
    }
}

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
    /// Idle objects: at most `units`; capacity at most [`LANE_CACHE_MAX`].
    cache: Vec<T>,
    /// Units of capacity this lane holds.
    units: usize,
}

// SAFETY: `store` is reached only by the one thread holding `lock` (whose
// `Acquire` compare-exchange is ordered after the previous holder's
// `Release` store) or through `&mut self`, so sharing `&LaneShared<T>`
// between threads moves `T` values between them but never shares one:
// `T: Send` is enough. `lock` and `stats` are atomics.
unsafe impl<T: Send> Sync for LaneShared<T> {}

impl<T> Default for LaneShared<T> {
    fn default() -> Self {
        Self {
            lock: LaneLock::default(),
            store: UnsafeCell::new(Store {
                cache: Vec::new(),
                units: 0,
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
    ///   sets the word to `OWNER`, and keeps it until the hold drops (for
    ///   the length of a call, or under a pin).
    #[inline(always)]
    pub(super) unsafe fn hold<'a>(&'a self, owner: &'a LaneOwner) -> OwnerHold<'a, T> {
        // SAFETY: the caller is the lane's owner (this function's contract),
        // and the hold unlocks only if it took the word (`Drop`).
        let outermost = unsafe { self.lock.lock_owner() };
        OwnerHold {
            locked: Locked::new(self),
            owner,
            outermost,
        }
    }

    /// Takes the lane's lock for a thief, if no one holds it; `None` at once
    /// otherwise (the lane is in use).
    pub(super) fn try_steal(&self) -> Option<ThiefHold<'_, T>> {
        self.lock.try_lock_thief().then(|| ThiefHold {
            locked: Locked::new(self),
        })
    }

    /// Takes the lock of a lane whose thread has exited, for the reclaimer
    /// that holds its id: no owner can hold it, and a thief holds it only
    /// for a moment.
    pub(super) fn hold_dead(&self) -> ThiefHold<'_, T> {
        self.lock.lock_reclaimer();
        ThiefHold {
            locked: Locked::new(self),
        }
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
        let store = self.store.get_mut();
        store.units = 0;
        self.stats.units.set(0);
        self.stats.cached.set(0);
        std::mem::take(&mut store.cache)
    }

    /// Keeps the `keep` most recently cached objects and its units, with
    /// exclusive access; returns the others, for the caller to drop once
    /// the pool is consistent again (as [`clear`](Self::clear)).
    pub(super) fn keep_newest(&mut self, keep: usize) -> Vec<T> {
        let cache = &mut self.store.get_mut().cache;
        let surplus = cache.len().saturating_sub(keep);
        let out = cache.drain(..surplus).collect();
        self.stats.cached.set(cache.len() as u64);
        out
    }

    /// Idle objects cached, with exclusive access.
    pub(super) fn len_mut(&mut self) -> usize {
        self.store.get_mut().cache.len()
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
        let store = self.store.get_mut();
        check_store(
            (store.cache.len(), store.cache.capacity(), store.units),
            &self.stats,
        );
    }
}

/// A store's invariants, given its cache's length and capacity and its
/// units, against its lane's counters.
fn check_store((len, capacity, units): (usize, usize, usize), stats: &LaneStats) {
    assert!(
        len <= units,
        "pool lane caches {len} objects but holds only {units} units"
    );
    assert!(
        capacity <= LANE_CACHE_MAX,
        "pool lane cache has capacity {capacity}, past LANE_CACHE_MAX {LANE_CACHE_MAX}"
    );
    let (cached, units_seen) = (stats.cached.get(), stats.units.get());
    assert_eq!(
        (cached, units_seen),
        (len as u64, units as u64),
        "pool lane: its counters say {cached} cached objects and {units_seen} units, its store \
         holds {len} and {units}"
    );
}

/// Proof that the calling thread holds a lane's lock (as its owner or a
/// thief), and the operations on the store it allows. Made only in this
/// file, by a hold; `!Send`, so it stays on the holding thread.
pub(super) struct Locked<'a, T> {
    lane: &'a LaneShared<T>,
    _not_send: PhantomData<*const ()>,
}

impl<'a, T> Locked<'a, T> {
    /// Only for a hold that has just taken the lock.
    fn new(lane: &'a LaneShared<T>) -> Self {
        Self {
            lane,
            _not_send: PhantomData,
        }
    }

    /// The lane this hold locks.
    #[inline(always)]
    pub(super) fn lane(&self) -> &'a LaneShared<T> {
        self.lane
    }

    /// Runs `f` on the store.
    ///
    /// # Safety
    ///
    /// `f` calls no user code (no hook, no `create`, no `T::drop`), no pool
    /// method and nothing that may allocate, so no second borrow of the
    /// store can start on this thread while this one lives. `Vec::pop`,
    /// `Vec::len` and a `Vec::push` within capacity qualify.
    #[inline(always)]
    unsafe fn with_store<R>(&self, f: impl FnOnce(&mut Store<T>) -> R) -> R {
        // SAFETY: this thread holds the lock (`self` exists only under a
        // hold), so no other thread reaches the store; on this thread the
        // caller promises no re-entry while the borrow lives, so this is the
        // only borrow.
        f(unsafe { &mut *self.lane.store.get() })
    }

    /// An idle object, if the cache has one. Cost: a length load and store,
    /// one move, one counter store.
    #[inline(always)]
    pub(super) fn pop(&self) -> Option<T> {
        let cached = &self.lane.stats.cached;
        // SAFETY: `pop` and a counter store run no user code and never
        // allocate.
        unsafe {
            self.with_store(|store| {
                let value = store.cache.pop()?;
                cached.set(store.cache.len() as u64);
                Some(value)
            })
        }
    }

    /// Keeps `value` if the cache holds fewer objects than its units and has
    /// room without growing; gives it back otherwise.
    #[inline(always)]
    pub(super) fn push_within_units(&self, value: T) -> Result<(), T> {
        let cached = &self.lane.stats.cached;
        // SAFETY: the push happens only within capacity, so it never
        // allocates, and moving `value` or storing a counter runs no user
        // code.
        unsafe {
            self.with_store(|store| {
                let cache = &mut store.cache;
                if cache.len() < store.units && cache.len() < cache.capacity() {
                    cache.push(value);
                    cached.set(cache.len() as u64);
                    Ok(())
                } else {
                    Err(value)
                }
            })
        }
    }

    /// Units of capacity the lane holds.
    pub(super) fn units(&self) -> usize {
        // SAFETY: reads a field: no user code, no allocation.
        unsafe { self.with_store(|store| store.units) }
    }

    /// Sets the units of capacity the lane holds.
    pub(super) fn set_units(&self, units: usize) {
        // SAFETY: writes a field: no user code, no allocation.
        unsafe { self.with_store(|store| store.units = units) };
        self.lane.stats.units.set(units as u64);
    }

    /// Moves the cache out, so that a slow path can grow it; while it is
    /// out the lane has an empty cache. [`put_back`](Self::put_back)
    /// returns it, under the same hold.
    pub(super) fn take_out(&self) -> Vec<T> {
        // SAFETY: `mem::take` neither allocates nor runs user code.
        unsafe { self.with_store(|store| std::mem::take(&mut store.cache)) }
    }

    /// Returns a cache moved out by [`take_out`](Self::take_out). A cache
    /// put in meanwhile by a re-entrant call is given back to the caller to
    /// drop (its units stay counted; only a pool used from its own
    /// allocator gets here).
    #[must_use = "a stray cache must be dropped after the hold ends"]
    pub(super) fn put_back(&self, cache: Vec<T>) -> Vec<T> {
        self.lane.stats.cached.set(cache.len() as u64);
        // SAFETY: `mem::replace` neither allocates nor runs user code; the
        // old value is returned, dropped by the caller.
        unsafe { self.with_store(|store| std::mem::replace(&mut store.cache, cache)) }
    }

    /// Moves up to `max` of this lane's newest idle objects, with their
    /// units, into `into` (a thief's cache, or a list for the shared one),
    /// within `into`'s spare capacity; returns how many.
    pub(super) fn give_objects(&self, into: &mut Vec<T>, max: usize) -> usize {
        let room = into.capacity() - into.len();
        let cached = &self.lane.stats.cached;
        // SAFETY: `drain` and `extend` within `into`'s capacity move
        // objects: no user code, no allocation (`into` is not the store).
        let n = unsafe {
            self.with_store(|store| {
                let n = store.cache.len().min(max).min(room);
                let from = store.cache.len() - n;
                into.extend(store.cache.drain(from..));
                store.units -= n;
                cached.set(store.cache.len() as u64);
                n
            })
        };
        self.lane.stats.units.set(self.units() as u64);
        n
    }

    /// Gives up to `max` of the lane's empty units (units no cached object
    /// uses); returns how many.
    pub(super) fn give_empty_units(&self, max: usize) -> usize {
        // SAFETY: reads and writes fields: no user code, no allocation.
        let n = unsafe {
            self.with_store(|store| {
                let n = (store.units - store.cache.len()).min(max);
                store.units -= n;
                n
            })
        };
        self.lane.stats.units.set(self.units() as u64);
        n
    }

    /// Empties the lane: its cache (returned) and its units (how many of
    /// them no object used).
    pub(super) fn give_all(&self) -> (Vec<T>, usize) {
        let idle = self.take_out();
        let empty = self.units() - idle.len();
        self.set_units(0);
        self.lane.stats.cached.set(0);
        (idle, empty)
    }

    /// The store's invariants against the lane's counters (see the
    /// [module docs](self)); panics naming the values when one is broken.
    pub(super) fn check_invariants(&self) {
        // SAFETY: reads two lengths and a field: no user code, no
        // allocation. (The checks, which may format a message, run after.)
        let read = unsafe {
            self.with_store(|store| (store.cache.len(), store.cache.capacity(), store.units))
        };
        check_store(read, &self.lane.stats);
    }
}

/// The owner's hold on its lane's lock: see [`LaneShared::hold`]. Released
/// when the thread's last hold drops.
pub(super) struct OwnerHold<'a, T> {
    locked: Locked<'a, T>,
    owner: &'a LaneOwner,
    /// Whether this hold took the word (and so releases it), rather than
    /// nesting in another hold of the thread.
    outermost: bool,
}

impl<T> OwnerHold<'_, T> {
    /// The lane's owner part.
    #[inline(always)]
    pub(super) fn owner(&self) -> &LaneOwner {
        self.owner
    }
}

impl<'a, T> Deref for OwnerHold<'a, T> {
    type Target = Locked<'a, T>;
    #[inline(always)]
    fn deref(&self) -> &Locked<'a, T> {
        &self.locked
    }
}

impl<T> Drop for OwnerHold<'_, T> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.outermost {
            self.locked.lane.lock.unlock();
        }
    }
}

/// A thief's or reclaimer's hold on another lane's lock. Released when
/// dropped.
pub(super) struct ThiefHold<'a, T> {
    locked: Locked<'a, T>,
}

impl<'a, T> Deref for ThiefHold<'a, T> {
    type Target = Locked<'a, T>;
    fn deref(&self) -> &Locked<'a, T> {
        &self.locked
    }
}

impl<T> Drop for ThiefHold<'_, T> {
    fn drop(&mut self) {
        self.locked.lane.lock.unlock();
    }
}

/// Grows `cache` to hold `want` objects, never past [`LANE_CACHE_MAX`].
pub(super) fn reserve_up_to<T>(cache: &mut Vec<T>, want: usize) {
    let want = want.min(LANE_CACHE_MAX);
    if want > cache.capacity() {
        cache.reserve_exact(want - cache.len());
    }
}

//! The holds on a pool lane's lock word ([`OwnerHold`], [`ThiefHold`]) and
//! what they allow on the lane's store ([`Locked`]): the borrows of the
//! store, each for the length of one `Vec` call that runs no user code
//! (see the parent module's docs, `cache.rs`, for the lock and the
//! invariants).

use std::marker::PhantomData;
use std::ops::Deref;

use super::{LaneShared, Store, check_counts};

/// Proof that the calling thread holds a lane's lock (as its owner or a
/// thief), and the operations on the store it allows. Made only in this
/// file, by a hold; `!Send`, so it stays on the holding thread.
pub(in crate::alloc::pool) struct Locked<'a, T> {
    lane: &'a LaneShared<T>,
    _not_send: PhantomData<*const ()>,
}

impl<'a, T> Locked<'a, T> {
    /// Only for a hold that has just taken the lock.
    #[inline(always)]
    fn new(lane: &'a LaneShared<T>) -> Self {
        Self {
            lane,
            _not_send: PhantomData,
        }
    }

    /// The lane this hold locks.
    #[inline(always)]
    pub(in crate::alloc::pool) fn lane(&self) -> &'a LaneShared<T> {
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

    /// An idle object, if the cache has one. Cost: the length (the lane's
    /// `cached` counter) loaded and stored, the buffer pointer, one move.
    #[inline(always)]
    pub(in crate::alloc::pool) fn pop(&self) -> Option<T> {
        let cached = &self.lane.stats.cached;
        let len = cached.get() as usize;
        if len == 0 {
            return None;
        }
        // SAFETY: `with_store`: a read and a counter store run no user code
        // and never allocate. The read: this hold's thread is the lock
        // holder, so `len` is the number of idle objects at the start of
        // the buffer (`Store::cache`); the one at `len - 1` is initialised,
        // and is moved out exactly once, as the counter drops below it.
        unsafe {
            self.with_store(|store| {
                let value = store.cache.as_ptr().add(len - 1).read();
                cached.set(len as u64 - 1);
                Some(value)
            })
        }
    }

    /// Keeps `value` if the cache holds fewer objects than its units and has
    /// room without growing; gives it back otherwise. Cost: a length and
    /// `room` load and one compare, the push, one counter store.
    #[inline(always)]
    pub(in crate::alloc::pool) fn push_within_units(&self, value: T) -> Result<(), T> {
        let cached = &self.lane.stats.cached;
        let len = cached.get() as usize;
        // SAFETY: `with_store`: the write happens only within capacity
        // (`room` is at most the capacity), so it never allocates, and
        // moving `value` or storing a counter runs no user code. The write:
        // `len` (the lock holder's reading of `cached`) counts the idle
        // objects at the start of the buffer, and `len < room <= capacity`
        // (`room`'s invariant), so the slot at `len` is within the
        // allocation and holds no object; once the counter is `len + 1` the
        // buffer owns it.
        unsafe {
            self.with_store(|store| {
                if len < store.room {
                    store.cache.as_mut_ptr().add(len).write(value);
                    cached.set(len as u64 + 1);
                    Ok(())
                } else {
                    Err(value)
                }
            })
        }
    }

    /// Counts a hit of a `PoolLocal`, folded in later by
    /// [`fold_pending`](Self::fold_pending).
    #[inline(always)]
    pub(in crate::alloc::pool) fn count_pending_hit(&self) {
        // SAFETY: an addition to a field: no user code, no allocation.
        unsafe { self.with_store(|store| store.pending.hits += 1) }
    }

    /// Counts a return of a `PoolLocal`, as
    /// [`count_pending_hit`](Self::count_pending_hit).
    #[inline(always)]
    pub(in crate::alloc::pool) fn count_pending_return(&self) {
        // SAFETY: an addition to a field: no user code, no allocation.
        unsafe { self.with_store(|store| store.pending.returns += 1) }
    }

    /// Folds the pending counts of the lane's handles into its counters:
    /// when a handle drops, and before a slow path adds to them (so the
    /// lane's counters are whole first).
    pub(in crate::alloc::pool) fn fold_pending(&self) {
        // SAFETY: `mem::take` of two counts: no user code, no allocation.
        let pending = unsafe { self.with_store(|store| std::mem::take(&mut store.pending)) };
        self.lane.stats.hits.add(pending.hits);
        self.lane.stats.returns.add(pending.returns);
    }

    /// Units of capacity the lane holds.
    pub(in crate::alloc::pool) fn units(&self) -> usize {
        // SAFETY: reads a field: no user code, no allocation.
        unsafe { self.with_store(|store| store.units) }
    }

    /// Sets the units of capacity the lane holds.
    pub(in crate::alloc::pool) fn set_units(&self, units: usize) {
        // SAFETY: writes a field: no user code, no allocation.
        unsafe {
            self.with_store(|store| {
                store.units = units;
                store.sync_room();
            })
        };
        self.lane.stats.units.set(units as u64);
    }

    /// Moves the cache out, so that a slow path can grow it; while it is
    /// out the lane has an empty cache. [`put_back`](Self::put_back)
    /// returns it, under the same hold.
    pub(in crate::alloc::pool) fn take_out(&self) -> Vec<T> {
        let cached = &self.lane.stats.cached;
        let len = cached.get() as usize;
        // SAFETY: `with_store`: moving the `Vec` out neither allocates nor
        // runs user code. `take_cache`: `len` is `cached`, read under the
        // lock.
        let cache = unsafe { self.with_store(|store| store.take_cache(len)) };
        cached.set(0);
        cache
    }

    /// Returns a cache moved out by [`take_out`](Self::take_out). A cache
    /// put in meanwhile by a re-entrant call is given back to the caller to
    /// drop (its units stay counted; only a pool used from its own
    /// allocator gets here).
    #[must_use = "a stray cache must be dropped after the hold ends"]
    pub(in crate::alloc::pool) fn put_back(&self, cache: Vec<T>) -> Vec<T> {
        let cached = &self.lane.stats.cached;
        let stray_len = cached.get() as usize;
        // SAFETY: `with_store`: moving `Vec`s neither allocates nor runs user
        // code; the stray is returned, dropped by the caller. `take_cache`:
        // `stray_len` is `cached`, read under the lock.
        let (stray, len) = unsafe {
            self.with_store(|store| {
                let stray = store.take_cache(stray_len);
                (stray, store.put_cache(cache))
            })
        };
        cached.set(len as u64);
        stray
    }

    /// Moves up to `max` of this lane's newest idle objects, with their
    /// units, into `into` (a thief's cache, or a list for the shared one),
    /// within `into`'s spare capacity; returns how many.
    pub(in crate::alloc::pool) fn give_objects(&self, into: &mut Vec<T>, max: usize) -> usize {
        let room = into.capacity() - into.len();
        let cached = &self.lane.stats.cached;
        let len = cached.get() as usize;
        // SAFETY: `with_store`: `drain` and `extend` within `into`'s
        // capacity move objects: no user code, no allocation (`into` is not
        // the store). `take_cache`: `len` is `cached`, read under the lock.
        let n = unsafe {
            self.with_store(|store| {
                let mut cache = store.take_cache(len);
                let n = len.min(max).min(room);
                into.extend(cache.drain(len - n..));
                store.units -= n;
                let left = store.put_cache(cache);
                cached.set(left as u64);
                n
            })
        };
        self.lane.stats.units.set(self.units() as u64);
        n
    }

    /// Gives up to `max` of the lane's empty units (units no cached object
    /// uses); returns how many.
    pub(in crate::alloc::pool) fn give_empty_units(&self, max: usize) -> usize {
        let cached = self.lane.stats.cached.get() as usize;
        // SAFETY: reads and writes fields: no user code, no allocation.
        let n = unsafe {
            self.with_store(|store| {
                let n = (store.units - cached).min(max);
                store.units -= n;
                store.sync_room();
                n
            })
        };
        self.lane.stats.units.set(self.units() as u64);
        n
    }

    /// Empties the lane: its cache (returned) and its units (how many of
    /// them no object used).
    pub(in crate::alloc::pool) fn give_all(&self) -> (Vec<T>, usize) {
        let idle = self.take_out();
        let empty = self.units() - idle.len();
        self.set_units(0);
        self.lane.stats.cached.set(0);
        (idle, empty)
    }

    /// The store's invariants against the lane's counters (see the
    /// [module docs](self)); panics naming the values when one is broken.
    pub(in crate::alloc::pool) fn check_invariants(&self) {
        let len = self.lane.stats.cached.get() as usize;
        // SAFETY: reads lengths and fields: no user code, no allocation.
        // (The checks, which may format a message, run after, on a copy.)
        let read = unsafe {
            self.with_store(|store| {
                (
                    len,
                    store.cache.capacity(),
                    store.units,
                    store.room,
                    store.cache.len(),
                )
            })
        };
        check_counts(read, &self.lane.stats);
    }
}

/// The owner's hold on its lane's lock: see [`LaneShared::hold`]. Released
/// when the thread's last hold drops.
pub(in crate::alloc::pool) struct OwnerHold<'a, T> {
    locked: Locked<'a, T>,
    /// Whether this hold took the lock (and so releases it), rather than
    /// nesting in another hold of the thread.
    outermost: bool,
}

impl<'a, T> OwnerHold<'a, T> {
    /// Only for a hold that has just taken the lock as the lane's owner
    /// (`outermost`), or found it held by its own thread.
    #[inline(always)]
    pub(super) fn new(lane: &'a LaneShared<T>, outermost: bool) -> Self {
        Self {
            locked: Locked::new(lane),
            outermost,
        }
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
            self.locked.lane.lock.unlock_owner();
        }
    }
}

/// A thief's or reclaimer's hold on another lane's lock. Released when
/// dropped.
pub(in crate::alloc::pool) struct ThiefHold<'a, T> {
    locked: Locked<'a, T>,
}

impl<'a, T> ThiefHold<'a, T> {
    /// Only for a hold that has just taken the lock as a thief or reclaimer.
    pub(super) fn new(lane: &'a LaneShared<T>) -> Self {
        Self {
            locked: Locked::new(lane),
        }
    }
}

impl<'a, T> Deref for ThiefHold<'a, T> {
    type Target = Locked<'a, T>;
    fn deref(&self) -> &Locked<'a, T> {
        &self.locked
    }
}

impl<T> Drop for ThiefHold<'_, T> {
    fn drop(&mut self) {
        self.locked.lane.lock.unlock_thief();
    }
}

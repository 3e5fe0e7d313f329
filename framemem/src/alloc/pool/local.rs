//! [`PoolLocal`]: the calling thread's lane of a [`Pool`], taken once per
//! task or batch, and [`PoolLocalGuard`], the guard it lends.
//!
//! `&Pool` finds the calling thread's lane on every `get` and every return
//! (a thread-local read each), takes the lane's lock for the call (its
//! flag stored, the thieves' loaded, the flag cleared) and bumps a shared
//! counter.
//! [`Pool::local`] finds the lane and takes its lock once; the handle then
//! pops from and pushes to the lane's cache directly and counts hits and
//! returns in plain counts of the lane's store (under the lock the handle
//! holds), folded into the lane's shared counters when a handle drops.
//!
//! The price: while a handle lives, other threads cannot take its lane's
//! idle objects or empty units (their steals skip a locked lane). Take a
//! handle per task or batch, not per thread for good.
//!
//! Why it is sound (the same argument as `arena/local.rs`, plus the lock):
//! - **One thread.** `!Send` and `!Sync` (it holds a lane pin and a lock
//!   hold), so the handle is used and dropped on the thread whose lane it
//!   borrows, and the pin keeps the lane id on that thread until the handle
//!   is gone (`lanes/pins.rs`). The hold is released before the pin.
//! - **Locked.** The hold keeps thieves out of the lane's store for the
//!   handle's life; `&Pool` calls on this thread nest in it (`cache.rs`).
//! - **Shared references only.** The store is borrowed mutably only inside
//!   one `Vec` call that runs no user code (`cache.rs`); the hook runs
//!   before that borrow. So two handles on one thread, and `&Pool` calls in
//!   between, never overlap a borrow.
//! - **Counts in the lane.** The pending counts live in the lane's store,
//!   not in each handle, so a slow path (of any handle, or of `&Pool`) folds
//!   every handle's counts in before it adds its own.
//! - **No lane.** On a thread without a lane id every call goes through
//!   `&Pool` to the shared list.
//!
//! Counting: [`Pool::stats`] does not see a live handle's hits and returns
//! until a handle on that thread drops (or the pool is cleared).

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use super::Pool;
use super::cache::OwnerHold;
use super::recycle::{CallRecycle, ResetHook};
use crate::alloc::lanes::Pin;

/// The calling thread's lane of a [`Pool`], from [`Pool::local`]. It is neither
/// `Send` nor `Sync`, keeps its thread's lane for itself (locked: other
/// threads cannot take its idle objects) while it lives, and borrows the
/// pool, so no reset can happen meanwhile; the full soundness argument is at
/// the top of `src/alloc/pool/local.rs`.
///
/// ```
/// use framemem::Pool;
///
/// let pool: Pool<Vec<u8>> = Pool::new(64);
/// {
///     let local = pool.local(); // one lane lookup
///     for _ in 0..3 {
///         let mut buf = local.get(); // a pop, no lookup
///         buf.push(1);
///     } // back into this thread's lane, cleared
/// } // the handle's counts go into the pool's
/// let stats = pool.stats();
/// assert_eq!((stats.misses, stats.hits, stats.returns), (1, 2, 3));
/// ```
pub struct PoolLocal<'a, T: Send, H: ResetHook<T> = CallRecycle> {
    pool: &'a Pool<T, H>,
    /// The thread's lane, pinned and locked; `None` when the thread has
    /// none, and every call goes through `&Pool` instead.
    lane: Option<LocalLane<'a, T>>,
}

/// A handle's lane: locked for the handle's life, and pinned. The hold is
/// declared first so that it is released before the pin (which may release
/// the lane id, after which another thread may own the lane).
struct LocalLane<'a, T> {
    held: OwnerHold<'a, T>,
    _pin: Pin,
}

impl<T: Send, H: ResetHook<T>> Pool<T, H> {
    /// The calling thread's lane, for many `get`s and returns with no
    /// lookup and no lock per call: see [`PoolLocal`]. Take one per task
    /// or batch: while it lives, other threads cannot take this lane's idle
    /// objects or empty units.
    #[inline]
    pub fn local(&self) -> PoolLocal<'_, T, H> {
        PoolLocal {
            pool: self,
            lane: self.lanes.local().map(|(_, shared)| {
                // Pinned before the hold: the pin keeps the lane id on this
                // thread for as long as the hold lives (`lanes/pins.rs`).
                let pin = Pin::new();
                LocalLane {
                    // SAFETY: `shared` is the calling thread's lane, and the
                    // pin keeps its id on this thread while the hold lives
                    // (the hold drops first).
                    held: unsafe { shared.hold() },
                    _pin: pin,
                }
            }),
        }
    }
}

impl<'a, T: Send, H: ResetHook<T>> PoolLocal<'a, T, H> {
    /// The pool this handle takes from.
    pub fn pool(&self) -> &'a Pool<T, H> {
        self.pool
    }

    /// Whether calls take the lock-free fast path: `false` on a thread
    /// without a lane, whose calls go to the shared list.
    pub fn has_lane(&self) -> bool {
        self.lane.is_some()
    }

    /// An object from the pool (or a new one), returned to this handle's
    /// lane when the guard drops.
    #[inline(always)]
    pub fn get(&self) -> PoolLocalGuard<'_, 'a, T, H> {
        PoolLocalGuard {
            local: self,
            value: ManuallyDrop::new(self.take()),
        }
    }

    /// An object from the pool (or a new one), for the caller to keep, as
    /// [`Pool::take`].
    ///
    /// Cost when the lane has an object: a pop from the lane's cache and one
    /// addition to the lane's pending hits (the handle holds the lane's lock
    /// already).
    #[inline(always)]
    pub fn take(&self) -> T {
        let Some(lane) = &self.lane else {
            return self.take_without_lane();
        };
        match lane.held.pop() {
            Some(value) => {
                lane.held.count_pending_hit();
                value
            }
            None => self.take_slow(&lane.held),
        }
    }

    /// On a thread without a lane: through `&Pool` (its fallback), out of
    /// line so that the fast path stays small.
    #[cold]
    #[inline(never)]
    fn take_without_lane(&self) -> T {
        self.pool.take()
    }

    /// As [`take_without_lane`](Self::take_without_lane), for returns.
    #[cold]
    #[inline(never)]
    fn put_without_lane(&self, value: T) {
        self.pool.put(value)
    }

    /// The lane is empty: refill it, or create (with the lane still locked
    /// by this handle; the lane is consistent).
    #[cold]
    #[inline(never)]
    fn take_slow(&self, held: &OwnerHold<'a, T>) -> T {
        let (found, stray) = self.pool.refill(held);
        drop(stray);
        found.unwrap_or_else(|| (self.pool.create)())
    }

    /// Gives an object back, as [`Pool::put`].
    ///
    /// Cost when the lane has a unit free: the hook, a push within the cache's
    /// capacity and one addition to the lane's pending returns.
    #[inline(always)]
    pub fn put(&self, mut value: T) {
        let Some(lane) = &self.lane else {
            return self.put_without_lane(value);
        };
        // User code: it runs before the cache is touched.
        self.pool.hook.reset(&mut value);
        lane.held.count_pending_return();
        if let Err(value) = lane.held.push_within_units(value) {
            self.put_slow(&lane.held, value);
        }
    }

    /// `put`'s slow path, out of line (the fast path then keeps no
    /// registers for the drops). `T::drop` runs with the lane consistent,
    /// still locked by this handle.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, held: &OwnerHold<'a, T>, value: T) {
        drop(self.pool.put_slow(held, value));
    }
}

impl<T: Send, H: ResetHook<T>> Drop for PoolLocal<'_, T, H> {
    fn drop(&mut self) {
        // This thread is the lane's only writer of these counts: the handle
        // is `!Send`, and its pin keeps the lane id here.
        if let Some(lane) = &self.lane {
            lane.held.fold_pending();
        }
    }
}

impl<T: Send, H: ResetHook<T>> fmt::Debug for PoolLocal<'_, T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolLocal")
            .field("has_lane", &self.has_lane())
            .finish_non_exhaustive()
    }
}

/// An object on loan from a [`PoolLocal`]: as [`Pooled`](super::Pooled),
/// but it goes back through the handle, with no lookup.
pub struct PoolLocalGuard<'h, 'a, T: Send, H: ResetHook<T> = CallRecycle> {
    local: &'h PoolLocal<'a, T, H>,
    /// Taken out only in `drop` and `into_inner`, each of which ends the guard.
    value: ManuallyDrop<T>,
}

impl<T: Send, H: ResetHook<T>> PoolLocalGuard<'_, '_, T, H> {
    /// Keeps the object for good: it will not go back to the pool.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `value` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.value) }
    }
}

impl<T: Send, H: ResetHook<T>> Deref for PoolLocalGuard<'_, '_, T, H> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send, H: ResetHook<T>> DerefMut for PoolLocalGuard<'_, '_, T, H> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Send, H: ResetHook<T>> Drop for PoolLocalGuard<'_, '_, T, H> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `value` is not used after.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        self.local.put(value);
    }
}

impl<T: Send + fmt::Debug, H: ResetHook<T>> fmt::Debug for PoolLocalGuard<'_, '_, T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PoolLocalGuard").field(&*self.value).finish()
    }
}

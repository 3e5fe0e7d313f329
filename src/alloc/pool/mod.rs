//! [`Pool<T>`]: a typed object pool. Objects come out as a [`Pooled<T>`]
//! guard and go back when it drops, on every path, early returns and panics
//! included.
//!
//! Use it for objects that are expensive to build and cheap to clean:
//! buffers, `Vec`s and maps whose capacity is worth keeping, log entries.
//!
//! - **Clean on return.** A reset hook runs on every object that comes back
//!   ([`Recycle`] for `T: Recycle`, or a closure given to [`Pool::with`]), so
//!   the next user gets it clean.
//! - **Bounded.** The pool keeps at most `capacity` idle objects in all;
//!   objects returned beyond that are dropped, not hoarded.
//! - **Threads.** `&Pool<T>` is shared between threads. Each thread keeps idle
//!   objects in its own lane (see `lanes.rs`): `get` and the return are a pop
//!   and a push on a thread-local `Vec`, with no lock and no atomic. The bound
//!   is kept by lanes leasing *units* of capacity in batches from a shared
//!   budget; lanes that hold too many idle objects hand a batch to a shared
//!   list, where other threads find them.
//!
//! # Files
//!
//! - `mod.rs` (this file): [`Pool`], its fast and slow paths, stats and
//!   invariants;
//! - `recycle.rs`: the hooks that clean returned objects;
//! - `cache.rs`: one lane's idle objects, the pool's only unsafe code;
//! - `guard.rs`: [`Pooled`], the guard [`Pool::get`] lends;
//! - `local.rs`: [`PoolLocal`], the calling thread's lane taken once per
//!   batch ([`Pool::local`]), and its guard [`LocalPooled`];
//! - `stats.rs`: [`PoolStats`] and the per-lane counters.
//!
//! # Invariants
//!
//! Checked by `Pool::check_invariants` after every `clear` (debug builds)
//! and in the tests; each lane's own after its slow paths:
//! - the units held by all lanes, plus the objects on the shared list, plus
//!   the free budget, equal `capacity`;
//! - each lane caches at most as many objects as it holds units, in a cache
//!   of capacity at most `LANE_CACHE_MAX`;
//! - each lane's `cached` counter is its cache length (so `stats` reads
//!   lengths, never a difference of counters read at different moments).
//!
//! Panics in user code (`create`, the reset hook, `T::drop`) leave these
//! invariants whole: hooks run before the cache is touched, `create` runs
//! with nothing leased but what a guard gives back, and objects are dropped
//! only once the structure around them is consistent.

mod cache;
mod guard;
mod local;
mod recycle;
mod stats;
#[cfg(test)]
mod tests;
mod trim;

use std::fmt;
use std::sync::{Mutex, PoisonError};

pub use guard::Pooled;
pub use local::{LocalPooled, PoolLocal};
pub use recycle::{ClearBuffer, Recycle, Recycled, ResetHook};
pub use stats::PoolStats;

use self::cache::{LANE_CACHE_MAX, LaneCache, reserve_up_to};
use self::stats::LaneStats;
use crate::alloc::lanes::{Budget, Lanes};

/// Objects moved to or from the shared list at once, and the most units of
/// capacity a lane leases at once (see `Pool::lease_batch`).
const LANE_BATCH: usize = 128;

type Create<T> = Box<dyn Fn() -> T + Send + Sync>;

/// A bounded, thread-safe pool of `T`, cleaned by the hook `H` on return.
/// See the [module docs](self).
///
/// ```
/// use framemem::Pool;
///
/// let pool: Pool<Vec<u8>> = Pool::new(64);
/// {
///     let mut buf = pool.get(); // a fresh Vec: the pool was empty
///     buf.extend_from_slice(b"hello");
/// } // back in the pool, cleared by `Recycle`
/// let buf = pool.get(); // the same Vec, empty, capacity kept
/// assert!(buf.is_empty() && buf.capacity() >= 5);
/// assert_eq!(pool.stats().hits, 1);
/// ```
///
/// The pool must not be used from inside a global allocator: it allocates
/// through the global allocator itself.
pub struct Pool<T: Send, H: ResetHook<T> = Recycled> {
    /// Each thread's idle objects. Threads without a lane id take from and
    /// return to the `shared` list; the fallback's lock serialises their
    /// counters.
    lanes: Lanes<LaneCache<T>, LaneStats, ()>,
    /// Objects handed over by lanes, and the store of threads without a lane.
    shared: Mutex<Vec<T>>,
    /// Units of capacity no lane holds and no shared object uses.
    budget: Budget,
    capacity: usize,
    /// Units a lane leases at once: a sixteenth of the capacity, between 1
    /// and [`LANE_BATCH`], so that one lane's spare units cannot starve the
    /// others of a small pool.
    lease_batch: usize,
    create: Create<T>,
    hook: H,
}

impl<T: Send + Default + Recycle + 'static> Pool<T> {
    /// A pool keeping up to `capacity` idle objects, made by `T::default()`
    /// and cleaned by [`Recycle`].
    pub fn new(capacity: usize) -> Self {
        Self::with(capacity, T::default, Recycled)
    }
}

impl Pool<Vec<u8>, ClearBuffer> {
    /// A pool of I/O buffers: each new buffer has `buffer_bytes` of capacity;
    /// a returned buffer is cleared, and shrunk back if it grew past four
    /// times that, so one huge request does not pin memory forever.
    pub fn byte_buffers(capacity: usize, buffer_bytes: usize) -> Self {
        Self::with(
            capacity,
            move || Vec::with_capacity(buffer_bytes),
            ClearBuffer { buffer_bytes },
        )
    }
}

impl<T: Send, H: ResetHook<T>> Pool<T, H> {
    /// A pool keeping up to `capacity` idle objects, made by `create` and
    /// cleaned by `hook` when they come back (a closure `|v: &mut T| ...`
    /// will do).
    pub fn with(capacity: usize, create: impl Fn() -> T + Send + Sync + 'static, hook: H) -> Self {
        Self {
            lanes: Lanes::new(LaneCache::new, ()),
            shared: Mutex::new(Vec::new()),
            budget: Budget::new(capacity),
            capacity,
            lease_batch: (capacity / 16).clamp(1, LANE_BATCH),
            create: Box::new(create),
            hook,
        }
    }

    /// An object from the pool (or a new one), for the caller to keep: it
    /// goes back only through [`put`](Self::put). Use it where a guard cannot
    /// go, such as an ECS component, which must be `'static`.
    ///
    /// Cost when the thread's lane has an object: a thread-local load, a
    /// `Vec::pop` and one counter store.
    #[inline(always)]
    pub fn take(&self) -> T {
        let Some((lane, stats)) = self.lanes.local() else {
            return self.take_fallback();
        };
        match lane.pop(&stats.cached) {
            Some(value) => {
                stats.hits.add(1);
                value
            }
            None => self.take_slow(lane, stats),
        }
    }

    /// Gives an object back: it is cleaned by the hook and kept, or dropped
    /// if the pool already holds `capacity` idle objects.
    ///
    /// Cost when the lane has a unit free: the hook, a thread-local load, a
    /// `Vec::push` within capacity and one counter store.
    #[inline(always)]
    pub fn put(&self, mut value: T) {
        self.hook.reset(&mut value);
        let Some((lane, stats)) = self.lanes.local() else {
            return self.put_fallback(value);
        };
        stats.returns.add(1);
        if let Err(value) = lane.push_within_units(value, &stats.cached) {
            self.put_slow(lane, stats, value);
        }
    }

    /// The lane is empty: refill a batch from the shared list, or create.
    #[cold]
    #[inline(never)]
    fn take_slow(&self, lane: &LaneCache<T>, stats: &LaneStats) -> T {
        // This thread's handles' counts first, so the lane's counters are
        // whole before this path adds to them.
        local::fold_pending(lane, stats);
        // The lane may hold units and objects from here on: a reclaim must
        // look at it once its thread has exited.
        self.lanes.mark_current();
        // Units left empty by objects this lane handed out beyond one lease go
        // back to the budget, so a lane that only takes does not hoard them.
        let units = lane.units();
        if units > self.lease_batch {
            self.budget.give_back(units - self.lease_batch);
            lane.set_units(self.lease_batch);
        }
        let mut shared = self.lock_shared();
        if shared.is_empty() {
            // Before making a new object: the idle objects of exited
            // threads' lanes.
            drop(shared);
            self.reclaim_dead_lanes();
            shared = self.lock_shared();
        }
        let n = shared.len().min(LANE_BATCH);
        if n == 0 {
            drop(shared);
            stats.misses.add(1);
            if cfg!(debug_assertions) {
                check_lane(lane, stats);
            }
            return (self.create)();
        }
        let mut cache = lane.take_out();
        reserve_up_to(&mut cache, lane.units() + n);
        let from = shared.len() - n;
        cache.extend(shared.drain(from..));
        drop(shared);
        // The objects bring their units with them.
        lane.set_units(lane.units() + n);
        let value = cache.pop().expect("n > 0 objects were just moved in");
        stats.hits.add(1);
        lane.put_back(cache, &stats.cached);
        if cfg!(debug_assertions) {
            check_lane(lane, stats);
        }
        value
    }

    /// The lane has no unit free, no room, or is full: hand a batch over,
    /// lease units, grow, or drop the object.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, lane: &LaneCache<T>, stats: &LaneStats, value: T) {
        // As in `take_slow`: a drop counted below comes after its return.
        local::fold_pending(lane, stats);
        self.lanes.mark_current();
        let mut cache = lane.take_out();
        if cache.len() >= LANE_CACHE_MAX {
            let mut shared = self.lock_shared();
            let len = cache.len();
            shared.extend(cache.drain(len - LANE_BATCH..));
            // The objects take their units to the shared list.
            lane.set_units(lane.units() - LANE_BATCH);
        }
        if cache.len() >= lane.units() {
            let mut leased = self.budget.lease(self.lease_batch);
            // Before dropping the object: the units of exited threads' lanes.
            if leased == 0 && self.reclaim_dead_lanes() > 0 {
                leased = self.budget.lease(self.lease_batch);
            }
            lane.set_units(lane.units() + leased);
        }
        let rejected = if cache.len() < lane.units() {
            reserve_up_to(&mut cache, lane.units());
            cache.push(value);
            None
        } else {
            Some(value)
        };
        lane.put_back(cache, &stats.cached);
        if let Some(value) = rejected {
            stats.dropped.add(1);
            drop(value); // `T::drop` runs with the cache back in place
        }
        if cfg!(debug_assertions) {
            check_lane(lane, stats);
        }
    }

    /// Moves the idle objects of exited threads' lanes to the shared list
    /// (their units with them) and gives their empty units back to the
    /// budget. Returns how many lanes it emptied. A slow path: before
    /// creating an object or dropping one.
    #[cold]
    #[inline(never)]
    fn reclaim_dead_lanes(&self) -> usize {
        self.lanes.reclaim_dead(|lane, stats| {
            // Counts of a handle the thread leaked (its pin would have kept
            // the id, so normally none).
            local::fold_pending(lane, stats);
            let idle = lane.take_out();
            stats.cached.set(0);
            let units = lane.units();
            lane.set_units(0);
            self.budget.give_back(units - idle.len());
            // No user code runs: the objects only move.
            self.lock_shared().extend(idle);
            if cfg!(debug_assertions) {
                check_lane(lane, stats);
            }
        })
    }

    /// A thread without a lane takes from the shared list, or creates.
    #[cold]
    #[inline(never)]
    fn take_fallback(&self) -> T {
        if self.lock_shared().is_empty() {
            self.reclaim_dead_lanes();
        }
        let (fallback, stats) = self.lanes.lock_fallback();
        let mut shared = self.lock_shared();
        if let Some(value) = shared.pop() {
            // Its unit goes back to the budget: the shared list holds no
            // empty units.
            self.budget.give_back(1);
            stats.hits.add(1);
            return value;
        }
        stats.misses.add(1);
        // `create` is user code, which may use the pool: no lock held.
        drop((shared, fallback));
        (self.create)()
    }

    /// A thread without a lane returns to the shared list, or drops.
    #[cold]
    #[inline(never)]
    fn put_fallback(&self, value: T) {
        let (fallback, stats) = self.lanes.lock_fallback();
        let mut shared = self.lock_shared();
        stats.returns.add(1);
        if self.budget.lease(1) == 1 {
            shared.push(value);
        } else {
            stats.dropped.add(1);
            // `T::drop` is user code, which may use the pool: no lock held.
            drop((shared, fallback));
            drop(value);
        }
    }

    fn lock_shared(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool's counters.
    ///
    /// `held` sums the lanes' cache lengths and the shared list's, each read
    /// once: exact when the pool is quiet. While other threads use it, a
    /// batch moving between a lane and the shared list may be seen in both
    /// or in neither, so the sum is held to `capacity`, which no true count
    /// exceeds.
    pub fn stats(&self) -> PoolStats {
        let mut s = PoolStats {
            capacity: self.capacity,
            ..PoolStats::default()
        };
        LaneStats::add_all(self.lanes.all_shared(), &mut s);
        let cached: u64 = self.lanes.lane_shared().map(|lane| lane.cached.get()).sum();
        let shared = self.lock_shared().len();
        s.held = (cached as usize).saturating_add(shared).min(self.capacity);
        s
    }

    /// Idle objects in the threads' own caches (not on the shared list):
    /// each thread's working set, held by construction (up to
    /// `LANE_CACHE_MAX` a lane), which a trim policy should not count as
    /// surplus. A reading lane by lane, as [`stats`](Self::stats).
    #[cfg(feature = "sim")]
    pub(crate) fn idle_in_lanes(&self) -> usize {
        self.lanes
            .lane_shared()
            .map(|lane| lane.cached.get() as usize)
            .sum()
    }

    /// Creates up to `n` objects now, within the capacity, and puts them
    /// where every thread finds them (the shared list), so the first frames
    /// do not pay for them. Returns how many were made.
    pub fn prefill(&self, n: usize) -> usize {
        let granted = self.budget.lease(n);
        // Made before taking the lock: `create` is user code. If it panics,
        // the units leased for objects not yet on the shared list go back
        // (the objects made so far are dropped by the unwind).
        let lease = LeaseGuard {
            budget: &self.budget,
            units: granted,
        };
        let made: Vec<T> = (0..granted).map(|_| (self.create)()).collect();
        std::mem::forget(lease);
        self.lock_shared().extend(made);
        granted
    }

    /// The most idle objects the pool keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every idle object, releasing their memory.
    ///
    /// The objects are taken out first and dropped last, once the pool is
    /// whole again: a `T::drop` that panics leaves an empty pool with its
    /// whole capacity (the other objects are still dropped by the unwind).
    pub fn clear(&mut self) {
        let mut idle: Vec<Vec<T>> = Vec::new();
        for (lane, stats) in self.lanes.lanes_mut() {
            // Counts of a handle that was leaked rather than dropped.
            local::fold_pending(lane, stats);
            idle.push(lane.clear());
            stats.cached.set(0);
        }
        idle.push(std::mem::take(
            self.shared
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        ));
        self.budget.set(self.capacity);
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        drop(idle);
    }

    /// The pool's invariants (see the [module docs](self)); panics naming
    /// the values when one is broken.
    pub(crate) fn check_invariants(&mut self) {
        let mut units = 0;
        for (lane, stats) in self.lanes.lanes_mut() {
            check_lane(lane, stats);
            units += lane.units();
        }
        let shared = self
            .shared
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let (left, capacity) = (self.budget.left(), self.capacity);
        assert_eq!(
            units + shared + left,
            capacity,
            "pool: units in lanes ({units}) + shared objects ({shared}) + budget left ({left}) \
             != capacity ({capacity})"
        );
    }
}

/// Gives `units` back to the budget if dropped: for a lease whose objects a
/// panicking `create` never made.
struct LeaseGuard<'a> {
    budget: &'a Budget,
    units: usize,
}

impl Drop for LeaseGuard<'_> {
    fn drop(&mut self) {
        self.budget.give_back(self.units);
    }
}

/// A lane's invariants: its cache's, and its `cached` counter is the cache
/// length.
fn check_lane<T>(lane: &LaneCache<T>, stats: &LaneStats) {
    lane.check_invariants();
    let cached = stats.cached.get();
    let len = lane.len();
    assert_eq!(
        cached, len as u64,
        "pool lane: its counters say {cached} cached objects, its cache holds {len}"
    );
}

impl<T: Send, H: ResetHook<T>> fmt::Debug for Pool<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

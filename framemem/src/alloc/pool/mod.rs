//! [`Pool<T>`]: a typed object pool. Objects come out as a [`Pooled<T>`]
//! guard and go back when it drops, on every path, early returns and panics
//! included.
//!
//! # Files
//!
//! - `mod.rs` (this file): [`Pool`], its fast paths, stats and invariants;
//! - `slow_paths.rs`: where a thread that ran out finds objects and units
//!   (the shared list, exited threads' lanes, idle lanes);
//! - `recycle.rs`: the hooks that clean returned objects;
//! - `cache.rs`: one lane's idle objects and units, and the lock word that
//!   lets other threads take from it: the pool's unsafe code;
//! - `guard.rs`: [`Pooled`], the guard [`Pool::get`] lends;
//! - `local.rs`: [`PoolLocal`], the calling thread's lane taken (and locked)
//!   once per batch ([`Pool::local`]), and its guard [`PoolLocalGuard`];
//! - `stats.rs`: [`PoolStats`] and the per-lane counters;
//! - `trim.rs`: [`Pool::trim`].
//!
//! # Invariants
//!
//! Checked by `Pool::check_invariants` after every `reset` (debug builds)
//! and in the tests; each lane's own after its slow paths and steals:
//! - the units held by all lanes, plus the objects on the shared list, plus
//!   the free budget, equal `capacity` (a steal moves objects or empty units
//!   from one lane to another, or to the shared list, with both locked);
//! - each lane caches at most as many objects as it holds units, in a cache
//!   of capacity at most `LANE_CACHE_MAX`;
//! - each lane's `cached` and `units` counters are its cache length and its
//!   units (so `stats` reads lengths, never a difference of counters read at
//!   different moments);
//! - a lane's lock word is held by its owner exactly while the owner has a
//!   hold on it (a `&Pool` call in progress, a live `PoolLocal`), and by no
//!   thief outside a steal.
//!
//! Panics in user code (`create`, the reset hook, `T::drop`) leave these
//! invariants whole: hooks run before the lane is locked, a `&Pool` call
//! runs `create` and `T::drop` with its lane unlocked, and a `PoolLocal`
//! runs them with its lane consistent (its hold is released by the unwind).

mod cache;
mod guard;
mod local;
mod recycle;
mod slow_paths;
mod stats;
#[cfg(test)]
mod tests;
mod trim;

use std::fmt;
use std::sync::{Mutex, PoisonError};

pub use guard::Pooled;
pub use local::{PoolLocal, PoolLocalGuard};
pub use recycle::{CallRecycle, ClearBuffer, Recycle, ResetHook};
pub use stats::PoolStats;

use self::cache::{LaneShared, OwnerHold};
use self::stats::LaneStats;
use crate::alloc::lanes::{Budget, Lanes};

/// Objects moved to or from the shared list, or taken from another lane,
/// at once, and the most units of capacity a lane leases at once (see
/// `Pool::lease_batch`).
const LANE_BATCH: usize = 128;

type Create<T> = Box<dyn Fn() -> T + Send + Sync>;

/// A bounded, thread-safe pool of `T`, cleaned by the hook `H` on return:
/// objects come out as a [`Pooled<T>`] guard and go back when it drops, on
/// every path, early returns and panics included.
///
/// Use it for objects that are expensive to build and cheap to clean:
/// buffers, `Vec`s and maps whose capacity is worth keeping, log entries.
///
/// - **Clean on return.** A reset hook runs on every object that comes back
///   ([`Recycle`] for `T: Recycle`, or a closure given to [`Pool::with`]), so
///   the next user gets it clean.
/// - **Bounded.** The pool keeps at most `capacity` idle objects in all
///   ([`PoolStats::held`] never exceeds it); objects returned beyond that
///   are dropped, not hoarded.
/// - **Threads.** `&Pool<T>` is shared between threads. Each thread keeps idle
///   objects in its own lane (see `lanes.rs`): `get` and the return are a pop
///   and a push on the lane's `Vec` under the lane's own lock, which only
///   that thread takes in the common case (its own flag stored and the
///   thieves' loaded, no read-modify-write: `lanes/lock.rs`; a
///   [`PoolLocal`] takes it once for its whole life). The
///   bound is kept by lanes leasing *units* of capacity in batches from a
///   shared budget; lanes that hold more than `LANE_CACHE_MAX` idle objects
///   hand a batch to a shared list.
/// - **Work that moves between threads.** A thread whose lane and the shared
///   list are empty takes a batch from the lanes of exited threads, then
///   from the lane of any thread not inside a pool call at that moment
///   (without waiting: a lane in use is skipped); a thread with no unit left
///   for a return takes the empty units of such lanes before it drops the
///   object. So objects taken on one thread and returned on another are
///   recycled, and a thread's exit strands nothing, however it was joined.
///
/// # What the pool holds when work moves between threads
///
/// Measured by `tests/pool_threads.rs` (400 objects a frame, 30 frames;
/// the taking and the returning run one after the other, as two systems
/// of a frame do):
/// - one thread takes, another returns: every take after the first frame
///   is a hit and nothing is dropped at capacities 4096, 1024, 512 and 400
///   (= the objects out at once); at 399 one take a frame misses and one
///   return is dropped; in general a capacity below the objects out at once
///   drops the difference each frame;
/// - the taker and the returner chosen anew each frame among 4 or 8
///   threads: the same;
/// - a helper thread returns 16 objects to a pool of 16 and exits: the next
///   16 takes are hits and the returns keep them, whether the helper was
///   joined or only its scope ended (50 rounds each, both cores busy).
///
/// So a capacity equal to the most objects out on loan at once is enough,
/// as long as the lanes holding the idle objects are not in use when others
/// need them. A lane in use (a thread inside a call, or holding a
/// [`PoolLocal`]) keeps its idle objects and its empty units: at most one
/// lease (a sixteenth of the capacity, at most 128, and no more than a
/// quarter of the units left when they run short) plus the objects it took
/// since its last slow path. Work that keeps `PoolLocal`s alive on several
/// threads at once needs that much more capacity: one lease per thread
/// that may hold a handle at the same time. In `tests/bevy_app.rs`, 2,000
/// objects taken in one system and returned through per-batch handles on
/// 1, 2, 8 and 96 compute threads, a capacity of 2,000 plus 128 per thread
/// (the compute threads and the main thread) gives every take after the
/// first frame a hit and drops nothing; an eighth more than the demand was
/// enough in most runs, but once dropped 1 return in 120,000 on 96
/// threads.
///
/// It keeps at most `capacity` idle objects. Objects taken on one thread and
/// returned on another are recycled: a take that finds its thread's lane
/// and the shared list empty takes the idle objects other threads' lanes
/// hold (unless those threads are inside a call or hold a [`PoolLocal`] at
/// that moment), and a return takes their empty units before it drops.
/// Measured: one thread taking 400 objects a frame and another returning
/// them, every take after the first frame hits and nothing is dropped with a
/// capacity of 400 or more (`tests/pool_threads.rs`).
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
pub struct Pool<T: Send, H: ResetHook<T> = CallRecycle> {
    /// Each thread's idle objects. Threads without a lane id take from and
    /// return to the `shared` list; the fallback's lock serialises their
    /// counters.
    lanes: Lanes<(), LaneShared<T>, ()>,
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
        Self::with(capacity, T::default, CallRecycle)
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
            lanes: Lanes::new(|| (), ()),
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
    /// Where the object comes from, in order: the calling thread's lane; the
    /// shared list; the lanes of threads that have exited; the idle objects
    /// of other threads' lanes not in use at that moment (a thread running
    /// a `&Pool` call or holding a [`PoolLocal`] skips); a new one from
    /// `create`. So a pool whose objects are taken on one thread and
    /// returned on another recycles them: see [`Pool`] for
    /// the figures.
    ///
    /// Cost when the thread's lane has an object: a thread-local load, the
    /// lane's lock (a load and a store of its flag, a load of the thieves',
    /// and a store to leave it), a pop
    /// (the cache's length, which is the lane's `cached` counter, loaded and
    /// stored, and one move) and one counter store. [`PoolLocal::take`]
    /// skips the lookup and the lock.
    #[inline(always)]
    pub fn take(&self) -> T {
        let Some(((), lane)) = self.lanes.local() else {
            return self.take_fallback();
        };
        // SAFETY: `lane` is the calling thread's lane, from `Lanes::local`,
        // which hands it only to the thread holding the lane's id.
        let Some(held) = (unsafe { lane.try_hold_free() }) else {
            return self.take_contended(lane);
        };
        self.take_held(held)
    }

    /// `take` once the lane is held: a pop, or the slow path.
    #[inline(always)]
    fn take_held(&self, held: OwnerHold<'_, T>) -> T {
        match held.pop() {
            Some(value) => {
                held.lane().stats.hits.add(1);
                value
            }
            None => self.take_slow(held),
        }
    }

    /// `take` when the lane's lock is held by this thread already (a call
    /// nested in a [`PoolLocal`] or another call). Out of
    /// line: the fast path then needs no flag for which hold unlocks.
    #[cold]
    #[inline(never)]
    fn take_contended(&self, lane: &LaneShared<T>) -> T {
        // SAFETY: as in `take`, whose lane this is, on the same thread.
        let held = unsafe { lane.hold() };
        self.take_held(held)
    }

    /// Gives an object back: it is cleaned by the hook and kept, or dropped
    /// if the pool is full.
    ///
    /// Full means: the pool's idle objects use every unit of its capacity,
    /// but for the empty units of lanes in use at that moment (those of
    /// threads running a `&Pool` call or holding a [`PoolLocal`], up to the
    /// objects each took since its last slow path). An idle thread's empty
    /// units, and an exited thread's, are taken before an object is dropped.
    ///
    /// Cost when the lane has a unit free: the hook, a thread-local load,
    /// the lane's lock, a push within the cache's capacity (one compare
    /// with its room, one move, the length stored) and one counter store.
    #[inline(always)]
    pub fn put(&self, mut value: T) {
        self.hook.reset(&mut value);
        let Some(((), lane)) = self.lanes.local() else {
            return self.put_fallback(value);
        };
        lane.stats.returns.add(1);
        // SAFETY: as in `take`: this thread's lane, from `Lanes::local`.
        let Some(held) = (unsafe { lane.try_hold_free() }) else {
            return self.put_contended(lane, value);
        };
        self.put_held(held, value);
    }

    /// `put` once the lane is held and the object counted: a push, or the
    /// slow path.
    #[inline(always)]
    fn put_held(&self, held: OwnerHold<'_, T>, value: T) {
        if let Err(value) = held.push_within_units(value) {
            self.put_slow_unlocking(held, value);
        }
    }

    /// `put` when this thread holds the lane's lock already (see
    /// [`take_contended`](Self::take_contended)).
    #[cold]
    #[inline(never)]
    fn put_contended(&self, lane: &LaneShared<T>, value: T) {
        // SAFETY: as in `put`, whose lane this is, on the same thread.
        let held = unsafe { lane.hold() };
        self.put_held(held, value);
    }

    /// `put`'s slow path; then unlocks the lane and drops what it rejected
    /// (`T::drop` is user code: it runs with the lane unlocked). Out of line,
    /// so that the fast path keeps no registers for the drops.
    #[cold]
    #[inline(never)]
    fn put_slow_unlocking(&self, held: OwnerHold<'_, T>, value: T) {
        let (rejected, stray) = self.put_slow(&held, value);
        drop(held);
        drop((stray, rejected));
    }

    /// `take`'s lane is empty: refill it, or create with the lane unlocked.
    #[cold]
    #[inline(never)]
    fn take_slow(&self, held: OwnerHold<'_, T>) -> T {
        let (found, stray) = self.refill(&held);
        drop(held);
        drop(stray);
        // `create` is user code, which may use the pool: the lane is
        // unlocked, so other threads may take from it meanwhile.
        found.unwrap_or_else(|| (self.create)())
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
        LaneStats::add_all(self.lanes.all_shared().map(|lane| &lane.stats), &mut s);
        let cached: u64 = self
            .lanes
            .lane_shared()
            .map(|lane| lane.stats.cached.get())
            .sum();
        let shared = self.lock_shared().len();
        s.held = (cached as usize).saturating_add(shared).min(self.capacity);
        s
    }

    /// Idle objects in the threads' own caches (not on the shared list):
    /// each thread's working set, held by construction (up to
    /// `LANE_CACHE_MAX` a lane), which a trim policy should not count as
    /// surplus. A reading lane by lane, as [`stats`](Self::stats); at most
    /// [`PoolStats::held`].
    ///
    /// A frame loop that trims the pool to its recent demand keeps these
    /// on top of what it trims to:
    ///
    /// ```
    /// use framemem::Pool;
    ///
    /// let mut pool: Pool<Vec<u8>> = Pool::new(64);
    /// drop(pool.get()); // back in this thread's lane
    /// let in_lanes = pool.idle_in_lanes();
    /// assert!(in_lanes <= pool.stats().held);
    /// let demand = 0; // what the recent frames took, say
    /// pool.trim(demand + in_lanes);
    /// ```
    pub fn idle_in_lanes(&self) -> usize {
        self.lanes
            .lane_shared()
            .map(|lane| lane.stats.cached.get() as usize)
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

    /// Drops every idle object, releasing their memory (objects on loan
    /// are not touched: they come back as usual).
    ///
    /// The objects are taken out first and dropped last, once the pool is
    /// whole again: a `T::drop` that panics leaves an empty pool with its
    /// whole capacity (the other objects are still dropped by the unwind).
    pub fn reset(&mut self) {
        let mut idle: Vec<Vec<T>> = Vec::new();
        for ((), lane) in self.lanes.lanes_mut() {
            // Counts of a handle that was leaked rather than dropped.
            lane.fold_pending_mut();
            idle.push(lane.clear());
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
        for (_, lane) in self.lanes.lanes_mut() {
            lane.check_invariants();
            units += lane.units_mut();
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

impl<T: Send, H: ResetHook<T>> fmt::Debug for Pool<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

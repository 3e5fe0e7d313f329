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
//! Invariant: the units held by all lanes, plus the objects on the shared
//! list, plus the free budget, equal `capacity`; each lane caches at most as
//! many objects as it holds units.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

use super::lanes::{Budget, LaneCounter, Lanes};

/// Objects moved to or from the shared list at once, and the most units of
/// capacity a lane leases at once (see `Pool::lease_batch`).
const LANE_BATCH: usize = 128;
/// Idle objects one lane keeps before handing a batch to the shared list.
const LANE_CACHE_MAX: usize = 1024;

/// Puts an object back in a clean state before it returns to a pool.
pub trait Recycle {
    /// Clears the object, keeping what is worth reusing (its capacity).
    fn recycle(&mut self);
}

impl<T> Recycle for Vec<T> {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl Recycle for String {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl<T> Recycle for std::collections::VecDeque<T> {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl<K, V, S> Recycle for std::collections::HashMap<K, V, S> {
    fn recycle(&mut self) {
        self.clear();
    }
}

impl<K, V> Recycle for std::collections::BTreeMap<K, V> {
    fn recycle(&mut self) {
        self.clear();
    }
}

/// The hook a [`Pool`] runs on every object that comes back.
///
/// A type parameter, not a boxed closure, so the hook is inlined into the
/// return path: [`Recycled`] calls [`Recycle::recycle`], any
/// `Fn(&mut T) + Send + Sync` is a hook too (a closure, a `fn` pointer, or a
/// `Box<dyn Fn(&mut T) + Send + Sync>` where the type must be named).
pub trait ResetHook<T>: Send + Sync {
    /// Cleans `value` before it is kept.
    fn reset(&self, value: &mut T);
}

/// The default hook: [`Recycle::recycle`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Recycled;

impl<T: Recycle> ResetHook<T> for Recycled {
    #[inline(always)]
    fn reset(&self, value: &mut T) {
        value.recycle();
    }
}

impl<T, F: Fn(&mut T) + Send + Sync> ResetHook<T> for F {
    #[inline(always)]
    fn reset(&self, value: &mut T) {
        self(value)
    }
}

/// The hook of [`Pool::byte_buffers`]: clear, and shrink buffers that grew
/// past four times their nominal size.
#[derive(Clone, Copy, Debug)]
pub struct ClearBuffer {
    /// The nominal capacity of a buffer, in bytes.
    pub buffer_bytes: usize,
}

impl ResetHook<Vec<u8>> for ClearBuffer {
    fn reset(&self, buf: &mut Vec<u8>) {
        buf.clear();
        if buf.capacity() > self.buffer_bytes.saturating_mul(4) {
            buf.shrink_to(self.buffer_bytes);
        }
    }
}

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
    lanes: Lanes<PoolLane<T>, PoolLaneStats>,
    /// Objects handed over by lanes, and the store of threads without a lane.
    shared: Mutex<Vec<T>>,
    /// Units of capacity no lane holds and no shared object uses.
    budget: Budget,
    /// Counters of threads without a lane, under the `shared` lock.
    fallback_stats: PoolLaneStats,
    capacity: usize,
    /// Units a lane leases at once: a sixteenth of the capacity, between 1
    /// and [`LANE_BATCH`], so that one lane's spare units cannot starve the
    /// others of a small pool.
    lease_batch: usize,
    create: Create<T>,
    hook: H,
}

struct PoolLane<T> {
    /// Idle objects: at most `units`, and at most `LANE_CACHE_MAX` (its
    /// capacity never exceeds that). Borrowed only inside `with_cache`.
    cache: UnsafeCell<Vec<T>>,
    /// Units of capacity this lane holds.
    units: Cell<usize>,
}

impl<T> PoolLane<T> {
    /// Runs `f` on the cache.
    ///
    /// # Safety
    ///
    /// - the lane is the calling thread's own (from `Lanes::local`);
    /// - `f` calls no user code (no hook, no `create`, no `T::drop`), no pool
    ///   method and nothing that may allocate, so no second borrow of the
    ///   cache can start while this one lives. `Vec::pop`, `Vec::len` and a
    ///   `Vec::push` within capacity qualify.
    #[inline(always)]
    unsafe fn with_cache<R>(&self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        // SAFETY: the caller's promises make this the only borrow: one thread
        // (the lane's), no re-entry while it lives.
        f(unsafe { &mut *self.cache.get() })
    }

    /// Moves the cache out, so that slow paths can grow it, drop objects or
    /// call user code freely; [`put_back`](Self::put_back) returns it.
    fn take_out(&self) -> Vec<T> {
        // SAFETY: as `with_cache`: `mem::take` neither allocates nor runs
        // user code.
        unsafe { self.with_cache(std::mem::take) }
    }

    /// Returns a cache moved out by [`take_out`](Self::take_out). A cache
    /// put in meanwhile by a re-entrant call is dropped (its units stay
    /// counted; only a pool used from its own allocator gets here).
    fn put_back(&self, cache: Vec<T>) {
        // SAFETY: as `with_cache`: `mem::replace` neither allocates nor
        // runs user code; the old value is dropped after the borrow ends.
        let stray = unsafe { self.with_cache(|c| std::mem::replace(c, cache)) };
        drop(stray);
    }
}

/// A lane's counters. The fast paths bump one each (`hits`, `returns`); the
/// lane's cache length, which `stats` reads from other threads, follows from
/// them: `returns - dropped - hits + moved_in` (wrapping).
#[derive(Default)]
struct PoolLaneStats {
    hits: LaneCounter,
    misses: LaneCounter,
    returns: LaneCounter,
    dropped: LaneCounter,
    /// Objects moved into the lane from the shared list, minus those moved
    /// out to it or cleared (wrapping).
    moved_in: LaneCounter,
}

impl PoolLaneStats {
    /// The lane's cache length.
    fn cached(&self) -> u64 {
        self.returns
            .get()
            .wrapping_sub(self.dropped.get())
            .wrapping_sub(self.hits.get())
            .wrapping_add(self.moved_in.get())
    }
}

/// A pool's counters, from [`Pool::stats`].
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
    /// Idle objects the pool holds now.
    pub held: usize,
    /// The most idle objects the pool will hold.
    pub capacity: usize,
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
            lanes: Lanes::new(|| {
                (
                    PoolLane {
                        cache: UnsafeCell::new(Vec::new()),
                        units: Cell::new(0),
                    },
                    PoolLaneStats::default(),
                )
            }),
            shared: Mutex::new(Vec::new()),
            budget: Budget::new(capacity),
            fallback_stats: PoolLaneStats::default(),
            capacity,
            lease_batch: (capacity / 16).clamp(1, LANE_BATCH),
            create: Box::new(create),
            hook,
        }
    }

    /// An object from the pool (or a new one), returned to the pool when the
    /// guard drops.
    #[inline(always)]
    pub fn get(&self) -> Pooled<'_, T, H> {
        Pooled {
            pool: self,
            value: ManuallyDrop::new(self.take()),
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
        // SAFETY: our own lane; `pop` runs no user code and never allocates.
        match unsafe { lane.with_cache(Vec::pop) } {
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
        let units = lane.units.get();
        // SAFETY: our own lane; the push happens only within capacity, so it
        // never allocates, and moving `value` runs no user code.
        let rejected = unsafe {
            lane.with_cache(|cache| {
                if cache.len() < units && cache.len() < cache.capacity() {
                    cache.push(value);
                    None
                } else {
                    Some(value)
                }
            })
        };
        if let Some(value) = rejected {
            self.put_slow(lane, stats, value);
        }
    }

    /// The lane is empty: refill a batch from the shared list, or create.
    #[cold]
    #[inline(never)]
    fn take_slow(&self, lane: &PoolLane<T>, stats: &PoolLaneStats) -> T {
        // Units left empty by objects this lane handed out beyond one lease go
        // back to the budget, so a lane that only takes does not hoard them.
        let units = lane.units.get();
        if units > self.lease_batch {
            self.budget.give_back(units - self.lease_batch);
            lane.units.set(self.lease_batch);
        }
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let n = shared.len().min(LANE_BATCH);
        if n == 0 {
            drop(shared);
            stats.misses.add(1);
            return (self.create)();
        }
        let mut cache = lane.take_out();
        reserve_up_to(&mut cache, lane.units.get() + n);
        let from = shared.len() - n;
        cache.extend(shared.drain(from..));
        drop(shared);
        // The objects bring their units with them.
        lane.units.set(lane.units.get() + n);
        stats.moved_in.add(n as u64);
        let value = cache.pop().expect("n > 0 objects were just moved in");
        stats.hits.add(1);
        lane.put_back(cache);
        value
    }

    /// The lane has no unit free, no room, or is full: hand a batch over,
    /// lease units, grow, or drop the object.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, lane: &PoolLane<T>, stats: &PoolLaneStats, value: T) {
        let mut cache = lane.take_out();
        if cache.len() >= LANE_CACHE_MAX {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            let len = cache.len();
            shared.extend(cache.drain(len - LANE_BATCH..));
            // The objects take their units to the shared list.
            lane.units.set(lane.units.get() - LANE_BATCH);
            stats.moved_in.add((LANE_BATCH as u64).wrapping_neg());
        }
        if cache.len() >= lane.units.get() {
            let leased = self.budget.lease(self.lease_batch);
            lane.units.set(lane.units.get() + leased);
        }
        let rejected = if cache.len() < lane.units.get() {
            reserve_up_to(&mut cache, lane.units.get());
            cache.push(value);
            None
        } else {
            Some(value)
        };
        lane.put_back(cache);
        if let Some(value) = rejected {
            stats.dropped.add(1);
            drop(value); // `T::drop` runs with the cache back in place
        }
    }

    #[cold]
    #[inline(never)]
    fn take_fallback(&self) -> T {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        match shared.pop() {
            Some(value) => {
                // Its unit goes back to the budget: the shared list holds no
                // empty units.
                self.budget.give_back(1);
                self.fallback_stats.hits.add(1);
                value
            }
            None => {
                self.fallback_stats.misses.add(1);
                drop(shared);
                (self.create)()
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn put_fallback(&self, value: T) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        self.fallback_stats.returns.add(1);
        if self.budget.lease(1) == 1 {
            shared.push(value);
        } else {
            self.fallback_stats.dropped.add(1);
            drop(shared);
            drop(value);
        }
    }

    /// The pool's counters.
    pub fn stats(&self) -> PoolStats {
        let shared_len = self
            .shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let mut s = PoolStats {
            held: shared_len,
            capacity: self.capacity,
            ..PoolStats::default()
        };
        for lane in self
            .lanes
            .shared()
            .chain(std::iter::once(&self.fallback_stats))
        {
            s.hits += lane.hits.get();
            s.misses += lane.misses.get();
            s.returns += lane.returns.get();
            s.dropped += lane.dropped.get();
        }
        s.held += self
            .lanes
            .shared()
            .map(|lane| lane.cached() as usize)
            .sum::<usize>();
        s
    }

    /// Creates up to `n` objects now, within the capacity, and puts them
    /// where every thread finds them (the shared list), so the first frames
    /// do not pay for them. Returns how many were made.
    pub fn prefill(&self, n: usize) -> usize {
        let granted = self.budget.lease(n);
        // Made before taking the lock: `create` is user code.
        let made: Vec<T> = (0..granted).map(|_| (self.create)()).collect();
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(made);
        granted
    }

    /// The most idle objects the pool keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every idle object, releasing their memory.
    pub fn clear(&mut self) {
        for (lane, stats) in self.lanes.iter_mut() {
            let cache = std::mem::take(lane.cache.get_mut());
            *lane.units.get_mut() = 0;
            stats.moved_in.add((cache.len() as u64).wrapping_neg());
        }
        self.shared
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.budget.set(self.capacity);
    }

    #[cfg(test)]
    fn check_invariants(&mut self) {
        let mut units = 0;
        for (lane, stats) in self.lanes.iter_mut() {
            let cache = lane.cache.get_mut();
            assert!(
                cache.len() <= *lane.units.get_mut(),
                "lane caches more than its units"
            );
            assert!(cache.capacity() <= LANE_CACHE_MAX);
            assert_eq!(stats.cached() as usize, cache.len());
            units += *lane.units.get_mut();
        }
        let shared = self.shared.get_mut().unwrap().len();
        assert_eq!(
            units + shared + self.budget.left(),
            self.capacity,
            "units ({units}) + shared ({shared}) + budget must equal capacity"
        );
    }
}

/// Grows `cache` to hold `want` objects, never past [`LANE_CACHE_MAX`].
fn reserve_up_to<T>(cache: &mut Vec<T>, want: usize) {
    let want = want.min(LANE_CACHE_MAX);
    if want > cache.capacity() {
        cache.reserve_exact(want - cache.len());
    }
}

impl<T: Send, H: ResetHook<T>> fmt::Debug for Pool<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// An object on loan from a [`Pool`]. Derefs to `T`; goes back to the pool
/// when dropped, whatever the path out of the scope (a `return`, `?`, a
/// panic that unwinds).
pub struct Pooled<'a, T: Send, H: ResetHook<T> = Recycled> {
    pool: &'a Pool<T, H>,
    /// Taken out only in `drop` and `into_inner`, each of which ends the guard.
    value: ManuallyDrop<T>,
}

impl<T: Send, H: ResetHook<T>> Pooled<'_, T, H> {
    /// Keeps the object for good: it will not go back to the pool.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `value` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.value) }
    }
}

impl<T: Send, H: ResetHook<T>> Deref for Pooled<'_, T, H> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send, H: ResetHook<T>> DerefMut for Pooled<'_, T, H> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Send, H: ResetHook<T>> Drop for Pooled<'_, T, H> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `value` is not used after.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        self.pool.put(value);
    }
}

impl<T: Send + fmt::Debug, H: ResetHook<T>> fmt::Debug for Pooled<'_, T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&*self.value).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn objects_come_back_clean() {
        let pool: Pool<Vec<u32>> = Pool::new(4);
        {
            let mut v = pool.get();
            v.extend([1, 2, 3]);
        }
        let v = pool.get();
        assert!(v.is_empty());
        assert!(v.capacity() >= 3, "capacity is kept");
        let s = pool.stats();
        assert_eq!((s.hits, s.misses, s.returns), (1, 1, 1));
    }

    #[test]
    fn custom_reset_hook_runs_on_return() {
        let resets = Arc::new(AtomicUsize::new(0));
        let counter = resets.clone();
        let pool = Pool::with(
            8,
            || String::from("new"),
            move |s: &mut String| {
                counter.fetch_add(1, Ordering::Relaxed);
                s.clear();
            },
        );
        drop(pool.get());
        pool.put(String::from("dirty"));
        assert_eq!(resets.load(Ordering::Relaxed), 2);
        assert_eq!(*pool.get(), "");
    }

    #[test]
    fn capacity_bounds_idle_objects() {
        let mut pool: Pool<Vec<u8>> = Pool::new(3);
        let loans: Vec<_> = (0..10).map(|_| pool.get()).collect();
        drop(loans);
        let s = pool.stats();
        assert_eq!(s.held, 3, "{s:?}");
        assert_eq!(s.dropped, 7);
        pool.check_invariants();
        pool.clear();
        assert_eq!(pool.stats().held, 0);
        pool.check_invariants();
    }

    #[test]
    fn large_batches_move_through_the_shared_list() {
        let mut pool: Pool<Vec<u64>> = Pool::new(5000);
        // More than one lane caches (LANE_CACHE_MAX), so batches move.
        let n = if cfg!(miri) { 1500 } else { 3000 };
        let all: Vec<_> = (0..n).map(|_| pool.take()).collect();
        for b in all {
            pool.put(b);
        }
        pool.check_invariants();
        assert_eq!(pool.stats().held, n);
        let again: Vec<_> = (0..n).map(|_| pool.take()).collect();
        assert_eq!(pool.stats().hits, n as u64, "every object was found again");
        drop(again);
        pool.check_invariants();
    }

    #[test]
    fn pooled_returns_on_early_return_and_panic() {
        let pool: Pool<Vec<u8>> = Pool::new(8);
        fn early(pool: &Pool<Vec<u8>>) -> Option<()> {
            let _buf = pool.get();
            None?;
            Some(())
        }
        early(&pool);
        assert_eq!(pool.stats().held, 1);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _buf = pool.get();
            panic!("boom");
        }));
        assert!(result.is_err());
        assert_eq!(pool.stats().returns, 2);
        assert_eq!(pool.stats().held, 1);
    }

    #[test]
    fn prefill_serves_every_thread_within_capacity() {
        let mut pool: Pool<Vec<u8>> = Pool::new(10);
        assert_eq!(pool.prefill(25), 10, "capped at the capacity");
        assert_eq!(pool.stats().held, 10);
        std::thread::scope(|s| {
            s.spawn(|| drop(pool.get()));
        });
        let s = pool.stats();
        assert_eq!(
            (s.hits, s.misses),
            (1, 0),
            "another thread found a prefilled object"
        );
        pool.check_invariants();
    }

    #[test]
    fn into_inner_keeps_the_object() {
        let pool: Pool<Vec<u8>> = Pool::new(8);
        let v = pool.get().into_inner();
        drop(v);
        assert_eq!(pool.stats().returns, 0);
    }

    #[test]
    fn byte_buffers_shrink_after_a_huge_request() {
        let pool = Pool::byte_buffers(4, 4096);
        {
            let mut buf = pool.get();
            assert!(buf.capacity() >= 4096);
            buf.resize(64 << 10, 0); // past four times the nominal 4 KiB
        }
        assert!(pool.get().capacity() < 64 << 10);
    }

    #[test]
    fn cross_thread_returns_stay_bounded() {
        let mut pool: Pool<Vec<u8>> = Pool::new(256);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let pool = &pool;
            s.spawn(move || {
                for _ in 0..if cfg!(miri) { 200 } else { 5000 } {
                    tx.send(pool.take()).unwrap();
                }
            });
            s.spawn(move || {
                for v in rx {
                    pool.put(v);
                }
            });
        });
        let s = pool.stats();
        assert!(s.held <= 256, "{s:?}");
        assert_eq!(s.returns, if cfg!(miri) { 200 } else { 5000 });
        pool.check_invariants();
    }
}

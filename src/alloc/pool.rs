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

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::lanes::{LaneCounter, Lanes};

/// Units of capacity a lane leases at once, and objects moved to or from the
/// shared list at once.
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

type Create<T> = Box<dyn Fn() -> T + Send + Sync>;
type Reset<T> = Box<dyn Fn(&mut T) + Send + Sync>;

/// A bounded, thread-safe pool of `T`. See the [module docs](self).
///
/// ```
/// use framealloc::Pool;
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
pub struct Pool<T: Send> {
    lanes: Lanes<PoolLane<T>, PoolLaneStats>,
    /// Objects handed over by lanes, and the store of threads without a lane.
    shared: Mutex<Vec<T>>,
    /// Units of capacity no lane holds and no shared object uses.
    budget: AtomicUsize,
    /// Counters of threads without a lane, under the `shared` lock.
    fallback_stats: PoolLaneStats,
    capacity: usize,
    create: Create<T>,
    reset: Reset<T>,
}

struct PoolLane<T> {
    /// Idle objects; at most `units` and at most `LANE_CACHE_MAX`. A
    /// `RefCell`, not an `UnsafeCell`: the pool never calls user code while
    /// it is borrowed, and if a global allocator ever re-entered it, the
    /// borrow flag turns that into a panic instead of aliasing.
    cache: RefCell<Vec<T>>,
    /// Units of capacity this lane holds.
    units: Cell<usize>,
}

#[derive(Default)]
struct PoolLaneStats {
    hits: LaneCounter,
    misses: LaneCounter,
    returns: LaneCounter,
    dropped: LaneCounter,
    /// `cache.len()`, readable from other threads.
    cached: LaneCounter,
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
        Self::with(capacity, T::default, T::recycle)
    }
}

impl Pool<Vec<u8>> {
    /// A pool of I/O buffers: each new buffer has `buffer_bytes` of capacity;
    /// a returned buffer is cleared, and shrunk back if it grew past four
    /// times that, so one huge request does not pin memory forever.
    pub fn byte_buffers(capacity: usize, buffer_bytes: usize) -> Self {
        Self::with(
            capacity,
            move || Vec::with_capacity(buffer_bytes),
            move |buf: &mut Vec<u8>| {
                buf.clear();
                if buf.capacity() > buffer_bytes.saturating_mul(4) {
                    buf.shrink_to(buffer_bytes);
                }
            },
        )
    }
}

impl<T: Send> Pool<T> {
    /// A pool keeping up to `capacity` idle objects, made by `create` and
    /// cleaned by `reset` when they come back.
    pub fn with(
        capacity: usize,
        create: impl Fn() -> T + Send + Sync + 'static,
        reset: impl Fn(&mut T) + Send + Sync + 'static,
    ) -> Self {
        Self {
            lanes: Lanes::new(|| {
                (
                    PoolLane {
                        cache: RefCell::new(Vec::new()),
                        units: Cell::new(0),
                    },
                    PoolLaneStats::default(),
                )
            }),
            shared: Mutex::new(Vec::new()),
            budget: AtomicUsize::new(capacity),
            fallback_stats: PoolLaneStats::default(),
            capacity,
            create: Box::new(create),
            reset: Box::new(reset),
        }
    }

    /// An object from the pool (or a new one), returned to the pool when the
    /// guard drops.
    #[inline]
    pub fn get(&self) -> Pooled<'_, T> {
        Pooled {
            pool: self,
            value: ManuallyDrop::new(self.take()),
        }
    }

    /// An object from the pool (or a new one), for the caller to keep: it
    /// goes back only through [`put`](Self::put). Use it where a guard cannot
    /// go, such as an ECS component, which must be `'static`.
    #[inline]
    pub fn take(&self) -> T {
        let Some((lane, stats)) = self.lanes.local() else {
            return self.take_fallback();
        };
        let popped = lane.cache.borrow_mut().pop();
        match popped {
            Some(value) => {
                stats.hits.add(1);
                stats.cached.add(u64::MAX); // minus one
                value
            }
            None => self.take_slow(lane, stats),
        }
    }

    /// Gives an object back: it is cleaned by the reset hook and kept, or
    /// dropped if the pool already holds `capacity` idle objects.
    #[inline]
    pub fn put(&self, mut value: T) {
        (self.reset)(&mut value);
        let Some((lane, stats)) = self.lanes.local() else {
            return self.put_fallback(value);
        };
        stats.returns.add(1);
        let rejected = {
            let mut cache = lane.cache.borrow_mut();
            if cache.len() < lane.units.get() && cache.len() < LANE_CACHE_MAX {
                cache.push(value);
                None
            } else {
                Some(value)
            }
        };
        match rejected {
            None => stats.cached.add(1),
            Some(value) => self.put_slow(lane, stats, value),
        }
    }

    /// The lane is empty: refill a batch from the shared list, or create.
    #[cold]
    #[inline(never)]
    fn take_slow(&self, lane: &PoolLane<T>, stats: &PoolLaneStats) -> T {
        // Units left empty by objects this lane handed out beyond one batch go
        // back to the budget, so a lane that only takes does not hoard them.
        let units = lane.units.get();
        if units > LANE_BATCH {
            self.budget.fetch_add(units - LANE_BATCH, Ordering::Relaxed);
            lane.units.set(LANE_BATCH);
        }
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let n = shared.len().min(LANE_BATCH);
        if n == 0 {
            drop(shared);
            stats.misses.add(1);
            return (self.create)();
        }
        let mut cache = lane.cache.borrow_mut();
        let from = shared.len() - n;
        cache.extend(shared.drain(from..));
        drop(shared);
        // The objects bring their units with them.
        lane.units.set(lane.units.get() + n);
        let value = cache.pop().expect("n > 0 objects were just moved in");
        stats.hits.add(1);
        stats.cached.set(cache.len() as u64);
        value
    }

    /// The lane has no unit free or is full: hand a batch over, lease units,
    /// or drop the object.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, lane: &PoolLane<T>, stats: &PoolLaneStats, value: T) {
        let mut cache = lane.cache.borrow_mut();
        if cache.len() >= LANE_CACHE_MAX {
            let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            let len = cache.len();
            shared.extend(cache.drain(len - LANE_BATCH..));
            // The objects take their units to the shared list.
            lane.units.set(lane.units.get() - LANE_BATCH);
        }
        if cache.len() >= lane.units.get() {
            let leased = self.lease(LANE_BATCH);
            lane.units.set(lane.units.get() + leased);
        }
        if cache.len() < lane.units.get() {
            cache.push(value);
            stats.cached.set(cache.len() as u64);
        } else {
            stats.cached.set(cache.len() as u64);
            drop(cache);
            stats.dropped.add(1);
            drop(value); // user code (`T::drop`) runs with no borrow held
        }
    }

    /// Takes up to `want` units from the budget; returns how many it got.
    fn lease(&self, want: usize) -> usize {
        let mut got = 0;
        let _ = self
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                got = left.min(want);
                Some(left - got)
            });
        got
    }

    #[cold]
    #[inline(never)]
    fn take_fallback(&self) -> T {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        match shared.pop() {
            Some(value) => {
                // Its unit goes back to the budget: the shared list holds no
                // empty units.
                self.budget.fetch_add(1, Ordering::Relaxed);
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
        if self.lease(1) == 1 {
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
            s.held += lane.cached.get() as usize;
        }
        s
    }

    /// The most idle objects the pool keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Drops every idle object, releasing their memory.
    pub fn clear(&mut self) {
        for (lane, stats) in self.lanes.iter_mut() {
            lane.cache.get_mut().clear();
            *lane.units.get_mut() = 0;
            stats.cached.set(0);
        }
        self.shared
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        *self.budget.get_mut() = self.capacity;
    }

    #[cfg(test)]
    fn check_invariants(&mut self) {
        let mut units = 0;
        for (lane, stats) in self.lanes.iter_mut() {
            let len = lane.cache.get_mut().len();
            assert!(
                len <= *lane.units.get_mut(),
                "lane caches more than its units"
            );
            assert!(len <= LANE_CACHE_MAX);
            assert_eq!(stats.cached.get() as usize, len);
            units += *lane.units.get_mut();
        }
        let shared = self.shared.get_mut().unwrap().len();
        assert_eq!(
            units + shared + *self.budget.get_mut(),
            self.capacity,
            "units ({units}) + shared ({shared}) + budget must equal capacity"
        );
    }
}

impl<T: Send> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// An object on loan from a [`Pool`]. Derefs to `T`; goes back to the pool
/// when dropped, whatever the path out of the scope (a `return`, `?`, a
/// panic that unwinds).
pub struct Pooled<'a, T: Send> {
    pool: &'a Pool<T>,
    /// Taken out only in `drop` and `into_inner`, each of which ends the guard.
    value: ManuallyDrop<T>,
}

impl<T: Send> Pooled<'_, T> {
    /// Keeps the object for good: it will not go back to the pool.
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `value` is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.value) }
    }
}

impl<T: Send> Deref for Pooled<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Send> DerefMut for Pooled<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: Send> Drop for Pooled<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `drop` runs once and `value` is not used after.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        self.pool.put(value);
    }
}

impl<T: Send + fmt::Debug> fmt::Debug for Pooled<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&*self.value).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

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
        let all: Vec<_> = (0..3000).map(|_| pool.take()).collect();
        for b in all {
            pool.put(b);
        }
        pool.check_invariants();
        assert_eq!(pool.stats().held, 3000);
        let again: Vec<_> = (0..3000).map(|_| pool.take()).collect();
        assert_eq!(pool.stats().hits, 3000, "every object was found again");
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
            buf.resize(1 << 20, 0);
        }
        assert!(pool.get().capacity() < 1 << 20);
    }

    #[test]
    fn cross_thread_returns_stay_bounded() {
        let mut pool: Pool<Vec<u8>> = Pool::new(256);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let pool = &pool;
            s.spawn(move || {
                for _ in 0..5000 {
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
        assert_eq!(s.returns, 5000);
        pool.check_invariants();
    }
}

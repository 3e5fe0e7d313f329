//! Per-thread lanes: the structure behind every `Sync` strategy's fast path.
//!
//! A [`Lanes<L>`] holds [`MAX_LANES`] lane values. Each live thread that uses
//! any `Lanes` owns one small lane id, claimed from a process-wide bitmap
//! ([`LaneIds`]) on first use and released when the thread exits; the thread
//! then uses lane `id` of every `Lanes` it touches. Because at most one live
//! thread holds an id, lane `id` needs no lock: the fast path is one
//! thread-local read, one bounds check and an index.
//!
//! A thread that finds no free id (more than [`MAX_LANES`] threads alive at
//! once), or that is already tearing down its thread-locals, gets `None` and
//! the strategy falls back to a lane behind a `Mutex`.
//!
//! Ids are reused: a new thread inherits the lane of a dead one, with whatever
//! it cached. The release (`fetch_and`, `Release`) of the dead thread and the
//! claim (`compare_exchange`, `Acquire`) of the new one order every access of
//! the old owner before every access of the new one. `tests/loom_lanes.rs`
//! checks this under loom.

#[cfg(not(framemem_loom))]
use std::cell::Cell;
use std::cell::UnsafeCell;
use std::fmt;

#[cfg(framemem_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{AtomicU64, Ordering};

/// How many lanes each [`Lanes`] has, and so how many threads get a lock-free
/// fast path at once: far more than the worker threads of a game on a
/// desktop machine, and at most one bitmap word. Under Miri, 4: the tests'
/// extra threads then take the locked fallback path, which gets checked too,
/// and the lane arrays stay small enough to interpret quickly.
pub(crate) const MAX_LANES: usize = if cfg!(miri) { 4 } else { 64 };

const _: () = assert!(MAX_LANES <= u64::BITS as usize);

/// The bits of [`LaneIds`] that stand for lanes.
const LANE_MASK: u64 = u64::MAX >> (u64::BITS as usize - MAX_LANES);

/// A bitmap of lane ids: bit `i` set means a live thread holds id `i`.
///
/// The only lock-free structure in the crate. Claim is a CAS loop that sets a
/// clear bit with `Acquire`; release clears it with `Release`.
#[derive(Debug, Default)]
pub struct LaneIds {
    /// Bit `i` is set while some live thread holds id `i`.
    bits: AtomicU64,
}

impl LaneIds {
    /// An empty bitmap: every id free.
    #[cfg(framemem_loom)]
    pub fn new() -> Self {
        Self {
            bits: AtomicU64::new(0),
        }
    }

    /// Claims the lowest free id, or `None` when all [`MAX_LANES`] are held.
    pub fn claim(&self) -> Option<usize> {
        let mut current = self.bits.load(Ordering::Relaxed);
        loop {
            let free = !current & LANE_MASK;
            if free == 0 {
                return None;
            }
            let id = free.trailing_zeros() as usize;
            match self.bits.compare_exchange_weak(
                current,
                current | (1 << id),
                // Acquire: see everything the previous holder of `id` did to
                // its lanes before it released the id.
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(id),
                Err(actual) => current = actual,
            }
        }
    }

    /// Releases `id`, which the caller holds.
    pub fn release(&self, id: usize) {
        debug_assert!(id < MAX_LANES, "lane id {id} out of range");
        // Release: publish this thread's lane accesses to the next holder.
        let before = self.bits.fetch_and(!(1 << id), Ordering::Release);
        debug_assert!(before & (1 << id) != 0, "lane id {id} released twice");
    }
}

#[cfg(not(framemem_loom))]
static IDS: LaneIds = LaneIds {
    bits: AtomicU64::new(0),
};

/// `LANE_ID` before this thread asked for an id.
#[cfg(not(framemem_loom))]
const UNASSIGNED: usize = usize::MAX;
/// `LANE_ID` once this thread has no lane for good: no id was free, or the
/// thread is tearing down its thread-locals.
#[cfg(not(framemem_loom))]
const NO_LANE: usize = usize::MAX - 1;

#[cfg(not(framemem_loom))]
thread_local! {
    /// This thread's lane id, or one of the two sentinels. No destructor, so
    /// reading it is one thread-local load, even during thread teardown.
    static LANE_ID: Cell<usize> = const { Cell::new(UNASSIGNED) };
    /// Releases the id when the thread exits.
    static LANE_GUARD: LaneGuard = const { LaneGuard };
}

#[cfg(not(framemem_loom))]
struct LaneGuard;

#[cfg(not(framemem_loom))]
impl Drop for LaneGuard {
    fn drop(&mut self) {
        let id = LANE_ID.get();
        // Any later use on this thread (another thread-local's destructor)
        // goes to the locked fallback lane: the id may already belong to a
        // new thread.
        LANE_ID.set(NO_LANE);
        if id < MAX_LANES {
            IDS.release(id);
        }
    }
}

/// This thread's lane id, claiming one on first use.
#[cfg(not(framemem_loom))]
#[inline(always)]
pub(crate) fn current_lane() -> Option<usize> {
    let id = LANE_ID.get();
    if id < MAX_LANES {
        Some(id)
    } else {
        assign_lane(id)
    }
}

#[cfg(not(framemem_loom))]
#[cold]
#[inline(never)]
fn assign_lane(state: usize) -> Option<usize> {
    if state != UNASSIGNED {
        return None;
    }
    // Register the guard first: if the thread is already tearing down its
    // thread-locals this fails, and the thread must not take an id it could
    // never give back.
    if LANE_GUARD.try_with(|_| ()).is_err() {
        LANE_ID.set(NO_LANE);
        return None;
    }
    let id = IDS.claim();
    LANE_ID.set(id.unwrap_or(NO_LANE));
    id
}

/// Under loom every thread is a model thread: lanes come from the model's own
/// `LaneIds`, not from this process-wide state.
#[cfg(framemem_loom)]
pub(crate) fn current_lane() -> Option<usize> {
    None
}

/// One value per lane, for the thread that holds the lane's id.
///
/// - `local` is touched only by the thread holding the lane id (through
///   [`Lanes::local`]) or through `&mut self`;
/// - `shared` is `Sync` and may be read by anyone (counters for `stats`).
///
/// The array is inline, not boxed: the fast path then goes from the strategy
/// straight to the lane, one dependent load fewer (measured: about a third of
/// a pool's get-and-return). A strategy with large lanes (the slab) boxes the
/// whole `Lanes` instead. Fixed size, so indexing with an id already checked
/// against `MAX_LANES` needs no second bounds check.
pub(crate) struct Lanes<L, S> {
    lanes: [Lane<L, S>; MAX_LANES],
    /// Bit `i` set: lane `i` was marked by [`Lanes::mark_current`] (the
    /// strategy's slow path, when a lane first takes memory), so `&mut`
    /// passes such as a reset can skip the lanes never used.
    used: std::sync::atomic::AtomicU64,
}

/// Two cache lines, so that two threads' lanes never share one (adjacent-line
/// prefetch on x86 pulls pairs).
#[repr(align(128))]
struct Lane<L, S> {
    local: UnsafeCell<L>,
    shared: S,
}

// SAFETY: `local` is only reached through `Lanes::local`, which hands it to
// the one live thread that holds the lane id (see the module docs for how ids
// are handed over), or through `&mut self`. So `L` values move between
// threads (the next holder of an id inherits the lane), which needs
// `L: Send`, but are never shared, so `L: Sync` is not needed. `shared` is
// shared, so it must be `Sync`.
unsafe impl<L: Send, S: Sync> Sync for Lanes<L, S> {}

impl<L, S> Lanes<L, S> {
    /// [`MAX_LANES`] lanes made by `make`.
    pub(crate) fn new(mut make: impl FnMut() -> (L, S)) -> Self {
        Self {
            lanes: std::array::from_fn(|_| {
                let (local, shared) = make();
                Lane {
                    local: UnsafeCell::new(local),
                    shared,
                }
            }),
            used: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Marks the calling thread's lane as used (see `used`). For slow paths.
    pub(crate) fn mark_current(&self) {
        if let Some(id) = current_lane() {
            self.used
                .fetch_or(1 << id, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// The calling thread's lane, or `None` when it has no lane id (use the
    /// strategy's locked fallback then).
    ///
    /// The returned `&L` is `!Send` whenever `L: !Sync`, so it stays on this
    /// thread, and it cannot outlive the thread (it borrows `self`, and the id
    /// is released only after the thread's code has finished).
    #[inline(always)]
    pub(crate) fn local(&self) -> Option<(&L, &S)> {
        let id = current_lane()?;
        // `id < MAX_LANES`, the array's length: no second bounds check.
        let lane = &self.lanes[id];
        // SAFETY: this thread holds lane id `id` until it exits, and no other
        // live thread holds it, so no other `&L` to `lane.local` exists
        // except through `&mut self`, which cannot coexist with `&self`.
        // Only shared references are created: `L` keeps its mutable state in
        // `Cell`s.
        Some((unsafe { &*lane.local.get() }, &lane.shared))
    }

    /// Every lane's shared part.
    pub(crate) fn shared(&self) -> impl Iterator<Item = &S> {
        self.lanes.iter().map(|lane| &lane.shared)
    }

    /// Every lane, exclusively.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&mut L, &mut S)> {
        self.lanes
            .iter_mut()
            .map(|lane| (lane.local.get_mut(), &mut lane.shared))
    }

    /// The lanes marked by [`mark_current`](Self::mark_current), exclusively.
    pub(crate) fn iter_used_mut(&mut self) -> impl Iterator<Item = (&mut L, &mut S)> {
        let used = *self.used.get_mut();
        self.lanes
            .iter_mut()
            .enumerate()
            .filter(move |(i, _)| used & (1 << i) != 0)
            .map(|(_, lane)| (lane.local.get_mut(), &mut lane.shared))
    }
}

impl<L, S> fmt::Debug for Lanes<L, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lanes")
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

/// A counter written by one thread and read by any: a relaxed load and store,
/// no read-modify-write, so bumping it costs what a `Cell` would.
#[derive(Debug, Default)]
pub(crate) struct LaneCounter(std::sync::atomic::AtomicU64);

impl LaneCounter {
    /// Adds `n`. Only the lane's owner may call it (single writer).
    #[inline(always)]
    pub(crate) fn add(&self, n: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// The current value.
    #[inline(always)]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the value. Only the lane's owner, or `&mut` access, may call it.
    #[inline(always)]
    pub(crate) fn set(&self, n: u64) {
        self.0.store(n, std::sync::atomic::Ordering::Relaxed);
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

    /// Returns `units` leased earlier.
    pub(crate) fn give_back(&self, units: usize) {
        self.0
            .fetch_add(units, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the units left, with exclusive access (a reset, a clear).
    pub(crate) fn set(&mut self, units: usize) {
        *self.0.get_mut() = units;
    }

    /// The units left (for invariant checks).
    #[cfg(test)]
    pub(crate) fn left(&mut self) -> usize {
        *self.0.get_mut()
    }
}

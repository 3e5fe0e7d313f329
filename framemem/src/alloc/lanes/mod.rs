//! Per-thread lanes: the structure behind every `Sync` strategy's fast path.
//!
//! A [`Lanes<L, S, F>`] holds [`MAX_LANES`] lanes and one fallback. The
//! calling thread uses lane `id`, where `id` is its lane id (`ids.rs`):
//! because at most one live thread holds an id, lane `id` needs no lock, and
//! the fast path is one thread-local read, one bounds check and an index.
//!
//! A thread that finds no free id (more than [`MAX_LANES`] threads alive at
//! once), or that is already tearing down its thread-locals, uses the
//! *fallback* instead: an `F` behind a `Mutex`, with its own counters. Every
//! strategy needs one, so `Lanes` owns it, and [`Lanes::all_shared`] sums the
//! fallback's counters with the lanes'.
//!
//! Use [`Lanes::with_lane`] when the fallback is a lane like the others
//! (`F = L`: the arena, the slab, the heap), [`Lanes::local`] and
//! [`Lanes::lock_fallback`] when it is something else (the pool's fallback
//! goes to its shared list).
//!
//! A thread that exits leaves its lanes to whichever thread next claims its
//! id; until then what they hold (a pool's idle objects, a slab's free
//! slots) would be stranded. So strategies reclaim them: a slow path calls
//! [`Lanes::reclaim_dead`], which claims each dead lane's id for a moment
//! and empties the lane, and the arena's reset (`&mut self`) empties every
//! used lane through [`Lanes::drain_used_mut`].
//!
//! A strategy whose lanes other threads may take from (the pool: a thread
//! with nothing left takes another lane's idle objects) guards what they
//! may take with a [`LaneLock`] (`lock.rs`) in the lane's `shared` part:
//! taken by the owner per call, tried by others, who skip a lane in use.
//!
//! Invariants: a lane's `local` part is reached only by the thread holding
//! its id (its own, or one claimed for a reclaim), or through `&mut self`;
//! the fallback only under its lock or through `&mut self`; the fallback's
//! counters are written only under that lock.

mod barrier;
mod counters;
mod ids;
mod lock;
#[cfg(framemem_loom)]
mod model;
mod pins;

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[cfg(framemem_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) use counters::{Budget, LaneCounter};
#[cfg(framemem_loom)]
pub use ids::LaneIds;
pub(crate) use ids::MAX_LANES;
use ids::current_lane;
#[cfg_attr(not(feature = "bevy"), allow(unused_imports))]
pub(crate) use ids::lane_hint;
pub(crate) use lock::LaneLock;
#[cfg(framemem_loom)]
pub use model::{ModelLaneLock, ModelLanes};
pub(crate) use pins::Pin;

/// One value per lane, for the thread that holds the lane's id, and a
/// fallback for threads without one.
///
/// - `L`, a lane's `local` part, is touched only by the thread holding the
///   lane id (through [`Lanes::local`]) or through `&mut self`;
/// - `S`, a lane's `shared` part, is `Sync` and may be read by anyone
///   (counters for `stats`);
/// - `F`, the fallback, is used under its lock by threads without a lane id.
///
/// The array is inline, not boxed: the fast path then goes from the strategy
/// straight to the lane, one dependent load fewer (measured: about a third of
/// a pool's get-and-return). A strategy with large lanes (the slab) boxes the
/// whole `Lanes` instead. Fixed size, so indexing with an id already checked
/// against `MAX_LANES` needs no second bounds check.
pub(crate) struct Lanes<L, S, F = L> {
    lanes: [Lane<L, S>; MAX_LANES],
    /// Bit `i` set: lane `i` was marked by [`Lanes::mark_current`] (the
    /// strategy's slow path, when a lane first takes memory), so `&mut`
    /// passes such as a reset can skip the lanes never used, and reclaims
    /// look only at lanes that may hold something. A reclaim that empties a
    /// lane clears its bit.
    used: AtomicU64,
    /// For threads without a lane id.
    fallback: Mutex<F>,
    /// The fallback's counters: written only under the `fallback` lock.
    fallback_shared: S,
}

/// Two cache lines, so that two threads' lanes never share one (adjacent-line
/// prefetch on x86 pulls pairs).
#[repr(align(128))]
struct Lane<L, S> {
    local: UnsafeCell<L>,
    shared: S,
}

// SAFETY: `local` is only reached through `Lanes::local`, which hands it to
// the one live thread that holds the lane id (see `ids.rs` for how ids are
// handed over), or through `&mut self`. So `L` values move between threads
// (the next holder of an id inherits the lane), which needs `L: Send`, but
// are never shared, so `L: Sync` is not needed. `shared` and
// `fallback_shared` are shared, so `S` must be `Sync`. The fallback is a
// `Mutex<F>`, which is `Sync` exactly when `F: Send`.
unsafe impl<L: Send, S: Sync, F: Send> Sync for Lanes<L, S, F> {}

impl<L, S: Default, F> Lanes<L, S, F> {
    /// [`MAX_LANES`] lanes made by `make_lane`, and `fallback` for threads
    /// without a lane id. Every lane's counters start at `S::default()`.
    pub(crate) fn new(mut make_lane: impl FnMut() -> L, fallback: F) -> Self {
        Self {
            lanes: std::array::from_fn(|_| Lane {
                local: UnsafeCell::new(make_lane()),
                shared: S::default(),
            }),
            used: AtomicU64::new(0),
            fallback: Mutex::new(fallback),
            fallback_shared: S::default(),
        }
    }
}

impl<L, S, F> Lanes<L, S, F> {
    /// The lanes marked used now, one bit each (for `&mut` passes that want
    /// to know how many threads took memory).
    pub(crate) fn used_bits(&mut self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The lane ids live threads hold now, one bit each (a hint: threads
    /// come and go).
    pub(crate) fn live_bits(&self) -> u64 {
        ids::held_ids()
    }

    /// Marks the calling thread's lane as used (see `used`). For slow paths.
    pub(crate) fn mark_current(&self) {
        if let Some(id) = current_lane() {
            // A read first: a lane marked already costs no write to the
            // shared line.
            if self.used.load(Ordering::Relaxed) & (1 << id) == 0 {
                self.used.fetch_or(1 << id, Ordering::Relaxed);
            }
        }
    }

    /// Runs `f` on each lane marked used whose thread has exited (no thread
    /// holds its id), and unmarks it: `f` must empty the lane. For slow
    /// paths; returns how many lanes it visited.
    ///
    /// Cost when there is nothing to reclaim: two loads (the `used` bits and
    /// the held ids).
    pub(crate) fn reclaim_dead(&self, mut f: impl FnMut(&L, &S)) -> usize {
        let mut dead = self.used.load(Ordering::Relaxed) & !ids::held_ids();
        let mut visited = 0;
        while dead != 0 {
            let id = dead.trailing_zeros() as usize;
            dead &= dead - 1;
            // A new thread may have taken the id since: then it is its lane.
            let Some(claim) = ids::claim_exact(id) else {
                continue;
            };
            // Unmarked before the claim ends: the next holder of the id
            // marks it again after (its claim is ordered after our release).
            self.used.fetch_and(!(1 << id), Ordering::Relaxed);
            let lane = &self.lanes[id];
            // SAFETY: this thread holds id `id` until `claim` drops (its
            // `Acquire` claim is ordered after the dead holder's `Release`),
            // so no other thread reaches `lane.local` meanwhile, and this
            // thread reaches it only here: `f` gets the only `&L`. The
            // thread's own lane is another one (its own id is held, so it is
            // not in `dead`).
            f(unsafe { &*lane.local.get() }, &lane.shared);
            drop(claim);
            visited += 1;
        }
        visited
    }

    /// The calling thread's lane, or `None` when it has no lane id (use
    /// [`lock_fallback`](Self::lock_fallback) then).
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

    /// The fallback, locked, and its counters (write them only while the
    /// guard lives). A poisoned lock is taken anyway: the strategies keep
    /// their structures consistent at every point a user callback can panic.
    pub(crate) fn lock_fallback(&self) -> (MutexGuard<'_, F>, &S) {
        let guard = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
        (guard, &self.fallback_shared)
    }

    /// Every lane's shared part, then the fallback's: what `stats` sums.
    pub(crate) fn all_shared(&self) -> impl Iterator<Item = &S> + Clone {
        self.lane_shared()
            .chain(std::iter::once(&self.fallback_shared))
    }

    /// The shared part of every lane marked used (see `used`): where a slow
    /// path looks for what other threads' lanes hold. A snapshot of the
    /// marks: a lane may be marked or unmarked meanwhile.
    pub(crate) fn marked_shared(&self) -> impl Iterator<Item = &S> {
        let used = self.used.load(Ordering::Relaxed);
        self.lanes
            .iter()
            .enumerate()
            .filter(move |(i, _)| used & (1 << i) != 0)
            .map(|(_, lane)| &lane.shared)
    }

    /// Every lane's shared part, without the fallback's.
    pub(crate) fn lane_shared(&self) -> impl Iterator<Item = &S> + Clone {
        self.lanes.iter().map(|lane| &lane.shared)
    }

    /// Every lane, exclusively, without the fallback.
    pub(crate) fn lanes_mut(&mut self) -> impl Iterator<Item = (&mut L, &mut S)> {
        self.lanes.iter_mut().map(Lane::parts_mut)
    }

    /// Every lane, exclusively, without the fallback, and whether it is
    /// marked used (for invariant checks).
    pub(crate) fn lanes_mut_marked(&mut self) -> impl Iterator<Item = (&mut L, &mut S, bool)> {
        // With `&mut self`, a relaxed load is the plain read `get_mut` is
        // (loom's atomics have no `get_mut`).
        let used = self.used.load(Ordering::Relaxed);
        self.lanes.iter_mut().enumerate().map(move |(i, lane)| {
            let (local, shared) = lane.parts_mut();
            (local, shared, used & (1 << i) != 0)
        })
    }

    /// The fallback and its counters, exclusively.
    pub(crate) fn fallback_mut(&mut self) -> (&mut F, &mut S) {
        self.split_mut().2
    }

    /// The lanes, the `used` bits and the fallback, exclusively and apart.
    fn split_mut(&mut self) -> (&mut [Lane<L, S>], u64, (&mut F, &mut S)) {
        let used = self.used.load(Ordering::Relaxed);
        let fallback = self
            .fallback
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        (&mut self.lanes, used, (fallback, &mut self.fallback_shared))
    }
}

impl<L, S> Lane<L, S> {
    fn parts_mut(&mut self) -> (&mut L, &mut S) {
        (self.local.get_mut(), &mut self.shared)
    }
}

impl<L, S> Lanes<L, S> {
    /// Runs `f` on the calling thread's lane, or on the fallback lane under
    /// its lock when the thread has no lane id. Either way `f` gets the only
    /// `&L` in use on any thread for that lane.
    ///
    /// Cost on the fast path: [`local`](Self::local); the fallback is
    /// `#[cold]` and out of line.
    #[inline(always)]
    pub(crate) fn with_lane<R>(&self, f: impl FnOnce(&L, &S) -> R) -> R {
        match self.local() {
            Some((lane, shared)) => f(lane, shared),
            None => self.with_fallback(f),
        }
    }

    #[cold]
    #[inline(never)]
    fn with_fallback<R>(&self, f: impl FnOnce(&L, &S) -> R) -> R {
        let (lane, shared) = self.lock_fallback();
        f(&lane, shared)
    }

    /// Every lane, then the fallback, exclusively.
    pub(crate) fn all_mut(&mut self) -> impl Iterator<Item = (&mut L, &mut S)> {
        let (lanes, _, fallback) = self.split_mut();
        lanes
            .iter_mut()
            .map(Lane::parts_mut)
            .chain(std::iter::once(fallback))
    }
}

impl<L, S> Lanes<L, S> {
    /// The lanes marked by [`mark_current`](Self::mark_current), then the
    /// fallback, exclusively; every lane is unmarked: the caller empties
    /// each (the arena's reset gives every chunk back).
    pub(crate) fn drain_used_mut(&mut self) -> impl Iterator<Item = (&mut L, &mut S)> {
        // With `&mut self` no lane can be marked meanwhile; each marks
        // itself again when it next takes memory.
        // `&mut self`: no atomic needed (loom's atomics spell it `with_mut`).
        #[cfg(not(framemem_loom))]
        let mut used = std::mem::take(self.used.get_mut());
        #[cfg(framemem_loom)]
        let mut used = self.used.with_mut(std::mem::take);
        let (lanes, _, fallback) = self.split_mut();
        // Only the marked lanes are visited, a step per set bit (a slice
        // iterator skips ahead in O(1)), not every one of the `MAX_LANES`:
        // most frames mark one or two.
        let mut rest = lanes.iter_mut();
        let mut next_id = 0;
        std::iter::from_fn(move || {
            if used == 0 {
                return None;
            }
            let id = used.trailing_zeros() as usize;
            used &= used - 1;
            let lane = rest.nth(id - next_id)?;
            next_id = id + 1;
            Some(lane.parts_mut())
        })
        .chain(std::iter::once(fallback))
    }
}

impl<L, S, F> fmt::Debug for Lanes<L, S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lanes")
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

//! Lane ids: which lane of every [`Lanes`](super::Lanes) the calling thread
//! owns.
//!
//! Each live thread that uses any `Lanes` owns one small id, claimed from a
//! process-wide bitmap ([`LaneIds`]) on first use and released when the
//! thread exits. This bitmap is the only lock-free structure in the crate;
//! `loom/tests/loom_lanes.rs` checks it, and the lane protocol built on it (claim,
//! lane access, release at exit, reclaim of a dead thread's lane, a late
//! claim), under loom.
//!
//! Invariants: at most one thread holds an id at a time, and only that
//! thread reaches the lanes of that id; an id is released once, by its
//! holder.
//!
//! - **Claim.** A thread claims the lowest free id on first use (a CAS with
//!   `Acquire`). One that finds none (more than [`MAX_LANES`] threads alive)
//!   uses the locked fallback and tries again on later calls, so it gets a
//!   lane once one is free: the cost of being on the fallback is then one
//!   load of the bitmap per call on top of the fallback's mutex. A thread
//!   already tearing down its thread-locals never claims one.
//! - **Release.** At thread exit (`fetch_and`, `Release`), or when the
//!   thread's last per-thread handle goes (`pins.rs`).
//! - **Reclaim.** A slow path may claim a *given* free id for a moment
//!   ([`claim_exact`]) to empty the lane a dead thread left
//!   ([`Lanes::reclaim_dead`](super::Lanes::reclaim_dead)), then releases
//!   it.
//!
//! Ids are reused: a new thread inherits the lanes of a dead one, with
//! whatever was not reclaimed. Every hand-over of an id is a `Release`
//! (release) followed by an `Acquire` (claim), so every access of one holder
//! happens before every access of the next.

use std::cell::Cell;

#[cfg(framemem_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{AtomicU64, Ordering};

/// How many lanes each [`Lanes`](super::Lanes) has, and so how many threads
/// get a lock-free fast path at once: far more than the worker threads of a
/// game on a desktop machine, and at most one bitmap word. Under Miri, 4: the
/// tests' extra threads then take the locked fallback path, which gets
/// checked too, and the lane arrays stay small enough to interpret quickly.
/// Under loom, 2: two threads then compete for the last lane.
pub(crate) const MAX_LANES: usize = if cfg!(framemem_loom) {
    2
} else if cfg!(miri) {
    4
} else {
    64
};

const _: () = assert!(MAX_LANES <= u64::BITS as usize);

/// The bits of [`LaneIds`] that stand for lanes.
const LANE_MASK: u64 = u64::MAX >> (u64::BITS as usize - MAX_LANES);

/// A bitmap of lane ids: bit `i` set means a thread holds id `i`.
///
/// The only lock-free structure in the crate. Claim is a CAS loop that sets a
/// clear bit with `Acquire`; release clears it with `Release`.
#[derive(Debug, Default)]
pub struct LaneIds {
    /// Bit `i` is set while some thread holds id `i`.
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

    /// Claims `id` if it is free (for a reclaim); `false` if a thread holds
    /// it.
    pub fn claim_id(&self, id: usize) -> bool {
        debug_assert!(id < MAX_LANES, "lane id {id} out of range");
        let bit = 1 << id;
        let mut current = self.bits.load(Ordering::Relaxed);
        while current & bit == 0 {
            // Acquire, as in `claim`: the dead holder's accesses come first.
            match self.bits.compare_exchange_weak(
                current,
                current | bit,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
        false
    }

    /// The ids held now (a hint: it may change at once).
    pub fn held(&self) -> u64 {
        self.bits.load(Ordering::Relaxed)
    }

    /// Whether every id is held (a hint, for threads on the fallback).
    fn all_held(&self) -> bool {
        self.bits.load(Ordering::Relaxed) & LANE_MASK == LANE_MASK
    }

    /// Releases `id`, which the caller holds.
    pub fn release(&self, id: usize) {
        debug_assert!(id < MAX_LANES, "lane id {id} out of range");
        // Release: publish this thread's lane accesses to the next holder.
        let before = self.bits.fetch_and(!(1 << id), Ordering::Release);
        debug_assert!(before & (1 << id) != 0, "lane id {id} released twice");
    }
}

/// `LANE_ID` before this thread asked for an id.
const UNASSIGNED: usize = usize::MAX;
/// `LANE_ID` of a thread that found no free id: it tries again on its next
/// call.
const RETRY: usize = usize::MAX - 1;
/// `LANE_ID` once this thread has no lane for good: it is tearing down its
/// thread-locals (its id, if it had one, may belong to a new thread).
const NO_LANE: usize = usize::MAX - 2;

#[cfg(not(framemem_loom))]
static IDS: LaneIds = LaneIds {
    bits: AtomicU64::new(0),
};

#[cfg(framemem_loom)]
loom::lazy_static! {
    /// The model's bitmap: a fresh one for every execution.
    static ref IDS: LaneIds = LaneIds::new();
}

#[cfg(not(framemem_loom))]
thread_local! {
    /// This thread's lane id, or one of the sentinels. No destructor, so
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
        // A live per-thread handle still borrows the lane: its pin releases
        // the id when it goes (`pins.rs`).
        if id < MAX_LANES && !super::pins::defer_release(id, release) {
            IDS.release(id);
        }
    }
}

/// Releases `id`, which the calling thread held until its guard ran and
/// left it to the thread's last pin (`pins.rs`).
#[cfg_attr(framemem_loom, allow(dead_code))] // loom threads have no guard
fn release(id: usize) {
    IDS.release(id);
}

/// The ids held by threads now (a hint for reclaims).
pub(super) fn held_ids() -> u64 {
    IDS.held()
}

/// Claims `id` for the calling thread until the returned claim drops, if no
/// thread holds it: for a reclaim of the lanes a dead thread left.
pub(super) fn claim_exact(id: usize) -> Option<ExactClaim> {
    // `then`, not `then_some`: an `ExactClaim` made eagerly and dropped on
    // failure would release an id another thread holds.
    IDS.claim_id(id).then(|| ExactClaim { id })
}

/// An id claimed by [`claim_exact`], released when dropped (also by an
/// unwind).
pub(super) struct ExactClaim {
    id: usize,
}

impl Drop for ExactClaim {
    fn drop(&mut self) {
        IDS.release(self.id);
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

/// The calling thread's lane id as it stands, claiming none: below
/// [`MAX_LANES`] on a thread that has used a lane, a sentinel otherwise.
/// One thread-local load, for spreading per-thread counters (the bevy
/// attribution's shards), never for reaching a lane: an id read here may be
/// a sentinel, or (read late in a thread's teardown) one already released.
#[cfg(not(framemem_loom))]
#[cfg_attr(not(feature = "bevy"), allow(dead_code))]
#[inline(always)]
pub(crate) fn lane_hint() -> usize {
    LANE_ID.get()
}

/// Under loom: the same, from the model's thread-local.
#[cfg(framemem_loom)]
#[cfg_attr(not(feature = "bevy"), allow(dead_code))]
pub(crate) fn lane_hint() -> usize {
    MODEL_LANE.try_with(|lane| lane.id.get()).unwrap_or(0)
}

#[cfg(not(framemem_loom))]
#[cold]
#[inline(never)]
fn assign_lane(state: usize) -> Option<usize> {
    match state {
        NO_LANE => return None,
        // One load of the bitmap: the whole cost of trying again while
        // every id is held.
        RETRY if IDS.all_held() => return None,
        RETRY => {}
        _ => {
            // First use. Register the guard first: if the thread is already
            // tearing down its thread-locals this fails, and the thread must
            // not take an id it could never give back.
            if LANE_GUARD.try_with(|_| ()).is_err() {
                LANE_ID.set(NO_LANE);
                return None;
            }
        }
    }
    let id = IDS.claim();
    LANE_ID.set(id.unwrap_or(RETRY));
    id
}

/// Under loom: the same states in one loom thread-local. Its release at
/// thread exit is [`model_thread_exit`], which the model calls as its
/// threads' last step (the body of `LaneGuard::drop`; loom runs a
/// thread-local's destructor where the model's lazy statics are no longer
/// reliable). Per-thread handles (pins) are not modelled.
#[cfg(framemem_loom)]
struct ModelLane {
    id: Cell<usize>,
}

#[cfg(framemem_loom)]
loom::thread_local! {
    static MODEL_LANE: ModelLane = ModelLane { id: Cell::new(UNASSIGNED) };
}

/// The model's thread exit: what `LaneGuard::drop` does.
#[cfg(framemem_loom)]
pub(crate) fn model_thread_exit() {
    let id = MODEL_LANE.with(|lane| lane.id.replace(NO_LANE));
    if id < MAX_LANES {
        IDS.release(id);
    }
}

/// This thread's lane id under loom, claiming one on first use and trying
/// again while it has none.
#[cfg(framemem_loom)]
pub(crate) fn current_lane() -> Option<usize> {
    MODEL_LANE
        .try_with(|lane| {
            let id = lane.id.get();
            if id < MAX_LANES {
                return Some(id);
            }
            if id == NO_LANE || (id == RETRY && IDS.all_held()) {
                return None;
            }
            let claimed = IDS.claim();
            lane.id.set(claimed.unwrap_or(RETRY));
            claimed
        })
        .ok()
        .flatten()
}

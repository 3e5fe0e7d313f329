//! Lane ids: which lane of every [`Lanes`](super::Lanes) the calling thread
//! owns.
//!
//! Each live thread that uses any `Lanes` owns one small id, claimed from a
//! process-wide bitmap ([`LaneIds`]) on first use and released when the
//! thread exits. This bitmap is the only lock-free structure in the crate;
//! `tests/loom_lanes.rs` checks it under loom.
//!
//! Invariants: at most one live thread holds an id; an id is released once,
//! by its holder; a thread that could not claim an id (more than
//! [`MAX_LANES`] threads alive, or thread-locals already torn down) never
//! claims one later.
//!
//! Ids are reused: a new thread inherits the lane of a dead one, with whatever
//! it cached. The release (`fetch_and`, `Release`) of the dead thread and the
//! claim (`compare_exchange`, `Acquire`) of the new one order every access of
//! the old owner before every access of the new one.

#[cfg(not(framemem_loom))]
use std::cell::Cell;

#[cfg(framemem_loom)]
use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{AtomicU64, Ordering};

/// How many lanes each [`Lanes`](super::Lanes) has, and so how many threads get a lock-free
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
        // A live per-thread handle still borrows the lane: its pin releases
        // the id when it goes (`pins.rs`).
        if id < MAX_LANES && !super::pins::defer_release(id) {
            IDS.release(id);
        }
    }
}

/// Releases `id`, which the calling thread held until its guard ran and
/// left it to the thread's last pin (`pins.rs`).
#[cfg(not(framemem_loom))]
pub(super) fn release(id: usize) {
    IDS.release(id);
}

/// Under loom no thread gets a process-wide id, so none is pinned.
#[cfg(framemem_loom)]
pub(super) fn release(_id: usize) {}

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

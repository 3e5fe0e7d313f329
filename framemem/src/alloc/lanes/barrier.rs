//! An asymmetric fence pair for [`LaneLock`](super::LaneLock): a *light*
//! side that the lane's owner runs on every hold, and a *heavy* side that a
//! thief runs once per steal.
//!
//! The lock is a store-then-load handshake (Dekker's): the owner stores its
//! flag and loads the thief's, a thief stores its flag and loads the
//! owner's. Without a full fence between each side's store and load, both
//! loads can miss the other's store (x86 keeps a store in its buffer while
//! a later load goes ahead), and both would enter. A full fence on the
//! owner's side costs as much as the compare-exchange the handshake
//! replaces (about 7 ns each on the 2-core machine; a pool take and return
//! paid two).
//!
//! So the owner's side is only a compiler fence, and the thief's is Linux's
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: the kernel runs a full
//! fence on every CPU running one of this process's threads before it
//! returns (and a thread not running passed one when it was switched
//! out). Either the owner's store was drained before the fence that ran
//! on its CPU, and the thief's later load sees it, or the owner's load
//! comes after that fence, which comes after the thief's store, and the
//! owner sees the thief's flag. This is the pairing folly's
//! `asymmetricLightBarrier`/`asymmetricHeavyBarrier` and userspace RCU use.
//!
//! Where `membarrier` is not there (another OS, an old kernel, a seccomp
//! filter refusing it) or not modelled (Miri, loom), both sides are
//! `fence(SeqCst)`: the textbook Dekker pairing, which loom checks
//! (`loom/tests/loom_lanes.rs`). The choice is made once, when the first
//! lock is made ([`prepare`]; the first heavy barrier, should one ever come
//! first), and never goes back: an owner that reads "ready" knows every
//! thief will run `membarrier`; until then owners run the full fence.

#[cfg(framemem_loom)]
use loom::sync::atomic::{Ordering::SeqCst, fence};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{Ordering::SeqCst, fence};

/// The owner's side, between its store and its load.
#[inline(always)]
pub(super) fn light() {
    #[cfg(all(target_os = "linux", not(miri), not(framemem_loom)))]
    if membarrier::ready() {
        std::sync::atomic::compiler_fence(SeqCst);
        return;
    }
    fence(SeqCst);
}

/// Registers the process for `membarrier` if no one has tried yet, so
/// that owners run the light side from their first hold (until a first
/// heavy barrier registered it, they ran full fences). Called for every
/// new lock: a load, after the first.
pub(super) fn prepare() {
    #[cfg(all(target_os = "linux", not(miri), not(framemem_loom)))]
    membarrier::prepare();
}

/// A thief's side, between its store and its load. `false` when no
/// barrier ran (a `membarrier` call that failed after the process
/// registered, which the kernel does not do): the thief must not enter.
#[inline]
#[must_use]
pub(super) fn heavy() -> bool {
    #[cfg(all(target_os = "linux", not(miri), not(framemem_loom)))]
    if let Some(ran) = membarrier::run() {
        return ran;
    }
    fence(SeqCst);
    true
}

#[cfg(all(target_os = "linux", not(miri), not(framemem_loom)))]
mod membarrier {
    use std::sync::atomic::AtomicU8;
    use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

    // From linux/membarrier.h.
    const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    /// Not tried yet; light barriers are full fences.
    const UNTRIED: u8 = 0;
    /// Registered: every heavy barrier is a `membarrier` call, light ones
    /// are compiler fences.
    const READY: u8 = 1;
    /// Refused: both sides are full fences for the life of the process.
    const UNAVAILABLE: u8 = 2;

    static STATE: AtomicU8 = AtomicU8::new(UNTRIED);

    /// Whether heavy barriers run `membarrier` (and will, from now on).
    #[inline(always)]
    pub(super) fn ready() -> bool {
        // Relaxed: the state only moves from UNTRIED to its final value,
        // and READY is stored only after the registration returned, by a
        // thread that runs `membarrier` right after; an owner that reads
        // READY pairs with thieves that all run it.
        STATE.load(Relaxed) == READY
    }

    /// Registers, if no one has tried.
    pub(super) fn prepare() {
        state();
    }

    /// The final state, registering first if no one has tried.
    fn state() -> u8 {
        match STATE.load(Acquire) {
            UNTRIED => register(),
            state => state,
        }
    }

    /// Runs the heavy barrier: `None` when `membarrier` is unavailable
    /// (the caller runs a full fence instead), `Some(false)` when the call
    /// failed although the process registered. The first call registers
    /// the process, if no lock did.
    #[cold]
    pub(super) fn run() -> Option<bool> {
        if state() != READY {
            return None;
        }
        // SAFETY: the membarrier syscall with a command and two zero
        // arguments reads and writes no memory of ours; registration
        // succeeded, so the command is allowed.
        let done = unsafe { libc::syscall(libc::SYS_membarrier, CMD_PRIVATE_EXPEDITED, 0, 0) };
        Some(done == 0)
    }

    /// Registers the process for private expedited barriers; returns and
    /// stores the state that follows. Idempotent: two threads racing here
    /// get the same answer from the kernel.
    #[cold]
    fn register() -> u8 {
        // SAFETY: as in `run`: a command and two zero arguments.
        let registered =
            unsafe { libc::syscall(libc::SYS_membarrier, CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) };
        let state = if registered == 0 { READY } else { UNAVAILABLE };
        STATE.store(state, Release);
        state
    }
}

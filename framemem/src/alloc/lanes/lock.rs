//! [`LaneLock`]: a lane's lock, for lanes whose content other threads may
//! take (the pool's idle objects and empty units).
//!
//! The lane's thread (its *owner*) takes it on every call (holds nest: a
//! call that finds the owner's flag set is inside another of its own
//! thread's holds, and leaves the lock alone); any other thread (a *thief*)
//! only tries, and skips the lane when it is taken, so a thief never waits.
//! An owner waits only for a thief, which holds the lock for a moment (it
//! only moves values, runs no user code and waits on nothing). A reclaimer
//! (a thread that claimed a dead owner's id) waits for a thief the same way.
//!
//! # Two flags, no read-modify-write on the owner's side
//!
//! The owner's flag is written by the owner alone, so the owner sets it with
//! a plain store, and a thief sets its own flag with a compare-exchange
//! (thieves exclude each other). Each side then loads the other's flag,
//! and enters only if it is clear; the owner waits for a thief to leave,
//! a thief backs off. Between the store and the load each side runs its
//! half of an asymmetric fence (`barrier.rs`): a compiler fence on the
//! owner's side, `membarrier` on the thief's (full fences on both sides
//! where that is not available). So of an owner and a thief that meet, at
//! least one sees the other's flag: never both inside. The owner's hold
//! costs a load, a store, a load and a store, all on a line its thread
//! already has: the compare-exchange this replaced cost about 7 ns on the
//! 2-core machine, twice per pool take and return.
//!
//! Invariants: the owner's flag is set only while the lane's owner has a
//! hold, and the thief's only while a thief or reclaimer is moving values;
//! every access to what the lock guards happens under it, ordered after
//! the previous holder's by a `Release` clearing a flag and the `Acquire`
//! load that reads it clear (checked under loom by
//! `loom/tests/loom_lanes.rs`).

use super::barrier;
#[cfg(framemem_loom)]
use loom::sync::atomic::{AtomicBool, Ordering};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{AtomicBool, Ordering};

/// A lane's lock. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct LaneLock {
    /// Set while the lane's owner has a hold; written only by the thread
    /// holding the lane's id.
    owner: AtomicBool,
    /// Set while a thief or reclaimer holds the lane.
    thief: AtomicBool,
}

impl Default for LaneLock {
    fn default() -> Self {
        barrier::prepare();
        Self {
            owner: AtomicBool::new(false),
            thief: AtomicBool::new(false),
        }
    }
}

impl LaneLock {
    /// Takes the lock for the lane's owner, waiting for a thief if one
    /// holds it. Returns `false` when the owner held it already (a nested
    /// hold, which must not unlock it), `true` when it took it.
    ///
    /// # Safety
    ///
    /// - the caller is the lane's owner: the thread holding its id, the only
    ///   one that sets or clears the owner's flag;
    /// - it calls [`unlock_owner`](Self::unlock_owner) only when this
    ///   returned `true`, once its hold ends.
    #[inline(always)]
    pub(crate) unsafe fn lock_owner(&self) -> bool {
        // Relaxed: only this thread writes the flag (a previous owner's
        // last write is ordered before by the id's hand-over).
        if self.owner.load(Ordering::Relaxed) {
            return false;
        }
        self.owner.store(true, Ordering::Relaxed);
        barrier::light();
        // Acquire: a thief's `Release` clearing its flag publishes what it
        // moved.
        if self.thief.load(Ordering::Acquire) {
            self.wait_for_thief();
        }
        true
    }

    /// Takes the lock for a thief if no one holds it; `false` at once
    /// otherwise. Runs the heavy side of the barrier (a `membarrier`
    /// call) only when the owner's flag was clear at a first look.
    #[inline]
    pub(crate) fn try_lock_thief(&self) -> bool {
        if self.owner.load(Ordering::Relaxed) {
            return false; // in use: no barrier spent
        }
        // Acquire: see what the previous thief or reclaimer moved.
        if self
            .thief
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // Acquire: the owner's `Release` clearing its flag publishes its
        // hold's accesses. (No barrier, no entry: an owner may be inside.)
        if !barrier::heavy() || self.owner.load(Ordering::Acquire) {
            self.unlock_thief();
            return false;
        }
        true
    }

    /// Takes the lock for a reclaimer (a thief that must not skip the
    /// lane): waits for the thief holding it, if any. The lane's owner is
    /// gone and the caller holds its id, so no owner can take it; a flag
    /// the dead owner left set (a leaked handle's hold) is cleared, for
    /// the id's next owner.
    pub(crate) fn lock_reclaimer(&self) {
        let mut spins = 0u32;
        while self
            .thief
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            backoff(&mut spins);
        }
        // The caller holds the id: it is the only thread that may write the
        // owner's flag.
        self.owner.store(false, Ordering::Relaxed);
    }

    /// Ends the owner's outermost hold.
    #[inline(always)]
    pub(crate) fn unlock_owner(&self) {
        // Release: publish this hold's accesses to the next thief.
        self.owner.store(false, Ordering::Release);
    }

    /// Ends a thief's or reclaimer's hold.
    #[inline]
    pub(crate) fn unlock_thief(&self) {
        // Release: publish what it moved to the next holder.
        self.thief.store(false, Ordering::Release);
    }

    /// Whether the owner holds it and whether a thief does, with exclusive
    /// access (for invariant checks).
    pub(crate) fn held_mut(&mut self) -> (bool, bool) {
        // With `&mut self`, a relaxed load is the plain read `get_mut` is
        // (loom's atomics have no `get_mut`).
        (
            self.owner.load(Ordering::Relaxed),
            self.thief.load(Ordering::Relaxed),
        )
    }

    /// The owner, its flag set and fenced, waits for the thief holding the
    /// lock to clear its flag. A thief that comes later sees the owner's
    /// flag and backs off (the barrier's promise), so the wait ends.
    #[cold]
    #[inline(never)]
    fn wait_for_thief(&self) {
        let mut spins = 0u32;
        while self.thief.load(Ordering::Acquire) {
            backoff(&mut spins);
        }
    }
}

/// One step of a wait for a thief: spins, then yields.
fn backoff(spins: &mut u32) {
    *spins += 1;
    if cfg!(framemem_loom) {
        // loom explores a spin loop only if it yields.
        #[cfg(framemem_loom)]
        loom::thread::yield_now();
    } else if *spins < 64 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// The handshake on real threads, with the real barrier (`membarrier` on
/// Linux; loom checks the protocol, Miri the full-fence fallback, neither
/// sees the syscall). An owner and a thief each add to a plain count under
/// the lock with a read, a pause and a write: two holders at once lose
/// adds. With the thief's `membarrier` call removed, it failed in 2 of 3
/// runs on the 2-core machine.
#[cfg(all(test, not(framemem_loom)))]
mod tests {
    use super::LaneLock;
    use std::cell::UnsafeCell;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicU64, Ordering};

    struct Guarded {
        lock: LaneLock,
        count: UnsafeCell<u64>,
    }

    // SAFETY: `count` is reached only under `lock` (the property tested).
    unsafe impl Sync for Guarded {}

    impl Guarded {
        fn add_one(&self) {
            // SAFETY: under the lock.
            let count = unsafe { &mut *self.count.get() };
            let seen = std::hint::black_box(*count);
            std::hint::spin_loop();
            *count = seen + 1;
        }
    }

    #[test]
    fn owner_and_thief_threads_never_hold_the_lock_at_once() {
        // Each side holds the lock this many times; the owner pauses
        // between holds so that the thief finds windows.
        let rounds: u64 = if cfg!(miri) { 20 } else { 20_000 };
        let guarded = Guarded {
            lock: LaneLock::default(),
            count: UnsafeCell::new(0),
        };
        let steals = AtomicU64::new(0);
        let start = Barrier::new(2);
        let held = std::thread::scope(|s| {
            s.spawn(|| {
                start.wait();
                while steals.load(Ordering::Relaxed) < rounds {
                    if guarded.lock.try_lock_thief() {
                        guarded.add_one();
                        guarded.lock.unlock_thief();
                        steals.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            start.wait();
            let mut held = 0;
            while held < rounds || steals.load(Ordering::Relaxed) < rounds {
                // SAFETY: this thread plays the lock's one owner, and
                // unlocks what it took (no nesting here).
                assert!(unsafe { guarded.lock.lock_owner() });
                guarded.add_one();
                guarded.lock.unlock_owner();
                held += 1;
                // Mostly short gaps, where a thief that got past its
                // barrier meets a new hold; now and then a long one, where
                // it gets in (a `membarrier` call takes microseconds).
                let gap = if held % 32 == 0 && !cfg!(miri) {
                    20_000
                } else {
                    held % 8
                };
                for _ in 0..gap {
                    std::hint::spin_loop();
                }
            }
            held
        });
        // The thief is joined: every add is ordered before this read.
        let count = guarded.count.into_inner();
        assert_eq!(
            count,
            held + rounds,
            "{held} owner holds, {rounds} steals: adds were lost"
        );
    }
}

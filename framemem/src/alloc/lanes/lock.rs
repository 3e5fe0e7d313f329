//! [`LaneLock`]: a lane's lock word, for lanes whose content other threads
//! may take (the pool's idle objects and empty units).
//!
//! The lane's thread (its *owner*) takes the word on every call (holds nest:
//! a call that finds the word already `OWNER` is inside another of its own
//! thread's holds, and leaves the word alone); any other thread (a *thief*)
//! only tries, and skips the lane when it is taken, so a
//! thief never waits. An owner waits only for a thief, which holds the word
//! for a moment (it only moves values, runs no user code and waits on
//! nothing). A reclaimer (a thread that claimed a dead owner's id) waits
//! for a thief the same way.
//!
//! Invariant: the word is `OWNER` only while the lane's owner has a hold on
//! it, and `THIEF` only while a thief or reclaimer is moving values; every
//! access to what it guards happens under it, and each `Acquire` taking it
//! is ordered after the previous holder's `Release` (checked under loom by
//! `loom/tests/loom_lanes.rs`).

#[cfg(framemem_loom)]
use loom::sync::atomic::{AtomicU8, Ordering};
#[cfg(not(framemem_loom))]
use std::sync::atomic::{AtomicU8, Ordering};

/// Free: the next owner call or thief may take it.
const FREE: u8 = 0;
/// Held by the lane's owner.
const OWNER: u8 = 1;
/// Held by a thief or a reclaimer.
const THIEF: u8 = 2;

/// A lane's lock word. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct LaneLock {
    /// `FREE`, `OWNER` or `THIEF`.
    word: AtomicU8,
}

impl Default for LaneLock {
    fn default() -> Self {
        Self {
            word: AtomicU8::new(FREE),
        }
    }
}

impl LaneLock {
    /// Takes the word for the lane's owner, waiting for a thief if one
    /// holds it. Returns `false` when the owner held it already (a nested
    /// hold, which must not unlock it), `true` when it took it.
    ///
    /// Cost: one compare-exchange on a line the owner usually has (no
    /// count of nested holds to keep: a word found `OWNER` can only be the
    /// caller's own).
    ///
    /// # Safety
    ///
    /// - the caller is the lane's owner: the thread holding its id, the only
    ///   one that ever sets `OWNER`;
    /// - it unlocks only when this returned `true`, once its hold ends.
    #[inline(always)]
    pub(crate) unsafe fn lock_owner(&self) -> bool {
        match self
            .word
            .compare_exchange(FREE, OWNER, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => true,
            Err(OWNER) => false,
            Err(_) => {
                self.wait_for(OWNER);
                true
            }
        }
    }

    /// Takes the word for the lane's owner if it is free: the uncontended
    /// case of [`lock_owner`](Self::lock_owner), for fast paths that leave
    /// a nested hold and a waiting one to a cold path. `false`, changing
    /// nothing, when the word is held (by the owner itself or a thief).
    ///
    /// Cost: one compare-exchange and its branch; a hold that took the word
    /// this way needs no flag to know it must unlock.
    ///
    /// # Safety
    ///
    /// - as [`lock_owner`](Self::lock_owner): the caller is the lane's owner;
    /// - it unlocks once its hold ends when this returned `true`.
    #[inline(always)]
    pub(crate) unsafe fn try_lock_owner(&self) -> bool {
        self.try_set(OWNER)
    }

    /// Takes the word for a thief if it is free; `false` at once otherwise.
    #[inline]
    pub(crate) fn try_lock_thief(&self) -> bool {
        self.try_set(THIEF)
    }

    /// Takes the word for a reclaimer (a thief that must not skip the
    /// lane): waits for the thief holding it, if any.
    pub(crate) fn lock_reclaimer(&self) {
        if !self.try_set(THIEF) {
            self.wait_for(THIEF);
        }
    }

    /// Releases the word, which the caller holds.
    #[inline(always)]
    pub(crate) fn unlock(&self) {
        // Release: publish this holder's accesses to the next one.
        self.word.store(FREE, Ordering::Release);
    }

    /// Whether the owner holds it and whether a thief does, with exclusive
    /// access (for invariant checks).
    pub(crate) fn held_mut(&mut self) -> (bool, bool) {
        // With `&mut self`, a relaxed load is the plain read `get_mut` is
        // (loom's atomics have no `get_mut`).
        let word = self.word.load(Ordering::Relaxed);
        (word == OWNER, word == THIEF)
    }

    #[inline(always)]
    fn try_set(&self, state: u8) -> bool {
        // Acquire: see everything the previous holder did under the word.
        self.word
            .compare_exchange(FREE, state, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Spins, then yields, until the word goes from `FREE` to `state`.
    #[cold]
    #[inline(never)]
    fn wait_for(&self, state: u8) {
        let mut spins = 0u32;
        while !self.try_set(state) {
            spins += 1;
            if cfg!(framemem_loom) {
                // loom explores a spin loop only if it yields.
                #[cfg(framemem_loom)]
                loom::thread::yield_now();
            } else if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

//! Pins: a thread keeps its lane id while a per-thread handle
//! (`Arena::local()` and its kin) borrows its lane.
//!
//! A handle holds `&L` to its thread's lane for as long as it lives, not for
//! one call as [`Lanes::with_lane`](super::Lanes::with_lane) does. Handles
//! are `!Send`, so they stay on their thread; but one kept in a
//! `thread_local!` is dropped during the thread's teardown, possibly after
//! the guard that releases the lane id (thread-local destructors run in an
//! unspecified order). Without a pin the id could then pass to a new thread
//! while the old one still bumps the lane: a data race.
//!
//! So each handle takes a [`Pin`]. While a thread holds pins, its guard does
//! not release the id but leaves it here ([`defer_release`]), and the last
//! pin to go releases it. Ordering is unchanged: the release is the same
//! `Release` store as ever, made after every access through the handle.
//!
//! Invariant: `DEFERRED` holds an id only while `PINS > 0`. A handle that is
//! leaked (`mem::forget`) keeps its pin for good, so its thread's id is never
//! given back: a lane lost, never a race.

use std::cell::Cell;
use std::marker::PhantomData;

/// A lane id and the function that releases it.
type DeferredRelease = (usize, fn(usize));

thread_local! {
    /// Live pins on this thread. No destructor, so it stays usable while the
    /// thread tears its thread-locals down.
    static PINS: Cell<usize> = const { Cell::new(0) };
    /// The id the thread's guard left to the last pin, with the function
    /// that releases it (passed in, so that this file needs nothing of
    /// `ids.rs`).
    static DEFERRED: Cell<Option<DeferredRelease>> = const { Cell::new(None) };
}

/// Keeps the calling thread's lane id from being released while it lives.
/// `!Send` and `!Sync`: it must be dropped on the thread that made it.
#[derive(Debug)]
pub(crate) struct Pin {
    _not_send: PhantomData<*const ()>,
}

impl Pin {
    /// Pins the calling thread's lane id (if it has one, and for as long as
    /// this lives).
    #[inline]
    pub(crate) fn new() -> Self {
        PINS.set(PINS.get() + 1);
        Self {
            _not_send: PhantomData,
        }
    }
}

impl Drop for Pin {
    #[inline]
    fn drop(&mut self) {
        let left = PINS.get() - 1;
        PINS.set(left);
        if left == 0
            && let Some((id, release)) = DEFERRED.take()
        {
            release(id);
        }
    }
}

/// Called by the thread's guard as it exits: `true` when pins are alive, and
/// the last of them will call `release(id)`; `false` when the guard must
/// release it now.
#[cfg_attr(framemem_loom, allow(dead_code))] // loom threads have no guard
pub(super) fn defer_release(id: usize, release: fn(usize)) -> bool {
    if PINS.get() == 0 {
        return false;
    }
    DEFERRED.set(Some((id, release)));
    true
}

/// Whether the calling thread holds any pin (for tests).
#[cfg(test)]
pub(crate) fn pinned() -> bool {
    PINS.get() > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_pinned_while_a_pin_lives() {
        std::thread::spawn(|| {
            assert!(!pinned());
            let outer = Pin::new();
            let inner = Pin::new();
            drop(outer);
            assert!(pinned(), "one pin left");
            drop(inner);
            assert!(!pinned());
        })
        .join()
        .unwrap();
    }
}

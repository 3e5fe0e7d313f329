//! The central list: per class, batches of free slots handed over by lanes
//! whose magazines filled up, behind a mutex, so memory freed on one thread
//! is reused by another.
//!
//! Invariants ([`CentralList::check_invariants`], after every hand-over,
//! take and clear):
//! - `full_batches` equals the number of full batches (it is written only
//!   under the lock);
//! - a full batch holds between 1 and half a magazine of slots, so it fits
//!   into an empty magazine;
//! - an empty batch holds none.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::classes::{SIZE_CLASSES, chunk_of};
use super::magazine::MAGAZINE_SLOTS;

/// Free slots of one class handed over by lanes.
pub(super) struct CentralList {
    batches: Mutex<FreeBatches>,
    /// `batches.full.len()`, readable without the lock.
    full_batches: AtomicUsize,
}

#[derive(Default)]
struct FreeBatches {
    /// Batches of free slots.
    full: Vec<FreeBatch>,
    /// Emptied batches, kept for the next hand-over: a steady flow of slots
    /// from one thread to another then allocates nothing.
    empty: Vec<FreeBatch>,
}

/// Free slots of one class, moved from a magazine to the central list.
struct FreeBatch(Vec<NonNull<u8>>);

// SAFETY: a batch holds pointers to free slots in chunks owned by the slab; it
// is moved between threads only through the `CentralList` mutex.
unsafe impl Send for FreeBatch {}

impl CentralList {
    pub(super) fn new() -> Self {
        Self {
            batches: Mutex::new(FreeBatches::default()),
            full_batches: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FreeBatches> {
        self.batches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the `n` oldest slots of `magazine` (of `class`) into a batch.
    pub(super) fn put_from(&self, class: usize, magazine: &mut Vec<NonNull<u8>>, n: usize) {
        let mut batches = self.lock();
        let mut batch = batches
            .empty
            .pop()
            .unwrap_or_else(|| FreeBatch(Vec::with_capacity(n)));
        batch.0.extend(magazine.drain(..n));
        batches.full.push(batch);
        self.full_batches
            .store(batches.full.len(), Ordering::Relaxed);
        if cfg!(debug_assertions) {
            self.check_locked(class, &batches);
        }
    }

    /// Moves one batch into `magazine` (which has room for it: it is empty
    /// and batches are at most half a magazine). `false` if there is none.
    pub(super) fn take_into(&self, class: usize, magazine: &mut Vec<NonNull<u8>>) -> bool {
        // Skip the lock when it is plainly empty (a stale read only delays
        // reuse until the next refill).
        if self.full_batches.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut batches = self.lock();
        let Some(mut batch) = batches.full.pop() else {
            return false;
        };
        self.full_batches
            .store(batches.full.len(), Ordering::Relaxed);
        magazine.extend_from_slice(&batch.0);
        batch.0.clear();
        batches.empty.push(batch);
        if cfg!(debug_assertions) {
            self.check_locked(class, &batches);
        }
        true
    }

    /// Forgets every batch (a reset), keeping the emptied ones for reuse.
    pub(super) fn clear(&mut self) {
        let batches = self
            .batches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for mut batch in batches.full.drain(..) {
            batch.0.clear();
            batches.empty.push(batch);
        }
        *self.full_batches.get_mut() = 0;
    }

    /// Counts the free slots in the full batches by chunk: `count(chunk,
    /// 1)` for each, with exclusive access (a trim).
    pub(super) fn count_free(&mut self, mut count: impl FnMut(usize, usize)) {
        let batches = self
            .batches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for slot in batches.full.iter().flat_map(|batch| &batch.0) {
            count(chunk_of(slot.addr().get()), 1);
        }
    }

    /// Forgets the free slots in chunks that `released` says go back to
    /// the system; batches left empty are kept for reuse (a trim, with
    /// exclusive access).
    pub(super) fn forget_released(&mut self, class: usize, released: impl Fn(usize) -> bool) {
        let batches = self
            .batches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut kept = Vec::with_capacity(batches.full.len());
        for mut batch in batches.full.drain(..) {
            batch
                .0
                .retain(|slot| !released(chunk_of(slot.addr().get())));
            if batch.0.is_empty() {
                batches.empty.push(batch);
            } else {
                kept.push(batch);
            }
        }
        batches.full = kept;
        *self.full_batches.get_mut() = batches.full.len();
        if cfg!(debug_assertions) {
            self.check_invariants(class);
        }
    }

    /// Every free slot in the full batches, with exclusive access (for
    /// invariant checks).
    #[cfg(debug_assertions)]
    pub(super) fn slots_mut(&mut self) -> impl Iterator<Item = NonNull<u8>> + '_ {
        let batches = self
            .batches
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        batches
            .full
            .iter()
            .flat_map(|batch| batch.0.iter().copied())
    }

    /// The central list's invariants (see the [module docs](self)) for
    /// `class`; panics naming the values when one is broken.
    pub(super) fn check_invariants(&self, class: usize) {
        self.check_locked(class, &self.lock());
    }

    fn check_locked(&self, class: usize, batches: &FreeBatches) {
        let size = SIZE_CLASSES[class];
        let counted = self.full_batches.load(Ordering::Relaxed);
        assert_eq!(
            counted,
            batches.full.len(),
            "central list of the {size} B class: counter says {counted} full batches, the list \
             holds {}",
            batches.full.len()
        );
        let most = MAGAZINE_SLOTS[class] / 2;
        for batch in &batches.full {
            let len = batch.0.len();
            assert!(
                (1..=most).contains(&len),
                "central list of the {size} B class: a full batch holds {len} slots, not 1 to {most}"
            );
        }
        for batch in &batches.empty {
            let len = batch.0.len();
            assert_eq!(
                len, 0,
                "central list of the {size} B class: an empty batch holds {len} slots"
            );
        }
    }
}

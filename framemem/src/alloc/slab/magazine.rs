//! One thread's part of a [`Slab`](super::Slab): per class, a [`Magazine`] of
//! free slot pointers and the [`Carving`] of its current chunk. The slab's
//! lane-side unsafe code.
//!
//! A magazine is a `Vec` of pointers in an `UnsafeCell`, borrowed mutably for
//! the length of one `Vec` call that never allocates, in the manner of
//! `Cell::take` and `Cell::replace`:
//! - `Magazine` is `!Sync`, and a lane's `&Magazine` is handed only to the
//!   thread holding the lane's id, or under the fallback lane's lock, so all
//!   the `&Magazine` to one lane in use at once are on one thread;
//! - every borrow is made in `Magazine::with_vec`, private to this file, by
//!   a method whose closure does not reach the slab again (no allocation
//!   through it, no user code).
//!
//! Invariants ([`SlabLane::check_invariants`], after every refill and
//! hand-over and every reset):
//! - a magazine holds at most `MAGAZINE_SLOTS[class]` pointers, and its
//!   capacity is 0 (never used) or exactly that, so pushes never reallocate;
//! - a carving is empty (both ends null) or runs forward over a whole number
//!   of slots of its class.
//!
//! Every pointer in a magazine is a free slot of its class in a chunk of this
//! slab, in no other magazine or batch; debug builds check that in
//! `Slab::check_invariants` against the registry.

use std::cell::{Cell, UnsafeCell};
use std::ptr::{self, NonNull};

use super::classes::{CHUNK_BYTES, NUM_CLASSES, SIZE_CLASSES, chunk_of};
use super::stats::LaneStats;

/// Slots carved into an empty magazine at once: enough to amortise the call,
/// few enough not to touch much memory ahead of use.
const CARVE_BATCH: usize = 64;
/// Free bytes a magazine may hold, per class and lane.
pub(super) const MAGAZINE_BYTES: usize = 256 * 1024;
/// Magazine capacity per class: [`MAGAZINE_BYTES`] of slots, between 64 and
/// 2048 pointers (at most 16 KiB of array). Precomputed: a division on every
/// free would cost more than the rest of the free.
pub(super) const MAGAZINE_SLOTS: [usize; NUM_CLASSES] = {
    let mut slots = [0; NUM_CLASSES];
    let mut class = 0;
    while class < NUM_CLASSES {
        let n = MAGAZINE_BYTES / SIZE_CLASSES[class];
        slots[class] = if n < 64 {
            64
        } else if n > 2048 {
            2048
        } else {
            n
        };
        class += 1;
    }
    slots
};

const _: () = assert!(CARVE_BATCH <= MAGAZINE_SLOTS[NUM_CLASSES - 1]);

/// One thread's state in a slab: per class, a magazine, a carving and the
/// counts its per-thread handles have not folded yet.
pub(super) struct SlabLane {
    pub(super) magazines: [Magazine; NUM_CLASSES],
    pub(super) carvings: [Carving; NUM_CLASSES],
    /// Per class, slots handed out through handles
    /// ([`SlabLocal`](super::SlabLocal)) and not yet counted in the lane's
    /// [`LaneStats`]: plain cells, since only the lane's thread touches
    /// them. Kept in the lane rather than in each handle so that a handle is
    /// a few words: bevy's `for_each_init` moves its batch value for every
    /// item, and 448 bytes of counts made a copy per item
    /// (`benches/par_iter.rs`, group `par_iter_50k_2threads_slab`).
    pending_allocs: [Cell<u64>; NUM_CLASSES],
    /// As `pending_allocs`, for slots freed through handles.
    pending_frees: [Cell<u64>; NUM_CLASSES],
}

// SAFETY: the raw pointers point into chunks owned by the `Slab`, not into
// anything tied to a thread; `Lanes` moves a lane to a new thread only after
// the old one has released it (see `lanes/ids.rs`).
unsafe impl Send for SlabLane {}

impl SlabLane {
    pub(super) fn new() -> Self {
        Self {
            magazines: std::array::from_fn(|_| Magazine {
                slots: UnsafeCell::new(Vec::new()),
            }),
            carvings: std::array::from_fn(|_| Carving {
                next: Cell::new(ptr::null_mut()),
                end: Cell::new(ptr::null_mut()),
            }),
            pending_allocs: Default::default(),
            pending_frees: Default::default(),
        }
    }

    /// Counts a slot of `class` handed out through a handle.
    #[inline(always)]
    pub(super) fn count_pending_alloc(&self, class: usize) {
        let count = &self.pending_allocs[class];
        count.set(count.get() + 1);
    }

    /// Counts a slot of `class` freed through a handle.
    #[inline(always)]
    pub(super) fn count_pending_free(&self, class: usize) {
        let count = &self.pending_frees[class];
        count.set(count.get() + 1);
    }

    /// Adds the counts of the lane's handles to `stats`, the lane's counters,
    /// and zeroes them: when a handle drops (on the lane's thread, their
    /// only writer), and before a reset or a trim reads the counters (with
    /// exclusive access: a handle that was leaked counted there).
    pub(super) fn fold_pending(&self, stats: &LaneStats) {
        for class in 0..NUM_CLASSES {
            let (allocs, frees) = (
                self.pending_allocs[class].take(),
                self.pending_frees[class].take(),
            );
            if allocs | frees != 0 {
                stats.allocs[class].add(allocs);
                stats.frees[class].add(frees);
            }
        }
    }

    /// Forgets every free slot and every carving (a reset), keeping the
    /// magazines' arrays for reuse.
    pub(super) fn clear(&mut self) {
        for magazine in &mut self.magazines {
            magazine.slots.get_mut().clear();
        }
        for carving in &mut self.carvings {
            *carving.next.get_mut() = ptr::null_mut();
            *carving.end.get_mut() = ptr::null_mut();
        }
    }

    /// Counts the free slots of `class` in this lane's magazine by chunk,
    /// `magazine(chunk)` for each, with exclusive access (a trim); returns
    /// the chunk the lane is carving, if any.
    pub(super) fn count_free(
        &mut self,
        class: usize,
        mut magazine: impl FnMut(usize),
    ) -> Option<usize> {
        for slot in self.magazines[class].slots.get_mut().iter() {
            magazine(chunk_of(slot.addr().get()));
        }
        let c = &mut self.carvings[class];
        let (next, end) = (*c.next.get_mut(), *c.end.get_mut());
        (next != end).then(|| chunk_of(next.addr()))
    }

    /// Forgets the slots of `class` in its magazine that lie in chunks
    /// `released` says go back to the system (a trim, with exclusive
    /// access; a trim never releases a chunk being carved).
    pub(super) fn forget_released(&mut self, class: usize, released: impl Fn(usize) -> bool) {
        self.magazines[class]
            .slots
            .get_mut()
            .retain(|slot| !released(chunk_of(slot.addr().get())));
    }

    /// Free slots of `class` this lane keeps for itself: its magazine and
    /// what its carving has left (exclusive access).
    pub(super) fn cached_slots(&mut self, class: usize) -> usize {
        let carving = &mut self.carvings[class];
        let (next, end) = (*carving.next.get_mut(), *carving.end.get_mut());
        // Lengths only (every frame end reads this): no pass over the slots.
        self.magazines[class].slots.get_mut().len()
            + (end.addr() - next.addr()) / SIZE_CLASSES[class]
    }

    /// The lane's invariants for every class; panics naming the values when
    /// one is broken.
    pub(super) fn check_invariants(&self) {
        for class in 0..NUM_CLASSES {
            self.check_class(class);
        }
    }

    /// The invariants of one class's magazine and carving.
    pub(super) fn check_class(&self, class: usize) {
        let (len, capacity) = self.magazines[class].len_and_capacity();
        let slots = MAGAZINE_SLOTS[class];
        let size = SIZE_CLASSES[class];
        assert!(
            len <= slots && (capacity == 0 || capacity == slots),
            "slab magazine of the {size} B class: {len} slots in capacity {capacity}, \
             expected at most {slots} in capacity 0 or {slots}"
        );
        let (next, end) = (
            self.carvings[class].next.get(),
            self.carvings[class].end.get(),
        );
        assert!(
            (next.is_null() && end.is_null())
                || (!next.is_null()
                    && next.addr() <= end.addr()
                    && (end.addr() - next.addr()).is_multiple_of(size)),
            "slab carving of the {size} B class runs from {next:p} to {end:p}: not empty and \
             not a whole number of slots"
        );
    }
}

/// Free slots of one class, per lane: a stack of slot *pointers*. See the
/// [module docs](self).
pub(super) struct Magazine {
    /// Its capacity is fixed at `MAGAZINE_SLOTS[class]` on first use and
    /// never exceeded. Borrowed only in `with_vec`.
    slots: UnsafeCell<Vec<NonNull<u8>>>,
}

impl Magazine {
    /// Runs `f` on the magazine.
    ///
    /// # Safety
    ///
    /// `f` does not reach this slab again (no allocation through it, no user
    /// code), so no second borrow of the magazine starts meanwhile.
    #[inline(always)]
    unsafe fn with_vec<R>(&self, f: impl FnOnce(&mut Vec<NonNull<u8>>) -> R) -> R {
        // SAFETY: all live `&self` are on one thread (module docs), and the
        // caller promises no re-entry: this is the only borrow.
        f(unsafe { &mut *self.slots.get() })
    }

    /// A free slot, if the magazine has one. Cost: a length load and store,
    /// one pointer load.
    #[inline(always)]
    pub(super) fn pop(&self) -> Option<NonNull<u8>> {
        // SAFETY: `pop` does not reach the slab.
        unsafe { self.with_vec(Vec::pop) }
    }

    /// Pushes `slot` if the magazine has room; `false` when it is full (or
    /// was never used).
    #[inline(always)]
    pub(super) fn push_within_capacity(&self, slot: NonNull<u8>) -> bool {
        // SAFETY: a push within capacity never allocates.
        unsafe {
            self.with_vec(|m| {
                if m.len() < m.capacity() {
                    m.push(slot);
                    true
                } else {
                    false
                }
            })
        }
    }

    /// Moves the magazine out, so that slow paths can work on it (and
    /// allocate) freely; [`put_back`](Self::put_back) returns it. The first
    /// time, its array is made with `MAGAZINE_SLOTS[class]` of capacity.
    pub(super) fn take_out(&self, class: usize) -> Vec<NonNull<u8>> {
        // SAFETY: taking the Vec out does not reach the slab.
        let mut magazine = unsafe { self.with_vec(std::mem::take) };
        if magazine.capacity() == 0 {
            magazine.reserve_exact(MAGAZINE_SLOTS[class]);
        }
        magazine
    }

    /// Whether the magazine was never used (its array is not made yet).
    pub(super) fn is_unused(&self) -> bool {
        self.len_and_capacity().1 == 0
    }

    /// Moves every free slot out, array and all: the magazine is left
    /// unused (a reclaim of an exited thread's lane).
    pub(super) fn take_all(&self) -> Vec<NonNull<u8>> {
        // SAFETY: taking the Vec out does not reach the slab.
        unsafe { self.with_vec(std::mem::take) }
    }

    /// Returns a magazine moved out by [`take_out`](Self::take_out).
    pub(super) fn put_back(&self, magazine: Vec<NonNull<u8>>) {
        // SAFETY: putting the Vec back does not reach the slab (the empty Vec
        // it replaces owns no memory).
        unsafe { self.with_vec(|m| *m = magazine) };
    }

    fn len_and_capacity(&self) -> (usize, usize) {
        // SAFETY: reads two lengths; does not reach the slab.
        unsafe { self.with_vec(|m| (m.len(), m.capacity())) }
    }

    /// The free slots, with exclusive access (for invariant checks).
    #[cfg(debug_assertions)]
    pub(super) fn slots_mut(&mut self) -> &[NonNull<u8>] {
        self.slots.get_mut()
    }
}

/// The part of the lane's current chunk of one class not carved yet. Apart
/// from [`Magazine`], which the fast path touches, to keep that one small.
pub(super) struct Carving {
    /// Next uncarved slot; null when there is no chunk.
    next: Cell<*mut u8>,
    /// End of the carvable part (a whole number of slots).
    end: Cell<*mut u8>,
}

impl Carving {
    /// Starts carving `chunk`, a fresh chunk for `class`.
    pub(super) fn start(&self, chunk: NonNull<u8>, class: usize) {
        let size = SIZE_CLASSES[class];
        self.next.set(chunk.as_ptr());
        // `(CHUNK_BYTES / size) * size <= CHUNK_BYTES`: the end stays inside
        // the chunk's allocation (`wrapping_add` only spares an `unsafe`).
        self.end
            .set(chunk.as_ptr().wrapping_add(CHUNK_BYTES / size * size));
    }

    /// Carves every slot left in the current chunk into `slots`, and ends
    /// the carving (a reclaim of an exited thread's lane).
    pub(super) fn carve_all(&self, class: usize, slots: &mut Vec<NonNull<u8>>) {
        while self.carve(class, slots) {}
        self.next.set(ptr::null_mut());
        self.end.set(ptr::null_mut());
    }

    /// Carves up to [`CARVE_BATCH`] slots from the current chunk into
    /// `magazine`; `false` when the chunk is used up (or there is none).
    pub(super) fn carve(&self, class: usize, magazine: &mut Vec<NonNull<u8>>) -> bool {
        let start = self.next.get();
        let end = self.end.get();
        if start == end {
            return false;
        }
        let size = SIZE_CLASSES[class];
        let n = ((end.addr() - start.addr()) / size).min(CARVE_BATCH);
        // Highest address first, so that pops hand out ascending addresses.
        for i in (0..n).rev() {
            // SAFETY: `i < n` slots past `start` stays within the carvable
            // range of one chunk, which is never null.
            magazine.push(unsafe { NonNull::new_unchecked(start.add(i * size)) });
        }
        // SAFETY: `n` slots past `start` is at most `end`, in the same chunk.
        self.next.set(unsafe { start.add(n * size) });
        true
    }
}

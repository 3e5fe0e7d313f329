//! [`SlabLocal`]: the calling thread's lane of a [`Slab`], taken once per
//! task or batch, allocating and freeing with no lookup.
//!
//! `&Slab` finds the calling thread's lane on every call (a thread-local
//! read) and bumps a shared per-class counter. [`Slab::local`] finds it
//! once; the handle then pops from and pushes to the lane's magazines
//! directly and counts in the lane's pending per-class `Cell`s, folded into
//! the lane's counters when a handle on the lane drops. The counts live in
//! the lane, not the handle, so that the handle is two words (the slab and
//! the lane), which Rust passes in two registers: bevy's `for_each_init`
//! moves it through its fold, and back, for every item, and its closure
//! is not inlined. At three words it went through the stack twice per
//! item; with its counts inline, 472 bytes (`benches/par_iter.rs`, group
//! `par_iter_50k_2threads_slab`).
//!
//! Why it is sound (the same argument as `arena/local.rs`):
//! - **One thread.** `!Send` and `!Sync` (it holds a lane
//!   [`Pin`](crate::alloc::lanes::Pin)), so the handle is used and dropped
//!   on the thread whose lane it borrows, and the pin keeps the lane id on
//!   that thread until the handle is gone (`lanes/pins.rs`).
//! - **Shared references only.** The handle holds `&SlabLane`; magazines
//!   are borrowed mutably only inside one `Vec` call that never re-enters
//!   the slab (`magazine.rs`), so two handles on one thread, and `&Slab`
//!   calls in between, never overlap a borrow.
//! - **No reset while alive.** The handle borrows the slab, and `reset`
//!   needs `&mut Slab`.
//! - **No lane.** On a thread without a lane id every call goes through
//!   `&Slab` to the locked fallback lane.
//! - **Counts in the lane.** The pending counts are cells of the lane's
//!   local part, which only the thread holding the lane id reaches (the
//!   pin keeps it there); any handle's drop folds them all, into the
//!   counters of the lane the thread's lookup finds then: the same lane
//!   (the pin), or none if the thread is past its lane id's own teardown,
//!   in which case the counts wait in the lane for the next handle on it,
//!   or a reset or trim, to fold them.
//!
//! Counting: [`Slab::class_stats`] and [`AllocStrategy::stats`] do not see a
//! live handle's calls until a handle on that thread drops (or a reset or
//! trim folds them); zero-size and large requests count at once, as through
//! `&Slab`.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::classes::class_of;
use super::magazine::SlabLane;
use super::{Slab, SlabSlice};
use crate::alloc::lanes::Pin;
use crate::alloc::{AllocError, AllocStrategy};

/// The calling thread's lane of a [`Slab`], from [`Slab::local`]. It is neither
/// `Send` nor `Sync`, keeps its thread's lane for itself while it lives, and
/// borrows the slab, so no reset can happen meanwhile; the full soundness
/// argument is at the top of `src/alloc/slab/local.rs`.
///
/// ```
/// use framemem::{Slab, TypedAlloc};
/// use std::alloc::Layout;
///
/// let slab = Slab::new();
/// let local = slab.local(); // one lane lookup
/// let layout = Layout::from_size_align(64, 8).unwrap();
/// let ptr = local.alloc(layout).unwrap(); // a pop from the magazine
/// // SAFETY: `ptr` came from this slab with `layout` and is freed once.
/// unsafe { local.free(ptr, layout) };
/// let trail = local.handle_slice_copy(&[1.0f32; 8]);
/// assert_eq!(slab.get(&trail)[0], 1.0);
/// local.free_slice(trail);
/// drop(local); // its counts go into the slab's
/// assert_eq!(slab.stats().frees, 2);
/// ```
pub struct SlabLocal<'a> {
    slab: &'a Slab,
    /// The thread's lane (kept on this thread by `_pin`); `None` when the
    /// thread has none, and every call goes through `&Slab` instead.
    lane: Option<&'a SlabLane>,
    /// Keeps the thread's lane id while the handle lives (`lanes/pins.rs`),
    /// and makes the handle `!Send` and `!Sync`.
    _pin: Pin,
}

// Two words, passed in registers: bevy's `for_each_init` moves the handle
// for every item (the counts are the lane's, `SlabLane::count_pending_alloc`).
const _: () = assert!(size_of::<SlabLocal<'static>>() == 2 * size_of::<usize>());

impl Slab {
    /// The calling thread's lane, for many calls with no lookup: see
    /// [`SlabLocal`]. Take one per task or batch.
    #[inline]
    pub fn local(&self) -> SlabLocal<'_> {
        SlabLocal {
            slab: self,
            lane: self.lanes.local().map(|(lane, _)| lane),
            _pin: Pin::new(),
        }
    }
}

impl<'a> SlabLocal<'a> {
    /// The slab this handle allocates from (to read a [`SlabSlice`]).
    pub fn slab(&self) -> &'a Slab {
        self.slab
    }

    /// Whether calls take the lock-free fast path: `false` on a thread
    /// without a lane, whose calls go to the locked fallback.
    pub fn has_lane(&self) -> bool {
        self.lane.is_some()
    }

    /// Allocates a block for `layout`.
    ///
    /// Cost on the fast path: the class lookup, a pop from the magazine (a
    /// length load and store, one pointer load) and one addition to the
    /// lane's pending count.
    ///
    /// # Errors
    ///
    /// As [`AllocStrategy::alloc`] on the slab.
    #[inline(always)]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        match (&self.lane, class_of(layout)) {
            (Some(lane), Some(class)) => {
                let slot = self.slab.take_slot(lane, class)?;
                lane.count_pending_alloc(class);
                Ok(slot)
            }
            _ => self.alloc_shared(layout),
        }
    }

    /// Zero sizes, large requests and threads without a lane: `&Slab`'s way.
    #[cold]
    #[inline(never)]
    fn alloc_shared(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        AllocStrategy::alloc(self.slab, layout)
    }

    /// Frees a block, allocated on any thread, through the handle or not.
    ///
    /// # Safety
    ///
    /// As [`AllocStrategy::free`]: `ptr` came from this slab with `layout`, is
    /// not freed since, and is not used after.
    #[inline(always)]
    pub unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        if let Some(lane) = &self.lane
            && let Some(class) = self.slab.home_slot_class(ptr, layout)
        {
            // SAFETY: the caller's promise: a live block of this slab,
            // which the chunk map says is a slot of `class`.
            let pushed = unsafe { self.slab.put_slot(lane, class, ptr) };
            lane.count_pending_free(class);
            if !pushed {
                self.slab.hand_over(lane, class, ptr);
            }
            return;
        }
        // Threads without a lane, and every free the fast path does not
        // take (other classes, large blocks, misuse): `&Slab`'s way.
        // SAFETY: the caller's promise, passed on.
        unsafe { self.free_shared(ptr, layout) }
    }

    /// # Safety
    ///
    /// As [`free`](Self::free).
    #[cold]
    #[inline(never)]
    unsafe fn free_shared(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's promise, passed on.
        unsafe { AllocStrategy::free(self.slab, ptr, layout) }
    }

    /// Frees a slice. Returns `false`, and frees nothing, for a stale handle.
    pub fn free_slice<T: Copy>(&self, slice: SlabSlice<T>) -> bool {
        let Some((ptr, layout)) = self.slab.live_block(slice) else {
            return false;
        };
        // SAFETY: `live_block`'s promise: a block of this slab made by
        // `alloc` with this layout, whose one handle is consumed.
        unsafe { self.free(ptr, layout) };
        true
    }
}

impl Drop for SlabLocal<'_> {
    fn drop(&mut self) {
        // The lane's counters have one writer, this thread: the handle is
        // `!Send`, and its pin keeps the lane id on this thread.
        // Once per handle: the lookup finds this thread's lane again (the
        // pin keeps its id here), whose counters this thread alone writes.
        if let Some(lane) = self.lane
            && let Some((found, shared)) = self.slab.lanes.local()
            && std::ptr::eq(found, lane)
        {
            lane.fold_pending(shared);
        }
    }
}

impl fmt::Debug for SlabLocal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlabLocal")
            .field("has_lane", &self.has_lane())
            .finish_non_exhaustive()
    }
}

// SAFETY: forwards to the handle's `alloc` and `free`, whose blocks are the
// slab's (the `AllocStrategy` contract), valid until freed or until a reset,
// which needs `&mut Slab` and so cannot happen while the handle (borrowing
// the slab) and any collection holding `&handle` are alive.
unsafe impl allocator_api2::alloc::Allocator for &SlabLocal<'_> {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let ptr = SlabLocal::alloc(self, layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: allocator_api2 passes a block from `allocate` with its
        // layout, not used afterwards: `free`'s contract.
        unsafe { SlabLocal::free(self, ptr, layout) }
    }
}

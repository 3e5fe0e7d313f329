//! [`ArenaLocal`]: the calling thread's lane of an [`Arena`], taken once per
//! task or batch, allocating with no lookup at all.
//!
//! `&Arena` finds the calling thread's lane on every call (a thread-local
//! read) and bumps its shared counters. [`Arena::local`] finds it once; the
//! handle then bumps the lane's `Bump` directly and keeps its counts in
//! plain `Cell`s, folded into the lane's counters when it drops. In a bevy
//! system: `query.par_iter_mut().for_each_init(|| arena.local(), |local, item| ...)`.
//!
//! Why it is sound:
//! - **One thread.** The handle is `!Send` and `!Sync` (it holds a
//!   [`Pin`](crate::alloc::lanes::Pin)), so it is used and dropped on the
//!   thread whose lane it borrows. The pin keeps that thread's lane id from
//!   being released while the handle lives, even when the handle sits in a
//!   `thread_local!` dropped after the lane id's own guard, so no other
//!   thread can get the lane meanwhile (`lanes/pins.rs`).
//! - **Shared references only.** The handle holds `&ArenaLane`, never
//!   `&mut`; the `Bump` keeps its state in `Cell`s. Two handles on one
//!   thread (bevy's `for_each_init` may call `init` several times on a
//!   thread) and `&Arena` calls in between all go through `&`, one call at a
//!   time, since nothing here runs user code while a `Bump` call is under
//!   way.
//! - **No reset while alive.** The handle borrows the arena (`'a`), and
//!   `reset` needs `&mut Arena` (`tests/compile_fail/arena_local_after_reset.rs`).
//!   So blocks it hands out live for `'a`.
//! - **No lane.** A thread without a lane id (more than `MAX_LANES` threads,
//!   or one tearing down) gets a handle whose every call goes through
//!   `&Arena` to the locked fallback lane: slower, never unsound.
//!
//! Counting: [`Arena::stats`] does not see a live handle's allocations until
//! it drops. Growth into a new chunk, and in-place growth through
//! `allocator_api2`, count straight into the lane's counters (slow paths).

use std::alloc::Layout;
use std::cell::Cell;
use std::fmt;
use std::ptr::NonNull;

use super::Arena;
use super::lane::{ArenaLane, LaneStats};
use crate::alloc::lanes::PinnedLane;
use crate::alloc::{AllocError, AllocStrategy, api2};

/// The calling thread's lane of an [`Arena`], from [`Arena::local`]. It is
/// neither `Send` nor `Sync`, keeps its thread's lane for itself while it
/// lives, and borrows the arena, so no reset can happen meanwhile; the full
/// soundness argument is at the top of `src/alloc/arena/local.rs`.
///
/// ```
/// use framemem::{Arena, TypedAlloc};
///
/// let mut arena = Arena::new();
/// {
///     let local = arena.local(); // one lane lookup
///     let xs = local.alloc_slice_copy(&[1u32, 2, 3]); // no lookup, no atomic
///     let handle = local.handle_slice_copy(&[0.5f32; 4]);
///     assert_eq!(xs, &[1, 2, 3]);
///     assert_eq!(arena.get(handle), &[0.5; 4]);
/// } // the handle's counts go into the arena's
/// assert_eq!(arena.stats().allocations, 2);
/// arena.reset();
/// ```
pub struct ArenaLocal<'a> {
    arena: &'a Arena,
    /// The thread's lane, pinned; `None` when the thread has none, and every
    /// call goes through `&Arena` instead.
    lane: Option<PinnedLane<'a, ArenaLane, LaneStats>>,
    /// Allocations made on the fast path and not yet counted in the lane.
    allocations: Cell<u64>,
    /// Their requested bytes.
    bytes: Cell<u64>,
    /// `free` calls not yet counted in the lane.
    frees: Cell<u64>,
}

impl Arena {
    /// The calling thread's lane, for many allocations with no lookup: see
    /// [`ArenaLocal`]. Take one per task or batch (bevy's `for_each_init`).
    #[inline]
    pub fn local(&self) -> ArenaLocal<'_> {
        ArenaLocal {
            arena: self,
            lane: self.lanes.pin_local(),
            allocations: Cell::new(0),
            bytes: Cell::new(0),
            frees: Cell::new(0),
        }
    }
}

impl<'a> ArenaLocal<'a> {
    /// The arena this handle allocates from (to resolve an [`ArenaSlice`](super::ArenaSlice)).
    pub fn arena(&self) -> &'a Arena {
        self.arena
    }

    /// Whether allocations take the lock-free fast path: `false` on a thread
    /// without a lane, whose calls go to the locked fallback.
    pub fn has_lane(&self) -> bool {
        self.lane.is_some()
    }

    /// Allocates a block for `layout`, valid until the arena's reset.
    ///
    /// Cost on the fast path: bumpalo's bump (a subtraction, a mask, a
    /// compare) and two additions to the handle's own counts.
    ///
    /// # Errors
    ///
    /// As [`AllocStrategy::alloc`] on the arena.
    #[inline(always)]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        match &self.lane {
            Some(lane) => match lane.local.try_bump_uncounted(layout) {
                Some(ptr) => {
                    self.allocations.set(self.allocations.get() + 1);
                    self.bytes.set(self.bytes.get() + layout.size() as u64);
                    Ok(ptr)
                }
                None => self.arena.grow(lane.local, lane.shared, layout),
            },
            None => self.alloc_without_lane(layout),
        }
    }

    #[cold]
    #[inline(never)]
    fn alloc_without_lane(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        AllocStrategy::alloc(self.arena, layout)
    }

    /// Counts a free (arena memory comes back only at reset).
    ///
    /// # Safety
    ///
    /// As [`AllocStrategy::free`]: `ptr` came from this arena with `layout` and
    /// is not used after.
    #[inline(always)]
    pub unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        if self.lane.is_some() {
            self.frees.set(self.frees.get() + 1);
        } else {
            // SAFETY: the caller's promise, passed on.
            unsafe { AllocStrategy::free(self.arena, ptr, layout) }
        }
    }

    /// Folds the handle's counts into its lane's counters.
    fn flush(&self) {
        if let Some(lane) = &self.lane {
            lane.shared.add(self.allocations.take(), self.bytes.take());
            lane.shared.frees.add(self.frees.take());
        }
    }
}

impl Drop for ArenaLocal<'_> {
    fn drop(&mut self) {
        // The lane's counters have one writer, this thread: the handle is
        // `!Send`, and its pin keeps the lane id on this thread.
        self.flush();
    }
}

impl fmt::Debug for ArenaLocal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaLocal")
            .field("has_lane", &self.has_lane())
            .field("allocations", &self.allocations.get())
            .field("bytes", &self.bytes.get())
            .finish_non_exhaustive()
    }
}

impl api2::BlockSource for ArenaLocal<'_> {
    #[inline(always)]
    fn alloc_block(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        self.alloc(layout)
    }

    #[inline(always)]
    unsafe fn free_block(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller's promise is `free`'s contract.
        unsafe { self.free(ptr, layout) }
    }
}

// SAFETY: `allocate` and `deallocate` forward to the handle's `alloc` and
// `free` (zero sizes get a dangling pointer and are never passed on), whose
// blocks are the arena's (the `AllocStrategy` contract) and stay valid until a
// reset, which needs `&mut Arena` and so cannot happen while the handle
// (borrowing the arena for `'a`), and any collection holding `&handle`, is
// alive. `grow` returns either bumpalo's answer for this thread's lane (a
// block of `new_layout` with the old contents, from the same `Bump`) or a
// moved block, allocator_api2's default; `shrink` keeps the block, as for
// `&Arena` (`api2.rs`).
unsafe impl allocator_api2::alloc::Allocator for &ArenaLocal<'_> {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        api2::allocate(*self, layout)
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: `deallocate`'s contract, passed on.
        unsafe { api2::deallocate(*self, ptr, layout) }
    }

    /// In place when `ptr` is the lane's latest block, as for `&Arena`.
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let in_place = || {
            let lane = self.lane.as_ref()?;
            // SAFETY: allocator_api2's `grow` contract, passed on unchanged.
            unsafe {
                lane.local
                    .grow_block(ptr, old_layout, new_layout, lane.shared)
            }
        };
        // SAFETY: `grow`'s contract, passed on.
        unsafe { api2::grow_with(self, ptr, old_layout, new_layout, in_place) }
    }

    /// Keeps the block, as for `&Arena`: it needs no memory.
    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        // SAFETY: `shrink`'s contract, passed on.
        unsafe { api2::shrink_in_place(self, ptr, old_layout, new_layout) }
    }
}

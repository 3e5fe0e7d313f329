//! [`ArenaLocal`]: the calling thread's lane of an [`Arena`], taken once per
//! task or batch, allocating with no lookup at all.
//!
//! `&Arena` finds the calling thread's lane on every call (a thread-local
//! read) and bumps its shared counters. [`Arena::local`] finds it once; the
//! handle then bumps the lane's chunk directly and keeps its counts in
//! plain `Cell`s in the lane (shared by every handle on the thread), folded
//! into the lane's counters when a handle drops. In a bevy system:
//! `query.par_iter_mut().for_each_init(|| arena.local(), |local, item| ...)`.
//!
//! The handle is one pointer, to its lane (a `const` assertion below): bevy's
//! `for_each_init` passes it by value through its fold and back for every
//! item, and the fold's closure is not inlined, so a larger handle goes
//! through memory twice per item (at three pointers, 11 instructions an
//! item more than `&Arena` per item under callgrind,
//! `scripts/callgrind-par-iter.sh`); a pointer stays in a register. What the
//! slow paths and the drop need besides the lane (the arena, the lane's
//! counters) the lane keeps in its `home`, written by every
//! [`Arena::local`] on its thread.
//!
//! Why it is sound:
//! - **One thread.** The handle is `!Send` and `!Sync` (it holds a
//!   [`Pin`](crate::alloc::lanes::Pin)), so it is used and dropped on the
//!   thread whose lane it borrows. The pin keeps that thread's lane id from
//!   being released while the handle lives, even when the handle sits in a
//!   `thread_local!` dropped after the lane id's own guard, so no other
//!   thread can get the lane meanwhile (`lanes/pins.rs`).
//! - **The lane's `home`.** Every handle alive on a lane borrows the one
//!   arena the lane belongs to, which cannot move while borrowed, and reads
//!   the lane's counters, which sit beside the lane; so every
//!   [`Arena::local`] that writes `home` while handles live writes the
//!   values they already read, and a handle reads it only after its own
//!   `local` wrote it. Only the lane's thread reads or writes it (a `Cell`),
//!   as for the rest of the lane. A detached stand-in's is written once,
//!   when its one handle makes it.
//! - **Shared references only.** The handle holds `&ArenaLane`, never
//!   `&mut`; a chunk keeps its state in a `Cell`. Two handles on one
//!   thread (bevy's `for_each_init` may call `init` several times on a
//!   thread) and `&Arena` calls in between all go through `&`, one call at a
//!   time, since nothing here runs user code while a chunk call is under
//!   way.
//! - **No reset while alive.** The handle borrows the arena (`'a`), and
//!   `reset` needs `&mut Arena` (`tests/compile_fail/arena_local_after_reset.rs`).
//!   So blocks it hands out live for `'a`.
//! - **No lane.** A thread without a lane id (more than `MAX_LANES` threads,
//!   or one tearing down) gets a handle with a *detached* stand-in lane of
//!   its own (a `Box`), which holds no chunk and can take none: its bump
//!   fails for every non-zero size, so the fast path needs no branch for
//!   this case, and the slow path sends the call through `&Arena` to the
//!   locked fallback lane. Slower, never unsound. The stand-in's counts (zero
//!   sizes, frees) fold into the fallback's counters under its lock.
//!
//! Counting: [`Arena::stats`] does not see a live handle's allocations until
//! it (or another handle on its thread) drops; a reset folds what a leaked
//! handle left in a lane that took a chunk. Growth into a new chunk, and in-place growth through
//! `allocator_api2`, count straight into the lane's counters (slow paths).

use std::alloc::Layout;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::Arena;
use super::lane::{ArenaLane, LaneStats};
use crate::alloc::lanes::Pin;
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
    /// The thread's lane, valid for `'a`; or, on a thread without a lane
    /// id, a detached stand-in this handle owns (a `Box` made in
    /// [`Arena::local`], freed in `drop`), whose fast path always fails so
    /// that every call goes through `&Arena` instead. Never null, never
    /// reached mutably: only `&ArenaLane` is made from it. Its `home` names
    /// the arena and the counters where its pending counts fold on drop
    /// (for a detached stand-in, the fallback's, written only under its
    /// lock).
    lane: NonNull<ArenaLane>,
    /// Keeps the thread's lane id while the handle lives (`lanes/pins.rs`),
    /// and makes the handle `!Send` and `!Sync`.
    _pin: Pin,
    _arena: PhantomData<&'a Arena>,
}

// One pointer: bevy's `for_each_init` passes the handle through its fold for
// every item (it was 48 bytes with its counts inline, then three pointers).
const _: () = assert!(std::mem::size_of::<ArenaLocal<'static>>() == size_of::<usize>());

impl Arena {
    /// The calling thread's lane, for many allocations with no lookup: see
    /// [`ArenaLocal`]. Take one per task or batch (bevy's `for_each_init`).
    #[inline]
    pub fn local(&self) -> ArenaLocal<'_> {
        match self.lanes.local() {
            Some((lane, shared)) => {
                lane.set_home(self, shared);
                ArenaLocal {
                    lane: NonNull::from(lane),
                    _pin: Pin::new(),
                    _arena: PhantomData,
                }
            }
            None => self.local_without_lane(),
        }
    }

    /// [`local`](Self::local) on a thread without a lane id: a handle with a
    /// detached stand-in lane of its own (one small heap allocation).
    #[cold]
    #[inline(never)]
    fn local_without_lane(&self) -> ArenaLocal<'_> {
        let (guard, shared) = self.lanes.lock_fallback();
        drop(guard);
        let lane = Box::leak(Box::new(ArenaLane::detached()));
        lane.set_home(self, shared);
        ArenaLocal {
            lane: NonNull::from(lane),
            _pin: Pin::new(),
            _arena: PhantomData,
        }
    }
}

impl<'a> ArenaLocal<'a> {
    /// The arena this handle allocates from (to resolve an [`ArenaSlice`](super::ArenaSlice)).
    #[inline(always)]
    pub fn arena(&self) -> &'a Arena {
        // SAFETY: `home.arena` is the arena this handle borrows for `'a`
        // (the module docs, "The lane's `home`"): so it is valid, and only
        // shared, for `'a`.
        unsafe { &*self.lane().home().arena }
    }

    /// The counters where the lane's pending counts fold: the lane's, or
    /// for a detached stand-in the fallback's (write those only under its
    /// lock).
    #[inline(always)]
    fn shared(&self) -> &'a LaneStats {
        // SAFETY: `home.stats` points into the arena this handle borrows for
        // `'a` (the lane's counters, or the fallback's), as for `arena`;
        // `LaneStats` is only ever reached through `&`.
        unsafe { &*self.lane().home().stats }
    }

    /// The handle's lane (or its detached stand-in).
    #[inline(always)]
    fn lane(&self) -> &ArenaLane {
        // SAFETY: `lane` points to this thread's lane, valid for `'a` (the
        // arena is borrowed that long), or to the stand-in this handle owns
        // until `drop`; either way only shared references are made from it,
        // and only on this thread (the handle is `!Send`, and its pin keeps
        // the lane id here).
        unsafe { self.lane.as_ref() }
    }

    /// Whether allocations take the lock-free fast path: `false` on a thread
    /// without a lane, whose calls go to the locked fallback.
    pub fn has_lane(&self) -> bool {
        !self.lane().is_detached()
    }

    /// Allocates a block for `layout`, valid until the arena's reset.
    ///
    /// Cost on the fast path: the chunk's bump (the padding, two compares, a
    /// store) and one addition to the lane's pending counts; no branch for
    /// threads without a lane (their stand-in lane fails the bump).
    ///
    /// # Errors
    ///
    /// As [`AllocStrategy::alloc`] on the arena.
    #[inline(always)]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let lane = self.lane();
        match lane.try_bump_uncounted(layout) {
            Some(ptr) => {
                // Zero sizes succeed in the stand-in too (the empty chunk
                // hands out a dangling pointer): counted there, folded
                // under the fallback's lock on drop.
                lane.count_pending(layout.size());
                Ok(ptr)
            }
            None => match NonNull::new(Self::alloc_slow_or_null(lane, layout)) {
                Some(ptr) => Ok(ptr),
                None => Self::alloc_slow(lane, layout),
            },
        }
    }

    /// The lane's chunk is full, or this is a stand-in lane: the slow path,
    /// with a null pointer for any error (returned in a register; `alloc`
    /// then runs [`alloc_slow`](Self::alloc_slow) again for the error
    /// itself). Takes the lane alone, not `&self`, and reads the arena and
    /// the counters from the lane's `home` itself: the handle's address
    /// then never leaves the caller's frame, and the caller's loop keeps
    /// only the lane and the layout alive across the call (with the arena
    /// and the counters too, criterion's loop spilled more to the stack).
    #[cold]
    #[inline(never)]
    fn alloc_slow_or_null(lane: &ArenaLane, layout: Layout) -> *mut u8 {
        Self::alloc_slow(lane, layout).map_or(std::ptr::null_mut(), NonNull::as_ptr)
    }

    /// The slow path (see [`alloc_slow_or_null`](Self::alloc_slow_or_null)).
    /// Called only by [`alloc`](Self::alloc), on a live handle's lane.
    #[cold]
    #[inline(never)]
    fn alloc_slow(lane: &ArenaLane, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let home = lane.home();
        // SAFETY: `lane` is a live handle's (only `alloc` calls this), so
        // `home` was written by that handle's `local()` and points to the
        // arena the handle borrows and to its counters, both valid while
        // the handle lives (the module docs, "The lane's `home`"); only
        // shared references are made.
        let (arena, shared) = unsafe { (&*home.arena, &*home.stats) };
        if lane.is_detached() {
            AllocStrategy::alloc(arena, layout)
        } else {
            arena.grow(lane, shared, layout)
        }
    }

    /// Counts a free (arena memory comes back only at reset).
    ///
    /// # Safety
    ///
    /// As [`AllocStrategy::free`]: `ptr` came from this arena with `layout` and
    /// is not used after.
    #[inline(always)]
    pub unsafe fn free(&self, _ptr: NonNull<u8>, _layout: Layout) {
        self.lane().count_pending_free();
    }
}

impl Drop for ArenaLocal<'_> {
    // Inline, with the stand-in's case out of line: as for `alloc_slow`,
    // the handle's address stays in the caller's frame.
    #[inline]
    fn drop(&mut self) {
        let lane = self.lane();
        if lane.is_detached() {
            Self::drop_detached(self.arena(), self.lane);
        } else {
            // The lane's counters have one writer, this thread: the handle
            // is `!Send`, and its pin keeps the lane id on this thread.
            // Other handles on this thread share the pending counts; any of
            // them may fold them.
            lane.fold_pending(self.shared());
        }
    }
}

impl ArenaLocal<'_> {
    /// Drops a handle's detached stand-in lane `lane`, folding its counts
    /// into `arena`'s fallback.
    #[cold]
    #[inline(never)]
    fn drop_detached(arena: &Arena, lane: NonNull<ArenaLane>) {
        // SAFETY: `lane` is the handle's detached stand-in, valid until the
        // `Box::from_raw` below (see `lane()`); only shared references are
        // made from it, on this thread.
        let stand_in = unsafe { lane.as_ref() };
        // The fallback's counters have one writer at a time: the holder
        // of its lock.
        let (guard, shared) = arena.lanes.lock_fallback();
        stand_in.fold_pending(shared);
        drop(guard);
        // SAFETY: a detached lane is the `Box` the handle made in
        // `local_without_lane` and owns alone; `stand_in` is not used after
        // this line, and the handle (being dropped) is never used again.
        drop(unsafe { Box::from_raw(lane.as_ptr()) });
    }
}

impl fmt::Debug for ArenaLocal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (allocations, bytes) = self.lane().pending();
        f.debug_struct("ArenaLocal")
            .field("has_lane", &self.has_lane())
            .field("pending_allocations", &allocations)
            .field("pending_bytes", &bytes)
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
// alive. `grow` returns either the same block grown in place in this
// thread's lane's chunk (its old contents where they were, the new bytes
// after them, in the same chunk) or a moved block, allocator_api2's
// default; `shrink` keeps the block, as for `&Arena` (`api2.rs`).
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
            let lane = self.lane();
            if lane.is_detached() {
                // Its counters are the fallback's, written under its lock.
                return None;
            }
            // SAFETY: allocator_api2's `grow` contract, passed on unchanged.
            unsafe { lane.grow_block(ptr, old_layout, new_layout, self.shared()) }
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

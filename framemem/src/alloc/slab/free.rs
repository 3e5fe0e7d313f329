//! The free side of a [`Slab`]: how a free learns the block's class (the
//! chunk map, `chunk_map.rs`), the push onto the lane's magazine, the
//! hand-over of a full magazine's older half to the central list, and the
//! checks that catch misuse in every build (a pointer this slab did not
//! hand out, a layout its slot cannot hold).
//!
//! The fast path of every free (`AllocStrategy::free`, `SlabLocal::free`) is
//! [`Slab::home_slot_class`] and a push: the class from the layout, one
//! compare of the chunk map's home entry with the value it must have, and
//! the push. Everything else (a block shrunk in place into a smaller
//! class, a chunk that collided in the map, a large block, misuse) leaves
//! that path through one branch to [`Slab::free_other`], which finds the
//! real class or panics.

use std::alloc::Layout;
use std::ptr::NonNull;

use super::Slab;
use super::classes::{SIZE_CLASSES, class_of};
use super::magazine::SlabLane;
use super::stats::LaneStats;
use crate::alloc::api2 as rules;
#[cfg(feature = "asan")]
use crate::alloc::poison;

impl Slab {
    /// Pushes `ptr` onto the lane's magazine; hands half of it to the central
    /// list when it is full.
    ///
    /// # Safety
    ///
    /// `ptr` is a live slot of `class` from this slab (the `free` contract).
    #[inline(always)]
    pub(super) unsafe fn free_small(
        &self,
        lane: &SlabLane,
        stats: &LaneStats,
        class: usize,
        ptr: NonNull<u8>,
    ) {
        // SAFETY: the caller's promise, passed on.
        let pushed = unsafe { self.put_slot(lane, class, ptr) };
        stats.frees[class].add(1);
        if !pushed {
            self.hand_over(lane, class, ptr);
        }
    }

    /// [`free_small`](Self::free_small) without the counter and without the
    /// hand-over: `false` when the magazine is full, and the caller must
    /// [`hand_over`](Self::hand_over) `ptr` (after counting, as the shared
    /// path always did).
    ///
    /// # Safety
    ///
    /// As [`free_small`](Self::free_small).
    #[inline(always)]
    #[must_use]
    pub(super) unsafe fn put_slot(&self, lane: &SlabLane, class: usize, ptr: NonNull<u8>) -> bool {
        #[cfg(debug_assertions)]
        self.registry.debug_on_free(ptr.as_ptr(), class);
        #[cfg(feature = "asan")]
        // SAFETY: the slot is ours again and unused until handed out again
        // (which unpoisons it).
        unsafe {
            poison::poison(ptr.as_ptr(), SIZE_CLASSES[class])
        };
        lane.magazines[class].push_within_capacity(ptr)
    }

    /// The magazine is full (or was never used): move its older half to the
    /// central list, then push `ptr`.
    #[cold]
    #[inline(never)]
    pub(super) fn hand_over(&self, lane: &SlabLane, class: usize, ptr: NonNull<u8>) {
        let magazine = &lane.magazines[class];
        // The work below happens on the moved-out Vec; a magazine never used
        // comes out empty, with its array made (and the lane marked: it
        // holds slots now).
        if magazine.is_unused() {
            self.lanes.mark_current();
        }
        let mut slots = magazine.take_out(class);
        if slots.len() == slots.capacity() {
            let half = slots.len() / 2;
            self.central[class].put_from(class, &mut slots, half);
        }
        slots.push(ptr);
        magazine.put_back(slots);
        if cfg!(debug_assertions) {
            lane.check_class(class);
        }
    }

    /// `free` on a thread without a lane: the locked fallback lane.
    ///
    /// # Safety
    ///
    /// As [`free_small`](Self::free_small).
    #[cold]
    #[inline(never)]
    pub(super) unsafe fn free_without_lane(&self, class: usize, ptr: NonNull<u8>) {
        self.lanes.with_lane(|lane, stats| {
            // SAFETY: the caller's promise about `ptr`.
            unsafe { self.free_small(lane, stats, class, ptr) }
        });
    }

    /// The class of the slot `ptr` points to, when it is a slot of this
    /// slab that `layout` fits (no larger class, no more alignment than the
    /// slot's address has): the fast path of every free. The real class, not
    /// `layout`'s: a block shrunk in place is freed with a smaller layout.
    ///
    /// Cost: [`class_of`], the chunk map's lookup (a masked load and a
    /// compare, `chunk_map.rs`) and an alignment test. `None` sends the free
    /// to [`free_unclassed`](Self::free_unclassed), which panics on misuse.
    ///
    /// The common case (a slot of the layout's own class, its chunk at its
    /// home entry in the map) is one compare of the entry with the value it
    /// must have, and returns `class` itself, not the loaded tag: the lookup
    /// is then only a predicted branch, and the magazine the free pushes to
    /// does not wait for the load (returning the tag made an alloc and free
    /// of one slot in a loop, `pair_64B`, 5 ns slower). No alignment test
    /// there: the slots of the layout's class are aligned for it.
    #[inline(always)]
    pub(super) fn slot_class(&self, ptr: NonNull<u8>, layout: Layout) -> Option<usize> {
        let class = class_of(layout)?;
        if self.registry.in_chunk_of(ptr.addr().get(), class) {
            return Some(class);
        }
        self.other_slot_class(ptr, layout, class)
    }

    /// [`slot_class`](Self::slot_class)'s common case alone: `Some(class)`
    /// when `ptr` is a slot of `layout`'s own class, its chunk at its home
    /// entry in the map. `None` is not misuse yet: the caller's cold path
    /// asks `slot_class`, which sees the other cases, and
    /// `free_unclassed`, which panics on misuse. Apart, so that the fast
    /// path of a free is straight-line code with one branch out.
    #[inline(always)]
    pub(super) fn home_slot_class(&self, ptr: NonNull<u8>, layout: Layout) -> Option<usize> {
        let class = class_of(layout)?;
        self.registry
            .in_chunk_of(ptr.addr().get(), class)
            .then_some(class)
    }

    /// Every free the fast path did not take (see
    /// [`home_slot_class`](Self::home_slot_class)): a slot of another class
    /// than `layout`'s, or a chunk that collided in the map, goes to the
    /// lane as usual; the rest to
    /// [`free_unclassed`](Self::free_unclassed), which panics on misuse.
    ///
    /// # Safety
    ///
    /// As [`free_unclassed`](Self::free_unclassed).
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(super) unsafe fn free_other(&self, ptr: NonNull<u8>, layout: Layout) {
        match self.slot_class(ptr, layout) {
            Some(class) => self.lanes.with_lane(|lane, stats| {
                // SAFETY: the caller's promise: a live block of this slab,
                // which the chunk map says is a slot of `class`.
                unsafe { self.free_small(lane, stats, class, ptr) }
            }),
            // SAFETY: the caller's promise, passed on.
            None => unsafe { self.free_unclassed(ptr, layout) },
        }
    }

    /// [`slot_class`](Self::slot_class) off its fast path: a chunk that
    /// collided in the map, a slot of a larger class than the layout's (a
    /// block shrunk in place), or `None`.
    #[cold]
    #[inline(never)]
    pub(super) fn other_slot_class(
        &self,
        ptr: NonNull<u8>,
        layout: Layout,
        class: usize,
    ) -> Option<usize> {
        // The slot's class plus one, 0 for no chunk of ours.
        let tag = self.registry.chunk_tag(ptr.addr().get());
        (tag > class && rules::is_aligned_for(ptr, layout)).then(|| tag - 1)
    }

    /// Every free that is not a slot `layout` fits: zero sizes, large blocks
    /// (also those shrunk in place to a small size), and misuse, which
    /// panics in every build: a slot freed with a layout it cannot hold, a
    /// pointer this slab did not hand out.
    ///
    /// # Safety
    ///
    /// As [`AllocStrategy::free`], except that a foreign pointer or a wrong
    /// layout is caught (a panic) rather than undefined behaviour, when the
    /// pointer is a slot of a slab or was not a live block of this one.
    #[cold]
    #[inline(never)]
    #[track_caller]
    pub(super) unsafe fn free_unclassed(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            self.lanes
                .with_lane(|_, stats| stats.zero_size_frees.add(1));
            return;
        }
        let tag = self.registry.chunk_tag(ptr.addr().get());
        if tag != 0 {
            panic!(
                "Slab::free: {ptr:p} is a {} B slot, but the layout given ({layout:?}) does not \
                 fit it (wrong layout)",
                SIZE_CLASSES[tag - 1]
            );
        }
        // SAFETY: the caller's promise; it panics unless `ptr` is a live
        // large block of this slab that `layout` fits.
        unsafe { self.registry.free_large(ptr, layout) }
    }
}

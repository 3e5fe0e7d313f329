//! [`Slab`]: framemem's own size-class allocator.
//!
//! # Files
//!
//! - `mod.rs` (this file): [`Slab`], its allocation paths, its
//!   [`AllocStrategy`] impl and invariants;
//! - `free.rs`: the free paths: the class check, the push, the hand-over,
//!   and the misuse checks;
//! - `classes.rs`: the size classes and the chunk geometry;
//! - `magazine.rs`: a lane's magazines and carvings, the lane-side unsafe code;
//! - `central.rs`: the central list of free batches;
//! - `registry.rs`: chunks, large blocks and (debug builds) every slot's state;
//! - `handle.rs`: [`SlabSlice`], the `'static` epoch-checked handle;
//! - `local.rs`: [`SlabLocal`], the calling thread's lane taken once per
//!   batch ([`Slab::local`]), allocating with no lookup;
//! - `stats.rs`: [`ClassStats`], the per-lane counters, and the slab's
//!   figures read from them (in an order that keeps them coherent);
//! - `trim.rs`: [`Slab::trim`], empty chunks back to the system.
//!
//! # Invariants
//!
//! `Slab::check_invariants` checks every part's (each file's docs list
//! them) after every reset (debug builds) and in the tests, and in debug
//! builds that every slot on a free list (a magazine or a batch) is a free
//! slot of its class. The slow paths check what they touched: a refill or a
//! hand-over its lane's class, the central list, a new chunk the registry.

mod api2;
mod central;
mod chunk_map;
mod classes;
mod free;
mod handle;
mod local;
mod magazine;
mod registry;
mod stats;
#[cfg(test)]
mod tests;
mod trim;

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize;

pub use handle::SlabSlice;
pub use local::SlabLocal;
pub use stats::ClassStats;

use self::central::CentralList;
use self::classes::{NUM_CLASSES, class_of};
use self::magazine::{MAGAZINE_SLOTS, SlabLane};
use self::registry::Registry;
use self::stats::LaneStats;
use crate::alloc::lanes::Lanes;
#[cfg(feature = "asan")]
use crate::alloc::poison;
use crate::alloc::stamp::{Stamp, Stamps};
use crate::alloc::{AllocError, AllocStrategy, Stats, dangling};

/// framemem's own size-class allocator.
///
/// Use it for many small blocks of varied sizes that are freed one by one at
/// unpredictable times: per-entity payloads, nodes, messages.
///
/// # Glossary
///
/// - **class**: one slot size from [`SIZE_CLASSES`](Slab::SIZE_CLASSES) (16 B to 4 KiB, see
///   `classes.rs` for the rule and the waste bound).
/// - **chunk**: 64 KiB from the system, 4096-aligned, carved into slots of one
///   class while it is in use. Chunks are kept for reuse: a reset makes
///   them all spare, and [`Slab::trim`] gives back those none of whose slots
///   is in use (`trim.rs`).
/// - **slot**: one block of a class inside a chunk.
/// - **magazine**: per lane and per class, a stack of free slot *pointers*
///   (an array, as in tcmalloc's per-CPU caches, not a linked list through
///   the slots): popping does not wait for a load from the slot's memory, so
///   a burst of allocations is not a chain of cache misses, and free slots
///   hold no metadata a stray write could corrupt.
/// - **lane**: one thread's state (see `lanes.rs`): per class, a magazine and
///   the range of its current chunk not carved yet. Only the lane's thread
///   touches it, so there is no lock and no atomic read-modify-write.
/// - **central list**: per class, batches of free slots handed over by lanes
///   whose magazines filled up, behind a mutex, so memory freed on one thread
///   is reused by another.
///
/// # Costs
///
/// - alloc: a thread-local load, a table lookup, a pop from the magazine (a
///   length load and store, one pointer load), a counter store;
/// - free: the same with a push, and the check that the block is a slot of
///   this slab that its layout fits (`chunk_map.rs`: the table pointer and
///   mask, one entry load and one compare; about 12 instructions, +0.9 ns
///   per alloc and free in `frame_1000x64B` on the 2-core machine of the
///   README);
/// - magazine empty: carve up to 64 slots from the current chunk, else take a
///   batch from the central list, else a new chunk (the only `malloc`);
/// - magazine full: half of it goes to the central list.
///
/// Freeing on another thread is the same push, into the freeing thread's
/// magazine: slots of a class are interchangeable, so no per-slot owner is
/// needed.
///
/// Requests above 4 KiB, or aligned above 4 KiB, go to the system allocator
/// and are counted in [`Stats::large_allocations`].
///
/// Every build panics with a clear message on a pointer the slab did not
/// hand out (a slot of another slab, a block of the system allocator) or a
/// layout its slot or large block cannot hold (`chunk_map.rs`). Debug builds
/// also record every slot's state and catch a double free.
///
/// ```
/// use framemem::TypedAlloc;
/// use framemem::{AllocStrategy, Slab};
/// use std::alloc::Layout;
///
/// let slab = Slab::new();
/// let layout = Layout::from_size_align(40, 8).unwrap(); // served by the 48 B class
/// let ptr = slab.alloc(layout).unwrap();
/// // SAFETY: `ptr` came from this slab with `layout` and is freed once.
/// unsafe { slab.free(ptr, layout) };
///
/// // Handles carry no lifetime, for ECS components:
/// let mut trail = slab.handle_slice_copy(&[1.0f32; 8]);
/// slab.get_mut(&mut trail)[0] = 2.0;
/// assert_eq!(slab.get(&trail)[..2], [2.0, 1.0]);
/// slab.free_slice(trail);
/// ```
pub struct Slab {
    /// Per thread, a magazine and a carving per class, and the fallback lane
    /// for threads without a lane id. Boxed: 64 lanes of 28 classes are
    /// about 90 KiB.
    lanes: Box<Lanes<SlabLane, LaneStats>>,
    /// Per class, free batches handed over by lanes.
    central: [CentralList; NUM_CLASSES],
    /// Chunks, large allocations and (debug builds) every slot's state.
    registry: Registry,
    /// Unique per slab and per reset; recorded in every [`SlabSlice`].
    stamp: Stamp,
    /// Where the next reset's stamp comes from.
    stamps: Stamps,
    /// Per class, slots released by resets (so that `allocs - frees -
    /// reclaimed` is what is in use).
    reclaimed: [u64; NUM_CLASSES],
    /// The largest `bytes_in_use` seen at a sample point (new chunk, stats,
    /// reset).
    peak_sampled: AtomicUsize,
    resets: u64,
}

impl Slab {
    /// An empty slab. It holds no memory until the first allocation.
    pub fn new() -> Self {
        let mut stamps = Stamps::new();
        Self {
            lanes: Box::new(Lanes::new(SlabLane::new, SlabLane::new())),
            central: std::array::from_fn(|_| CentralList::new()),
            registry: Registry::default(),
            stamp: stamps.next(),
            stamps,
            reclaimed: [0; NUM_CLASSES],
            peak_sampled: AtomicUsize::new(0),
            resets: 0,
        }
    }

    /// Folds the counts every lane's handles have not folded yet (a leaked
    /// handle's), with exclusive access: before a reset or a trim reads the
    /// counters.
    fn fold_pending(&mut self) {
        for (lane, stats) in self.lanes.all_mut() {
            lane.fold_pending(stats);
        }
    }

    /// Every slot back to the free state at once ([`AllocStrategy::reset`]):
    /// the chunks stay, and every [`SlabSlice`] made before no longer
    /// resolves. Inherent, so it needs no `use framemem::AllocStrategy`.
    pub fn reset(&mut self) {
        self.fold_pending();
        self.sample_peak();
        let in_use = self.class_stats();
        for (class, s) in in_use.iter().enumerate() {
            self.reclaimed[class] += s.slots_in_use;
        }
        for (lane, _) in self.lanes.all_mut() {
            lane.clear();
        }
        for central in &mut self.central {
            central.clear();
        }
        self.registry.reset();
        self.stamp = self.stamps.next();
        self.resets += 1;
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
    }

    /// Pops a slot of `class` from the lane's magazine, refilling it when
    /// empty.
    #[inline(always)]
    fn alloc_small(
        &self,
        lane: &SlabLane,
        stats: &LaneStats,
        class: usize,
    ) -> Result<NonNull<u8>, AllocError> {
        let slot = self.take_slot(lane, class)?;
        stats.allocs[class].add(1);
        Ok(slot)
    }

    /// [`alloc_small`](Self::alloc_small) without the counter: the caller
    /// counts (a per-thread handle keeps its own counts until it drops).
    #[inline(always)]
    fn take_slot(&self, lane: &SlabLane, class: usize) -> Result<NonNull<u8>, AllocError> {
        let slot = match lane.magazines[class].pop() {
            Some(slot) => slot,
            None => self.refill(lane, class)?,
        };
        #[cfg(feature = "asan")]
        // SAFETY: `slot` is a whole slot of this class inside one of our chunks.
        unsafe {
            poison::unpoison(slot.as_ptr(), classes::SIZE_CLASSES[class])
        };
        #[cfg(debug_assertions)]
        self.registry.debug_on_alloc(slot.as_ptr(), class);
        Ok(slot)
    }

    /// The magazine of `class` is empty: carve, take a batch, or get a new
    /// chunk, and return one slot.
    #[cold]
    #[inline(never)]
    fn refill(&self, lane: &SlabLane, class: usize) -> Result<NonNull<u8>, AllocError> {
        // The lane is about to hold slots: a reclaim must look at it once its
        // thread has exited.
        self.lanes.mark_current();
        let carving = &lane.carvings[class];
        // The work below (which may allocate) happens on the moved-out Vec.
        let mut magazine = lane.magazines[class].take_out(class);
        let result = loop {
            if carving.carve(class, &mut magazine) {
                break Ok(());
            }
            if self.central[class].take_into(class, &mut magazine) {
                break Ok(());
            }
            // Before a new chunk: the free slots of exited threads' lanes.
            if self.reclaim_dead_lanes() > 0 {
                continue;
            }
            match self.registry.acquire_chunk(class) {
                Ok(chunk) => {
                    carving.start(chunk, class);
                    self.sample_peak();
                }
                Err(e) => break Err(e),
            }
        };
        let slot = magazine.pop();
        lane.magazines[class].put_back(magazine);
        if cfg!(debug_assertions) {
            lane.check_class(class);
        }
        result.map(|()| slot.expect("a refill adds at least one slot"))
    }

    /// Moves the free slots of exited threads' lanes (their magazines and
    /// what their carvings had left) to the central lists, where any lane
    /// finds them. Returns how many lanes it emptied. A slow path: before a
    /// new chunk.
    #[cold]
    #[inline(never)]
    fn reclaim_dead_lanes(&self) -> usize {
        self.lanes.reclaim_dead(|lane, _| {
            for (class, (magazine, carving)) in
                lane.magazines.iter().zip(&lane.carvings).enumerate()
            {
                let mut slots = magazine.take_all();
                carving.carve_all(class, &mut slots);
                // Batches of at most half a magazine (the central list's
                // invariant), so each fits an empty magazine.
                while !slots.is_empty() {
                    let n = slots.len().min(MAGAZINE_SLOTS[class] / 2);
                    self.central[class].put_from(class, &mut slots, n);
                }
            }
            if cfg!(debug_assertions) {
                lane.check_invariants();
            }
        })
    }

    /// `alloc` on a thread without a lane: the locked fallback lane.
    #[cold]
    #[inline(never)]
    fn alloc_without_lane(&self, class: usize) -> Result<NonNull<u8>, AllocError> {
        self.lanes
            .with_lane(|lane, stats| self.alloc_small(lane, stats, class))
    }

    /// Zero sizes (a dangling pointer) and large requests (the system).
    #[cold]
    #[inline(never)]
    fn alloc_unclassed(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if layout.size() == 0 {
            self.lanes
                .with_lane(|_, stats| stats.zero_size_allocs.add(1));
            Ok(dangling(layout))
        } else {
            self.registry.alloc_large(layout)
        }
    }

    /// The slab's invariants (see the [module docs](self)); panics naming
    /// the values when one is broken.
    pub(crate) fn check_invariants(&mut self) {
        for (lane, _) in self.lanes.all_mut() {
            lane.check_invariants();
            #[cfg(debug_assertions)]
            for (class, magazine) in lane.magazines.iter_mut().enumerate() {
                for &slot in magazine.slots_mut() {
                    self.registry.debug_check_free(slot, class);
                }
            }
        }
        for (class, central) in self.central.iter_mut().enumerate() {
            central.check_invariants(class);
            #[cfg(debug_assertions)]
            for slot in central.slots_mut() {
                self.registry.debug_check_free(slot, class);
            }
        }
        self.registry.check_invariants();
    }
}

impl Default for Slab {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY:
// - small blocks are whole slots of a class at least as large as the request
//   and aligned as it requires (`classes.rs`); a slot is on at most one free
//   list or handed out once, so live blocks never overlap;
// - large blocks and zero sizes come from the global allocator and `dangling`;
// - slots stay valid until freed, reset (`&mut self`) or drop: chunks are only
//   returned to the system in `Drop` and in `trim` (`&mut self`, and only
//   chunks none of whose slots is handed out).
unsafe impl AllocStrategy for Slab {
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let Some(class) = class_of(layout) else {
            return self.alloc_unclassed(layout);
        };
        // `local`, not `with_lane`: a closure for the fallback would be
        // built on the stack on every call.
        match self.lanes.local() {
            Some((lane, stats)) => self.alloc_small(lane, stats, class),
            None => self.alloc_without_lane(class),
        }
    }

    #[inline(always)]
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        let Some(class) = self.home_slot_class(ptr, layout) else {
            // SAFETY: the caller's promise about `ptr` and `layout`.
            return unsafe { self.free_other(ptr, layout) };
        };
        match self.lanes.local() {
            // SAFETY: the caller's promise about `ptr`.
            Some((lane, stats)) => unsafe { self.free_small(lane, stats, class, ptr) },
            // SAFETY: the caller's promise about `ptr`.
            None => unsafe { self.free_without_lane(class, ptr) },
        }
    }

    fn reset(&mut self) {
        Slab::reset(self);
    }

    fn stats(&self) -> Stats {
        Slab::stats(self)
    }
}

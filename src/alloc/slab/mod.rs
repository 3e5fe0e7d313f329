//! [`Slab`]: framemem's own size-class allocator.
//!
//! Use it for many small blocks of varied sizes that are freed one by one at
//! unpredictable times: per-entity payloads, nodes, messages.
//!
//! # Glossary
//!
//! - **class**: one slot size from [`SIZE_CLASSES`] (16 B to 4 KiB, see
//!   `classes.rs` for the rule and the waste bound).
//! - **chunk**: 64 KiB from the system, 4096-aligned, carved into slots of one
//!   class while it is in use. Chunks are kept until the slab is dropped; a
//!   reset makes them all spare.
//! - **slot**: one block of a class inside a chunk.
//! - **magazine**: per lane and per class, a stack of free slot *pointers*
//!   (an array, as in tcmalloc's per-CPU caches, not a linked list through
//!   the slots): popping does not wait for a load from the slot's memory, so
//!   a burst of allocations is not a chain of cache misses, and free slots
//!   hold no metadata a stray write could corrupt.
//! - **lane**: one thread's state (see `lanes.rs`): per class, a magazine and
//!   the range of its current chunk not carved yet. Only the lane's thread
//!   touches it, so there is no lock and no atomic read-modify-write.
//! - **central list**: per class, batches of free slots handed over by lanes
//!   whose magazines filled up, behind a mutex, so memory freed on one thread
//!   is reused by another.
//!
//! # Costs
//!
//! - alloc: a thread-local load, a table lookup, a pop from the magazine (a
//!   length load and store, one pointer load), a counter store;
//! - free: the same with a push;
//! - magazine empty: carve up to 64 slots from the current chunk, else take a
//!   batch from the central list, else a new chunk (the only `malloc`);
//! - magazine full: half of it goes to the central list.
//!
//! Freeing on another thread is the same push, into the freeing thread's
//! magazine: slots of a class are interchangeable, so no per-slot owner is
//! needed.
//!
//! Requests above 4 KiB, or aligned above 4 KiB, go to the system allocator
//! and are counted in [`Stats::large_allocations`].
//!
//! Debug builds record every slot's state and panic with a clear message on a
//! double free, a pointer the slab did not hand out, or a layout of another
//! class.

mod classes;
mod handle;
mod registry;

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

pub use classes::SIZE_CLASSES;
pub use handle::SlabSlice;

use self::classes::{NUM_CLASSES, class_of};
use self::registry::Registry;
use super::lanes::{LaneCounter, Lanes};
#[cfg(feature = "asan")]
use super::poison;
use super::{AllocError, Allocator, Stats, dangling};

/// Bytes per chunk: 16 slots of the largest class, 4096 of the smallest.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunk alignment: slots inherit it up to the largest power of two dividing
/// their class, which is how alignments up to 4 KiB are honoured.
const CHUNK_ALIGN: usize = 4096;
/// Slots carved into an empty magazine at once: enough to amortise the call,
/// few enough not to touch much memory ahead of use.
const CARVE_BATCH: usize = 64;
/// Free bytes a magazine may hold, per class and lane.
const MAGAZINE_BYTES: usize = 256 * 1024;
/// Magazine capacity per class: [`MAGAZINE_BYTES`] of slots, between 64 and
/// 2048 pointers (at most 16 KiB of array). Precomputed: a division on every
/// free would cost more than the rest of the free.
const MAGAZINE_SLOTS: [usize; NUM_CLASSES] = {
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

const _: () = assert!(CHUNK_BYTES.is_multiple_of(CHUNK_ALIGN));
const _: () = assert!(CARVE_BATCH <= MAGAZINE_SLOTS[NUM_CLASSES - 1]);

/// Source of slab stamps for [`SlabSlice`]: one per slab and per reset.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// One class in one lane.
struct ClassLane {
    /// Free slots of this class: each belongs to a chunk of this slab carved
    /// for this class, is free, and is in no other magazine or batch. Its
    /// capacity is fixed at `MAGAZINE_SLOTS[class]` on first use and never
    /// exceeded, so pushes never reallocate. Borrowed only in `magazine`.
    magazine: UnsafeCell<Vec<NonNull<u8>>>,
}

/// The part of the lane's current chunk of one class not carved yet. Apart
/// from [`ClassLane`], which the fast path touches, to keep that one small.
struct Carving {
    /// Next uncarved slot; null when there is no chunk.
    next: Cell<*mut u8>,
    /// End of the carvable part (a whole number of slots).
    end: Cell<*mut u8>,
}

impl ClassLane {
    fn new() -> Self {
        Self {
            magazine: UnsafeCell::new(Vec::new()),
        }
    }

    /// Runs `f` on the magazine.
    ///
    /// # Safety
    ///
    /// - the lane is the calling thread's own (from `Lanes::local`), or the
    ///   fallback lane under its lock;
    /// - `f` does not reach this slab again (no allocation through it, no
    ///   user code), so no second borrow of the magazine starts meanwhile.
    #[inline(always)]
    unsafe fn magazine<R>(&self, f: impl FnOnce(&mut Vec<NonNull<u8>>) -> R) -> R {
        // SAFETY: the caller's promises make this the only borrow.
        f(unsafe { &mut *self.magazine.get() })
    }
}

struct SlabLane {
    classes: [ClassLane; NUM_CLASSES],
    carving: [Carving; NUM_CLASSES],
}

// SAFETY: the raw pointers point into chunks owned by the `Slab`, not into
// anything tied to a thread; `Lanes` moves a lane to a new thread only after
// the old one has released it (see `lanes.rs`).
unsafe impl Send for SlabLane {}

impl SlabLane {
    fn new() -> Self {
        Self {
            classes: std::array::from_fn(|_| ClassLane::new()),
            carving: std::array::from_fn(|_| Carving {
                next: Cell::new(ptr::null_mut()),
                end: Cell::new(ptr::null_mut()),
            }),
        }
    }
}

/// A lane's counters, readable from any thread.
#[derive(Default)]
struct LaneStats {
    allocs: [LaneCounter; NUM_CLASSES],
    frees: [LaneCounter; NUM_CLASSES],
    zero_size_allocs: LaneCounter,
    zero_size_frees: LaneCounter,
}

/// Free slots of one class handed over by lanes.
struct Central {
    lists: Mutex<CentralLists>,
    /// `lists.full.len()`, readable without the lock.
    full: AtomicUsize,
}

#[derive(Default)]
struct CentralLists {
    /// Batches of free slots.
    full: Vec<Batch>,
    /// Emptied batches, kept for the next hand-over: a steady flow of slots
    /// from one thread to another then allocates nothing.
    empty: Vec<Batch>,
}

/// Free slots of one class, moved from a magazine to the central list.
struct Batch(Vec<NonNull<u8>>);

// SAFETY: a batch holds pointers to free slots in chunks owned by the slab; it
// is moved between threads only through the `Central` mutex.
unsafe impl Send for Batch {}

/// Per-class counters, from [`Slab::class_stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClassStats {
    /// The class's slot size in bytes.
    pub slot_bytes: usize,
    /// Slots handed out, ever.
    pub allocations: u64,
    /// Slots freed one by one, ever.
    pub frees: u64,
    /// Slots handed out and not freed or released by a reset.
    pub slots_in_use: u64,
}

/// The size-class allocator. See the [module docs](self).
///
/// ```
/// use framemem::{Allocator, Slab};
/// use std::alloc::Layout;
///
/// let slab = Slab::new();
/// let layout = Layout::from_size_align(40, 8).unwrap(); // served by the 48 B class
/// let ptr = slab.alloc(layout).unwrap();
/// // SAFETY: `ptr` came from this slab with `layout` and is freed once.
/// unsafe { slab.free(ptr, layout) };
///
/// // Handles carry no lifetime, for ECS components:
/// let mut trail = slab.alloc_slice_copy(&[1.0f32; 8]);
/// slab.get_mut(&mut trail)[0] = 2.0;
/// assert_eq!(slab.get(&trail)[..2], [2.0, 1.0]);
/// slab.free_slice(trail);
/// ```
pub struct Slab {
    /// Boxed: 64 lanes of 28 classes are about 90 KiB.
    lanes: Box<Lanes<SlabLane, LaneStats>>,
    /// For threads without a lane id.
    fallback: Mutex<SlabLane>,
    fallback_stats: LaneStats,
    central: [Central; NUM_CLASSES],
    /// Chunks, large allocations and (debug builds) every slot's state.
    registry: Registry,
    /// Unique per slab and per reset; recorded in every [`SlabSlice`].
    stamp: u64,
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
        Self {
            lanes: Box::new(Lanes::new(|| (SlabLane::new(), LaneStats::default()))),
            fallback: Mutex::new(SlabLane::new()),
            fallback_stats: LaneStats::default(),
            central: std::array::from_fn(|_| Central {
                lists: Mutex::new(CentralLists::default()),
                full: AtomicUsize::new(0),
            }),
            registry: Registry::default(),
            stamp: NEXT_STAMP.fetch_add(1, Ordering::Relaxed),
            reclaimed: [0; NUM_CLASSES],
            peak_sampled: AtomicUsize::new(0),
            resets: 0,
        }
    }

    /// Counters per size class.
    pub fn class_stats(&self) -> [ClassStats; NUM_CLASSES] {
        std::array::from_fn(|class| {
            let mut s = ClassStats {
                slot_bytes: SIZE_CLASSES[class],
                ..ClassStats::default()
            };
            for lane in self.all_stats() {
                s.allocations += lane.allocs[class].get();
                s.frees += lane.frees[class].get();
            }
            s.slots_in_use = s
                .allocations
                .saturating_sub(s.frees + self.reclaimed[class]);
            s
        })
    }

    fn all_stats(&self) -> impl Iterator<Item = &LaneStats> {
        self.lanes
            .shared()
            .chain(std::iter::once(&self.fallback_stats))
    }

    /// Slot bytes of live small blocks plus requested bytes of live large
    /// ones. Slot bytes, not requested bytes: counting the requested size
    /// would cost a counter update on every call, and the slot is what the
    /// block really occupies.
    fn bytes_in_use(&self) -> usize {
        let small: u64 = self
            .class_stats()
            .iter()
            .map(|c| c.slots_in_use * c.slot_bytes as u64)
            .sum();
        small as usize + self.registry.large_bytes_in_use()
    }

    fn sample_peak(&self) {
        self.peak_sampled
            .fetch_max(self.bytes_in_use(), Ordering::Relaxed);
    }

    #[inline(always)]
    fn alloc_small(
        &self,
        lane: &SlabLane,
        stats: &LaneStats,
        class: usize,
    ) -> Result<NonNull<u8>, AllocError> {
        let cl = &lane.classes[class];
        // SAFETY: our lane (callers' promise); `pop` does not reach the slab.
        let slot = match unsafe { cl.magazine(Vec::pop) } {
            Some(slot) => slot,
            None => self.refill(cl, &lane.carving[class], class)?,
        };
        #[cfg(feature = "asan")]
        // SAFETY: `slot` is a whole slot of this class inside one of our chunks.
        unsafe {
            poison::unpoison(slot.as_ptr(), SIZE_CLASSES[class])
        };
        #[cfg(debug_assertions)]
        self.registry.debug_on_alloc(slot.as_ptr(), class);
        stats.allocs[class].add(1);
        Ok(slot)
    }

    /// The magazine of `class` is empty: carve, take a batch, or get a new
    /// chunk, and return one slot.
    #[cold]
    #[inline(never)]
    fn refill(
        &self,
        cl: &ClassLane,
        carving: &Carving,
        class: usize,
    ) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: our lane; taking the Vec out does not reach the slab. The
        // work below (which may allocate) happens on the moved-out Vec.
        let mut magazine = unsafe { cl.magazine(std::mem::take) };
        if magazine.capacity() == 0 {
            magazine.reserve_exact(MAGAZINE_SLOTS[class]);
        }
        let result = loop {
            if carve(carving, class, &mut magazine) {
                break Ok(());
            }
            if self.central[class].take_into(&mut magazine) {
                break Ok(());
            }
            match self.registry.acquire_chunk(class) {
                Ok(chunk) => {
                    let size = SIZE_CLASSES[class];
                    carving.next.set(chunk.as_ptr());
                    // SAFETY: `(CHUNK_BYTES / size) * size <= CHUNK_BYTES`, so
                    // the end stays inside the chunk's allocation.
                    carving
                        .end
                        .set(unsafe { chunk.as_ptr().add(CHUNK_BYTES / size * size) });
                    self.sample_peak();
                }
                Err(e) => break Err(e),
            }
        };
        let slot = magazine.pop();
        // SAFETY: our lane; putting the Vec back does not reach the slab (the
        // empty Vec it replaces owns no memory).
        unsafe { cl.magazine(|m| *m = magazine) };
        result.map(|()| slot.expect("a refill adds at least one slot"))
    }

    /// Pushes `ptr` onto the lane's magazine; hands half of it to the central
    /// list when it is full.
    ///
    /// # Safety
    ///
    /// - `ptr` is a live slot of `class` from this slab (the `free` contract);
    /// - `lane` is the calling thread's lane, or the fallback lane under its
    ///   lock.
    #[inline(always)]
    unsafe fn free_small(
        &self,
        lane: &SlabLane,
        stats: &LaneStats,
        class: usize,
        ptr: NonNull<u8>,
    ) {
        #[cfg(debug_assertions)]
        self.registry.debug_on_free(ptr.as_ptr(), class);
        #[cfg(feature = "asan")]
        // SAFETY: the slot is ours again and unused until handed out again
        // (which unpoisons it).
        unsafe {
            poison::poison(ptr.as_ptr(), SIZE_CLASSES[class])
        };
        let cl = &lane.classes[class];
        // SAFETY: our lane (the caller's promise); a push within capacity
        // never allocates.
        let pushed = unsafe {
            cl.magazine(|m| {
                if m.len() < m.capacity() {
                    m.push(ptr);
                    true
                } else {
                    false
                }
            })
        };
        stats.frees[class].add(1);
        if !pushed {
            self.hand_over(cl, class, ptr);
        }
    }

    /// The magazine is full (or was never used): move its older half to the
    /// central list, then push `ptr`.
    #[cold]
    #[inline(never)]
    fn hand_over(&self, cl: &ClassLane, class: usize, ptr: NonNull<u8>) {
        // SAFETY: our lane; the work below happens on the moved-out Vec.
        let mut magazine = unsafe { cl.magazine(std::mem::take) };
        if magazine.capacity() == 0 {
            magazine.reserve_exact(MAGAZINE_SLOTS[class]);
        } else {
            let half = magazine.len() / 2;
            self.central[class].put_from(&mut magazine, half);
        }
        magazine.push(ptr);
        // SAFETY: our lane; see `refill`.
        unsafe { cl.magazine(|m| *m = magazine) };
    }

    #[cold]
    #[inline(never)]
    fn alloc_fallback(&self, class: usize) -> Result<NonNull<u8>, AllocError> {
        let lane = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
        self.alloc_small(&lane, &self.fallback_stats, class)
    }

    /// # Safety
    ///
    /// As [`Slab::free_small`], minus the lane requirement.
    #[cold]
    #[inline(never)]
    unsafe fn free_fallback(&self, class: usize, ptr: NonNull<u8>) {
        let lane = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
        // SAFETY: the caller's promise about `ptr`; the fallback lane is used
        // under its lock.
        unsafe { self.free_small(&lane, &self.fallback_stats, class, ptr) }
    }

    /// Zero sizes (a dangling pointer) and large requests (the system).
    #[cold]
    #[inline(never)]
    fn alloc_unclassed(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if layout.size() == 0 {
            self.count_zero_size(false);
            Ok(dangling(layout))
        } else {
            self.registry.alloc_large(layout)
        }
    }

    /// # Safety
    ///
    /// `ptr` came from [`alloc_unclassed`](Self::alloc_unclassed) with
    /// `layout` and is not used after.
    #[cold]
    #[inline(never)]
    unsafe fn free_unclassed(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            self.count_zero_size(true);
        } else {
            // SAFETY: the caller's promise; non-zero sizes went to the system.
            unsafe { self.registry.free_large(ptr, layout) }
        }
    }

    fn count_zero_size(&self, free: bool) {
        let count = |stats: &LaneStats| {
            if free {
                stats.zero_size_frees.add(1)
            } else {
                stats.zero_size_allocs.add(1)
            }
        };
        match self.lanes.local() {
            Some((_, stats)) => count(stats),
            None => {
                let _lane = self.fallback.lock().unwrap_or_else(PoisonError::into_inner);
                count(&self.fallback_stats);
            }
        }
    }
}

/// Carves up to [`CARVE_BATCH`] slots from the lane's current chunk into
/// `magazine`; `false` when the chunk is used up (or there is none).
fn carve(carving: &Carving, class: usize, magazine: &mut Vec<NonNull<u8>>) -> bool {
    let start = carving.next.get();
    let end = carving.end.get();
    if start == end {
        return false;
    }
    let size = SIZE_CLASSES[class];
    let n = ((end.addr() - start.addr()) / size).min(CARVE_BATCH);
    // Highest address first, so that pops hand out ascending addresses.
    for i in (0..n).rev() {
        // SAFETY: `i < n` slots past `start` stays within the carvable range
        // of one chunk, which is never null.
        magazine.push(unsafe { NonNull::new_unchecked(start.add(i * size)) });
    }
    // SAFETY: `n` slots past `start` is at most `end`, in the same chunk.
    carving.next.set(unsafe { start.add(n * size) });
    true
}

impl Central {
    fn lock(&self) -> std::sync::MutexGuard<'_, CentralLists> {
        self.lists.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the `n` oldest slots of `magazine` into a batch.
    fn put_from(&self, magazine: &mut Vec<NonNull<u8>>, n: usize) {
        let mut lists = self.lock();
        let mut batch = lists
            .empty
            .pop()
            .unwrap_or_else(|| Batch(Vec::with_capacity(n)));
        batch.0.extend(magazine.drain(..n));
        lists.full.push(batch);
        self.full.store(lists.full.len(), Ordering::Relaxed);
    }

    /// Moves one batch into `magazine` (which has room for it: it is empty
    /// and batches are at most half a magazine). `false` if there is none.
    fn take_into(&self, magazine: &mut Vec<NonNull<u8>>) -> bool {
        // Skip the lock when it is plainly empty (a stale read only delays
        // reuse until the next refill).
        if self.full.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let mut lists = self.lock();
        let Some(mut batch) = lists.full.pop() else {
            return false;
        };
        self.full.store(lists.full.len(), Ordering::Relaxed);
        magazine.extend_from_slice(&batch.0);
        batch.0.clear();
        lists.empty.push(batch);
        true
    }

    /// Forgets every batch (a reset), keeping the emptied ones for reuse.
    fn clear(&mut self) {
        let lists = self.lists.get_mut().unwrap_or_else(PoisonError::into_inner);
        for mut batch in lists.full.drain(..) {
            batch.0.clear();
            lists.empty.push(batch);
        }
        *self.full.get_mut() = 0;
    }
}

impl Default for Slab {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Slab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slab")
            .field("stamp", &self.stamp)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY:
// - small blocks are whole slots of a class at least as large as the request
//   and aligned as it requires (`classes.rs`); a slot is on at most one free
//   list or handed out once, so live blocks never overlap;
// - large blocks and zero sizes come from the global allocator and `dangling`;
// - slots stay valid until freed, reset (`&mut self`) or drop: chunks are only
//   returned to the system in `Drop`.
unsafe impl Allocator for Slab {
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let Some(class) = class_of(layout) else {
            return self.alloc_unclassed(layout);
        };
        match self.lanes.local() {
            Some((lane, stats)) => self.alloc_small(lane, stats, class),
            None => self.alloc_fallback(class),
        }
    }

    #[inline(always)]
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's promise: `ptr` came from `alloc(layout)`,
            // which sent this layout to `alloc_unclassed`.
            return unsafe { self.free_unclassed(ptr, layout) };
        };
        match self.lanes.local() {
            // SAFETY: the caller's promise about `ptr`, and `lane` is this
            // thread's own lane.
            Some((lane, stats)) => unsafe { self.free_small(lane, stats, class, ptr) },
            // SAFETY: the caller's promise about `ptr`.
            None => unsafe { self.free_fallback(class, ptr) },
        }
    }

    fn reset(&mut self) {
        self.sample_peak();
        let in_use = self.class_stats();
        for (class, s) in in_use.iter().enumerate() {
            self.reclaimed[class] += s.slots_in_use;
        }
        let fallback = self
            .fallback
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let lanes = self
            .lanes
            .iter_mut()
            .chain(std::iter::once((fallback, &mut self.fallback_stats)));
        for (lane, _) in lanes {
            for cl in &mut lane.classes {
                cl.magazine.get_mut().clear(); // keeps the array for reuse
            }
            for carving in &mut lane.carving {
                *carving.next.get_mut() = ptr::null_mut();
                *carving.end.get_mut() = ptr::null_mut();
            }
        }
        for central in &mut self.central {
            central.clear();
        }
        self.registry.reset();
        self.stamp = NEXT_STAMP.fetch_add(1, Ordering::Relaxed);
        self.resets += 1;
    }

    fn stats(&self) -> Stats {
        self.sample_peak();
        let mut s = Stats {
            resets: self.resets,
            ..Stats::default()
        };
        for lane in self.all_stats() {
            s.allocations += lane.zero_size_allocs.get();
            s.frees += lane.zero_size_frees.get();
            for class in 0..NUM_CLASSES {
                s.allocations += lane.allocs[class].get();
                s.frees += lane.frees[class].get();
            }
        }
        let large = self.registry.large_counts();
        s.allocations += large.allocations;
        s.frees += large.frees;
        s.large_allocations = large.allocations;
        s.bytes_in_use = self.bytes_in_use();
        s.peak_bytes_in_use = self
            .peak_sampled
            .load(Ordering::Relaxed)
            .max(s.bytes_in_use);
        s.bytes_reserved = self.registry.bytes_reserved();
        s
    }
}

crate::alloc::forward_allocator_api2!(Slab);

#[cfg(test)]
mod tests;

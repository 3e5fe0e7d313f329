//! [`Slab`]: framealloc's own size-class allocator.
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
//! - **slot**: one block of a class inside a chunk. A free slot's first word
//!   links it into a free list.
//! - **lane**: one thread's state (see `lanes.rs`): per class, a free list and
//!   the range of its current chunk not carved yet. Only the lane's thread
//!   touches it, so there is no lock and no atomic read-modify-write.
//! - **central list**: per class, batches of free slots handed over by lanes
//!   whose free lists grew too long, behind a mutex, so memory freed on one
//!   thread is reused by another.
//!
//! # Costs
//!
//! - alloc: thread-local load, table lookup, pop from the lane's free list
//!   (two loads, two stores), two counter stores;
//! - free: table lookup, push (three stores), a length test, two counter
//!   stores;
//! - when the free list is empty: carve 32 slots from the current chunk, else
//!   take a batch from the central list, else a new chunk (the only `malloc`).
//!
//! Freeing on another thread is the same push, into the freeing thread's
//! lane: slots of a class are interchangeable, so no per-slot owner is needed.
//! A lane holding more than 256 KiB of free slots of one class hands half of
//! them to the central list.
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
use std::cell::Cell;
use std::fmt;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

pub use classes::SIZE_CLASSES;
pub use handle::SlabSlice;

use self::classes::{NUM_CLASSES, class_of};
use self::registry::Registry;
use super::lanes::{LaneCounter, Lanes};
use super::{AllocError, Allocator, Stats, dangling, poison};

/// Bytes per chunk: 16 slots of the largest class, 4096 of the smallest.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunk alignment: slots inherit it up to the largest power of two dividing
/// their class, which is how alignments up to 4 KiB are honoured.
const CHUNK_ALIGN: usize = 4096;
/// Slots linked into the free list per carve: enough to amortise the call,
/// few enough not to touch much memory ahead of use.
const CARVE_BATCH: usize = 32;
/// Free bytes a lane keeps per class before handing half to the central list.
const LANE_FREE_BYTES: usize = 256 * 1024;
/// [`LANE_FREE_BYTES`] in slots per class, precomputed: a division on every
/// free would cost more than the rest of the free.
const LANE_FREE_SLOTS: [usize; NUM_CLASSES] = {
    let mut slots = [0; NUM_CLASSES];
    let mut class = 0;
    while class < NUM_CLASSES {
        slots[class] = LANE_FREE_BYTES / SIZE_CLASSES[class];
        class += 1;
    }
    slots
};

const _: () = assert!(CHUNK_BYTES.is_multiple_of(CHUNK_ALIGN));
const _: () = assert!(std::mem::size_of::<FreeSlot>() <= SIZE_CLASSES[0]);

/// Source of slab stamps for [`SlabSlice`]: one per slab and per reset.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// The first word of a free slot.
#[repr(C)]
struct FreeSlot {
    next: *mut FreeSlot,
}

/// One class in one lane.
struct ClassLane {
    /// Head of this lane's free list of the class; null when empty. Every slot
    /// on it is free, belongs to a chunk of this slab carved for this class,
    /// and is on no other list.
    free: Cell<*mut FreeSlot>,
    /// Length of `free`.
    free_len: Cell<usize>,
    /// Next uncarved slot of the lane's current chunk for this class; null
    /// when there is none.
    carve: Cell<*mut u8>,
    /// End of the carvable part of that chunk (a whole number of slots).
    carve_end: Cell<*mut u8>,
}

impl ClassLane {
    fn new() -> Self {
        Self {
            free: Cell::new(ptr::null_mut()),
            free_len: Cell::new(0),
            carve: Cell::new(ptr::null_mut()),
            carve_end: Cell::new(ptr::null_mut()),
        }
    }
}

struct SlabLane {
    classes: [ClassLane; NUM_CLASSES],
}

// SAFETY: the raw pointers point into chunks owned by the `Slab`, not into
// anything tied to a thread; `Lanes` moves a lane to a new thread only after
// the old one has released it (see `lanes.rs`).
unsafe impl Send for SlabLane {}

impl SlabLane {
    fn new() -> Self {
        Self {
            classes: std::array::from_fn(|_| ClassLane::new()),
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
    batches: Mutex<Vec<Batch>>,
    /// `batches.len()`, readable without the lock.
    len: AtomicUsize,
}

/// A linked list of free slots of one class.
struct Batch {
    head: *mut FreeSlot,
    len: usize,
}

// SAFETY: a batch is a list of free slots in chunks owned by the slab; it is
// moved between threads only through the `Central` mutex, which orders the
// writes of its links before their reads.
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
/// use framealloc::{Allocator, Slab};
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
                batches: Mutex::new(Vec::new()),
                len: AtomicUsize::new(0),
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
        let head = cl.free.get();
        let slot = if head.is_null() {
            self.refill(cl, class)?
        } else {
            // SAFETY: `head` is on this lane's free list, so it is a free slot
            // whose first word holds the link, written by `free_small`,
            // `carve` or a batch; no one else touches it (ClassLane's
            // invariant).
            cl.free.set(unsafe { (*head).next });
            cl.free_len.set(cl.free_len.get() - 1);
            head.cast::<u8>()
        };
        #[cfg(feature = "asan")]
        // SAFETY: `slot` is a whole slot of this class inside one of our chunks.
        unsafe {
            poison::unpoison(slot, SIZE_CLASSES[class])
        };
        #[cfg(debug_assertions)]
        self.registry.debug_on_alloc(slot, class);
        stats.allocs[class].add(1);
        // SAFETY: slots are never null (they are inside chunks).
        Ok(unsafe { NonNull::new_unchecked(slot) })
    }

    /// The lane's free list of `class` is empty: carve, take a batch, or get a
    /// new chunk, and return one slot.
    #[cold]
    #[inline(never)]
    fn refill(&self, cl: &ClassLane, class: usize) -> Result<*mut u8, AllocError> {
        loop {
            if let Some(slot) = carve(cl, class) {
                return Ok(slot);
            }
            if let Some(batch) = self.central[class].take() {
                // SAFETY: `batch.head` is a free slot of this class, on no
                // other list now that it left the central list.
                let next = unsafe { (*batch.head).next };
                cl.free.set(next);
                cl.free_len.set(batch.len - 1);
                return Ok(batch.head.cast());
            }
            let chunk = self.registry.acquire_chunk(class)?;
            let size = SIZE_CLASSES[class];
            cl.carve.set(chunk.as_ptr());
            // SAFETY: `(CHUNK_BYTES / size) * size <= CHUNK_BYTES`, so the end
            // stays inside the chunk's allocation.
            cl.carve_end
                .set(unsafe { chunk.as_ptr().add(CHUNK_BYTES / size * size) });
            self.sample_peak();
        }
    }

    /// Pushes `ptr` onto the lane's free list; hands half the list to the
    /// central list when it grows past [`LANE_FREE_BYTES`].
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
        let cl = &lane.classes[class];
        let slot = ptr.as_ptr().cast::<FreeSlot>();
        // SAFETY: the slot is ours again (the caller's promise), at least 16 B
        // and 16-aligned (every class is a multiple of 16 in 4096-aligned
        // chunks), so its first word can hold the link.
        unsafe {
            slot.write(FreeSlot {
                next: cl.free.get(),
            })
        };
        cl.free.set(slot);
        #[cfg(feature = "asan")]
        // SAFETY: the slot's bytes after the link are ours and unused until
        // the slot is handed out again (which unpoisons it).
        unsafe {
            poison::poison(
                ptr.as_ptr().add(std::mem::size_of::<FreeSlot>()),
                SIZE_CLASSES[class] - std::mem::size_of::<FreeSlot>(),
            )
        };
        let len = cl.free_len.get() + 1;
        cl.free_len.set(len);
        stats.frees[class].add(1);
        if len > LANE_FREE_SLOTS[class] {
            self.hand_over(cl, class);
        }
    }

    /// Moves the older half of the lane's free list to the central list.
    #[cold]
    #[inline(never)]
    fn hand_over(&self, cl: &ClassLane, class: usize) {
        let len = cl.free_len.get();
        let keep = len / 2;
        let mut last_kept = cl.free.get();
        for _ in 1..keep {
            // SAFETY: the list has `len > keep` nodes, all free slots whose
            // first word is a valid link (ClassLane's invariant).
            last_kept = unsafe { (*last_kept).next };
        }
        // SAFETY: `last_kept` is node `keep - 1` of the list, a free slot.
        let rest = unsafe { ptr::replace(&raw mut (*last_kept).next, ptr::null_mut()) };
        cl.free_len.set(keep);
        self.central[class].put(Batch {
            head: rest,
            len: len - keep,
        });
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

/// Carves up to [`CARVE_BATCH`] slots from the lane's current chunk: returns
/// the first and links the others into the (empty) free list.
fn carve(cl: &ClassLane, class: usize) -> Option<*mut u8> {
    let start = cl.carve.get();
    let end = cl.carve_end.get();
    if start == end {
        return None;
    }
    let size = SIZE_CLASSES[class];
    let n = ((end.addr() - start.addr()) / size).min(CARVE_BATCH);
    debug_assert!(
        n >= 1 && cl.free.get().is_null(),
        "carve into a non-empty list"
    );
    let slot = |i: usize| {
        // SAFETY: `i <= n` slots past `start` stays within the carvable range
        // `start..=end` of one chunk.
        unsafe { start.add(i * size) }
    };
    for i in 1..n {
        let next = if i + 1 < n {
            slot(i + 1)
        } else {
            ptr::null_mut()
        };
        // SAFETY: slot `i` is an uncarved, unused slot of this chunk, 16-aligned.
        unsafe {
            poison::unpoison(slot(i), std::mem::size_of::<FreeSlot>());
            slot(i)
                .cast::<FreeSlot>()
                .write(FreeSlot { next: next.cast() });
        }
    }
    cl.free.set(if n > 1 {
        slot(1).cast()
    } else {
        ptr::null_mut()
    });
    cl.free_len.set(n - 1);
    cl.carve.set(slot(n));
    Some(start)
}

impl Central {
    fn put(&self, batch: Batch) {
        let mut batches = self.batches.lock().unwrap_or_else(PoisonError::into_inner);
        batches.push(batch);
        self.len.store(batches.len(), Ordering::Relaxed);
    }

    fn take(&self) -> Option<Batch> {
        // Skip the lock when it is plainly empty (a stale read only delays
        // reuse until the next refill).
        if self.len.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut batches = self.batches.lock().unwrap_or_else(PoisonError::into_inner);
        let batch = batches.pop();
        self.len.store(batches.len(), Ordering::Relaxed);
        batch
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
// - large blocks and zero sizes come from `System` and `dangling`;
// - slots stay valid until freed, reset (`&mut self`) or drop: chunks are only
//   returned to the system in `Drop`.
unsafe impl Allocator for Slab {
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        if layout.size() == 0 {
            self.count_zero_size(false);
            return Ok(dangling(layout));
        }
        let Some(class) = class_of(layout) else {
            return self.registry.alloc_large(layout);
        };
        match self.lanes.local() {
            Some((lane, stats)) => self.alloc_small(lane, stats, class),
            None => self.alloc_fallback(class),
        }
    }

    #[inline(always)]
    unsafe fn free(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            self.count_zero_size(true);
            return;
        }
        let Some(class) = class_of(layout) else {
            // SAFETY: the caller's promise: `ptr` came from `alloc(layout)`,
            // which sent this layout to `alloc_large`.
            return unsafe { self.registry.free_large(ptr, layout) };
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
            *lane = SlabLane::new();
        }
        for central in &mut self.central {
            central
                .batches
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            *central.len.get_mut() = 0;
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

// SAFETY: forwards to the `Allocator` impl above. Blocks stay valid until
// reset, which needs `&mut Slab` and so cannot happen while this `&Slab` is
// alive.
unsafe impl allocator_api2::alloc::Allocator for &Slab {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let ptr = Allocator::alloc(*self, layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: allocator_api2 passes a block from `allocate` with its layout.
        unsafe { Allocator::free(*self, ptr, layout) }
    }
}

#[cfg(test)]
mod tests;

//! [`Arena`]: a frame arena. Bump allocation into per-thread `bumpalo` lanes,
//! every block released at once by [`reset`](Allocator::reset) at the end of
//! the frame.
//!
//! Use it for data that lives exactly one frame: scratch containers, contact
//! lists, per-entity payloads of entities that die with the frame.
//!
//! - **Threads.** `&Arena` allocates from any thread: each thread bumps its own
//!   lane (a `bumpalo::Bump`, see `lanes.rs`), so there is no lock and no
//!   atomic on the fast path. A bare `Bump` is `!Sync`; `Arena` is the
//!   wrapper that makes sharing sound (`tests/compile_fail/bump_not_sync.rs`).
//! - **Reset.** `reset` takes `&mut self`, so a reference into the arena cannot
//!   survive it (`tests/compile_fail/arena_ref_after_reset.rs`). Each lane keeps
//!   its largest chunk, so a steady frame loop stops calling `malloc` after
//!   the first frames.
//! - **Limit.** [`Arena::with_limit`] caps the bytes all lanes together hold
//!   from the system. Growing past it is an [`AllocError::LimitExceeded`],
//!   never an abort. Lanes lease budget only when they need a new chunk.
//! - **Handles.** Components must be `'static`, so they cannot hold `&[T]` into
//!   the arena. [`ArenaSlice<T>`] is a `'static`, `Copy` handle that records
//!   the arena's *stamp* (unique per arena and per epoch); resolving it after a
//!   reset, or in another arena, panics with a clear message
//!   ([`Arena::get`]) or returns `None` ([`Arena::try_get`]).
//! - **Drop.** Values in the arena are never dropped: the arena is for plain
//!   data.

use std::alloc::Layout;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bumpalo::Bump;

use super::lanes::{Budget, LaneCounter, Lanes};
use super::poison;
use super::{AllocError, Allocator, Stats};

/// Spare bytes leased on top of the chunk a lane is expected to ask for, so
/// the lease covers bumpalo's rounding of chunk sizes.
const LEASE_SLACK_BYTES: usize = 16 * 1024;

/// Source of arena stamps: every arena, and every reset of it, takes a new one.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

fn next_stamp() -> u64 {
    NEXT_STAMP.fetch_add(1, Ordering::Relaxed)
}

/// A frame arena. See the [module docs](self) for the design.
///
/// ```
/// use framemem::{Allocator, Arena};
///
/// let mut arena = Arena::new();
/// let xs = arena.alloc_slice_copy(&[1u32, 2, 3]);
/// xs[0] = 10;
/// assert_eq!(xs, &[10, 2, 3]);
/// let handle = arena.handle_slice_copy(&[7.0f32; 4]);
/// assert_eq!(arena.get(handle), &[7.0; 4]);
/// arena.reset(); // `xs` can no longer be used; `handle` no longer resolves
/// assert!(arena.try_get(handle).is_none());
/// ```
pub struct Arena {
    lanes: Lanes<ArenaLane, LaneStats>,
    /// For threads without a lane id (see `lanes.rs`).
    fallback: Mutex<ArenaLane>,
    fallback_stats: LaneStats,
    /// The byte limit over all lanes' chunks, if any.
    limit: Option<usize>,
    /// Bytes lanes may still lease: `limit` (or `usize::MAX`) minus the sum of
    /// the lanes' chunk bytes, minus leases in flight.
    budget: Budget,
    /// Unique per arena and per epoch; recorded in every [`ArenaSlice`].
    stamp: u64,
    /// The largest `bytes_in_use` at any reset so far.
    peak_at_resets: usize,
    resets: u64,
}

/// One thread's bump allocator.
struct ArenaLane {
    /// Its allocation limit is always the bytes it holds plus its lease, so
    /// every new chunk goes through [`ArenaLane::grow`].
    bump: Bump,
}

/// A lane's counters, readable from any thread.
#[derive(Default)]
struct LaneStats {
    allocations: LaneCounter,
    frees: LaneCounter,
    /// Requested bytes since the last reset.
    bytes: LaneCounter,
    /// Chunk bytes the lane's `Bump` holds.
    reserved: LaneCounter,
}

impl ArenaLane {
    fn new() -> Self {
        let bump = Bump::new();
        // No chunk yet, and none without a lease.
        bump.set_allocation_limit(Some(0));
        Self { bump }
    }

    /// Bump-allocates `layout`. The fast path is bumpalo's (a subtraction, a
    /// mask and a compare) plus two counter updates.
    #[inline(always)]
    fn alloc(
        &self,
        layout: Layout,
        stats: &LaneStats,
        arena: &Arena,
    ) -> Result<NonNull<u8>, AllocError> {
        let ptr = match self.bump.try_alloc_layout(layout) {
            Ok(ptr) => ptr,
            Err(_) => self.grow(layout, stats, arena)?,
        };
        // SAFETY: `ptr..ptr + size` is the block just handed out, inside one
        // of this lane's chunks.
        unsafe { poison::unpoison(ptr.as_ptr(), layout.size()) };
        stats.allocations.add(1);
        stats.bytes.add(layout.size() as u64);
        Ok(ptr)
    }

    /// The current chunk is full: lease budget for a new one and retry.
    #[cold]
    #[inline(never)]
    fn grow(
        &self,
        layout: Layout,
        stats: &LaneStats,
        arena: &Arena,
    ) -> Result<NonNull<u8>, AllocError> {
        let held = self.bump.allocated_bytes();
        // bumpalo's next chunk is at most twice what it holds, or the request.
        let want = held
            .saturating_mul(2)
            .max(layout.size().saturating_add(layout.align()))
            .saturating_add(LEASE_SLACK_BYTES);
        if held == 0 {
            arena.lanes.mark_current();
        }
        let lease = arena.budget.lease(want);
        self.bump.set_allocation_limit(Some(held + lease));
        let result = self.bump.try_alloc_layout(layout);
        let now = self.bump.allocated_bytes();
        self.bump.set_allocation_limit(Some(now));
        arena.budget.give_back(lease - (now - held));
        stats.reserved.set(now as u64);
        result.map_err(|_| match arena.limit {
            Some(limit) if lease < want => AllocError::LimitExceeded {
                requested: layout.size(),
                limit,
            },
            _ => AllocError::OutOfMemory {
                requested: layout.size(),
            },
        })
    }

    /// Releases every block, keeping the largest chunk. Returns the chunk
    /// bytes still held.
    fn reset(&mut self) -> usize {
        #[cfg(feature = "asan")]
        // SAFETY: `&mut self` means no block of this lane is borrowed; the
        // current chunk (the first yielded) is kept by `reset` and stays
        // poisoned until handed out again.
        unsafe {
            if let Some((ptr, len)) = self.bump.iter_allocated_chunks_raw().next() {
                poison::poison(ptr, len);
            }
        }
        self.bump.reset();
        let held = self.bump.allocated_bytes();
        self.bump.set_allocation_limit(Some(held));
        held
    }
}

impl Arena {
    /// An arena without a byte limit. It holds no memory until the first
    /// allocation.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// An arena whose lanes together hold at most `limit_bytes` from the
    /// system. An allocation that would need more fails with
    /// [`AllocError::LimitExceeded`].
    ///
    /// The limit counts whole chunks, so the bytes that fit are somewhat fewer
    /// than `limit_bytes`; two lanes growing at the same moment near the limit
    /// may see each other's lease and fail early.
    pub fn with_limit(limit_bytes: usize) -> Self {
        Self::build(Some(limit_bytes))
    }

    fn build(limit: Option<usize>) -> Self {
        Self {
            lanes: Lanes::new(|| (ArenaLane::new(), LaneStats::default())),
            fallback: Mutex::new(ArenaLane::new()),
            fallback_stats: LaneStats::default(),
            limit,
            budget: Budget::new(limit.unwrap_or(usize::MAX)),
            stamp: next_stamp(),
            peak_at_resets: 0,
            resets: 0,
        }
    }

    /// The configured byte limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    #[cold]
    #[inline(never)]
    fn alloc_fallback(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let lane = self
            .fallback
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lane.alloc(layout, &self.fallback_stats, self)
    }

    fn all_stats(&self) -> impl Iterator<Item = &LaneStats> {
        self.lanes
            .shared()
            .chain(std::iter::once(&self.fallback_stats))
    }

    /// Allocates `value` in the arena. It will never be dropped.
    ///
    /// # Panics
    ///
    /// When the arena's limit is reached or the system is out of memory; see
    /// [`try_alloc`](Self::try_alloc_value).
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_value<T>(&self, value: T) -> &mut T {
        self.try_alloc_value(value)
            .unwrap_or_else(|e| alloc_failed(e))
    }

    /// Allocates `value` in the arena, or returns why it could not.
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the limit is reached or the system is out of memory.
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_value<T>(&self, value: T) -> Result<&mut T, AllocError> {
        let ptr = Allocator::alloc(self, Layout::new::<T>())?.cast::<T>();
        // SAFETY: the block is fresh, sized and aligned for `T`, and
        // borrowed from `self`, so no reset can happen while it is in use.
        unsafe {
            ptr.as_ptr().write(value);
            Ok(&mut *ptr.as_ptr())
        }
    }

    /// Copies `src` into the arena.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc_value).
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        self.try_alloc_slice_copy(src)
            .unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `src` into the arena, or returns why it could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc_value).
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], AllocError> {
        let layout = Layout::for_value(src);
        let ptr = Allocator::alloc(self, layout)?.cast::<T>();
        // SAFETY: the block is fresh and holds `src.len()` values of `T`;
        // `T: Copy`, so a bitwise copy is a valid copy, and the two ranges
        // cannot overlap (the block was free until now).
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), src.len());
            Ok(std::slice::from_raw_parts_mut(ptr.as_ptr(), src.len()))
        }
    }

    /// Allocates `len` values made by `fill(index)`.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc_value), and if `fill` panics (the values already
    /// made are leaked in the arena, never exposed).
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_slice_fill_with<T>(&self, len: usize, fill: impl FnMut(usize) -> T) -> &mut [T] {
        self.try_alloc_slice_fill_with(len, fill)
            .unwrap_or_else(|e| alloc_failed(e))
    }

    /// Allocates `len` values made by `fill(index)`, or returns why it could
    /// not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc_value), and [`AllocError::InvalidLayout`]
    /// when `len` values of `T` overflow `isize`.
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_slice_fill_with<T>(
        &self,
        len: usize,
        mut fill: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| AllocError::InvalidLayout)?;
        let ptr = Allocator::alloc(self, layout)?.cast::<T>();
        for i in 0..len {
            // SAFETY: `i < len`, inside the fresh block. If `fill` panics, the
            // block is never exposed, so its uninitialised tail is never read.
            unsafe { ptr.as_ptr().add(i).write(fill(i)) };
        }
        // SAFETY: all `len` values were written just above.
        Ok(unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) })
    }

    /// Copies `src` into the arena and returns a `'static` handle to it.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc_value).
    #[track_caller]
    pub fn handle_slice_copy<T: Copy>(&self, src: &[T]) -> ArenaSlice<T> {
        self.try_handle_slice_copy(src)
            .unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `src` into the arena and returns a `'static` handle, or why it
    /// could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc_value).
    pub fn try_handle_slice_copy<T: Copy>(&self, src: &[T]) -> Result<ArenaSlice<T>, AllocError> {
        let slice = self.try_alloc_slice_copy(src)?;
        Ok(self.handle_of(slice))
    }

    /// Allocates `len` values made by `fill(index)` and returns a `'static`
    /// handle to them.
    ///
    /// # Panics
    ///
    /// As [`alloc_slice_fill_with`](Self::alloc_slice_fill_with).
    #[track_caller]
    pub fn handle_slice_fill_with<T>(
        &self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> ArenaSlice<T> {
        let slice = self.alloc_slice_fill_with(len, fill);
        self.handle_of(slice)
    }

    fn handle_of<T>(&self, slice: &mut [T]) -> ArenaSlice<T> {
        ArenaSlice {
            ptr: NonNull::from(&mut *slice).cast(),
            len: slice.len(),
            stamp: self.stamp,
            _values: PhantomData,
        }
    }

    /// Resolves a handle made by this arena since its last reset.
    ///
    /// # Panics
    ///
    /// When the handle is stale: made before the last reset, or by another
    /// arena. Use [`try_get`](Self::try_get) to test instead.
    #[track_caller]
    pub fn get<T>(&self, handle: ArenaSlice<T>) -> &[T] {
        match self.try_get(handle) {
            Some(values) => values,
            None => stale_handle(handle.stamp, self.stamp),
        }
    }

    /// Resolves a handle, or returns `None` when it is stale (made before the
    /// last reset, or by another arena).
    #[inline]
    pub fn try_get<T>(&self, handle: ArenaSlice<T>) -> Option<&[T]> {
        if handle.stamp != self.stamp {
            return None;
        }
        // SAFETY: equal stamps mean the handle was made by this arena in this
        // epoch (stamps are never reused), so its block is still allocated:
        // releasing it needs `reset(&mut self)`, which bumps the stamp and
        // cannot happen while the returned borrow of `self` lives. The block
        // holds `len` initialised values of `T`, and handle-made blocks are
        // never exposed as `&mut`, so sharing them is sound.
        Some(unsafe { std::slice::from_raw_parts(handle.ptr.as_ptr(), handle.len) })
    }

    /// Whether `handle` still resolves in this arena.
    pub fn is_live<T>(&self, handle: ArenaSlice<T>) -> bool {
        handle.stamp == self.stamp
    }
}

#[cold]
#[track_caller]
fn alloc_failed(error: AllocError) -> ! {
    panic!("framemem::Arena: {error}")
}

#[cold]
#[track_caller]
fn stale_handle(handle_stamp: u64, arena_stamp: u64) -> ! {
    panic!(
        "stale ArenaSlice: it was made under arena stamp {handle_stamp}, but this arena is now at \
         stamp {arena_stamp}; the arena was reset since (or the handle belongs to another arena). \
         Arena data lives one frame: keep the handle only until the reset, or copy the data out."
    )
}

impl Default for Arena {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("limit", &self.limit)
            .field("stamp", &self.stamp)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

// SAFETY: blocks come from a lane's `Bump`, which hands out disjoint, aligned
// blocks (zero sizes get an aligned dangling pointer) that stay valid until
// the `Bump` is reset or dropped; that only happens in `reset(&mut self)` and
// in `drop`. `free` releases nothing, so it cannot invalidate a live block.
unsafe impl Allocator for Arena {
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        match self.lanes.local() {
            Some((lane, stats)) => lane.alloc(layout, stats, self),
            None => self.alloc_fallback(layout),
        }
    }

    #[inline(always)]
    unsafe fn free(&self, _ptr: NonNull<u8>, _layout: Layout) {
        // Bump memory comes back only at reset; just count the call.
        match self.lanes.local() {
            Some((_, stats)) => stats.frees.add(1),
            None => {
                let _lane = self
                    .fallback
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                self.fallback_stats.frees.add(1);
            }
        }
    }

    fn reset(&mut self) {
        // Only lanes that took a chunk (marked in `grow`) hold bytes: the
        // others are skipped, which keeps a reset O(threads used), not
        // O(MAX_LANES).
        let mut in_use = 0;
        let mut held = 0;
        let fallback = self
            .fallback
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lanes = self
            .lanes
            .iter_used_mut()
            .chain(std::iter::once((fallback, &mut self.fallback_stats)));
        for (lane, stats) in lanes {
            in_use += stats.bytes.get() as usize;
            let lane_held = lane.reset();
            stats.reserved.set(lane_held as u64);
            stats.bytes.set(0);
            held += lane_held;
        }
        self.peak_at_resets = self.peak_at_resets.max(in_use);
        self.budget
            .set(self.limit.map_or(usize::MAX, |l| l.saturating_sub(held)));
        self.stamp = next_stamp();
        self.resets += 1;
    }

    fn stats(&self) -> Stats {
        let mut s = Stats {
            resets: self.resets,
            ..Stats::default()
        };
        for lane in self.all_stats() {
            s.allocations += lane.allocations.get();
            s.frees += lane.frees.get();
            s.bytes_in_use += lane.bytes.get() as usize;
            s.bytes_reserved += lane.reserved.get() as usize;
        }
        s.peak_bytes_in_use = self.peak_at_resets.max(s.bytes_in_use);
        s
    }
}

// SAFETY: `allocate` and `deallocate` forward to the `Allocator` impl above,
// whose blocks stay valid until a reset, which needs `&mut Arena` and so
// cannot happen while this `&Arena` (and any collection holding it) is alive.
// `grow` returns either bumpalo's answer for the calling thread's lane (a
// block of `new_layout` holding the old contents, from the same `Bump`, valid
// until the same reset) or a fresh block from `allocate` with the contents
// copied, which is allocator_api2's default.
unsafe impl allocator_api2::alloc::Allocator for &Arena {
    #[inline(always)]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let ptr = Allocator::alloc(*self, layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    #[inline(always)]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: allocator_api2 passes a block from `allocate` with its
        // layout, not used afterwards: `free`'s contract.
        unsafe { Allocator::free(*self, ptr, layout) }
    }

    /// Grows in place when `ptr` is the calling thread's lane's latest block
    /// (bumpalo extends it and moves the contents down, reusing the old
    /// bytes), so a `Vec` growing at the end of the frame's memory does not
    /// leave its old buffers behind. Otherwise, a new block and a copy.
    ///
    /// The arena's `bytes_in_use` counts the new size in full either way.
    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        if let Some((lane, stats)) = self.lanes.local() {
            // SAFETY: allocator_api2's `grow` contract, passed on: `ptr` is a
            // live block of `old_layout` from this allocator and
            // `new_layout.size() >= old_layout.size()`. bumpalo only moves it
            // in place when `ptr` is its own latest block; for any other block
            // it allocates a new one and copies.
            let grown = unsafe {
                allocator_api2::alloc::Allocator::grow(&&lane.bump, ptr, old_layout, new_layout)
            };
            if let Ok(block) = grown {
                // SAFETY: the block is inside one of this lane's chunks.
                unsafe { poison::unpoison(block.as_ptr().cast(), new_layout.size()) };
                stats.allocations.add(1);
                stats.bytes.add(new_layout.size() as u64);
                return Ok(block);
            }
        }
        // No lane, or the lane needs a new chunk (bumpalo stops at the
        // lane's lease): the default way, through our own slow path.
        let block = self.allocate(new_layout)?;
        // SAFETY: the new block is fresh, so the two do not overlap, and it is
        // at least `old_layout.size()` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(ptr.as_ptr(), block.as_ptr().cast(), old_layout.size())
        };
        Ok(block)
    }
}

/// A `'static`, `Copy` handle to a slice in an [`Arena`], for data that must
/// sit in ECS components.
///
/// It is only a ticket: reading needs the arena ([`Arena::get`] or
/// [`Arena::try_get`]), which checks that the arena has not been reset since
/// the handle was made. A stale handle is reported, never read.
pub struct ArenaSlice<T> {
    ptr: NonNull<T>,
    len: usize,
    /// The arena's stamp when the handle was made.
    stamp: u64,
    _values: PhantomData<T>,
}

impl<T> ArenaSlice<T> {
    /// How many values the slice holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<T> Clone for ArenaSlice<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ArenaSlice<T> {}

impl<T> fmt::Debug for ArenaSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArenaSlice")
            .field("len", &self.len)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

// SAFETY: the handle gives no access by itself; the only access is `&[T]`
// through `Arena::get`, on whichever thread holds the arena. Sharing `&[T]`
// across threads is sound exactly when `T: Sync`.
unsafe impl<T: Sync> Send for ArenaSlice<T> {}
// SAFETY: as for `Send`: copies of the handle only ever yield `&[T]`.
unsafe impl<T: Sync> Sync for ArenaSlice<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alloc::tests_common::{check, exercise_alignments, fill};

    #[test]
    fn every_alignment_up_to_4096() {
        exercise_alignments(&Arena::new());
    }

    #[test]
    fn zero_size_is_aligned_and_dangling() {
        let arena = Arena::new();
        for align in [1, 8, 64, 4096] {
            let layout = Layout::from_size_align(0, align).unwrap();
            let ptr = Allocator::alloc(&arena, layout).unwrap();
            assert_eq!(ptr.as_ptr() as usize % align, 0);
        }
        assert_eq!(arena.stats().bytes_reserved, 0, "zero sizes take no chunk");
    }

    #[test]
    fn reset_releases_and_reuses_memory() {
        let mut arena = Arena::new();
        let layout = Layout::from_size_align(64, 8).unwrap();
        for _ in 0..1000 {
            Allocator::alloc(&arena, layout).unwrap();
        }
        let before = arena.stats();
        assert_eq!(before.bytes_in_use, 64_000);
        arena.reset();
        let after = arena.stats();
        assert_eq!(after.bytes_in_use, 0);
        assert_eq!(after.peak_bytes_in_use, 64_000);
        assert_eq!(after.resets, 1);
        // The kept chunk serves the next frame without growing.
        for _ in 0..500 {
            Allocator::alloc(&arena, layout).unwrap();
        }
        assert!(arena.stats().bytes_reserved <= before.bytes_reserved);
    }

    #[test]
    fn limit_is_an_error_not_an_abort() {
        let arena = Arena::with_limit(64 * 1024);
        let layout = Layout::from_size_align(1024, 8).unwrap();
        let mut ok = 0;
        let err = loop {
            match Allocator::alloc(&arena, layout) {
                Ok(_) => ok += 1,
                Err(e) => break e,
            }
            assert!(ok <= 64, "more than the limit fitted");
        };
        assert!(ok >= 16, "only {ok} KiB fitted under a 64 KiB limit");
        assert_eq!(
            err,
            AllocError::LimitExceeded {
                requested: 1024,
                limit: 64 * 1024
            }
        );
        assert!(arena.stats().bytes_reserved <= 64 * 1024);
    }

    #[test]
    fn oversized_request_fails_cleanly() {
        let arena = Arena::with_limit(1 << 20);
        let layout = Layout::from_size_align(4 << 20, 8).unwrap();
        assert!(matches!(
            Allocator::alloc(&arena, layout),
            Err(AllocError::LimitExceeded { .. })
        ));
        // Still usable afterwards.
        assert!(Allocator::alloc(&arena, Layout::new::<u64>()).is_ok());
    }

    #[test]
    fn limit_budget_comes_back_at_reset() {
        let mut arena = Arena::with_limit(256 * 1024);
        let layout = Layout::from_size_align(4096, 8).unwrap();
        for _frame in 0..5 {
            let mut n = 0;
            while Allocator::alloc(&arena, layout).is_ok() {
                n += 1;
            }
            assert!(n >= 16, "frame fitted only {n} blocks");
            arena.reset();
        }
    }

    #[test]
    fn contents_survive_until_reset() {
        let arena = Arena::new();
        let blocks: Vec<_> = (0..300u32)
            .map(|i| {
                let layout = Layout::from_size_align(1 + (i as usize * 37) % 700, 8).unwrap();
                let ptr = Allocator::alloc(&arena, layout).unwrap();
                fill(ptr, layout, i as u8);
                (ptr, layout, i as u8)
            })
            .collect();
        for (ptr, layout, tag) in blocks {
            check(ptr, layout, tag);
        }
    }

    #[test]
    fn stale_handle_is_detected() {
        let mut arena = Arena::new();
        let h = arena.handle_slice_copy(&[1u8, 2, 3]);
        assert_eq!(arena.get(h), &[1, 2, 3]);
        assert!(arena.is_live(h));
        arena.reset();
        assert!(arena.try_get(h).is_none());
        assert!(!arena.is_live(h));
    }

    #[test]
    #[should_panic(expected = "stale ArenaSlice")]
    fn stale_handle_panics_with_message() {
        let mut arena = Arena::new();
        let h = arena.handle_slice_fill_with(4, |i| i as u32);
        arena.reset();
        let _ = arena.get(h);
    }

    #[test]
    fn handle_from_another_arena_is_rejected() {
        let a = Arena::new();
        let b = Arena::new();
        let h = a.handle_slice_copy(&[5u16]);
        assert!(b.try_get(h).is_none());
    }

    #[test]
    fn slice_helpers() {
        let arena = Arena::new();
        let squares = arena.alloc_slice_fill_with(5, |i| (i * i) as u64);
        assert_eq!(squares, &[0, 1, 4, 9, 16]);
        let v = arena.alloc_value(Some(3u8));
        *v = None;
        assert_eq!(*v, None);
        let empty: &mut [u32] = arena.alloc_slice_copy(&[]);
        assert!(empty.is_empty());
    }

    #[test]
    fn threads_allocate_from_one_arena() {
        let mut arena = Arena::new();
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let arena = &arena;
                s.spawn(move || {
                    let layout = Layout::from_size_align(48, 16).unwrap();
                    let blocks: Vec<_> = (0..200)
                        .map(|_| {
                            let p = Allocator::alloc(arena, layout).unwrap();
                            fill(p, layout, t + 1);
                            p
                        })
                        .collect();
                    for p in blocks {
                        check(p, layout, t + 1);
                    }
                });
            }
        });
        let s = arena.stats();
        assert_eq!(s.allocations, 800);
        assert_eq!(s.bytes_in_use, 800 * 48);
        arena.reset();
        assert_eq!(arena.stats().bytes_in_use, 0);
    }

    #[test]
    fn a_growing_vec_reuses_its_own_bytes() {
        let arena = Arena::new();
        let mut v = allocator_api2::vec::Vec::with_capacity_in(16, &arena);
        v.extend(0..16u32);
        let (before, old_cap) = (v.as_ptr().addr(), v.capacity());
        v.push(16); // grows: the Vec is the lane's latest block
        let (after, new_cap) = (v.as_ptr().addr(), v.capacity());
        // bumpalo bumps downwards: grown in place, the block starts lower by
        // exactly the added bytes (a copy would start lower by the new size).
        assert_eq!(
            before - after,
            (new_cap - old_cap) * 4,
            "not grown in place"
        );
        assert!(v.iter().copied().eq(0..17));
        // Not the latest block any more: the growth copies, contents kept.
        let mut w = allocator_api2::vec::Vec::with_capacity_in(4, &arena);
        w.extend([1u64, 2, 3, 4]);
        arena.alloc_value(0u8);
        w.push(5);
        assert_eq!(&w[..], &[1, 2, 3, 4, 5]);
    }

    #[test]
    fn collections_run_on_the_arena() {
        let arena = Arena::new();
        let mut v = allocator_api2::vec::Vec::new_in(&arena);
        for i in 0..1000u32 {
            v.push(i);
        }
        assert_eq!(v.iter().sum::<u32>(), 499_500);
    }
}

//! What a [`Slab`](super::Slab) holds from the system: its chunks, its large
//! allocations and, in debug builds, the state of every slot.
//!
//! Everything here is behind one mutex and off the fast path: it is touched
//! when a lane needs a new chunk, for requests above 4 KiB, and (debug builds
//! only) on every alloc and free to catch misuse.
//!
//! Invariants ([`Registry::check_invariants`], after every new chunk and
//! every reset):
//! - the `chunks` counter is the number of chunks held;
//! - spare chunks are distinct chunks of the slab;
//! - `large_bytes` is the sum of the live large blocks' sizes;
//! - debug builds: every chunk is either spare or owned by one class (it has
//!   a slot map, of one entry per slot of that class), never both.
//!
//! Chunks and large blocks come from the global allocator, not `System`
//! directly, so that a counting global allocator sees them (they are heap
//! traffic like any other) and an installed mimalloc serves them.

use std::alloc::Layout;
use std::collections::HashMap;
use std::ptr::NonNull;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::chunk_map::ChunkMap;
#[cfg(debug_assertions)]
use super::classes::SIZE_CLASSES;
use super::classes::{CHUNK_ALIGN, CHUNK_BYTES};
use crate::alloc::{AllocError, poison};

const CHUNK_LAYOUT: Layout = match Layout::from_size_align(CHUNK_BYTES, CHUNK_ALIGN) {
    Ok(layout) => layout,
    Err(_) => panic!("chunk layout"),
};

/// What a slab holds from the system. See the [module docs](self).
#[derive(Default)]
pub(super) struct Registry {
    inner: Mutex<Inner>,
    /// Every chunk's address and class, for `free` (lock-free lookups).
    map: ChunkMap,
    /// `inner.chunks.len()`, readable without the lock.
    chunks: AtomicUsize,
    /// Bytes of live large blocks: the sum of `inner.large`'s sizes.
    large_bytes: AtomicUsize,
    /// Large blocks handed out, ever.
    large_allocs: AtomicU64,
    /// Large blocks freed one by one, ever.
    large_frees: AtomicU64,
}

#[derive(Default)]
struct Inner {
    /// Every chunk held from the system, with `CHUNK_LAYOUT`.
    chunks: Vec<NonNull<u8>>,
    /// Chunks no lane is carving and no slot of which is handed out.
    spare: Vec<NonNull<u8>>,
    /// Live large allocations by address, with the layout they hold now
    /// (what they were made with, or were resized to by `realloc`).
    large: HashMap<usize, (NonNull<u8>, Layout)>,
    /// Debug builds: chunk start address -> its class and which slots are live.
    #[cfg(debug_assertions)]
    owners: std::collections::BTreeMap<usize, ChunkOwner>,
}

// SAFETY: the pointers are to system memory owned by the slab, not tied to
// any thread; `Inner` is only reached through its mutex.
unsafe impl Send for Inner {}

#[cfg(debug_assertions)]
struct ChunkOwner {
    class: usize,
    live: Vec<bool>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A chunk for `class`: a spare one, or a new one from the system.
    pub(super) fn acquire_chunk(&self, class: usize) -> Result<NonNull<u8>, AllocError> {
        let mut inner = self.lock();
        let chunk = match inner.spare.pop() {
            Some(chunk) => chunk,
            None => {
                // SAFETY: `CHUNK_LAYOUT` has a non-zero size.
                let raw = unsafe { std::alloc::alloc(CHUNK_LAYOUT) };
                let chunk = NonNull::new(raw).ok_or(AllocError::OutOfMemory {
                    requested: CHUNK_BYTES,
                })?;
                inner.chunks.push(chunk);
                // Release, and Acquire in `chunk_bytes`: a reader that sees
                // a slot's allocation counted sees its chunk.
                self.chunks.fetch_add(1, Release);
                chunk
            }
        };
        self.map.set(chunk.addr().get(), class + 1);
        #[cfg(debug_assertions)]
        inner.owners.insert(
            chunk.addr().get(),
            ChunkOwner {
                class,
                live: vec![false; CHUNK_BYTES / SIZE_CLASSES[class]],
            },
        );
        if cfg!(debug_assertions) {
            self.check_locked(&inner);
        }
        Ok(chunk)
    }

    pub(super) fn alloc_large(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        // SAFETY: large layouts have a size above 4 KiB or an alignment above
        // 4 KiB with a non-zero size (zero sizes are handled before).
        let raw = unsafe { std::alloc::alloc(layout) };
        let ptr = NonNull::new(raw).ok_or(AllocError::OutOfMemory {
            requested: layout.size(),
        })?;
        let mut inner = self.lock();
        inner.large.insert(ptr.addr().get(), (ptr, layout));
        // Under the lock, so that the counter and the map agree whenever
        // the lock is free (`check_locked`).
        self.large_bytes.fetch_add(layout.size(), Relaxed);
        drop(inner);
        // Release, and Acquire in `large_allocations`: as for lane counters
        // (`lanes/counters.rs`), a reader that sees a free sees its
        // allocation.
        self.large_allocs.fetch_add(1, Release);
        Ok(ptr)
    }

    /// Whether `addr` is in a chunk of `class`, found at its home entry in
    /// the chunk map (the fast path of `free`; `false` may still be a chunk
    /// of `class`: ask [`chunk_tag`](Self::chunk_tag)).
    #[inline(always)]
    pub(super) fn in_chunk_of(&self, addr: usize, class: usize) -> bool {
        self.map.is_home_with_tag(addr, class + 1)
    }

    /// The tag of the chunk holding `addr` (see `chunk_map.rs`): the class
    /// plus one, or 0 when no chunk of this slab holds it.
    #[inline(always)]
    pub(super) fn chunk_tag(&self, addr: usize) -> usize {
        self.map.tag_of(addr)
    }

    /// The layout a live large block holds now, or `None` when `ptr` is not
    /// one.
    pub(super) fn large_layout(&self, ptr: NonNull<u8>) -> Option<Layout> {
        self.lock().large.get(&ptr.addr().get()).map(|&(_, l)| l)
    }

    /// Frees a large block, checked: panics (in every build) when `ptr` is
    /// not a live large block of this slab, or `layout` does not fit it (a
    /// larger size or alignment than it holds).
    ///
    /// # Safety
    ///
    /// When `ptr` is a live large block of this slab, it is not used after
    /// this call.
    #[track_caller]
    pub(super) unsafe fn free_large(&self, ptr: NonNull<u8>, layout: Layout) {
        let mut inner = self.lock();
        let addr = ptr.addr().get();
        let made_with = match inner.large.get(&addr) {
            Some(&(_, made_with)) if fits(layout, made_with) => made_with,
            Some(&(_, made_with)) => {
                drop(inner);
                panic!(
                    "Slab::free: {ptr:p} is a block of {made_with:?}, but the layout given \
                     ({layout:?}) does not fit it"
                )
            }
            None => {
                drop(inner);
                foreign_pointer(ptr, layout)
            }
        };
        let (block, _) = inner.large.remove(&addr).expect("found above");
        self.large_bytes.fetch_sub(made_with.size(), Relaxed);
        drop(inner);
        self.large_frees.fetch_add(1, Release);
        // SAFETY: `block` came from `std::alloc::alloc(made_with)` (or a
        // `realloc` to it) and was still in the live map, so it is freed
        // exactly once.
        unsafe { std::alloc::dealloc(block.as_ptr(), made_with) };
    }

    /// Resizes a live large block to `new_size` bytes with the system's
    /// `realloc` (same alignment), or `None`, with the block untouched, if
    /// the system refused.
    ///
    /// # Safety
    ///
    /// `ptr` is a live large block of this slab holding `held`, `new_size`
    /// is non-zero and, rounded up to `held.align()`, does not overflow
    /// `isize`; on success, the old pointer is not used after.
    pub(super) unsafe fn realloc_large(
        &self,
        ptr: NonNull<u8>,
        held: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let mut inner = self.lock();
        // SAFETY: the caller's promise: the block holds `held`, from
        // `std::alloc::alloc` or `realloc`; the lock keeps the map in step.
        let raw = unsafe { std::alloc::realloc(ptr.as_ptr(), held, new_size) };
        let moved = NonNull::new(raw)?;
        inner.large.remove(&ptr.addr().get());
        // SAFETY: `new_size` rounded to `held.align()` fits (the caller's
        // promise), and `held.align()` is a power of two.
        let now = unsafe { Layout::from_size_align_unchecked(new_size, held.align()) };
        inner.large.insert(moved.addr().get(), (moved, now));
        if new_size >= held.size() {
            self.large_bytes.fetch_add(new_size - held.size(), Relaxed);
        } else {
            self.large_bytes.fetch_sub(held.size() - new_size, Relaxed);
        }
        Some(moved)
    }

    /// Large blocks freed one by one, ever. Read it before
    /// [`large_allocations`](Self::large_allocations): a free seen then has
    /// its allocation seen.
    pub(super) fn large_frees(&self) -> u64 {
        self.large_frees.load(Acquire)
    }

    /// Large blocks handed out, ever.
    pub(super) fn large_allocations(&self) -> u64 {
        self.large_allocs.load(Acquire)
    }

    /// Bytes of the chunks held.
    pub(super) fn chunk_bytes(&self) -> usize {
        self.chunks.load(Acquire) * CHUNK_BYTES
    }

    pub(super) fn large_bytes_in_use(&self) -> usize {
        self.large_bytes.load(Relaxed)
    }

    /// Releases every large allocation and makes every chunk spare.
    pub(super) fn reset(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (_, (block, layout)) in inner.large.drain() {
            // SAFETY: every entry is a live block from `std::alloc::alloc(layout)`;
            // `&mut self` means no one can use it any more.
            unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
        }
        *self.large_bytes.get_mut() = 0;
        inner.spare.clone_from(&inner.chunks);
        for &chunk in &inner.chunks {
            // SAFETY: the chunk is ours and, after a reset, unused until a
            // lane carves it (which unpoisons what it hands out).
            unsafe { poison::poison(chunk.as_ptr(), CHUNK_BYTES) };
        }
        #[cfg(debug_assertions)]
        inner.owners.clear();
        self.map.make_all_spare();
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
    }

    /// Every chunk held, newest first, with the class it serves (`None`
    /// for a spare one), with exclusive access (a trim).
    pub(super) fn chunks_newest_first(&mut self) -> Vec<(NonNull<u8>, Option<usize>)> {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        inner
            .chunks
            .iter()
            .rev()
            .map(|&chunk| {
                let tag = self.map.tag_of(chunk.addr().get());
                (chunk, tag.checked_sub(1))
            })
            .collect()
    }

    /// Gives `released` (chunks of this slab, sorted by address, none of
    /// whose slots is in use or on a free list any more) back to the
    /// system.
    pub(super) fn release_chunks(&mut self, released: &[NonNull<u8>]) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        let gone = |chunk: usize| {
            released
                .binary_search_by_key(&chunk, |c| c.addr().get())
                .is_ok()
        };
        inner.chunks.retain(|c| !gone(c.addr().get()));
        inner.spare.retain(|c| !gone(c.addr().get()));
        #[cfg(debug_assertions)]
        for chunk in released {
            let owner = inner.owners.remove(&chunk.addr().get());
            assert!(
                owner.is_none_or(|o| o.live.iter().all(|&live| !live)),
                "Slab bug: a trim gave back chunk {chunk:p} with a slot in use"
            );
        }
        *self.chunks.get_mut() = inner.chunks.len();
        self.map.remove(gone);
        for chunk in released {
            // SAFETY: free slots may be poisoned; give the chunk back clean.
            unsafe { poison::unpoison(chunk.as_ptr(), CHUNK_BYTES) };
            // SAFETY: every chunk came from `std::alloc::alloc(CHUNK_LAYOUT)`,
            // is no longer listed anywhere (the caller's promise and the
            // lines above), and `&mut self` means no lookup is running.
            unsafe { std::alloc::dealloc(chunk.as_ptr(), CHUNK_LAYOUT) };
        }
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
    }

    /// The registry's invariants (see the [module docs](self)); panics
    /// naming the values when one is broken.
    pub(super) fn check_invariants(&self) {
        self.check_locked(&self.lock());
    }

    fn check_locked(&self, inner: &Inner) {
        self.map
            .check_invariants(inner.chunks.iter().map(|c| c.addr().get()));
        let (counted, held) = (self.chunks.load(Relaxed), inner.chunks.len());
        assert_eq!(
            counted, held,
            "slab registry: the chunk counter says {counted}, the registry holds {held} chunks"
        );
        let mut spare: Vec<usize> = inner.spare.iter().map(|c| c.addr().get()).collect();
        spare.sort_unstable();
        spare.dedup();
        assert_eq!(
            spare.len(),
            inner.spare.len(),
            "slab registry: a spare chunk is listed twice"
        );
        for chunk in &inner.spare {
            assert!(
                inner.chunks.contains(chunk),
                "slab registry: spare chunk {chunk:p} is not one of the slab's"
            );
        }
        let large: usize = inner.large.values().map(|(_, layout)| layout.size()).sum();
        let counted = self.large_bytes.load(Relaxed);
        assert_eq!(
            counted, large,
            "slab registry: the large-bytes counter says {counted}, live large blocks hold {large}"
        );
        #[cfg(debug_assertions)]
        {
            let (owned, spares) = (inner.owners.len(), inner.spare.len());
            assert_eq!(
                owned + spares,
                held,
                "slab registry: {owned} chunks owned by a class + {spares} spare != {held} held"
            );
            for (&start, owner) in &inner.owners {
                let slots = CHUNK_BYTES / SIZE_CLASSES[owner.class];
                assert!(
                    spare.binary_search(&start).is_err() && owner.live.len() == slots,
                    "slab registry: chunk {start:#x} of the {} B class is spare too, or maps {} \
                     slots instead of {slots}",
                    SIZE_CLASSES[owner.class],
                    owner.live.len()
                );
            }
        }
    }

    /// Debug builds: records that `slot` of `class` was handed out.
    #[cfg(debug_assertions)]
    pub(super) fn debug_on_alloc(&self, slot: *mut u8, class: usize) {
        let mut inner = self.lock();
        let (owner, index) = find_slot(&mut inner, slot, class, "alloc");
        assert!(
            !owner.live[index],
            "Slab bug: slot {slot:p} of the {} B class handed out twice",
            SIZE_CLASSES[class]
        );
        owner.live[index] = true;
    }

    /// Debug builds: checks that `ptr` is a live slot of `class` and marks it
    /// free, or panics naming the misuse.
    #[cfg(debug_assertions)]
    #[track_caller]
    pub(super) fn debug_on_free(&self, ptr: *mut u8, class: usize) {
        let mut inner = self.lock();
        let (owner, index) = find_slot(&mut inner, ptr, class, "free");
        assert!(
            owner.live[index],
            "Slab::free: double free of {ptr:p} (a {} B slot)",
            SIZE_CLASSES[class]
        );
        owner.live[index] = false;
    }
}

impl Registry {
    /// Debug builds: checks that `slot` is a free slot of `class` (one in a
    /// magazine or a batch), or panics naming what it is instead.
    #[cfg(debug_assertions)]
    pub(super) fn debug_check_free(&self, slot: NonNull<u8>, class: usize) {
        let mut inner = self.lock();
        let (owner, index) = find_slot(&mut inner, slot.as_ptr(), class, "check_invariants");
        assert!(
            !owner.live[index],
            "Slab bug: slot {slot:p} of the {} B class is on a free list but handed out",
            SIZE_CLASSES[class]
        );
    }
}

/// Whether a block that holds `held` may be freed with `layout`: the
/// allocator_api2 "fits" rule, as far as the slab can tell (no larger size,
/// no larger alignment).
#[inline(always)]
fn fits(layout: Layout, held: Layout) -> bool {
    layout.size() <= held.size() && layout.align() <= held.align()
}

/// Panics for a pointer this slab did not hand out (or no longer holds).
#[cold]
#[track_caller]
pub(super) fn foreign_pointer(ptr: NonNull<u8>, layout: Layout) -> ! {
    panic!(
        "Slab::free: {ptr:p} ({layout:?}) was not allocated by this Slab (a foreign pointer, a \
         block of another Slab, or one freed twice or before a reset)"
    )
}

#[cfg(debug_assertions)]
#[track_caller]
fn find_slot<'a>(
    inner: &'a mut Inner,
    ptr: *mut u8,
    class: usize,
    what: &str,
) -> (&'a mut ChunkOwner, usize) {
    let addr = ptr.addr();
    let found = inner
        .owners
        .range_mut(..=addr)
        .next_back()
        .filter(|(start, _)| addr < **start + CHUNK_BYTES);
    let Some((start, owner)) = found else {
        panic!("Slab::{what}: {ptr:p} was not allocated by this Slab (foreign pointer)");
    };
    assert!(
        owner.class == class,
        "Slab::{what}: {ptr:p} is a {} B slot but the layout given is for the {} B class",
        SIZE_CLASSES[owner.class],
        SIZE_CLASSES[class]
    );
    let offset = addr - start;
    let size = SIZE_CLASSES[class];
    assert!(
        offset.is_multiple_of(size),
        "Slab::{what}: {ptr:p} is {} bytes into a {size} B slot, not its start",
        offset % size
    );
    (owner, offset / size)
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.reset();
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        for chunk in inner.chunks.drain(..) {
            // SAFETY: the whole chunk may have been poisoned; give it back
            // clean to the system allocator.
            unsafe { poison::unpoison(chunk.as_ptr(), CHUNK_BYTES) };
            // SAFETY: every chunk came from `std::alloc::alloc(CHUNK_LAYOUT)` and
            // the slab is being dropped, so no slot is in use.
            unsafe { std::alloc::dealloc(chunk.as_ptr(), CHUNK_LAYOUT) };
        }
    }
}

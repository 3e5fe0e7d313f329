//! The counted paths into the frame arena: [`CountedArena`] (per call, what
//! [`FrameAlloc`](crate::bevy::FrameAlloc) allocates through) and
//! [`FrameLocal`] (the per-batch handle), each counting against one
//! system's slot (`attribution.rs`).
//!
//! They count what the arena counts, so that the systems' sum is the arena's
//! total exactly: one allocation and the requested bytes per typed call and
//! per non-zero `allocate`; an allocator_api2 `grow` in place by the bytes
//! it added (the arena's chunks grow upwards: the block keeps its start), a
//! moved block as a new allocation of the new size; a `shrink` that moves (more alignment) as a
//! new allocation. Zero-size allocator_api2 requests never reach the arena
//! and are not counted; zero-size typed values are, as the arena counts
//! them.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use allocator_api2::alloc::{AllocError as Api2Error, Allocator as Api2Allocator};

use super::attribution::{Shard, SlotCounters};
use crate::alloc::{AllocError, AllocStrategy, Arena, ArenaLocal, ArenaSlice, Sealed, TypedAlloc};

/// allocator_api2's `Allocator` for a counted view `$view`: every method
/// forwards to `$inner` (the arena's own allocator_api2 allocator, reached
/// from the view) and counts what the arena counts (see the module docs);
/// `$why` completes the safety argument.
macro_rules! counted_api2 {
    ($view:ty, |$v:ident| $inner:expr, $why:literal) => {
        // SAFETY: every method forwards to allocator_api2's `Allocator` for
        // the inner allocator named in `$why`, which says why that is sound.
        #[doc = $why]
        unsafe impl Api2Allocator for $view {
            #[inline(always)]
            fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, Api2Error> {
                let $v = self;
                let block = ($inner).allocate(layout)?;
                if layout.size() != 0 {
                    self.count(1, layout.size());
                }
                Ok(block)
            }

            #[inline(always)]
            unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
                let $v = self;
                // SAFETY: `deallocate`'s contract, passed on to the same arena.
                unsafe { ($inner).deallocate(ptr, layout) }
            }

            unsafe fn grow(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, Api2Error> {
                let $v = self;
                // SAFETY: `grow`'s contract, passed on to the same arena.
                let block = unsafe { ($inner).grow(ptr, old_layout, new_layout)? };
                let (allocations, bytes) = grown(ptr, old_layout, new_layout, block);
                self.count(allocations, bytes);
                Ok(block)
            }

            unsafe fn shrink(
                &self,
                ptr: NonNull<u8>,
                old_layout: Layout,
                new_layout: Layout,
            ) -> Result<NonNull<[u8]>, Api2Error> {
                let $v = self;
                // SAFETY: `shrink`'s contract, passed on to the same arena.
                let block = unsafe { ($inner).shrink(ptr, old_layout, new_layout)? };
                let (allocations, bytes) = shrunk(ptr, new_layout, block);
                self.count(allocations, bytes);
                Ok(block)
            }
        }
    };
}

/// [`TypedAlloc`] (the typed methods: `alloc_value`, `alloc_slice_*`,
/// `handle_slice_*`) for a counted view `$view` of the arena: every block
/// comes from the view's own counted `alloc` (once per call), and handles
/// are made by the arena `$arena` (reached from the view) that the blocks
/// come from; `$why` says why the blocks live for `'a`.
macro_rules! counted_typed {
    (<$a:lifetime> $view:ty, |$v:ident| $arena:expr, $why:literal) => {
        impl<$a> Sealed for $view {}

        // SAFETY: every block comes from the view's counted `alloc`, which
        // returns the arena's block unchanged (counting only adds to
        // counters); why those blocks are fresh, aligned and live for the
        // lifetime is `$why`. Handles are the arena's own `handle_of`, with
        // the caller's promise passed on.
        #[doc = $why]
        unsafe impl<$a> TypedAlloc<$a> for $view {
            type Handle<T: Copy> = ArenaSlice<T>;
            type Error = AllocError;
            const NAME: &'static str = "Arena";
            type Tag = ();

            #[inline(always)]
            fn try_alloc_block(self, layout: Layout) -> Result<(NonNull<u8>, ()), AllocError> {
                Ok((self.alloc(layout)?, ()))
            }

            #[inline]
            unsafe fn handle_of<T: Copy>(
                self,
                ptr: NonNull<T>,
                len: usize,
                (): (),
            ) -> ArenaSlice<T> {
                let $v = self;
                // SAFETY: the caller's promise, passed on: a block of this
                // arena, which `$arena` is.
                unsafe { ($arena).handle_of(ptr, len, ()) }
            }
        }
    };
}
pub(crate) use counted_typed;

/// The bytes an allocator_api2 `grow` of the block at `old_ptr` (of
/// `old`) into `block` (of `new`) added, as the arena counts them:
/// `(allocations, bytes)`. See the [module docs](self).
#[inline]
fn grown(old_ptr: NonNull<u8>, old: Layout, new: Layout, block: NonNull<[u8]>) -> (u64, usize) {
    if old.size() == 0 {
        return (u64::from(new.size() != 0), new.size());
    }
    if block.cast::<u8>() == old_ptr {
        // In place (a moved block never starts where the live old one did).
        (0, new.size() - old.size())
    } else {
        (1, new.size())
    }
}

/// The same for a `shrink`: only a moved block counts.
#[inline]
fn shrunk(old_ptr: NonNull<u8>, new: Layout, block: NonNull<[u8]>) -> (u64, usize) {
    if new.size() != 0 && block.cast::<u8>() != old_ptr {
        (1, new.size())
    } else {
        (0, 0)
    }
}

/// The frame arena, counting what is allocated through it against one
/// system (or, with attribution off, counting nothing). What
/// [`FrameAlloc::counted`](crate::bevy::FrameAlloc::counted) and
/// [`FrameArena::counted`](crate::bevy::FrameArena::counted) give; `Copy`,
/// and an allocator_api2 allocator by value:
///
/// ```
/// use framemem::bevy::{FrameAlloc, FrameArena};
/// # use bevy_ecs::prelude::*;
///
/// fn scratch(frame: FrameAlloc) {
///     let mut ids = allocator_api2::vec::Vec::new_in(frame.counted());
///     ids.extend(0..100u32); // grows in the arena, counted against `scratch`
/// }
/// # let mut world = World::new();
/// # world.insert_resource(FrameArena::new().with_attribution());
/// # let mut schedule = Schedule::default();
/// # schedule.add_systems(scratch);
/// # schedule.run(&mut world);
/// ```
#[derive(Clone, Copy)]
pub struct CountedArena<'a> {
    arena: &'a Arena,
    counters: Option<&'a SlotCounters>,
}

impl<'a> CountedArena<'a> {
    pub(crate) fn new(arena: &'a Arena, counters: Option<&'a SlotCounters>) -> Self {
        Self { arena, counters }
    }

    /// The arena, uncounted: what goes through it counts as
    /// [`outside`](crate::bevy::FrameBySystem::outside) systems.
    pub fn arena(&self) -> &'a Arena {
        self.arena
    }

    /// Whether allocations are counted (attribution is on).
    pub fn is_counting(&self) -> bool {
        self.counters.is_some()
    }

    /// Two relaxed atomic adds on the system's counters, when counting.
    #[inline(always)]
    fn count(&self, allocations: u64, bytes: usize) {
        if let Some(counters) = self.counters {
            counters.add(allocations, bytes as u64);
        }
    }

    /// Allocates a block for `layout`, counted: [`AllocStrategy::alloc`] on the
    /// arena.
    ///
    /// # Errors
    ///
    /// As [`AllocStrategy::alloc`].
    #[inline]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let ptr = AllocStrategy::alloc(self.arena, layout)?;
        self.count(1, layout.size());
        Ok(ptr)
    }

    /// The calling thread's lane, counting into its shard of this system's
    /// slot: see [`FrameLocal`].
    #[inline]
    pub fn local(&self) -> FrameLocal<'a> {
        // The handle first: it claims the thread's lane id if it has none
        // yet, which picks the shard, and pins it while the handle lives.
        let inner = self.arena.local();
        FrameLocal {
            inner,
            shard: self.counters.map(SlotCounters::shard),
        }
    }

    /// Resolves a handle made since the last reset ([`Arena::get`]).
    ///
    /// # Panics
    ///
    /// As [`Arena::get`].
    #[track_caller]
    pub fn get<T>(&self, handle: ArenaSlice<T>) -> &'a [T] {
        self.arena.get(handle)
    }

    /// Resolves a handle, or `None` when stale ([`Arena::try_get`]).
    pub fn try_get<T>(&self, handle: ArenaSlice<T>) -> Option<&'a [T]> {
        self.arena.try_get(handle)
    }
}

impl fmt::Debug for CountedArena<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountedArena")
            .field("counting", &self.is_counting())
            .finish_non_exhaustive()
    }
}

counted_api2!(
    CountedArena<'_>,
    |view| &view.arena,
    "`&Arena` (sound, `alloc/arena/api2.rs`) with the same arguments and returns \
     its answer unchanged; counting only reads the returned pointers. The blocks \
     stay valid until the arena's reset, which needs `&mut Arena` and so cannot \
     happen while this view (which borrows the arena for `'a`), any copy of it, \
     or any collection holding one is alive"
);

/// The calling thread's lane of the frame arena ([`ArenaLocal`]), counting
/// what it allocates straight into its system's counters: into the calling
/// thread's own shard of them, found once when the handle is made, with a
/// plain load and store per count (no atomic read-modify-write, nothing
/// another thread writes). From
/// [`FrameAlloc::local`](crate::bevy::FrameAlloc::local): take one per
/// batch, in `par_iter().for_each_init(|| frame.local(), ..)`. Two
/// pointers, so that bevy's `for_each_init`, which passes the handle by
/// value through its fold for every item, keeps it in registers. Like
/// `ArenaLocal`, neither `Send` nor `Sync`.
pub struct FrameLocal<'a> {
    inner: ArenaLocal<'a>,
    /// The calling thread's shard of the system's counters; `None` with
    /// attribution off.
    shard: Option<&'a Shard>,
}

// Two pointers: passed in two registers through bevy's fold (the counts
// inline made it four words, which went through memory twice an item).
const _: () = assert!(std::mem::size_of::<FrameLocal<'static>>() == 2 * size_of::<usize>());

impl<'a> FrameLocal<'a> {
    /// The arena this handle allocates from (to resolve an [`ArenaSlice`]).
    pub fn arena(&self) -> &'a Arena {
        self.inner.arena()
    }

    /// Whether allocations take the lock-free fast path
    /// ([`ArenaLocal::has_lane`]).
    pub fn has_lane(&self) -> bool {
        self.inner.has_lane()
    }

    /// Counts into the thread's shard, with attribution on.
    #[inline(always)]
    fn count(&self, allocations: u64, bytes: usize) {
        if let Some(shard) = self.shard {
            shard.add(allocations, bytes as u64);
        }
    }

    /// Allocates a block for `layout`, counted ([`ArenaLocal::alloc`]).
    ///
    /// # Errors
    ///
    /// As [`ArenaLocal::alloc`].
    #[inline(always)]
    pub fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, AllocError> {
        let ptr = self.inner.alloc(layout)?;
        self.count(1, layout.size());
        Ok(ptr)
    }
}

impl fmt::Debug for FrameLocal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameLocal")
            .field("inner", &self.inner)
            .field("counting", &self.shard.is_some())
            .finish()
    }
}

counted_api2!(
    &FrameLocal<'_>,
    |view| &view.inner,
    "`&ArenaLocal` (sound, `alloc/arena/local.rs`) with the same arguments and \
     returns its answer unchanged; counting only reads the returned pointers. The \
     blocks stay valid until the arena's reset, which cannot happen while the \
     handle (borrowing the arena for `'a`) or a collection holding `&handle` is \
     alive"
);

counted_typed!(
    <'a> CountedArena<'a>,
    |view| view.arena,
    "`alloc` returns the arena's own fresh blocks (`AllocStrategy::alloc` on \
     `&'a Arena`: aligned, unaliased), which stay allocated until the arena's \
     reset; that needs `&mut Arena`, excluded while the view borrows it for `'a`"
);

counted_typed!(
    <'a> &FrameLocal<'a>,
    |view| view.arena(),
    "`alloc` returns fresh blocks of the arena the handle borrows for `'a` \
     (`ArenaLocal::alloc`), valid until its reset, which needs `&mut Arena`, \
     excluded while the handle borrows it"
);

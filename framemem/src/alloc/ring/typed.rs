//! Typed allocation in an [`ExpiryRing`]: slices for a lifetime in frames,
//! returned as [`RingSlice`] handles.
//!
//! Every path first places the request ([`ExpiryRing::target`]): into the
//! arena of a slot (through `&Arena`, or a per-thread [`ArenaLocal`] when
//! the call comes from a [`RingLocal`](super::RingLocal)), or into the
//! overflow slab. Values are never dropped, so `T: Copy` is required: it
//! rules out types with a destructor, which the ring would silently skip.

use std::alloc::Layout;
use std::ptr::NonNull;

use super::expiry::{Placement, place};
use super::overflow::SlabOverflow;
use super::{ExpiryRing, RingError, RingSlice};
use crate::alloc::{AllocError, Arena, ArenaLocal};

/// Where one request goes, with what serves it.
pub(super) enum Target<'r> {
    /// Into slot `slot`'s arena.
    Slot { slot: usize, expires_at: u64 },
    /// Into the overflow slab.
    Slab {
        overflow: &'r SlabOverflow,
        expires_at: u64,
    },
}

/// The arena a call allocates a slot's data from.
pub(super) enum SlotArena<'s, 'a> {
    /// The slot's arena: a lane lookup per call.
    Shared(&'a Arena),
    /// A per-thread handle on it: no lookup.
    Local(&'s ArenaLocal<'a>),
}

impl SlotArena<'_, '_> {
    fn copy<T: Copy>(&self, src: &[T]) -> Result<NonNull<T>, AllocError> {
        let values = match self {
            SlotArena::Shared(arena) => arena.try_alloc_slice_copy(src)?,
            SlotArena::Local(local) => local.try_alloc_slice_copy(src)?,
        };
        Ok(NonNull::from(values).cast())
    }

    fn fill<T>(&self, len: usize, fill: impl FnMut(usize) -> T) -> Result<NonNull<T>, AllocError> {
        let values = match self {
            SlotArena::Shared(arena) => arena.try_alloc_slice_fill_with(len, fill)?,
            SlotArena::Local(local) => local.try_alloc_slice_fill_with(len, fill)?,
        };
        Ok(NonNull::from(values).cast())
    }
}

impl ExpiryRing {
    /// Where data allocated now with `lifetime_frames` goes, or
    /// [`RingError::BeyondDepth`] when it is beyond the ring and there is
    /// no overflow.
    #[inline(always)]
    pub(super) fn target(&self, lifetime_frames: u32) -> Result<Target<'_>, RingError> {
        match place(self.now, lifetime_frames, self.slots.len()) {
            Placement::Slot { slot, expires_at } => Ok(Target::Slot { slot, expires_at }),
            Placement::Beyond { expires_at } => match &self.overflow {
                Some(overflow) => Ok(Target::Slab {
                    overflow,
                    expires_at,
                }),
                None => Err(RingError::BeyondDepth {
                    lifetime_frames,
                    depth: self.slots.len(),
                }),
            },
        }
    }

    /// Copies `src` into the ring, valid through the end of frame
    /// `frame() + lifetime_frames - 1` (see [`expires_at`](Self::expires_at)),
    /// and returns a `'static` handle to it.
    ///
    /// # Panics
    ///
    /// When [`try_alloc_slice_copy_for`](Self::try_alloc_slice_copy_for)
    /// fails.
    #[track_caller]
    pub fn alloc_slice_copy_for<T: Copy>(&self, lifetime_frames: u32, src: &[T]) -> RingSlice<T> {
        self.copy_for(lifetime_frames, src)
    }

    /// Copies `src` into the ring for `lifetime_frames` frames, or returns
    /// why it could not.
    ///
    /// # Errors
    ///
    /// [`RingError::BeyondDepth`] for a lifetime beyond the ring's depth
    /// with [`RingOverflow::Fail`](super::RingOverflow::Fail);
    /// [`RingError::Alloc`] when the arena or slab is out of memory.
    pub fn try_alloc_slice_copy_for<T: Copy>(
        &self,
        lifetime_frames: u32,
        src: &[T],
    ) -> Result<RingSlice<T>, RingError> {
        self.try_copy_for(lifetime_frames, src)
    }

    /// Allocates `len` values made by `fill(index)` for `lifetime_frames`
    /// frames and returns a `'static` handle to them.
    ///
    /// # Panics
    ///
    /// When [`try_alloc_slice_fill_with_for`](Self::try_alloc_slice_fill_with_for)
    /// fails, and if `fill` panics (the block is then released at its frame
    /// end, never exposed).
    #[track_caller]
    pub fn alloc_slice_fill_with_for<T: Copy>(
        &self,
        lifetime_frames: u32,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> RingSlice<T> {
        self.fill_for(lifetime_frames, len, fill)
    }

    /// Allocates `len` values made by `fill(index)` for `lifetime_frames`
    /// frames, or returns why it could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc_slice_copy_for`](Self::try_alloc_slice_copy_for), and
    /// [`AllocError::InvalidLayout`] (in [`RingError::Alloc`]) when `len`
    /// values of `T` overflow `isize`.
    pub fn try_alloc_slice_fill_with_for<T: Copy>(
        &self,
        lifetime_frames: u32,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Result<RingSlice<T>, RingError> {
        self.try_fill_for(lifetime_frames, len, fill)
    }
}

/// Where a request's slot arena comes from: the slot's shared `&Arena` for
/// [`ExpiryRing`], a cached per-thread handle for a
/// [`RingLocal`](super::RingLocal). Both types' allocation methods are these
/// provided methods, so the two share one path and differ only there.
pub(super) trait SlotArenas {
    /// The ring allocated from.
    fn ring(&self) -> &ExpiryRing;

    /// The arena to allocate slot `slot`'s data from.
    fn arena_of(&self, slot: usize) -> SlotArena<'_, '_>;

    /// [`ExpiryRing::alloc_slice_copy_for`].
    #[track_caller]
    fn copy_for<T: Copy>(&self, lifetime_frames: u32, src: &[T]) -> RingSlice<T> {
        match self.try_copy_for(lifetime_frames, src) {
            Ok(handle) => handle,
            // A `match`, not a closure, so the panic names the caller.
            Err(e) => ring_alloc_failed(e),
        }
    }

    /// [`ExpiryRing::try_alloc_slice_copy_for`].
    fn try_copy_for<T: Copy>(
        &self,
        lifetime_frames: u32,
        src: &[T],
    ) -> Result<RingSlice<T>, RingError> {
        let ring = self.ring();
        let (ptr, expires_at) = match ring.target(lifetime_frames)? {
            Target::Slot { slot, expires_at } => (self.arena_of(slot).copy(src)?, expires_at),
            Target::Slab {
                overflow,
                expires_at,
            } => {
                let block = overflow.alloc(Layout::for_value(src), expires_at)?;
                // SAFETY: a fresh slab block for `Layout::for_value(src)`,
                // owned by the ring and exposed nowhere else.
                (unsafe { write_copy(block, src) }, expires_at)
            }
        };
        Ok(RingSlice::new(ptr, src.len(), expires_at, ring.stamp))
    }

    /// [`ExpiryRing::alloc_slice_fill_with_for`].
    #[track_caller]
    fn fill_for<T: Copy>(
        &self,
        lifetime_frames: u32,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> RingSlice<T> {
        match self.try_fill_for(lifetime_frames, len, fill) {
            Ok(handle) => handle,
            // A `match`, not a closure, so the panic names the caller.
            Err(e) => ring_alloc_failed(e),
        }
    }

    /// [`ExpiryRing::try_alloc_slice_fill_with_for`].
    fn try_fill_for<T: Copy>(
        &self,
        lifetime_frames: u32,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Result<RingSlice<T>, RingError> {
        let ring = self.ring();
        let (ptr, expires_at) = match ring.target(lifetime_frames)? {
            Target::Slot { slot, expires_at } => (self.arena_of(slot).fill(len, fill)?, expires_at),
            Target::Slab {
                overflow,
                expires_at,
            } => {
                let layout = Layout::array::<T>(len).map_err(|_| AllocError::InvalidLayout)?;
                let block = overflow.alloc(layout, expires_at)?;
                // SAFETY: a fresh slab block for `len` values of `T`, owned
                // by the ring and exposed nowhere else.
                (unsafe { write_fill(block, len, fill) }, expires_at)
            }
        };
        Ok(RingSlice::new(ptr, len, expires_at, ring.stamp))
    }
}

impl SlotArenas for ExpiryRing {
    fn ring(&self) -> &ExpiryRing {
        self
    }

    /// The slot's own arena: a lane lookup per call.
    #[inline(always)]
    fn arena_of(&self, slot: usize) -> SlotArena<'_, '_> {
        SlotArena::Shared(&self.slots[slot])
    }
}

/// Panics for an allocation that failed in a panicking convenience method.
#[cold]
#[track_caller]
fn ring_alloc_failed(error: RingError) -> ! {
    panic!("framemem::ExpiryRing: {error}")
}

/// Copies `src` into the block and returns it as `*T`.
///
/// # Safety
///
/// `ptr` is a fresh block for `Layout::for_value(src)`, exposed nowhere
/// else.
unsafe fn write_copy<T: Copy>(ptr: NonNull<u8>, src: &[T]) -> NonNull<T> {
    let ptr = ptr.cast::<T>();
    // SAFETY: the block holds `src.len()` values of `T`, aligned (the
    // caller's layout); `T: Copy`, so a bitwise copy is a copy; the ranges
    // cannot overlap (the block was free until now).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), src.len()) };
    ptr
}

/// Fills the block with `len` values made by `fill(index)` and returns it
/// as `*T`.
///
/// # Safety
///
/// `ptr` is a fresh block for `Layout::array::<T>(len)`, exposed nowhere
/// else.
unsafe fn write_fill<T>(
    ptr: NonNull<u8>,
    len: usize,
    mut fill: impl FnMut(usize) -> T,
) -> NonNull<T> {
    let ptr = ptr.cast::<T>();
    for i in 0..len {
        // SAFETY: `i < len`, inside the fresh, aligned block. If `fill`
        // panics, no handle is made, so the uninitialised tail is never
        // read.
        unsafe { ptr.as_ptr().add(i).write(fill(i)) };
    }
    ptr
}

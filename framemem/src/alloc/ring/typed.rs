//! Typed allocation in an [`ExpiryRing`]: [`RingFrames`], the view that
//! allocates for one lifetime in frames, implements [`TypedAlloc`], whose
//! typed methods (and their unsafe writes, `alloc/typed.rs`) are shared by
//! every allocator.
//!
//! Every path first places the request ([`ExpiryRing::target`]): into the
//! arena of a slot (through `&Arena`, or a per-thread [`ArenaLocal`] when
//! the view comes from a [`RingLocal`]), or into the overflow slab.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::expiry::{Placement, place};
use super::handle::handle_len;
use super::overflow::SlabOverflow;
use super::{ExpiryRing, RingError, RingLocal, RingSlice};
use crate::alloc::{AllocStrategy, Arena, ArenaLocal, Sealed, TypedAlloc};

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
    /// A fresh block of the slot's arena.
    #[inline(always)]
    fn alloc(&self, layout: Layout) -> Result<NonNull<u8>, RingError> {
        Ok(match self {
            SlotArena::Shared(arena) => AllocStrategy::alloc(*arena, layout)?,
            SlotArena::Local(local) => local.alloc(layout)?,
        })
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
}

/// Where a request's slot arena comes from: the slot's shared `&Arena` for
/// [`ExpiryRing`], a cached per-thread handle for a
/// [`RingLocal`](super::RingLocal). Both types' allocation methods are these
/// provided methods, so the two share one path and differ only there.
pub(super) trait SlotArenas {
    /// The arena to allocate slot `slot`'s data from.
    fn arena_of(&self, slot: usize) -> SlotArena<'_, '_>;
}

impl SlotArenas for ExpiryRing {
    /// The slot's own arena: a lane lookup per call.
    #[inline(always)]
    fn arena_of(&self, slot: usize) -> SlotArena<'_, '_> {
        SlotArena::Shared(&self.slots[slot])
    }
}

/// An [`ExpiryRing`] (or a [`RingLocal`] on it) allocating for one
/// lifetime: data made through it is valid through the end of frame
/// `frame() + lifetime_frames - 1` (`0` counts as `1`; see
/// [`ExpiryRing::expires_at`]). From [`ExpiryRing::for_frames`] or
/// [`RingLocal::for_frames`]; it allocates through [`TypedAlloc`], and
/// its handles are [`RingSlice`]s.
///
/// ```
/// use framemem::{ExpiryRing, TypedAlloc};
///
/// let mut ring = ExpiryRing::new(4);
/// let fade = ring.for_frames(3).handle_slice_copy(&[1.0f32, 0.5]);
/// ring.end_frame();
/// assert_eq!(ring.get(fade), &[1.0, 0.5]);
/// ```
///
/// Its errors are [`RingError`]s: [`RingError::BeyondDepth`] for a
/// lifetime beyond the ring's depth with
/// [`RingOverflow::Fail`](super::RingOverflow::Fail), and
/// [`RingError::Alloc`] when the arena or slab is out of memory.
#[derive(Clone, Copy)]
pub struct RingFrames<'s, 'a> {
    source: Source<'s, 'a>,
    lifetime_frames: u32,
}

/// Where a [`RingFrames`] takes its slot arenas from.
#[derive(Clone, Copy)]
enum Source<'s, 'a> {
    Ring(&'a ExpiryRing),
    Local(&'s RingLocal<'a>),
}

impl ExpiryRing {
    /// The ring allocating for `lifetime_frames` frames: see [`RingFrames`].
    pub fn for_frames(&self, lifetime_frames: u32) -> RingFrames<'_, '_> {
        RingFrames {
            source: Source::Ring(self),
            lifetime_frames,
        }
    }
}

impl<'a> RingLocal<'a> {
    /// The handle allocating for `lifetime_frames` frames, with no lane
    /// lookup: see [`RingFrames`].
    pub fn for_frames(&self, lifetime_frames: u32) -> RingFrames<'_, 'a> {
        RingFrames {
            source: Source::Local(self),
            lifetime_frames,
        }
    }
}

impl<'a> RingFrames<'_, 'a> {
    /// The ring allocated from (to resolve a [`RingSlice`]).
    pub fn ring(&self) -> &'a ExpiryRing {
        match self.source {
            Source::Ring(ring) => ring,
            Source::Local(local) => local.ring(),
        }
    }

    /// The lifetime, in frames, of what this view allocates.
    pub fn lifetime_frames(&self) -> u32 {
        self.lifetime_frames
    }
}

impl fmt::Debug for RingFrames<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingFrames")
            .field("lifetime_frames", &self.lifetime_frames)
            .field("local", &matches!(self.source, Source::Local(_)))
            .finish_non_exhaustive()
    }
}

impl Sealed for RingFrames<'_, '_> {}

// SAFETY: a slot's block comes from its arena (fresh, aligned, unaliased);
// the slot is reset only by `end_frame(&mut self)`, and an overflow block
// is freed only there too, both excluded while the ring is borrowed for
// `'a`.
unsafe impl<'a> TypedAlloc<'a> for RingFrames<'_, 'a> {
    type Handle<T: Copy> = RingSlice<T>;
    type Error = RingError;
    const NAME: &'static str = "ExpiryRing";
    /// The last frame the block is valid in.
    type Tag = u64;

    #[inline]
    fn try_alloc_block(self, layout: Layout) -> Result<(NonNull<u8>, u64), RingError> {
        let ring = self.ring();
        match ring.target(self.lifetime_frames)? {
            Target::Slot { slot, expires_at } => {
                let arena = match self.source {
                    Source::Ring(ring) => ring.arena_of(slot),
                    Source::Local(local) => local.arena_of(slot),
                };
                Ok((arena.alloc(layout)?, expires_at))
            }
            Target::Slab {
                overflow,
                expires_at,
            } => Ok((overflow.alloc(layout, expires_at)?, expires_at)),
        }
    }

    #[inline(always)]
    fn check_handle_len(self, len: usize) -> Result<(), RingError> {
        handle_len(len).map(drop)
    }

    #[inline]
    unsafe fn handle_of<T: Copy>(
        self,
        ptr: NonNull<T>,
        len: usize,
        expires_at: u64,
    ) -> RingSlice<T> {
        // `check_handle_len` passed with `len` (the caller's promise): it
        // fits the handle's `u32`.
        RingSlice::new(ptr, len as u32, expires_at, self.ring().id)
    }
}

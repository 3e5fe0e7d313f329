//! [`ExpiryRing`]: an expiry-keyed ring of frame arenas, a timing wheel for
//! data that must live a known number of frames.
//!
//! # Files
//!
//! - `mod.rs` (this file): [`ExpiryRing`], its frame end and invariants;
//! - `expiry.rs`: the placement arithmetic and its convention;
//! - `typed.rs`: [`RingFrames`], allocation for a lifetime through [`TypedAlloc`](crate::TypedAlloc);
//! - `handle.rs`: [`RingSlice`], the epoch-checked handle, and `get`;
//! - `overflow.rs`: [`RingOverflow`] and the slab with its expiry lists;
//! - `local.rs`: [`RingLocal`], the per-batch handle;
//! - `stats.rs`: [`RingStats`] and [`SlotStats`];
//! - `error.rs`: [`RingError`].
//!
//! # Invariants
//!
//! Checked by `ExpiryRing::check_invariants` after every frame end (debug
//! builds: the slot just reset and the overflow lists) and in the tests (all
//! of it):
//! - slot `s` holds only data whose last frame is the one frame `f` in
//!   `now..now + depth` with `f % depth == s` (by construction: `expiry.rs`
//!   proves the placement, `end_frame` resets slot `now % depth`);
//! - each slot's arena keeps its own invariants;
//! - the overflow lists hold no frame before `now` and count their bytes
//!   right (`overflow.rs`).

mod error;
mod expiry;
mod handle;
mod local;
mod overflow;
mod stats;
#[cfg(test)]
mod tests;
mod typed;

use std::fmt;
use std::sync::Arc;

pub use error::RingError;
pub use handle::RingSlice;
pub use local::RingLocal;
pub use overflow::RingOverflow;
pub use stats::{RingStats, SlotStats};
pub use typed::RingFrames;

use self::expiry::{expiry_frame, slot_of};
use self::handle::RingId;
use self::overflow::SlabOverflow;
use crate::alloc::Arena;
use crate::alloc::arena::ChunkCache;
use crate::alloc::trim::TrimPolicy;

/// An expiry-keyed ring of frame arenas, a timing wheel for data that
/// must live a known number of frames.
///
/// Use it for data that outlives the frame that makes it, but not by much
/// and by a count of frames known when it is made: a decal that fades over
/// 30 frames, a contact cached for the next two, a request answered three
/// frames later, data read by the GPU while frames are in flight.
///
/// - **Placement.** The ring has `depth` slots, each a frame [`Arena`].
///   Data allocated in frame `now` for `k` frames is valid through the end
///   of frame `now + k - 1` (`k = 0` means `k = 1`) and goes into the slot
///   reset at the end of that frame: `(now + k - 1) % depth`. One function
///   does this arithmetic, with its table of cases (`expiry.rs`).
/// - **Frame end.** [`end_frame`](ExpiryRing::end_frame) resets exactly one
///   slot, the one whose data expires with the frame: O(lanes used), not
///   O(blocks), like any arena reset. It takes `&mut self`, so no `&[T]`
///   borrowed from the ring survives it.
/// - **Handles.** Data that must live across frames is held as a
///   [`RingSlice<T>`]: `'static` and `Copy`, it records the last frame its
///   data is valid in (the slot's epoch: a slot never sees the same expiry
///   frame twice) and the ring's id (so another ring rejects it).
///   Resolving it after its frame ended panics with a clear message
///   ([`get`](ExpiryRing::get)) or returns `None`
///   ([`try_get`](ExpiryRing::try_get)), never reads freed memory.
/// - **Beyond the depth.** Lifetimes longer than `depth` frames would need
///   a slot that is reset sooner; [`RingOverflow`] says what happens to them:
///   fail ([`RingError::BeyondDepth`]), or allocate from a [`Slab`](crate::Slab)
///   the ring owns, freed at the right frame end (`overflow.rs`).
/// - **Threads and batches.** `&ExpiryRing` allocates from any thread (each
///   slot's arena has per-thread lanes); [`ExpiryRing::local`] returns a
///   [`RingLocal`] that allocates with no lane lookup (`local.rs`).
/// - **Drop.** Values are never dropped, so allocation needs `T: Copy`.
///
/// A raw `alloc(layout)` needs a lifetime, so the ring does not implement
/// [`AllocStrategy`](crate::AllocStrategy); and a collection on a borrowed allocator could not outlive
/// the frame anyway, so there is no `allocator_api2` view either.
///
/// ```
/// use framemem::TypedAlloc;
/// use framemem::{ExpiryRing, RingOverflow};
///
/// let mut ring = ExpiryRing::with_overflow(4, RingOverflow::Slab);
/// let now = ring.for_frames(1).handle_slice_copy(&[1u32, 2]); // this frame only
/// let fade = ring.for_frames(3).handle_slice_copy(&[0.5f32; 8]); // through frame 2
/// let long = ring.for_frames(60).handle_slice_copy(&[7u8]); // beyond the depth: the slab
/// assert_eq!(ring.get(fade)[0], 0.5);
///
/// ring.end_frame(); // frame 0 ends: `now` expires
/// assert!(ring.try_get(now).is_none());
/// ring.end_frame(); // frame 1 ends
/// assert_eq!(ring.get(fade).len(), 8);
/// ring.end_frame(); // frame 2 ends: `fade` expires
/// assert!(ring.try_get(fade).is_none());
/// assert_eq!(ring.get(long), &[7]);
/// ```
pub struct ExpiryRing {
    /// One arena per slot. Slot `s` holds exactly the data whose last frame
    /// is the `f` in `now..now + depth` with `f % depth == s`; never empty.
    slots: Box<[Arena]>,
    /// The idle chunks every slot's arena takes from and gives back to: a
    /// slot reset once every `depth` frames would otherwise keep its own
    /// frame's worth of chunks ahead, `depth` times over (67 MiB held for
    /// 25 MiB of live data in `bullets.ron`).
    chunks: Arc<ChunkCache>,
    /// When idle chunks go back to the system: on the chunk bytes the slots
    /// held at each frame end (`alloc/trim.rs`).
    trim: TrimPolicy,
    /// The frame under way, numbered from 0; the frames ended so far.
    now: u64,
    /// Unique per ring, recorded in every [`RingSlice`]: another ring's
    /// handle never resolves here.
    id: RingId,
    /// The slab and expiry lists for lifetimes beyond the depth; `None`
    /// with [`RingOverflow::Fail`].
    overflow: Option<SlabOverflow>,
}

impl ExpiryRing {
    /// A ring of `depth` slots, for lifetimes of 1 to `depth` frames;
    /// longer ones fail ([`RingOverflow::Fail`]). It holds no memory until the
    /// first allocation.
    ///
    /// # Panics
    ///
    /// When `depth` is 0.
    #[track_caller]
    pub fn new(depth: usize) -> Self {
        Self::with_overflow(depth, RingOverflow::Fail)
    }

    /// A ring of `depth` slots that treats lifetimes beyond `depth` frames
    /// as `overflow` says.
    ///
    /// # Panics
    ///
    /// When `depth` is 0.
    #[track_caller]
    pub fn with_overflow(depth: usize, overflow: RingOverflow) -> Self {
        assert!(
            depth > 0,
            "an ExpiryRing needs at least one slot (depth 0 was asked for)"
        );
        let chunks = Arc::new(ChunkCache::new(None));
        Self {
            slots: (0..depth)
                .map(|_| Arena::with_cache(Arc::clone(&chunks)))
                .collect(),
            chunks,
            trim: TrimPolicy::new(),
            now: 0,
            id: RingId::next(),
            overflow: match overflow {
                RingOverflow::Fail => None,
                RingOverflow::Slab => Some(SlabOverflow::new()),
            },
        }
    }

    /// The number of slots: the longest lifetime, in frames, the ring holds
    /// without overflow.
    pub fn depth(&self) -> usize {
        self.slots.len()
    }

    /// What happens to lifetimes beyond the depth.
    pub fn overflow(&self) -> RingOverflow {
        match self.overflow {
            Some(_) => RingOverflow::Slab,
            None => RingOverflow::Fail,
        }
    }

    /// The frame under way, numbered from 0: the number of
    /// [`end_frame`](Self::end_frame) calls so far.
    pub fn frame(&self) -> u64 {
        self.now
    }

    /// The last frame in which data allocated now for `lifetime_frames`
    /// frames is valid: `frame() + max(lifetime_frames, 1) - 1`.
    pub fn expires_at(&self, lifetime_frames: u32) -> u64 {
        expiry_frame(self.now, lifetime_frames)
    }

    /// Ends the frame under way: releases the data whose last frame it was
    /// (the slot `frame() % depth`, and the overflow blocks listed for this
    /// frame), and moves to the next frame.
    ///
    /// Cost: one arena reset (O(lanes that allocated in the slot)), plus a
    /// slab free per expiring overflow block.
    pub fn end_frame(&mut self) {
        let slot = slot_of(self.now, self.slots.len());
        // What the slots hold, the expiring one included: about what the
        // next frame takes again (in a steady run, a frame's new data is
        // what expires with it), so a steady ring never trims.
        let in_slots = self.chunks.reserved() - self.chunks.idle_bytes();
        self.slots[slot].reset();
        self.trim.record(in_slots as u64);
        if let Some(keep) = self.trim.keep(self.chunks.reserved() as u64) {
            self.chunks
                .trim(usize::try_from(keep).unwrap_or(usize::MAX));
        }
        if let Some(overflow) = &mut self.overflow {
            overflow.free_expired(self.now);
        }
        self.now += 1;
        if cfg!(debug_assertions)
            && let Some(overflow) = &mut self.overflow
        {
            overflow.check_invariants(self.now);
        }
    }

    /// Releases every block at once, whatever its lifetime: every slot's
    /// arena and every overflow block. The ring's id changes, so no
    /// [`RingSlice`] made before resolves after (a stale handle, as after
    /// its last frame); the frame number does not change. It takes
    /// `&mut self`, so no `&[T]` borrowed from the ring survives it.
    ///
    /// Cost: an arena reset per slot, a slab free per overflow block.
    pub fn reset(&mut self) {
        for slot in self.slots.iter_mut() {
            slot.reset();
        }
        if let Some(overflow) = &mut self.overflow {
            overflow.free_expired(u64::MAX);
        }
        self.id = RingId::next();
    }

    /// The ring's invariants (see the [module docs](self)); panics naming
    /// the values when one is broken. Tests only: it visits every lane of
    /// every slot.
    #[cfg(test)]
    pub(crate) fn check_invariants(&mut self) {
        assert!(!self.slots.is_empty(), "ring: no slots");
        let mut in_slots = 0;
        for slot in self.slots.iter_mut() {
            slot.check_invariants();
            in_slots += slot.stats().bytes_reserved;
        }
        self.chunks.check_invariants(in_slots, false, true);
        if let Some(overflow) = &mut self.overflow {
            overflow.check_invariants(self.now);
        }
    }
}

impl fmt::Debug for ExpiryRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExpiryRing")
            .field("depth", &self.depth())
            .field("frame", &self.now)
            .field("overflow", &self.overflow())
            .field("id", &self.id)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

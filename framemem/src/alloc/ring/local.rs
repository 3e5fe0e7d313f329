//! [`RingLocal`]: per-thread handles on the slots' arenas, taken once per
//! task or batch, so allocation does no lane lookup. The type's docs say
//! how it works and why it is sound; no unsafe code here.

use std::cell::OnceCell;
use std::fmt;

use super::ExpiryRing;
use super::typed::{SlotArena, SlotArenas};
use crate::alloc::ArenaLocal;

/// Per-thread handles on an [`ExpiryRing`]'s slots, from
/// [`ExpiryRing::local`]: take one per task or batch (bevy's
/// `for_each_init`).
///
/// `&ExpiryRing` allocates through the slot's `&Arena`, which finds the
/// calling thread's lane on every call. A `RingLocal` takes an
/// [`ArenaLocal`] the first time the batch allocates in a slot and keeps
/// it, so later calls in that slot bump the lane directly.
///
/// Why at most [`CACHED_SLOTS`](Self::CACHED_SLOTS) slots, inline: the
/// depth is known only at run time, so one handle per slot would cost a
/// heap allocation per batch, while a batch in a frame loop allocates for
/// one or two lifetimes. A batch that uses more slots still works: the
/// extra slots go through `&Arena` (a lane lookup per call, as fast as
/// `&ExpiryRing`).
///
/// Why it is sound: it holds only [`ArenaLocal`]s and `&ExpiryRing`, so it
/// inherits their argument: `!Send` and `!Sync`, used and dropped on the
/// thread whose lanes it pinned (`tests/thread_safety.rs`);
/// it borrows the ring, and [`ExpiryRing::end_frame`] needs `&mut`, so no
/// slot is reset while it lives
/// (`tests/compile_fail/ring_local_across_end_frame.rs`), and the frame,
/// hence each lifetime's slot, cannot change under it.
///
/// ```
/// use framemem::{ExpiryRing, TypedAlloc};
///
/// let mut ring = ExpiryRing::new(8);
/// let handle = {
///     let local = ring.local(); // no lookup yet
///     let a = local.for_frames(2).handle_slice_copy(&[1u32, 2]); // takes slot 1's lane once
///     let b = local.for_frames(2).handle_slice_fill_with(3, |i| i as u32); // no lookup
///     assert_eq!(ring.get(a), &[1, 2]);
///     b
/// }; // the handle's counts go into the ring's
/// assert_eq!(ring.stats().allocations, 2);
/// ring.end_frame();
/// assert_eq!(ring.get(handle), &[0, 1, 2]);
/// ```
pub struct RingLocal<'a> {
    ring: &'a ExpiryRing,
    /// Filled front to back: a slot index and a handle on that slot's
    /// arena, made at the batch's first allocation in the slot. No two
    /// entries name the same slot.
    arenas: [OnceCell<(usize, ArenaLocal<'a>)>; RingLocal::CACHED_SLOTS],
}

impl RingLocal<'_> {
    /// How many slots one handle serves with no lane lookup; see
    /// [`RingLocal`] for the choice.
    pub const CACHED_SLOTS: usize = 4;
}

impl ExpiryRing {
    /// Per-thread handles for a batch of allocations: see [`RingLocal`].
    /// Take one per task or batch (bevy's `for_each_init`); it takes no
    /// lane until it allocates.
    pub fn local(&self) -> RingLocal<'_> {
        RingLocal {
            ring: self,
            arenas: Default::default(),
        }
    }
}

impl<'a> RingLocal<'a> {
    /// The ring this handle allocates from (to resolve a [`RingSlice`](super::RingSlice)).
    pub fn ring(&self) -> &'a ExpiryRing {
        self.ring
    }

    /// The slots this handle holds a per-thread arena handle for.
    pub fn cached_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.arenas
            .iter()
            .map_while(|entry| entry.get().map(|(slot, _)| *slot))
    }
}

impl SlotArenas for RingLocal<'_> {
    /// A cached handle, a new one in the first free entry, or the shared
    /// arena when all are taken.
    ///
    /// Cost: up to [`CACHED_SLOTS`](RingLocal::CACHED_SLOTS) compares.
    #[inline(always)]
    fn arena_of(&self, slot: usize) -> SlotArena<'_, '_> {
        for entry in &self.arenas {
            match entry.get() {
                Some((cached, local)) if *cached == slot => return SlotArena::Local(local),
                Some(_) => {}
                None => {
                    let (_, local) = entry.get_or_init(|| (slot, self.ring.slots[slot].local()));
                    return SlotArena::Local(local);
                }
            }
        }
        SlotArena::Shared(&self.ring.slots[slot])
    }
}

impl fmt::Debug for RingLocal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingLocal")
            .field("frame", &self.ring.frame())
            .field("cached_slots", &self.cached_slots().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

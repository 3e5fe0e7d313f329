//! The ring's one piece of arithmetic: where data allocated now with a given
//! lifetime goes, and at which frame end it dies.
//!
//! # The convention
//!
//! Frames are numbered from 0; `now` is the frame under way, and
//! [`ExpiryRing::end_frame`](super::ExpiryRing::end_frame) ends it. Data
//! allocated in frame `now` with a lifetime of `k` frames is valid through
//! the end of frame `now + k - 1`: it is readable in the `k` frames `now`,
//! `now + 1`, …, `now + k - 1` and released by the `end_frame` that ends the
//! last of them. So `k = 1` is "this frame only", like a plain
//! [`Arena`](crate::Arena). `k = 0` means the same as `k = 1`: memory is
//! only ever released at a frame end, so nothing can die sooner.
//!
//! With `depth` slots, slot `s` is reset at the end of every frame `f` with
//! `f % depth == s`. Data expiring at the end of frame `e` goes to slot
//! `e % depth`, which is right as long as `e < now + depth` (no end of a
//! frame `f ≡ e` lies in `now..e`): lifetimes `1..=depth` fit in the ring;
//! longer ones overflow (to a slab, or fail, see
//! [`RingOverflow`](super::RingOverflow)).

/// Where data allocated in frame `now` with a lifetime goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Placement {
    /// Into slot `slot` of the ring, released at the end of frame
    /// `expires_at`.
    Slot {
        /// The slot reset at the end of frame `expires_at`.
        slot: usize,
        /// The last frame the data is valid in.
        expires_at: u64,
    },
    /// Beyond the ring's depth: the data must live past the next reset of
    /// every slot. Released at the end of frame `expires_at`.
    Beyond {
        /// The last frame the data is valid in.
        expires_at: u64,
    },
}

/// The last frame in which data allocated in frame `now` with a lifetime of
/// `lifetime_frames` is valid: `now + max(lifetime_frames, 1) - 1`.
///
/// No overflow: `now` grows by one per frame, so it stays below
/// `u64::MAX - u32::MAX` for longer than any program runs.
#[inline(always)]
pub(super) fn expiry_frame(now: u64, lifetime_frames: u32) -> u64 {
    now + u64::from(lifetime_frames.max(1)) - 1
}

/// The slot reset at the end of frame `frame`, in a ring of `depth` slots.
#[inline(always)]
pub(super) fn slot_of(frame: u64, depth: usize) -> usize {
    // The remainder is below `depth`, a `usize`.
    (frame % depth as u64) as usize
}

/// Where data allocated in frame `now` with a lifetime of `lifetime_frames`
/// goes in a ring of `depth` slots. See the [module docs](self).
#[inline(always)]
pub(super) fn place(now: u64, lifetime_frames: u32, depth: usize) -> Placement {
    let expires_at = expiry_frame(now, lifetime_frames);
    if expires_at - now < depth as u64 {
        Placement::Slot {
            slot: slot_of(expires_at, depth),
            expires_at,
        }
    } else {
        Placement::Beyond { expires_at }
    }
}

#[cfg(test)]
mod tests {
    use super::{Placement, place, slot_of};

    #[test]
    fn placement_table() {
        use Placement::{Beyond, Slot};
        // (now, lifetime, depth) -> placement
        let table = [
            // k = 0 and k = 1: this frame only, the slot reset at its end.
            (
                (0, 0, 4),
                Slot {
                    slot: 0,
                    expires_at: 0,
                },
            ),
            (
                (0, 1, 4),
                Slot {
                    slot: 0,
                    expires_at: 0,
                },
            ),
            (
                (0, 2, 4),
                Slot {
                    slot: 1,
                    expires_at: 1,
                },
            ),
            (
                (0, 4, 4),
                Slot {
                    slot: 3,
                    expires_at: 3,
                },
            ),
            // One past the depth: beyond the ring.
            ((0, 5, 4), Beyond { expires_at: 4 }),
            // Later frames wrap around.
            (
                (5, 1, 4),
                Slot {
                    slot: 1,
                    expires_at: 5,
                },
            ),
            (
                (5, 3, 4),
                Slot {
                    slot: 3,
                    expires_at: 7,
                },
            ),
            (
                (5, 4, 4),
                Slot {
                    slot: 0,
                    expires_at: 8,
                },
            ),
            ((5, 5, 4), Beyond { expires_at: 9 }),
            ((5, 100, 4), Beyond { expires_at: 104 }),
            // A ring of one slot is a frame arena: only k <= 1 fits.
            (
                (7, 0, 1),
                Slot {
                    slot: 0,
                    expires_at: 7,
                },
            ),
            (
                (7, 1, 1),
                Slot {
                    slot: 0,
                    expires_at: 7,
                },
            ),
            ((7, 2, 1), Beyond { expires_at: 8 }),
            // The longest lifetime, far into the run: no overflow.
            (
                (1 << 40, u32::MAX, 8),
                Beyond {
                    expires_at: (1 << 40) + u64::from(u32::MAX) - 1,
                },
            ),
        ];
        for ((now, k, depth), want) in table {
            assert_eq!(
                place(now, k, depth),
                want,
                "place(now {now}, k {k}, depth {depth})"
            );
        }
    }

    /// The claim the ring's soundness rests on: a slot chosen at frame `now`
    /// is not reset at any frame end before the data's expiry.
    #[test]
    fn no_reset_of_the_slot_before_expiry() {
        for depth in 1..=6usize {
            for now in 0..20u64 {
                for k in 0..=(depth as u32 + 2) {
                    if let Placement::Slot { slot, expires_at } = place(now, k, depth) {
                        assert!(expires_at >= now);
                        for ended in now..expires_at {
                            assert_ne!(
                                slot_of(ended, depth),
                                slot,
                                "depth {depth}, now {now}, k {k}: slot {slot} reset at the end \
                                 of frame {ended}, before its data's expiry {expires_at}"
                            );
                        }
                        assert_eq!(slot_of(expires_at, depth), slot);
                    }
                }
            }
        }
    }
}

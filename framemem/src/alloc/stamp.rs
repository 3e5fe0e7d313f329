//! Epoch stamps for `'static` handles ([`ArenaSlice`](super::ArenaSlice),
//! [`SlabSlice`](super::SlabSlice)), and the report of a stale one.
//!
//! A structure that hands out handles takes a new [`Stamp`] when it is made
//! and at every reset, and records it in each handle. A handle resolves only
//! while its stamp equals the structure's: made by this structure, since its
//! last reset.
//!
//! Invariant: stamps are never reused in a process. They come from one
//! process-wide counter (64 bits: at a billion resets a second it wraps
//! after five centuries), so no two structures, and no two epochs of one
//! structure, share a stamp.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Source of stamps; 0 is never handed out.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// One epoch of one structure. See the [module docs](self).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// A stamp no structure has had before.
    pub(crate) fn next() -> Self {
        Self(NEXT_STAMP.fetch_add(1, Ordering::Relaxed))
    }
}

/// The bare number, as handles and structures printed it before stamps had
/// a type.
impl fmt::Debug for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Who reports a stale handle, for [`stale_handle`].
pub(crate) struct HandleOwner {
    /// The handle's type, as the user wrote it: `"ArenaSlice"`.
    pub(crate) handle: &'static str,
    /// The structure, in lower case: `"arena"`.
    pub(crate) owner: &'static str,
    /// Appended to the message, right after its closing parenthesis: what
    /// to do instead (empty, or a sentence starting with `". "`).
    pub(crate) advice: &'static str,
}

/// Panics for a handle made under stamp `made` and resolved at stamp `now`.
#[cold]
#[track_caller]
pub(crate) fn stale_handle(who: &HandleOwner, made: Stamp, now: Stamp) -> ! {
    let HandleOwner {
        handle,
        owner,
        advice,
    } = who;
    panic!(
        "stale {handle}: it was made under {owner} stamp {made}, but this {owner} is now at \
         stamp {now}; the {owner} was reset since (or the handle belongs to another {owner}){advice}"
    )
}

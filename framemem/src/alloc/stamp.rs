//! Epoch stamps for `'static` handles ([`ArenaSlice`](super::ArenaSlice),
//! [`SlabSlice`](super::SlabSlice)), and the report of a stale one.
//!
//! A structure that hands out handles takes a new [`Stamp`] when it is made
//! and at every reset, and records it in each handle. A handle resolves only
//! while its stamp equals the structure's: made by this structure, since its
//! last reset.
//!
//! Invariant: stamps are never reused in a process. They come from one
//! process-wide counter, so no two structures, and no two epochs of one
//! structure, share a stamp. Each structure takes them [`STAMP_BLOCK`] at a
//! time ([`Stamps`]): a reset then costs no atomic read-modify-write (one
//! costs as much as the rest of an empty arena's reset on a loaded
//! virtual machine), and a block left unused when a structure drops is
//! skipped, never handed out again. The counter's 64 bits last 2^54
//! blocks (at a hundred million structures made a second, five years); a
//! process that gets near the end aborts rather than reuse one.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Source of stamps; 0 is never handed out.
static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// One epoch of one structure. See the [module docs](self).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

/// Stamps a structure takes from [`NEXT_STAMP`] at a time.
const STAMP_BLOCK: u64 = 1 << 10;

/// One structure's supply of stamps: what is left of the block it took
/// last. See the [module docs](self).
pub(crate) struct Stamps {
    next: u64,
    end: u64,
}

impl Stamps {
    /// A supply with nothing in it yet (the first [`next`](Self::next)
    /// takes a block).
    pub(crate) const fn new() -> Self {
        Self { next: 0, end: 0 }
    }

    /// A stamp no structure has had before.
    #[inline]
    pub(crate) fn next(&mut self) -> Stamp {
        if self.next == self.end {
            self.take_block();
        }
        let stamp = Stamp(self.next);
        self.next += 1;
        stamp
    }

    #[cold]
    #[inline(never)]
    fn take_block(&mut self) {
        let start = NEXT_STAMP.fetch_add(STAMP_BLOCK, Ordering::Relaxed);
        if start > u64::MAX - 2 * STAMP_BLOCK {
            // Never in practice (the module docs); if it were, the next
            // blocks would wrap to stamps handed out before.
            eprintln!("framemem: the process has used up its epoch stamps; aborting");
            std::process::abort();
        }
        self.next = start;
        self.end = start + STAMP_BLOCK;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Structures made on several threads at once, each taking stamps past
    /// the end of its first block: no stamp is handed out twice, and 0 never.
    #[test]
    fn stamps_are_never_handed_out_twice() {
        // Fewer under Miri, where each stamp costs thousands of times more.
        let (threads, structures) = if cfg!(miri) { (2, 1) } else { (4, 3) };
        let per_thread: Vec<Vec<u64>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut taken = Vec::new();
                        for _ in 0..structures {
                            let mut stamps = Stamps::new();
                            for _ in 0..STAMP_BLOCK + 7 {
                                taken.push(stamps.next().0);
                            }
                        }
                        taken
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let mut all = per_thread.concat();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a stamp was handed out twice");
        assert_ne!(all[0], 0);
    }
}

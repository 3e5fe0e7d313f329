//! [`ArenaSlice<T>`]: a `'static`, `Copy` handle to a slice in an [`Arena`],
//! for data that must sit in ECS components, and the arena methods that make
//! and resolve it.
//!
//! Invariant: a handle whose stamp equals its arena's points to `len`
//! initialised values in that arena, never exposed as `&mut`.

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::Arena;
use crate::alloc::stamp::{HandleOwner, Stamp, stale_handle};

/// How a stale [`ArenaSlice`] is reported.
const STALE: HandleOwner = HandleOwner {
    handle: "ArenaSlice",
    owner: "arena",
    advice: ". Arena data lives one frame: keep the handle only until the reset, or copy the \
             data out.",
};

/// A `'static`, `Copy` handle to a slice in an [`Arena`], for data that must
/// sit in ECS components.
///
/// It is only a ticket: reading needs the arena ([`Arena::get`] or
/// [`Arena::try_get`]), which checks that the arena has not been reset since
/// the handle was made. A stale handle is reported, never read.
pub struct ArenaSlice<T> {
    pub(super) ptr: NonNull<T>,
    pub(super) len: usize,
    /// The arena's stamp when the handle was made.
    pub(super) stamp: Stamp,
    pub(super) _values: PhantomData<T>,
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

impl Arena {
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
            None => stale_handle(&STALE, handle.stamp, self.stamp),
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

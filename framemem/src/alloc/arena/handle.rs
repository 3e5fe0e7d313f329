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
use crate::alloc::{AllocError, alloc_failed};

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
    ptr: NonNull<T>,
    len: usize,
    /// The arena's stamp when the handle was made.
    stamp: Stamp,
    _values: PhantomData<T>,
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
    /// Copies `src` into the arena and returns a `'static` handle to it.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc_value).
    #[track_caller]
    pub fn handle_slice_copy<T: Copy>(&self, src: &[T]) -> ArenaSlice<T> {
        self.try_handle_slice_copy(src)
            .unwrap_or_else(|e| alloc_failed("Arena", e))
    }

    /// Copies `src` into the arena and returns a `'static` handle, or why it
    /// could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc_value).
    pub fn try_handle_slice_copy<T: Copy>(&self, src: &[T]) -> Result<ArenaSlice<T>, AllocError> {
        let slice = self.try_alloc_slice_copy(src)?;
        Ok(self.handle_of(slice))
    }

    /// Allocates `len` values made by `fill(index)` and returns a `'static`
    /// handle to them.
    ///
    /// # Panics
    ///
    /// As [`alloc_slice_fill_with`](Self::alloc_slice_fill_with).
    #[track_caller]
    pub fn handle_slice_fill_with<T>(
        &self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> ArenaSlice<T> {
        let slice = self.alloc_slice_fill_with(len, fill);
        self.handle_of(slice)
    }

    /// A handle to `slice`, a block of this arena made in this epoch.
    pub(super) fn handle_of<T>(&self, slice: &mut [T]) -> ArenaSlice<T> {
        ArenaSlice {
            ptr: NonNull::from(&mut *slice).cast(),
            len: slice.len(),
            stamp: self.stamp,
            _values: PhantomData,
        }
    }

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

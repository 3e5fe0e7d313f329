//! Typed allocation in an [`Arena`]: values and slices as `&mut T` and
//! `&mut [T]`, borrowed from the arena so that no reset can happen while they
//! are in use.
//!
//! Each `try_*` returns the [`AllocError`]; the panicking form is built on it
//! with `#[track_caller]`.
//!
//! The arena never drops what it holds, so a type that needs drop (a
//! `String`, a `Vec`, a `Box`: whatever owns memory or another resource)
//! would leak silently. Every typed path (`alloc_value`,
//! `alloc_slice_fill_with`, `handle_slice_fill_with`, on [`Arena`] and
//! [`ArenaLocal`](super::ArenaLocal), `try_*` included) writes through
//! [`init_value`] or [`init_slice_fill`], which refuse such a `T` at compile
//! time (`NO_DROP`): a post-monomorphisation error, so `cargo build` and
//! `cargo test` report it, `cargo check` does not. The error points here and
//! names the type; the note under it says which call instantiated it
//! (`tests/compile_fail/post_mono/`). Keep such values in a
//! `Vec<T, &Arena>` (allocator_api2), which drops its items.

use std::alloc::Layout;
use std::ptr::NonNull;

use super::Arena;
use crate::alloc::{AllocError, Allocator, alloc_failed};

impl Arena {
    /// Allocates `value` in the arena. It will never be dropped, so `T`
    /// must not need drop: a `String` or a `Vec` does not compile (a
    /// compile-time check, `tests/compile_fail/post_mono/`).
    ///
    /// # Panics
    ///
    /// When the arena's limit is reached or the system is out of memory; see
    /// [`try_alloc`](Self::try_alloc_value).
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_value<T>(&self, value: T) -> &mut T {
        self.try_alloc_value(value)
            .unwrap_or_else(|e| alloc_failed("Arena", e))
    }

    /// Allocates `value` in the arena, or returns why it could not.
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the limit is reached or the system is out of memory.
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_value<T>(&self, value: T) -> Result<&mut T, AllocError> {
        let ptr = Allocator::alloc(self, Layout::new::<T>())?;
        // SAFETY: a fresh block for `T`, borrowed from `self`, so no reset
        // can happen while it is in use.
        Ok(unsafe { init_value(ptr, value) })
    }

    /// Copies `src` into the arena.
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc_value).
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        self.try_alloc_slice_copy(src)
            .unwrap_or_else(|e| alloc_failed("Arena", e))
    }

    /// Copies `src` into the arena, or returns why it could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc_value).
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T], AllocError> {
        let ptr = Allocator::alloc(self, Layout::for_value(src))?;
        // SAFETY: a fresh block for `src`, borrowed from `self`.
        Ok(unsafe { init_slice_copy(ptr, src) })
    }

    /// Allocates `len` values made by `fill(index)`. They will never be
    /// dropped, so `T` must not need drop (see [`alloc_value`](Self::alloc_value)).
    ///
    /// # Panics
    ///
    /// As [`alloc`](Self::alloc_value), and if `fill` panics (the values already
    /// made are leaked in the arena, never exposed).
    #[track_caller]
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn alloc_slice_fill_with<T>(&self, len: usize, fill: impl FnMut(usize) -> T) -> &mut [T] {
        self.try_alloc_slice_fill_with(len, fill)
            .unwrap_or_else(|e| alloc_failed("Arena", e))
    }

    /// Allocates `len` values made by `fill(index)`, or returns why it could
    /// not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc`](Self::try_alloc_value), and [`AllocError::InvalidLayout`]
    /// when `len` values of `T` overflow `isize`.
    #[allow(clippy::mut_from_ref)] // each call returns a new, disjoint block
    pub fn try_alloc_slice_fill_with<T>(
        &self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        let ptr = Allocator::alloc(self, array_layout::<T>(len)?)?;
        // SAFETY: a fresh block for `len` values of `T`, borrowed from `self`.
        Ok(unsafe { init_slice_fill(ptr, len, fill) })
    }
}

// The typed writes, shared by `&Arena` and the per-thread `ArenaLocal`.

/// The layout of `len` values of `T`.
pub(super) fn array_layout<T>(len: usize) -> Result<Layout, AllocError> {
    Layout::array::<T>(len).map_err(|_| AllocError::InvalidLayout)
}

/// Why a `T` that needs drop does not compile (see the module docs).
const NO_DROP: &str = "framemem::Arena never drops the values it holds, and this type needs \
    drop (it would leak): allocate values without drop glue, or keep them in a `Vec<T, &Arena>`, \
    which drops its items";

/// Moves `value` into the block and returns it. Refuses a `T` that needs
/// drop at compile time.
///
/// # Safety
///
/// - `ptr` is a fresh arena block of `Layout::new::<T>()`, exposed nowhere
///   else;
/// - it stays allocated for `'b` (the arena is borrowed for `'b`, so no
///   reset can happen meanwhile).
pub(super) unsafe fn init_value<'b, T>(ptr: NonNull<u8>, value: T) -> &'b mut T {
    const { assert!(!std::mem::needs_drop::<T>(), "{}", NO_DROP) };
    let ptr = ptr.cast::<T>();
    // SAFETY: the caller's promises: sized and aligned for `T`, unaliased,
    // valid for `'b`; written before the reference is made.
    unsafe {
        ptr.as_ptr().write(value);
        &mut *ptr.as_ptr()
    }
}

/// Copies `src` into the block and returns it.
///
/// # Safety
///
/// As [`init_value`], for `Layout::for_value(src)`.
pub(super) unsafe fn init_slice_copy<'b, T: Copy>(ptr: NonNull<u8>, src: &[T]) -> &'b mut [T] {
    let ptr = ptr.cast::<T>();
    // SAFETY: the block holds `src.len()` values of `T` (the caller's
    // layout); `T: Copy`, so a bitwise copy is a valid copy; the ranges
    // cannot overlap (the block was free until now).
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), src.len());
        std::slice::from_raw_parts_mut(ptr.as_ptr(), src.len())
    }
}

/// Fills the block with `len` values made by `fill(index)` and returns it.
/// Refuses a `T` that needs drop at compile time.
///
/// # Safety
///
/// As [`init_value`], for `Layout::array::<T>(len)`.
pub(super) unsafe fn init_slice_fill<'b, T>(
    ptr: NonNull<u8>,
    len: usize,
    mut fill: impl FnMut(usize) -> T,
) -> &'b mut [T] {
    const { assert!(!std::mem::needs_drop::<T>(), "{}", NO_DROP) };
    let ptr = ptr.cast::<T>();
    for i in 0..len {
        // SAFETY: `i < len`, inside the fresh block. If `fill` panics, the
        // block is never exposed, so its uninitialised tail is never read.
        unsafe { ptr.as_ptr().add(i).write(fill(i)) };
    }
    // SAFETY: all `len` values were written just above; the caller's
    // promises make the block unaliased and valid for `'b`.
    unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) }
}

//! Typed allocation in an [`Arena`]: values and slices as `&mut T` and
//! `&mut [T]`, borrowed from the arena so that no reset can happen while they
//! are in use.
//!
//! Each `try_*` returns the [`AllocError`]; the panicking form is built on it
//! with `#[track_caller]`.

use std::alloc::Layout;

use super::Arena;
use crate::alloc::{AllocError, Allocator, alloc_failed};

impl Arena {
    /// Allocates `value` in the arena. It will never be dropped.
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
        let ptr = Allocator::alloc(self, Layout::new::<T>())?.cast::<T>();
        // SAFETY: the block is fresh, sized and aligned for `T`, and
        // borrowed from `self`, so no reset can happen while it is in use.
        unsafe {
            ptr.as_ptr().write(value);
            Ok(&mut *ptr.as_ptr())
        }
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
        let layout = Layout::for_value(src);
        let ptr = Allocator::alloc(self, layout)?.cast::<T>();
        // SAFETY: the block is fresh and holds `src.len()` values of `T`;
        // `T: Copy`, so a bitwise copy is a valid copy, and the two ranges
        // cannot overlap (the block was free until now).
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), src.len());
            Ok(std::slice::from_raw_parts_mut(ptr.as_ptr(), src.len()))
        }
    }

    /// Allocates `len` values made by `fill(index)`.
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
        mut fill: impl FnMut(usize) -> T,
    ) -> Result<&mut [T], AllocError> {
        let layout = Layout::array::<T>(len).map_err(|_| AllocError::InvalidLayout)?;
        let ptr = Allocator::alloc(self, layout)?.cast::<T>();
        for i in 0..len {
            // SAFETY: `i < len`, inside the fresh block. If `fill` panics, the
            // block is never exposed, so its uninitialised tail is never read.
            unsafe { ptr.as_ptr().add(i).write(fill(i)) };
        }
        // SAFETY: all `len` values were written just above.
        Ok(unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) })
    }
}

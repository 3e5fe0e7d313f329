//! [`SlabSlice<T>`]: a `'static` handle to a slice in a [`Slab`], for data
//! that must sit in ECS components.

use std::alloc::Layout;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::Slab;
use crate::alloc::stamp::{HandleOwner, Stamp, stale_handle};
use crate::alloc::{AllocError, Allocator, alloc_failed};

/// How a stale [`SlabSlice`] is reported.
const STALE: HandleOwner = HandleOwner {
    handle: "SlabSlice",
    owner: "slab",
    advice: "",
};

/// An owned, `'static` handle to `len` values of `T` in a [`Slab`].
///
/// It is neither `Copy` nor `Clone`: one handle, one block, so
/// [`Slab::get_mut`] through `&mut handle` is exclusive and
/// [`Slab::free_slice`], which takes the handle by value, cannot free a block
/// twice. Reading needs the slab, which checks that it was not reset since
/// (the handle records the slab's stamp). Dropping a handle without
/// `free_slice` leaks its slot until the next reset.
pub struct SlabSlice<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    /// The slab's stamp when the handle was made.
    stamp: Stamp,
    _values: PhantomData<T>,
}

// SAFETY: the handle owns its block like a `Box<[T]>` does; access goes
// through `&handle` (shared) or `&mut handle` (exclusive), so the usual
// `Box` rules apply: `Send` if `T: Send`, `Sync` if `T: Sync`.
unsafe impl<T: Copy + Send> Send for SlabSlice<T> {}
// SAFETY: as for `Send`.
unsafe impl<T: Copy + Sync> Sync for SlabSlice<T> {}

impl<T: Copy> SlabSlice<T> {
    /// How many values the slice holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn layout(&self) -> Layout {
        Layout::array::<T>(self.len).expect("the layout was valid when the slice was made")
    }
}

impl<T: Copy> fmt::Debug for SlabSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlabSlice")
            .field("len", &self.len)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

impl Slab {
    /// Copies `src` into the slab and returns an owned handle to it.
    ///
    /// # Panics
    ///
    /// When the system is out of memory; see
    /// [`try_alloc_slice_copy`](Self::try_alloc_slice_copy).
    #[track_caller]
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> SlabSlice<T> {
        self.try_alloc_slice_copy(src)
            .unwrap_or_else(|e| alloc_failed("Slab", e))
    }

    /// Copies `src` into the slab and returns an owned handle, or why it
    /// could not.
    ///
    /// # Errors
    ///
    /// [`AllocError`] when the system is out of memory.
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<SlabSlice<T>, AllocError> {
        let ptr = Allocator::alloc(self, Layout::for_value(src))?;
        // SAFETY: a fresh block of this slab for `src`.
        Ok(unsafe { self.slice_copy_into(ptr, src) })
    }

    /// Copies `src` into `ptr` and returns the owned handle to it.
    ///
    /// # Safety
    ///
    /// `ptr` is a fresh block of this slab (since its last reset) for
    /// `Layout::for_value(src)`, owned by nothing else.
    pub(super) unsafe fn slice_copy_into<T: Copy>(
        &self,
        ptr: NonNull<u8>,
        src: &[T],
    ) -> SlabSlice<T> {
        let ptr = ptr.cast::<T>();
        // SAFETY: the block is fresh, aligned and large enough for
        // `src.len()` values (the caller's promise); `T: Copy`, so a bitwise
        // copy is a copy.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), src.len()) };
        SlabSlice {
            ptr,
            len: src.len(),
            stamp: self.stamp,
            _values: PhantomData,
        }
    }

    /// Allocates `len` values made by `fill(index)` and returns an owned
    /// handle.
    ///
    /// # Panics
    ///
    /// When the system is out of memory, or `len` values overflow `isize`. If
    /// `fill` panics the block leaks until the next reset.
    #[track_caller]
    pub fn alloc_slice_fill_with<T: Copy>(
        &self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> SlabSlice<T> {
        let layout = Layout::array::<T>(len).expect("slice length overflows isize");
        let ptr = Allocator::alloc(self, layout).unwrap_or_else(|e| alloc_failed("Slab", e));
        // SAFETY: a fresh block of this slab for `len` values of `T`.
        unsafe { self.slice_fill_into(ptr, len, fill) }
    }

    /// Fills `ptr` with `len` values made by `fill(index)` and returns the
    /// owned handle to it.
    ///
    /// # Safety
    ///
    /// `ptr` is a fresh block of this slab (since its last reset) for
    /// `Layout::array::<T>(len)`, owned by nothing else.
    pub(super) unsafe fn slice_fill_into<T: Copy>(
        &self,
        ptr: NonNull<u8>,
        len: usize,
        mut fill: impl FnMut(usize) -> T,
    ) -> SlabSlice<T> {
        let ptr = ptr.cast::<T>();
        for i in 0..len {
            // SAFETY: `i < len`, inside the fresh block.
            unsafe { ptr.as_ptr().add(i).write(fill(i)) };
        }
        SlabSlice {
            ptr,
            len,
            stamp: self.stamp,
            _values: PhantomData,
        }
    }

    /// Reads a slice.
    ///
    /// # Panics
    ///
    /// When the handle is stale: the slab was reset since it was made, or it
    /// belongs to another slab.
    #[track_caller]
    pub fn get<'a, T: Copy>(&'a self, slice: &'a SlabSlice<T>) -> &'a [T] {
        self.try_get(slice)
            .unwrap_or_else(|| stale_handle(&STALE, slice.stamp, self.stamp))
    }

    /// Reads a slice, or `None` when the handle is stale.
    #[inline]
    pub fn try_get<'a, T: Copy>(&'a self, slice: &'a SlabSlice<T>) -> Option<&'a [T]> {
        (slice.stamp == self.stamp).then(|| {
            // SAFETY: same stamp: made by this slab since its last reset, so
            // the block is live (the handle is the only way to free it, and a
            // reset needs `&mut self`, excluded by the borrow `'a`). It holds
            // `len` initialised values and `&SlabSlice` excludes `get_mut`.
            unsafe { std::slice::from_raw_parts(slice.ptr.as_ptr(), slice.len) }
        })
    }

    /// Writes a slice.
    ///
    /// # Panics
    ///
    /// When the handle is stale, as [`get`](Self::get).
    #[track_caller]
    pub fn get_mut<'a, T: Copy>(&'a self, slice: &'a mut SlabSlice<T>) -> &'a mut [T] {
        if slice.stamp != self.stamp {
            stale_handle(&STALE, slice.stamp, self.stamp)
        }
        // SAFETY: live as in `try_get`; `&mut SlabSlice` is the only handle
        // to this block (handles are not `Clone`), so the slice is exclusive.
        unsafe { std::slice::from_raw_parts_mut(slice.ptr.as_ptr(), slice.len) }
    }

    /// Frees a slice. Returns `false`, and frees nothing, for a stale handle,
    /// whose block the reset already reclaimed.
    pub fn free_slice<T: Copy>(&self, slice: SlabSlice<T>) -> bool {
        let Some((ptr, layout)) = self.live_block(slice) else {
            return false;
        };
        // SAFETY: `live_block`'s promise: a block of this slab made by
        // `alloc` with this layout, whose one handle is consumed.
        unsafe { Allocator::free(self, ptr, layout) };
        true
    }

    /// The block and layout of a handle made by this slab since its last
    /// reset, consuming the handle; `None` for a stale handle, whose block
    /// the reset already reclaimed.
    ///
    /// A block returned here came from `alloc` with that layout and has no
    /// handle left, so freeing it once is sound.
    pub(super) fn live_block<T: Copy>(&self, slice: SlabSlice<T>) -> Option<(NonNull<u8>, Layout)> {
        (slice.stamp == self.stamp).then(|| (slice.ptr.cast(), slice.layout()))
    }
}

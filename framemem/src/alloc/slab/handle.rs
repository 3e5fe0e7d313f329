//! [`SlabSlice<T>`]: a `'static` handle to a slice in a [`Slab`], for data
//! that must sit in ECS components, and [`TypedAlloc`] for `&Slab` and
//! `&SlabLocal` (the typed methods are the trait's, `alloc/typed.rs`).

use std::alloc::Layout;
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::{Slab, SlabLocal};
use crate::alloc::AllocStrategy;
use crate::alloc::stamp::{HandleOwner, Stamp, stale_handle};

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

crate::alloc::typed::typed_alloc_for_strategy!(Slab, SlabLocal::slab, SlabSlice);

impl<T: Copy> fmt::Debug for SlabSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlabSlice")
            .field("len", &self.len)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

impl Slab {
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
        unsafe { self.free(ptr, layout) };
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

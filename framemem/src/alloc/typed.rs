//! [`TypedAlloc`]: typed values and slices, written once for every handle
//! type over one raw method. The only place that initialises typed memory
//! in a fresh block: the unsafe writes live here and nowhere else.

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;

use super::AllocError;

/// Typed allocation: values and slices, given back as references or as
/// `'static` handles, the same way on every allocator.
///
/// Sealed: implemented by the shared handles (`&'a Arena`, `&'a Slab`), the
/// per-thread handles (`&ArenaLocal<'a>`, `&SlabLocal<'a>`) and the ring's
/// lifetime views ([`ExpiryRing::for_frames`](crate::ExpiryRing::for_frames),
/// [`RingLocal::for_frames`](crate::RingLocal::for_frames): every ring
/// allocation needs a lifetime in frames). Each implementor writes one
/// raw method, [`try_alloc_block`](TypedAlloc::try_alloc_block), and says
/// how to make its handle; the typed methods below are written once, here.
///
/// # Names: a reference or a handle
///
/// - `alloc_*` returns `&'a mut T` or `&'a mut [T]`, borrowed from the
///   allocator for `'a`. For a per-thread handle, `'a` is the *allocator's*
///   borrow, not the handle's: a reference from an `ArenaLocal<'a>` may
///   outlive the handle, as long as the arena stays borrowed. No reset
///   (which needs `&mut`) can happen while such a reference lives. The
///   block is not freed one by one: it goes at the allocator's reset (the
///   slab's too, and the ring's at the end of the chosen lifetime).
/// - `handle_*` returns [`Self::Handle<T>`](TypedAlloc::Handle): a
///   `'static` handle you can keep in a component, checked against the
///   allocator's epoch when you resolve it ([`ArenaSlice`](crate::ArenaSlice),
///   [`SlabSlice`](crate::SlabSlice), which also frees its block one by one,
///   [`RingSlice`](crate::RingSlice)).
///
/// Each `try_*` returns the error; the panicking form is built on it with
/// `#[track_caller]`.
///
/// # Values are never dropped
///
/// No allocator here runs destructors, so a type that needs drop (a
/// `String`, a `Vec`, a `Box`) would leak silently: every typed method
/// refuses such a `T` when the code is built (a post-monomorphisation
/// error, which `cargo build` and `cargo test` report and `cargo check`
/// does not; `tests/compile_fail/post_mono/`). Handles need `T: Copy`.
/// Keep values that need drop in a `Vec<T, &Arena>` (allocator_api2).
///
/// ```
/// use framemem::{Arena, ArenaSlice, Slab, SlabSlice, TypedAlloc};
///
/// let mut arena = Arena::new();
/// let handle: ArenaSlice<u32> = {
///     let local = arena.local();
///     let xs: &mut [u32] = local.alloc_slice_copy(&[1, 2, 3]);
///     xs[0] = 7;
///     local.handle_slice_fill_with(2, |i| i as u32)
/// };
/// assert_eq!(arena.get(handle), &[0, 1]);
/// arena.reset(); // needs every reference gone
///
/// let slab = Slab::new();
/// let kept: SlabSlice<u8> = slab.handle_slice_copy(b"kept");
/// let scratch: &mut [u8] = slab.alloc_slice_copy(b"scratch"); // until the reset
/// assert_eq!(slab.get(&kept), b"kept");
/// assert_eq!(scratch, b"scratch");
/// assert!(slab.free_slice(kept));
/// ```
///
/// # Safety
///
/// Implementors promise, and the provided methods rely on it, that a block
/// returned by [`try_alloc_block`](TypedAlloc::try_alloc_block):
/// - is valid for reads and writes of `layout.size()` bytes and aligned to
///   `layout.align()` (dangling and aligned for a zero size);
/// - overlaps no other live block and is exposed nowhere else;
/// - stays allocated, and is not freed by the allocator, for `'a`.
pub unsafe trait TypedAlloc<'a>: Copy + Sealed {
    /// The `'static` handle the `handle_*` methods return.
    type Handle<T: Copy>;

    /// Why an allocation failed.
    type Error: From<AllocError> + fmt::Display;

    /// The allocator's name in a panic message.
    #[doc(hidden)]
    const NAME: &'static str;

    /// What the allocator records in a handle about where its block came
    /// from (the ring's last frame; nothing for the others).
    #[doc(hidden)]
    type Tag: Copy;

    /// The one required raw method: a fresh block for `layout`, with its
    /// tag.
    ///
    /// # Errors
    ///
    /// [`Self::Error`](TypedAlloc::Error) when the allocator cannot serve
    /// the request.
    #[doc(hidden)]
    fn try_alloc_block(self, layout: Layout) -> Result<(NonNull<u8>, Self::Tag), Self::Error>;

    /// Whether a handle can hold `len` values, checked before anything is
    /// allocated (the ring's handles keep a `u32` length, to stay as small
    /// as a `Vec`); every length by default.
    ///
    /// # Errors
    ///
    /// [`Self::Error`](TypedAlloc::Error) when it cannot.
    #[doc(hidden)]
    #[inline(always)]
    fn check_handle_len(self, len: usize) -> Result<(), Self::Error> {
        let _ = len;
        Ok(())
    }

    /// The handle to `len` initialised values at `ptr`.
    ///
    /// # Safety
    ///
    /// - `ptr` is a block `try_alloc_block` returned on this allocator with
    ///   `tag`, for `len` values of `T`;
    /// - `len` passed [`check_handle_len`](TypedAlloc::check_handle_len);
    /// - its `len` values are initialised, and nothing else refers to it.
    #[doc(hidden)]
    unsafe fn handle_of<T: Copy>(
        self,
        ptr: NonNull<T>,
        len: usize,
        tag: Self::Tag,
    ) -> Self::Handle<T>;

    /// Moves `value` into the allocator. It is never dropped, so `T` must
    /// not need drop (a compile-time check).
    ///
    /// # Panics
    ///
    /// When [`try_alloc_value`](TypedAlloc::try_alloc_value) fails.
    #[track_caller]
    #[inline]
    fn alloc_value<T>(self, value: T) -> &'a mut T {
        match self.try_alloc_value(value) {
            Ok(value) => value,
            Err(e) => alloc_failed(Self::NAME, e),
        }
    }

    /// Moves `value` into the allocator, or returns why it could not.
    ///
    /// # Errors
    ///
    /// [`Self::Error`](TypedAlloc::Error): the limit is reached, the system
    /// is out of memory, or (the ring) the lifetime is beyond its depth.
    #[inline]
    fn try_alloc_value<T>(self, value: T) -> Result<&'a mut T, Self::Error> {
        let (ptr, _) = self.try_alloc_block(Layout::new::<T>())?;
        // SAFETY: a fresh block for `T`, exposed nowhere else, valid for
        // `'a` (the trait's promises); written just now.
        Ok(unsafe { &mut *write_value(ptr, value).as_ptr() })
    }

    /// Copies `src` into the allocator and returns a reference to it.
    ///
    /// # Panics
    ///
    /// When [`try_alloc_slice_copy`](TypedAlloc::try_alloc_slice_copy)
    /// fails.
    #[track_caller]
    #[inline]
    fn alloc_slice_copy<T: Copy>(self, src: &[T]) -> &'a mut [T] {
        match self.try_alloc_slice_copy(src) {
            Ok(values) => values,
            Err(e) => alloc_failed(Self::NAME, e),
        }
    }

    /// Copies `src` into the allocator and returns a reference, or why it
    /// could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc_value`](TypedAlloc::try_alloc_value).
    #[inline]
    fn try_alloc_slice_copy<T: Copy>(self, src: &[T]) -> Result<&'a mut [T], Self::Error> {
        let (ptr, _) = self.try_alloc_block(Layout::for_value(src))?;
        // SAFETY: a fresh block for `src`, valid for `'a`; its `src.len()`
        // values are written just now.
        Ok(unsafe { as_slice(write_copy(ptr, src), src.len()) })
    }

    /// Allocates `len` values made by `fill(index)` and returns a reference
    /// to them. They are never dropped, so `T` must not need drop.
    ///
    /// # Panics
    ///
    /// When [`try_alloc_slice_fill_with`](TypedAlloc::try_alloc_slice_fill_with)
    /// fails, and if `fill` panics (the values already made are leaked in
    /// the block, never exposed).
    #[track_caller]
    #[inline]
    fn alloc_slice_fill_with<T>(self, len: usize, fill: impl FnMut(usize) -> T) -> &'a mut [T] {
        match self.try_alloc_slice_fill_with(len, fill) {
            Ok(values) => values,
            Err(e) => alloc_failed(Self::NAME, e),
        }
    }

    /// Allocates `len` values made by `fill(index)` and returns a
    /// reference, or why it could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc_value`](TypedAlloc::try_alloc_value), and
    /// [`AllocError::InvalidLayout`] when `len` values of `T` overflow
    /// `isize`.
    #[inline]
    fn try_alloc_slice_fill_with<T>(
        self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Result<&'a mut [T], Self::Error> {
        let (ptr, _) = self.try_alloc_block(array_layout::<T>(len)?)?;
        // SAFETY: a fresh block for `len` values of `T`, valid for `'a`;
        // all of them written just now.
        Ok(unsafe { as_slice(write_fill(ptr, len, fill), len) })
    }

    /// Copies `src` into the allocator and returns a `'static` handle to
    /// it.
    ///
    /// # Panics
    ///
    /// When [`try_handle_slice_copy`](TypedAlloc::try_handle_slice_copy)
    /// fails.
    #[track_caller]
    #[inline]
    fn handle_slice_copy<T: Copy>(self, src: &[T]) -> Self::Handle<T> {
        match self.try_handle_slice_copy(src) {
            Ok(handle) => handle,
            Err(e) => alloc_failed(Self::NAME, e),
        }
    }

    /// Copies `src` into the allocator and returns a `'static` handle, or
    /// why it could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc_value`](TypedAlloc::try_alloc_value).
    #[inline]
    fn try_handle_slice_copy<T: Copy>(self, src: &[T]) -> Result<Self::Handle<T>, Self::Error> {
        self.check_handle_len(src.len())?;
        let (block, tag) = self.try_alloc_block(Layout::for_value(src))?;
        // SAFETY: a fresh block for `src`, exposed nowhere else.
        let ptr = unsafe { write_copy(block, src) };
        // SAFETY: the block came from `try_alloc_block` with `tag`, passed
        // `check_handle_len` with `src.len()`, holds `src.len()` initialised
        // values, and only the handle refers to it.
        Ok(unsafe { self.handle_of(ptr, src.len(), tag) })
    }

    /// Allocates `len` values made by `fill(index)` and returns a `'static`
    /// handle to them.
    ///
    /// # Panics
    ///
    /// When [`try_handle_slice_fill_with`](TypedAlloc::try_handle_slice_fill_with)
    /// fails, and if `fill` panics (no handle is made; the block goes at the
    /// allocator's reset).
    #[track_caller]
    #[inline]
    fn handle_slice_fill_with<T: Copy>(
        self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Self::Handle<T> {
        match self.try_handle_slice_fill_with(len, fill) {
            Ok(handle) => handle,
            Err(e) => alloc_failed(Self::NAME, e),
        }
    }

    /// Allocates `len` values made by `fill(index)` and returns a `'static`
    /// handle, or why it could not.
    ///
    /// # Errors
    ///
    /// As [`try_alloc_slice_fill_with`](TypedAlloc::try_alloc_slice_fill_with).
    #[inline]
    fn try_handle_slice_fill_with<T: Copy>(
        self,
        len: usize,
        fill: impl FnMut(usize) -> T,
    ) -> Result<Self::Handle<T>, Self::Error> {
        self.check_handle_len(len)?;
        let (block, tag) = self.try_alloc_block(array_layout::<T>(len)?)?;
        // SAFETY: a fresh block for `len` values of `T`, exposed nowhere
        // else.
        let ptr = unsafe { write_fill(block, len, fill) };
        // SAFETY: the block came from `try_alloc_block` with `tag`, passed
        // `check_handle_len` with `len`, holds
        // `len` initialised values, and only the handle refers to it.
        Ok(unsafe { self.handle_of(ptr, len, tag) })
    }
}

/// [`TypedAlloc`] for a strategy's shared handle `&'a $strategy` (blocks
/// from [`AllocStrategy::alloc`](super::AllocStrategy::alloc)) and its
/// per-thread handle `&$local<'a>` (blocks from its inherent `alloc`;
/// `$accessor` gives the strategy it borrows),
/// whose handle type `$handle` records the strategy's stamp. Expanded in
/// the strategy's module, which sees the fields of both.
macro_rules! typed_alloc_for_strategy {
    ($strategy:ident, $local:ident :: $accessor:ident, $handle:ident) => {
        impl $crate::alloc::Sealed for &$strategy {}

        // SAFETY: `AllocStrategy::alloc` returns fresh, aligned, unaliased
        // blocks (the strategy's own contract) that stay allocated until
        // freed (only through their one handle, or unsafe code) or until
        // the strategy's reset, which needs `&mut`, excluded while it is
        // borrowed for `'a`.
        unsafe impl<'a> $crate::alloc::TypedAlloc<'a> for &'a $strategy {
            type Handle<T: Copy> = $handle<T>;
            type Error = $crate::alloc::AllocError;
            const NAME: &'static str = stringify!($strategy);
            type Tag = ();

            #[inline]
            fn try_alloc_block(
                self,
                layout: ::std::alloc::Layout,
            ) -> Result<(::std::ptr::NonNull<u8>, ()), $crate::alloc::AllocError> {
                Ok(($crate::alloc::AllocStrategy::alloc(self, layout)?, ()))
            }

            #[inline]
            unsafe fn handle_of<T: Copy>(
                self,
                ptr: ::std::ptr::NonNull<T>,
                len: usize,
                (): (),
            ) -> $handle<T> {
                $handle {
                    ptr,
                    len,
                    stamp: self.stamp,
                    _values: ::std::marker::PhantomData,
                }
            }
        }

        impl $crate::alloc::Sealed for &$local<'_> {}

        // SAFETY: the per-thread handle's `alloc` returns blocks of the
        // strategy it borrows for `'a`, as for the shared handle above.
        unsafe impl<'a> $crate::alloc::TypedAlloc<'a> for &$local<'a> {
            type Handle<T: Copy> = $handle<T>;
            type Error = $crate::alloc::AllocError;
            const NAME: &'static str = stringify!($strategy);
            type Tag = ();

            #[inline]
            fn try_alloc_block(
                self,
                layout: ::std::alloc::Layout,
            ) -> Result<(::std::ptr::NonNull<u8>, ()), $crate::alloc::AllocError> {
                Ok((self.alloc(layout)?, ()))
            }

            #[inline]
            unsafe fn handle_of<T: Copy>(
                self,
                ptr: ::std::ptr::NonNull<T>,
                len: usize,
                (): (),
            ) -> $handle<T> {
                let strategy: &'a $strategy = self.$accessor();
                // SAFETY: the caller's promise, passed on: a block of this
                // strategy.
                unsafe { strategy.handle_of(ptr, len, ()) }
            }
        }
    };
}
pub(crate) use typed_alloc_for_strategy;

/// The layout of `len` values of `T`.
fn array_layout<T>(len: usize) -> Result<Layout, AllocError> {
    Layout::array::<T>(len).map_err(|_| AllocError::InvalidLayout)
}

/// Panics for an allocation that failed in a panicking convenience method.
#[cold]
#[track_caller]
fn alloc_failed(strategy: &str, error: impl fmt::Display) -> ! {
    panic!("framemem::{strategy}: {error}")
}

/// Only this crate's handle types implement [`TypedAlloc`]: the typed
/// methods' unsafe code relies on their blocks.
pub(crate) mod sealed {
    /// The seal.
    pub trait Sealed {}
}
use sealed::Sealed;

/// Why a `T` that needs drop does not compile (see [`TypedAlloc`]).
const NO_DROP: &str = "framemem's allocators never drop the values they hold, and this type \
    needs drop (it would leak): allocate values without drop glue, or keep them in a \
    `Vec<T, &Arena>`, which drops its items";

/// Moves `value` into the block. Refuses a `T` that needs drop at compile
/// time.
///
/// # Safety
///
/// - `ptr` is a fresh block of `Layout::new::<T>()`: valid, aligned;
/// - it is exposed nowhere else.
unsafe fn write_value<T>(ptr: NonNull<u8>, value: T) -> NonNull<T> {
    const { assert!(!std::mem::needs_drop::<T>(), "{}", NO_DROP) };
    let ptr = ptr.cast::<T>();
    // SAFETY: the caller's promises: sized and aligned for `T`, unaliased.
    unsafe { ptr.as_ptr().write(value) };
    ptr
}

/// Copies `src` into the block.
///
/// # Safety
///
/// As [`write_value`], for `Layout::for_value(src)`.
unsafe fn write_copy<T: Copy>(ptr: NonNull<u8>, src: &[T]) -> NonNull<T> {
    let ptr = ptr.cast::<T>();
    // SAFETY: the block holds `src.len()` values of `T`, aligned (the
    // caller's layout); `T: Copy`, so a bitwise copy is a valid copy; the
    // ranges cannot overlap (the block was free until now).
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), ptr.as_ptr(), src.len()) };
    ptr
}

/// Fills the block with `len` values made by `fill(index)`. Refuses a `T`
/// that needs drop at compile time.
///
/// # Safety
///
/// As [`write_value`], for `Layout::array::<T>(len)`.
unsafe fn write_fill<T>(
    ptr: NonNull<u8>,
    len: usize,
    mut fill: impl FnMut(usize) -> T,
) -> NonNull<T> {
    const { assert!(!std::mem::needs_drop::<T>(), "{}", NO_DROP) };
    let ptr = ptr.cast::<T>();
    for i in 0..len {
        // SAFETY: `i < len`, inside the fresh, aligned block. If `fill`
        // panics, the block is never exposed, so its uninitialised tail is
        // never read.
        unsafe { ptr.as_ptr().add(i).write(fill(i)) };
    }
    ptr
}

/// The block's `len` values as a slice.
///
/// # Safety
///
/// - `ptr` holds `len` initialised values of `T`;
/// - nothing else refers to them, and they stay allocated for `'a`.
unsafe fn as_slice<'a, T>(ptr: NonNull<T>, len: usize) -> &'a mut [T] {
    // SAFETY: the caller's promises.
    unsafe { std::slice::from_raw_parts_mut(ptr.as_ptr(), len) }
}

//! [`RingSlice<T>`]: a `'static`, `Copy` handle to a slice in an
//! [`ExpiryRing`], and the ring methods that resolve it.
//!
//! A handle is 24 bytes, a `Vec`'s size (a `const` assertion below): the
//! ring's id is 32 bits and so is the length (longer slices are refused
//! with [`RingError::SliceTooLong`](super::RingError::SliceTooLong)).
//!
//! Invariant (what makes [`ExpiryRing::try_get`] sound): a handle whose
//! `ring` id is its ring's, and whose `expires_at` is at least the
//! ring's current frame, points to `len` initialised values of `T` that are
//! still allocated — in the arena of slot `expires_at % depth`, or in a slab
//! block on the overflow list of frame `expires_at` — and never exposed as
//! `&mut`.

use std::fmt;
use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{ExpiryRing, RingError};

/// Source of ring ids; 0 is never handed out.
static NEXT_RING: AtomicU32 = AtomicU32::new(1);

/// A ring's identity, recorded in its handles. Never reused in a process:
/// 32 bits keep a handle at 24 bytes, so the 4,294,967,295th ring made is
/// the last (a ring made every millisecond for 49 days), and making
/// another panics rather than reuse an id, which would let another ring's
/// handle resolve.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct RingId(NonZeroU32);

impl RingId {
    /// An id no ring has had before.
    ///
    /// # Panics
    ///
    /// When every 32-bit id has been handed out.
    #[track_caller]
    pub(super) fn next() -> Self {
        let id = NEXT_RING
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(1))
            .ok()
            .and_then(NonZeroU32::new)
            .expect("framemem::ExpiryRing: every ring id (2^32 - 1) has been used in this process");
        Self(id)
    }
}

impl fmt::Display for RingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for RingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A slice's length as a handle holds it.
///
/// # Errors
///
/// [`RingError::SliceTooLong`] past `u32::MAX` values.
pub(super) fn handle_len(len: usize) -> Result<u32, RingError> {
    u32::try_from(len).map_err(|_| RingError::SliceTooLong { len })
}

/// A `'static`, `Copy` handle to `len` values of `T` in an [`ExpiryRing`],
/// valid through the end of frame [`expires_at`](Self::expires_at).
///
/// It is only a ticket: reading needs the ring ([`ExpiryRing::get`] or
/// [`ExpiryRing::try_get`]), which checks that the handle's frame has not
/// ended and that the handle is this ring's. A stale handle is reported,
/// never read.
pub struct RingSlice<T> {
    ptr: NonNull<T>,
    /// The last frame the values are valid in.
    expires_at: u64,
    len: u32,
    /// The ring that made it.
    ring: RingId,
    _values: PhantomData<T>,
}

// A `Vec`'s size: trails of handles are read every frame.
const _: () = assert!(std::mem::size_of::<RingSlice<u8>>() <= 24);

impl<T> RingSlice<T> {
    /// A handle to `len` values at `ptr`, valid through the end of frame
    /// `expires_at` in the ring `ring` (`len` from [`handle_len`]). Safe to
    /// make, since a handle gives no access by itself; the ring's allocation
    /// methods, its only callers, uphold the [module](self) invariant.
    pub(super) fn new(ptr: NonNull<T>, len: u32, expires_at: u64, ring: RingId) -> Self {
        Self {
            ptr,
            len,
            expires_at,
            ring,
            _values: PhantomData,
        }
    }

    /// How many values the slice holds.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The last frame the values are valid in: the handle resolves while the
    /// ring's [`frame`](ExpiryRing::frame) is at most this.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl<T> Clone for RingSlice<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for RingSlice<T> {}

impl<T> fmt::Debug for RingSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingSlice")
            .field("len", &self.len)
            .field("expires_at", &self.expires_at)
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

// SAFETY: the handle gives no access by itself; the only access is `&[T]`
// through `ExpiryRing::get`, on whichever thread holds the ring. Sharing
// `&[T]` across threads is sound exactly when `T: Sync`.
unsafe impl<T: Sync> Send for RingSlice<T> {}
// SAFETY: as for `Send`: copies of the handle only ever yield `&[T]`.
unsafe impl<T: Sync> Sync for RingSlice<T> {}

impl ExpiryRing {
    /// Resolves a handle whose lifetime has not ended.
    ///
    /// # Panics
    ///
    /// When the handle is stale: its last frame has ended, or it belongs to
    /// another ring. Use [`try_get`](Self::try_get) to test instead.
    #[track_caller]
    pub fn get<T>(&self, handle: RingSlice<T>) -> &[T] {
        match self.try_get(handle) {
            Some(values) => values,
            None => self.stale(handle.ring, handle.expires_at),
        }
    }

    /// Resolves a handle, or returns `None` when it is stale (its last frame
    /// has ended, or it belongs to another ring).
    ///
    /// Cost: two compares.
    #[inline]
    pub fn try_get<T>(&self, handle: RingSlice<T>) -> Option<&[T]> {
        if !self.is_live(handle) {
            return None;
        }
        // SAFETY: the handle is this ring's (ids are never reused) and
        // its last frame is the current one or later, so by the module
        // invariant its `len` values are initialised and still allocated.
        // Releasing them needs `end_frame(&mut self)` or the ring's drop,
        // neither possible while the returned borrow of `self` lives. Handle
        // blocks are never exposed as `&mut`, so sharing them is sound.
        Some(unsafe { std::slice::from_raw_parts(handle.ptr.as_ptr(), handle.len()) })
    }

    /// Whether `handle` still resolves in this ring.
    #[inline]
    pub fn is_live<T>(&self, handle: RingSlice<T>) -> bool {
        handle.ring == self.id && handle.expires_at >= self.now
    }

    /// Panics for a stale handle, saying which way it is stale.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn stale(&self, ring: RingId, expires_at: u64) -> ! {
        if ring != self.id {
            panic!(
                "RingSlice from another ring: it was made by ring {ring}, but this is ring {}; \
                 resolve a handle in the ring that made it",
                self.id
            )
        }
        panic!(
            "RingSlice used after its slot expired at frame {expires_at}: the ring is now at \
             frame {}. Allocate with a longer lifetime, or copy the data out before it expires",
            self.now
        )
    }
}

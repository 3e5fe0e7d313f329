//! [`RingError`]: why the ring could not place data.

use std::fmt;

use crate::alloc::AllocError;

/// Why an [`ExpiryRing`](super::ExpiryRing) allocation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RingError {
    /// The lifetime is longer than the ring's depth, and the ring was made
    /// with [`RingOverflow::Fail`](super::RingOverflow::Fail).
    BeyondDepth {
        /// The lifetime asked for, in frames.
        lifetime_frames: u32,
        /// The ring's depth: the longest lifetime it holds, in frames.
        depth: usize,
    },
    /// The slot's arena or the overflow slab could not allocate.
    Alloc(AllocError),
    /// A slice of more than `u32::MAX` values: a [`RingSlice`](super::RingSlice)
    /// holds its length in 32 bits (it is a `Vec`'s size).
    SliceTooLong {
        /// The length asked for, in values.
        len: usize,
    },
}

impl From<AllocError> for RingError {
    fn from(error: AllocError) -> Self {
        RingError::Alloc(error)
    }
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RingError::BeyondDepth {
                lifetime_frames,
                depth,
            } => write!(
                f,
                "a lifetime of {lifetime_frames} frames is beyond the ring's depth of {depth} \
                 frames, and the ring has no overflow (make it with RingOverflow::Slab, or deepen it)"
            ),
            RingError::Alloc(error) => fmt::Display::fmt(&error, f),
            RingError::SliceTooLong { len } => write!(
                f,
                "a slice of {len} values is longer than a ring handle holds ({} values): \
                 split it",
                u32::MAX
            ),
        }
    }
}

impl std::error::Error for RingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RingError::BeyondDepth { .. } | RingError::SliceTooLong { .. } => None,
            RingError::Alloc(error) => Some(error),
        }
    }
}

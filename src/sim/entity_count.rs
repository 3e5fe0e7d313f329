//! [`EntitiesPerFrame`]: how many transient entities a frame spawns, checked
//! once against [`MAX_ENTITIES_PER_FRAME`] where it is chosen (the scenario,
//! `--entities`) and never clamped afterwards.

use std::fmt;

/// The most entities one frame may spawn: spawn indices are `u32`, and this
/// is well past what a frame budget allows on a desktop machine.
pub const MAX_ENTITIES_PER_FRAME: u64 = 50_000_000;

// Spawn indices are `u32`.
const _: () = assert!(MAX_ENTITIES_PER_FRAME <= u32::MAX as u64);

/// Entities spawned per frame, known to be in `1..=MAX_ENTITIES_PER_FRAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntitiesPerFrame(u32);

impl EntitiesPerFrame {
    /// `n`, if it is in `1..=`[`MAX_ENTITIES_PER_FRAME`].
    ///
    /// # Errors
    ///
    /// [`EntityCountError`] for 0 and for more than the maximum.
    pub fn new(n: u64) -> Result<Self, EntityCountError> {
        if (1..=MAX_ENTITIES_PER_FRAME).contains(&n) {
            // In range, so it fits (checked at compile time above).
            Ok(Self(n as u32))
        } else {
            Err(EntityCountError { given: n })
        }
    }

    /// The count.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// An entity count outside `1..=`[`MAX_ENTITIES_PER_FRAME`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityCountError {
    /// The count that was refused.
    pub given: u64,
}

impl fmt::Display for EntityCountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entities per frame must be between 1 and {MAX_ENTITIES_PER_FRAME}, got {}",
            self.given
        )
    }
}

impl std::error::Error for EntityCountError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused() {
        assert_eq!(EntitiesPerFrame::new(0), Err(EntityCountError { given: 0 }));
    }

    #[test]
    fn one_and_the_maximum_are_accepted() {
        assert_eq!(EntitiesPerFrame::new(1).map(EntitiesPerFrame::get), Ok(1));
        assert_eq!(
            EntitiesPerFrame::new(MAX_ENTITIES_PER_FRAME).map(EntitiesPerFrame::get),
            Ok(50_000_000)
        );
    }

    #[test]
    fn one_past_the_maximum_is_refused_not_clamped() {
        let error = EntitiesPerFrame::new(MAX_ENTITIES_PER_FRAME + 1).unwrap_err();
        assert_eq!(error.given, MAX_ENTITIES_PER_FRAME + 1);
        assert_eq!(
            error.to_string(),
            "entities per frame must be between 1 and 50000000, got 50000001"
        );
    }

    #[test]
    fn far_past_u32_is_refused_not_truncated() {
        let n = u64::from(u32::MAX) + 2;
        assert_eq!(EntitiesPerFrame::new(n), Err(EntityCountError { given: n }));
    }
}

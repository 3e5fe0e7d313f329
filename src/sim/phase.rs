//! [`PhaseTimes`]: one value per phase of a frame (spawn, simulate,
//! collide, despawn, end of frame), in the order they run. The simulation
//! times each phase (nanoseconds, [`FrameRecord::phase_ns`]); the reports
//! give their medians (milliseconds).
//!
//! A leaf: the schedule declares what each phase runs (`schedule.rs`).
//!
//! [`FrameRecord::phase_ns`]: crate::sim::FrameRecord::phase_ns

/// How many phases a frame has.
pub const PHASES: usize = 5;

/// One value per phase of a frame. See the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PhaseTimes<T = u64> {
    /// The emitters spawn this frame's transient entities, each with its
    /// payload from the strategy.
    pub spawn: T,
    /// Motion and the payload update, in parallel.
    pub simulate: T,
    /// Broadphase, contacts and resolve, with scratch from the strategy.
    pub collide: T,
    /// Payloads go back (pool, slab) and every transient entity is
    /// despawned.
    pub despawn: T,
    /// The strategy's end of frame (the arena resets) and bevy's
    /// `clear_trackers`.
    pub end_frame: T,
}

impl<T> PhaseTimes<T> {
    /// The phases' names, in order: the JSON keys and the reports' column
    /// names.
    pub const NAMES: [&'static str; PHASES] =
        ["spawn", "simulate", "collide", "despawn", "end_frame"];

    /// The values in phase order.
    pub fn into_array(self) -> [T; PHASES] {
        [
            self.spawn,
            self.simulate,
            self.collide,
            self.despawn,
            self.end_frame,
        ]
    }

    /// Values given in phase order.
    pub fn from_array([spawn, simulate, collide, despawn, end_frame]: [T; PHASES]) -> Self {
        Self {
            spawn,
            simulate,
            collide,
            despawn,
            end_frame,
        }
    }

    /// Each value through `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PhaseTimes<U> {
        PhaseTimes::from_array(self.into_array().map(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_and_names_are_in_phase_order() {
        let times = PhaseTimes::from_array([1u64, 2, 3, 4, 5]);
        assert_eq!((times.spawn, times.end_frame), (1, 5));
        assert_eq!(times.map(|t| t * 10).into_array(), [10, 20, 30, 40, 50]);
        assert_eq!(PhaseTimes::<u64>::NAMES[2], "collide");
    }
}

//! [`SystemShare`]: each lab system's share of the frame arena's bytes,
//! from the arena's per-system attribution (`framemem::bevy::FrameBySystem`).

use crate::sim::{ALLOCATING_SYSTEMS, FrameRecord, SystemBytes};

/// What the report calls the bytes that reached the arena outside the
/// lab's allocating systems.
pub const OUTSIDE_SYSTEMS: &str = "(outside systems)";

/// One system's arena bytes over the measured frames. The entries of a
/// run, `(outside systems)` included, add up to the frame's arena total
/// ([`ArenaBytes`]): the last frame's `bytes` to its `last`, the means to
/// its `mean`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SystemShare {
    /// The system, as the arena's attribution names it.
    pub name: String,
    /// Bytes it allocated in the last measured frame.
    pub bytes: u64,
    /// Mean bytes per measured frame.
    pub mean_bytes: f64,
    /// The most in one measured frame.
    pub max_bytes: u64,
}

/// The frame arena's bytes per frame, all systems together.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct ArenaBytes {
    /// In the last measured frame.
    pub last: u64,
    /// Mean per measured frame.
    pub mean: f64,
    /// The most in one measured frame.
    pub max: u64,
}

/// Each system's share over `records`, and the arena's total; empty and
/// `None` where the strategy does not attribute (every strategy but the
/// arena with one-frame lifetimes) or no frame was measured.
pub fn of(records: &[FrameRecord]) -> (Vec<SystemShare>, Option<ArenaBytes>) {
    let frames: Vec<SystemBytes> = records.iter().filter_map(|r| r.by_system).collect();
    let Some(last) = frames.last() else {
        return (Vec::new(), None);
    };
    let n = frames.len() as f64;
    let share = |name: &str, bytes: &dyn Fn(&SystemBytes) -> u64| SystemShare {
        name: name.to_owned(),
        bytes: bytes(last),
        mean_bytes: frames.iter().map(bytes).sum::<u64>() as f64 / n,
        max_bytes: frames.iter().map(bytes).max().unwrap_or(0),
    };
    let mut shares: Vec<SystemShare> = ALLOCATING_SYSTEMS
        .iter()
        .enumerate()
        .map(|(i, name)| share(name, &|f| f.bytes[i]))
        .collect();
    shares.push(share(OUTSIDE_SYSTEMS, &|f| f.outside));
    let total = share("", &|f| f.total);
    let arena = ArenaBytes {
        last: total.bytes,
        mean: total.mean_bytes,
        max: total.max_bytes,
    };
    (shares, Some(arena))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(spawn: u64, collide: u64) -> FrameRecord {
        FrameRecord {
            by_system: Some(SystemBytes {
                bytes: [spawn, collide],
                outside: 1,
                total: spawn + collide + 1,
            }),
            ..FrameRecord::default()
        }
    }

    #[test]
    fn shares_add_up_to_the_arena_total() {
        let (shares, arena) = of(&[record(100, 10), record(300, 30)]);
        let arena = arena.expect("attributed");
        let names: Vec<&str> = shares.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["spawn", "collide", OUTSIDE_SYSTEMS]);
        assert_eq!(shares.iter().map(|s| s.bytes).sum::<u64>(), arena.last);
        assert_eq!(shares.iter().map(|s| s.mean_bytes).sum::<f64>(), arena.mean);
        assert_eq!(
            (shares[0].bytes, shares[0].mean_bytes, shares[0].max_bytes),
            (300, 200.0, 300)
        );
    }

    #[test]
    fn no_attribution_is_empty() {
        assert_eq!(of(&[FrameRecord::default(); 2]), (Vec::new(), None));
    }
}

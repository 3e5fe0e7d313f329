//! [`FrameScopes`]: the top puffin scope of each simulated frame, with what
//! the viewer should show about the frame as its data.

use std::fmt::Write as _;

use crate::sim::{FrameRecord, Simulation, Strategy};
use framemem::AllocCounts;

/// Opens the top scope of each frame around [`Simulation::step`].
///
/// The top scope, `frame`, carries the strategy, the entity count and the
/// heap allocations of **the previous frame of the same simulation** as its
/// data, e.g. `arena, 50000 entities, previous frame 21 heap allocs (16984 B)`.
/// A scope's data is written when the scope opens, and a frame's own heap
/// traffic is known only when the frame has run; the previous frame's is the
/// latest known when the scope opens, and in a steady run it is the same
/// figure. The frame's own counts follow in a short `heap_counts` scope at
/// the end of the frame (zoom in to see it), e.g. `21 allocs, 21 frees,
/// 16984 B`.
///
/// The data strings are formatted into one reused buffer, after the frame's
/// counted part, so they add no heap allocation to the counts. With scopes
/// off nothing is formatted.
#[derive(Debug, Default)]
pub struct FrameScopes {
    /// The data string being built; reused, so it allocates once.
    data: String,
    /// The heap counts of each strategy's latest frame, by [`slot`].
    previous: [Option<AllocCounts>; Strategy::ALL.len()],
}

/// Where a strategy's previous counts are kept in [`FrameScopes::previous`].
fn slot(strategy: Strategy) -> usize {
    Strategy::ALL
        .iter()
        .position(|&s| s == strategy)
        .expect("Strategy::ALL lists every strategy")
}

impl FrameScopes {
    /// Runs one frame of `sim` inside its `frame` scope.
    pub fn step(&mut self, sim: &mut Simulation) -> FrameRecord {
        if !puffin::are_scopes_on() {
            return sim.step();
        }
        let counted = sim.counts_allocations();
        let slot = slot(sim.strategy());
        self.data.clear();
        let _ = write!(
            self.data,
            "{}, {} entities",
            sim.strategy(),
            sim.entities_per_frame()
        );
        match (counted, self.previous[slot]) {
            (false, _) => self.data.push_str(", heap not counted"),
            (true, None) => self.data.push_str(", first frame"),
            (true, Some(heap)) => {
                let _ = write!(
                    self.data,
                    ", previous frame {} heap allocs ({} B)",
                    heap.heap_calls(),
                    heap.bytes_allocated
                );
            }
        }
        puffin::profile_scope!("frame", &self.data);
        let record = sim.step();
        if counted {
            self.previous[slot] = Some(record.heap);
            self.data.clear();
            let _ = write!(
                self.data,
                "{} allocs, {} frees, {} B",
                record.heap.heap_calls(),
                record.heap.frees,
                record.heap.bytes_allocated
            );
            puffin::profile_scope!("heap_counts", &self.data);
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_strategy_has_its_own_slot() {
        let mut slots: Vec<usize> = Strategy::ALL.iter().map(|&s| slot(s)).collect();
        slots.sort_unstable();
        assert_eq!(slots, (0..Strategy::ALL.len()).collect::<Vec<_>>());
    }
}

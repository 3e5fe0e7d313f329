//! [`FrameBytes`]: bytes requested during the current frame and their
//! high-water mark, for the strategies whose allocator keeps no such figure
//! (heap, pool).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes requested this frame, and the most any frame requested.
///
/// Single writer: only the spawn system and the collide system write it, and
/// the schedule runs them one after the other, so a relaxed load and store
/// (no read-modify-write, cheaper than an atomic add on the spawn path)
/// loses nothing. A second writer would only make the figure low, never UB.
#[derive(Debug, Default)]
pub struct FrameBytes {
    /// Bytes requested since the frame began.
    frame: AtomicUsize,
    /// The largest `frame` of the frames that ended.
    peak: usize,
}

impl FrameBytes {
    /// Counts `bytes` more for this frame.
    #[inline(always)]
    pub fn add(&self, bytes: usize) {
        self.frame
            .store(self.frame.load(Relaxed).wrapping_add(bytes), Relaxed);
    }

    /// Ends the frame: its count feeds the peak and starts again from 0.
    pub fn end_frame(&mut self) {
        let frame = std::mem::take(self.frame.get_mut());
        self.peak = self.peak.max(frame);
    }

    /// The high-water mark, this frame included.
    pub fn peak(&self) -> u64 {
        self.peak.max(self.frame.load(Relaxed)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_largest_frame_so_far() {
        let mut bytes = FrameBytes::default();
        bytes.add(100);
        bytes.add(20);
        bytes.end_frame();
        bytes.add(50);
        assert_eq!(bytes.peak(), 120);
        bytes.end_frame();
        bytes.add(200);
        assert_eq!(bytes.peak(), 200, "the running frame counts too");
    }
}

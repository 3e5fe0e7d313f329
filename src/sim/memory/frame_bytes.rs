//! [`FrameBytes`]: the bytes in use, and their high-water mark, for the
//! strategies whose allocator keeps no such figure (heap, mimalloc, pool,
//! framevec): the payloads alive, each counted through the end of its
//! entity's last frame, and the frame's scratch.
//!
//! Payload bytes are kept by the frame they expire in, in a wheel of one
//! counter per frame of the longest lifetime: the end of a frame takes off
//! the bytes that expire in it, in O(1), with no call at despawn (the heap's
//! `Vec`s free themselves in `Drop`, where no strategy is in reach).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes in use: payloads alive and this frame's scratch, and the most in
/// use at the end of any frame.
///
/// Payloads are counted through `&mut self` (the spawn system, on one
/// thread). Scratch is counted through `&self` by one writer at a time (the
/// collide system; the schedule runs the systems that allocate scratch one
/// after the other), so a relaxed load and store (no read-modify-write,
/// cheaper than an atomic add) loses nothing; a second writer would only
/// make the figure low, never UB.
#[derive(Debug)]
pub struct FrameBytes {
    /// Scratch bytes requested since the frame began.
    scratch: AtomicUsize,
    /// Payload bytes alive: everything in `expiring`.
    payloads: usize,
    /// Payload bytes by the frame they expire in: entry `(now + k - 1) %
    /// len` for a payload of `k` frames. Its length is the longest lifetime.
    expiring: Box<[usize]>,
    /// The entry of the current frame.
    now: usize,
    /// The most `payloads + scratch` at the end of a frame.
    peak: usize,
}

impl FrameBytes {
    /// Counts for payloads that live up to `max_lifetime_frames` frames
    /// (at least 1: the frame they are made in).
    pub fn new(max_lifetime_frames: u32) -> Self {
        let depth = usize::try_from(max_lifetime_frames.max(1)).unwrap_or(usize::MAX);
        Self {
            scratch: AtomicUsize::new(0),
            payloads: 0,
            expiring: vec![0; depth].into_boxed_slice(),
            now: 0,
            peak: 0,
        }
    }

    /// Counts `bytes` of scratch for this frame.
    #[inline(always)]
    pub fn add_scratch(&self, bytes: usize) {
        self.scratch
            .store(self.scratch.load(Relaxed).wrapping_add(bytes), Relaxed);
    }

    /// Counts a payload of `bytes` that lives `lifetime_frames` frames (1:
    /// this frame only; longer than the longest lifetime counts as the
    /// longest).
    #[inline(always)]
    pub fn add_payload(&mut self, bytes: usize, lifetime_frames: u32) {
        let depth = self.expiring.len();
        let ahead = (lifetime_frames.max(1) as usize - 1).min(depth - 1);
        self.expiring[(self.now + ahead) % depth] += bytes;
        self.payloads += bytes;
    }

    /// Ends the frame: what was in use feeds the peak, the payloads whose
    /// last frame this was and the scratch are no longer counted.
    pub fn end_frame(&mut self) {
        let scratch = std::mem::take(self.scratch.get_mut());
        self.peak = self.peak.max(self.payloads + scratch);
        self.payloads -= std::mem::take(&mut self.expiring[self.now]);
        self.now = (self.now + 1) % self.expiring.len();
    }

    /// Payload bytes alive now.
    pub fn payloads(&self) -> usize {
        self.payloads
    }

    /// Bytes in use now: the payloads alive and this frame's scratch.
    pub fn in_use(&self) -> usize {
        self.payloads + self.scratch.load(Relaxed)
    }

    /// The high-water mark, this frame included.
    pub fn peak(&self) -> u64 {
        self.peak.max(self.in_use()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_payloads_and_scratch_count_in_their_frame_only() {
        let mut bytes = FrameBytes::new(1);
        bytes.add_payload(100, 1);
        bytes.add_scratch(20);
        bytes.end_frame();
        assert_eq!(bytes.in_use(), 0);
        bytes.add_payload(50, 1);
        assert_eq!(bytes.peak(), 120);
        bytes.end_frame();
        bytes.add_scratch(200);
        assert_eq!(bytes.peak(), 200, "the running frame counts too");
    }

    #[test]
    fn a_payload_counts_through_its_last_frame() {
        let mut bytes = FrameBytes::new(4);
        bytes.add_payload(10, 3); // frames 0, 1, 2
        bytes.add_payload(1, 1); // frame 0
        bytes.add_payload(1000, 9); // longer than the longest: as 4 frames
        let in_use: Vec<usize> = (0..5)
            .map(|_| {
                let now = bytes.in_use();
                bytes.end_frame();
                now
            })
            .collect();
        assert_eq!(in_use, [1011, 1010, 1010, 1000, 0]);
        assert_eq!(bytes.peak(), 1011);
    }

    #[test]
    fn a_steady_flow_of_lifetimes_holds_births_times_lifetime() {
        // 10 bytes a frame living 5 frames: 50 alive from the fifth frame on.
        let mut bytes = FrameBytes::new(8);
        for _ in 0..100 {
            bytes.add_payload(10, 5);
            bytes.end_frame();
        }
        assert_eq!(bytes.payloads(), 40, "after the end of a frame");
        assert_eq!(bytes.peak(), 50);
    }
}

//! A ring's per-batch handle kept across the end of the frame: it borrows
//! the ring, and `end_frame` takes `&mut self`, so the borrow checker
//! refuses (a slot it holds a lane of would be reset under it).
use framemem::{ExpiryRing, TypedAlloc};

fn main() {
    let mut ring = ExpiryRing::new(4);
    let local = ring.local();
    local.for_frames(1).handle_slice_copy(&[1u32]);
    ring.end_frame(); // end of frame
    local.for_frames(1).handle_slice_copy(&[2u32]); // would bump a reset slot's lane
}

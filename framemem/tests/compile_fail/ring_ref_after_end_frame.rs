//! A slice read from the ring kept across the end of the frame: `get`
//! borrows the ring and `end_frame` takes `&mut self`, so the borrow checker
//! refuses, even for data whose lifetime has not ended (the slot may be
//! the one reset).
use framemem::{ExpiryRing, TypedAlloc};

fn main() {
    let mut ring = ExpiryRing::new(4);
    let handle = ring.for_frames(1).handle_slice_copy(&[1.0f32, 2.0, 3.0]);
    let positions = ring.get(handle);
    ring.end_frame(); // frame 0 ends: the handle's slot is reset
    println!("{}", positions[0]); // would read freed memory
}

//! A handle to values that are not `Sync` sent to another thread: the
//! handle yields `&[T]` wherever the ring is, so it is `Send` only when
//! `T: Sync`.
use framemem::{ExpiryRing, TypedAlloc};

fn main() {
    let ring = ExpiryRing::new(4);
    let x = 1u8;
    let handle = ring.for_frames(2).handle_slice_copy(&[&x as *const u8]);
    std::thread::spawn(move || handle.len()); // would let another thread read it
}

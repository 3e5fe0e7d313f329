//! A ring's per-batch handle sent to another thread: it holds the calling
//! thread's lanes of the slots it used, so it is not `Send`.
use framemem::{ExpiryRing, TypedAlloc};

fn main() {
    let ring: &'static ExpiryRing = Box::leak(Box::new(ExpiryRing::new(4)));
    let local = ring.local();
    local.for_frames(2).handle_slice_copy(&[1u32]);
    std::thread::spawn(move || {
        local.for_frames(2).handle_slice_copy(&[2u32]); // would bump another thread's lane
    });
}

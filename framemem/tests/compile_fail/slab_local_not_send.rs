//! A slab's per-thread handle moved into a scoped thread: not `Send`.
use framemem::{Slab, TypedAlloc};

fn main() {
    let slab = Slab::new();
    let local = slab.local();
    std::thread::scope(|s| {
        s.spawn(move || local.alloc_slice_copy(&[1u8]));
    });
}

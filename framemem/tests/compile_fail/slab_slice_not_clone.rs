//! A `SlabSlice` owns its block: it cannot be copied, so it cannot be freed
//! twice or written through two handles.
use framemem::{Slab, TypedAlloc};

fn main() {
    let slab = Slab::new();
    let trail = slab.handle_slice_copy(&[0u32; 8]);
    let again = trail.clone();
    slab.free_slice(trail);
    slab.free_slice(again);
}

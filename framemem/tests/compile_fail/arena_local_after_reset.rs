//! A per-thread handle kept across the arena's reset: the handle borrows the
//! arena, and `reset` takes `&mut self`, so the borrow checker refuses.
use framemem::{Arena, TypedAlloc};

fn main() {
    let mut arena = Arena::new();
    let local = arena.local();
    let positions = local.alloc_slice_copy(&[1.0f32, 2.0, 3.0]);
    arena.reset(); // end of frame
    println!("{}", positions[0]); // would read freed memory
    drop(local);
}

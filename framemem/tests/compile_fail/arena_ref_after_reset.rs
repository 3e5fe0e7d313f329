//! Pitfall 1: a reference into the arena used after the arena was reset.
//! `reset` takes `&mut self`, so the borrow checker refuses.
use framemem::{Arena, TypedAlloc};

fn main() {
    let mut arena = Arena::new();
    let positions = arena.alloc_slice_copy(&[1.0f32, 2.0, 3.0]);
    arena.reset(); // end of frame
    println!("{}", positions[0]); // would read freed memory
}

// The arena never drops what it holds: a `String` in it would leak, so it
// does not build (an error at `cargo build`, not at `cargo check`).
use framemem::{Arena, TypedAlloc};

fn main() {
    let arena = Arena::new();
    let names = arena.alloc_slice_fill_with(2, |i| format!("spark {i}"));
    assert_eq!(names.len(), 2);
}

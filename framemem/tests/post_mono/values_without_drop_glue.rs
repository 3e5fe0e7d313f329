// What the arena takes: values whose type needs no drop, `Copy` or not.
use framemem::{Arena, TypedAlloc};

/// Not `Copy`, but nothing to drop.
struct SparkId(u32);

fn main() {
    let arena = Arena::new();
    let handle = arena.handle_slice_fill_with(2, |i| [i as f32; 4]);
    assert_eq!(arena.get(handle).len(), 2);
    let ids = arena.alloc_slice_fill_with(3, |i| SparkId(i as u32));
    assert_eq!(ids[2].0, 2);
    let name: &mut &str = arena.alloc_value("static text");
    assert_eq!(*name, "static text");
    let local = arena.local();
    assert_eq!(local.alloc_value(SparkId(7)).0, 7);
}

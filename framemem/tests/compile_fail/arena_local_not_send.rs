//! A per-thread handle sent to another thread: it borrows the calling
//! thread's lane, so it is not `Send`.
use framemem::{Arena, TypedAlloc};

fn main() {
    let arena: &'static Arena = Box::leak(Box::new(Arena::new()));
    let local = arena.local();
    std::thread::spawn(move || {
        local.alloc_value(1u32); // would bump another thread's lane
    });
}

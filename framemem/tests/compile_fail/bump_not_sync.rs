//! Pitfall 2: one bare `bumpalo::Bump` lane shared between threads without
//! synchronisation. `Bump` is not `Sync`, so this does not compile;
//! `framemem::Arena` (per-thread lanes) is the `Sync` wrapper.
fn main() {
    let lane = bumpalo::Bump::new();
    std::thread::scope(|s| {
        s.spawn(|| lane.alloc(1u32));
        s.spawn(|| lane.alloc(2u32));
    });
}

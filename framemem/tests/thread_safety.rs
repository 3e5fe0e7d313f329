//! Which handles may cross threads, proven when this file compiles
//! (`static_assertions`: an assertion that fails is a compile error naming
//! the type and the trait, nothing private).
//!
//! The per-thread handles borrow the calling thread's lane: sent to another
//! thread, they would bump, pop or push in a lane another thread owns. So
//! none is `Send`, and none is `Sync` (a scoped thread could borrow it).
//! The shared allocators are both, and a bare `bumpalo::Bump` (the bump
//! allocator a user would share by hand: no synchronisation) is not `Sync`:
//! `Arena` is the `Sync` wrapper around per-thread lanes.

use std::cell::Cell;

use framemem::{
    Arena, ArenaLocal, ExpiryRing, Pool, PoolLocal, RingLocal, RingSlice, Slab, SlabLocal,
};
use static_assertions::{assert_impl_all, assert_not_impl_any};

// The shared allocators go anywhere.
assert_impl_all!(Arena: Send, Sync);
assert_impl_all!(Slab: Send, Sync);
assert_impl_all!(ExpiryRing: Send, Sync);
assert_impl_all!(Pool<Vec<u8>>: Send, Sync);

// Pitfall 2: one bare bump lane shared between threads.
assert_not_impl_any!(bumpalo::Bump: Sync);

// The per-thread handles stay on their thread.
assert_not_impl_any!(ArenaLocal<'static>: Send, Sync);
assert_not_impl_any!(SlabLocal<'static>: Send, Sync);
assert_not_impl_any!(RingLocal<'static>: Send, Sync);
assert_not_impl_any!(PoolLocal<'static, Vec<u8>>: Send, Sync);

// A ring handle yields `&[T]` wherever the ring is: `Send` only when `T` is
// `Sync`.
assert_impl_all!(RingSlice<u32>: Send, Sync);
assert_not_impl_any!(RingSlice<Cell<u8>>: Send);
assert_not_impl_any!(RingSlice<*const u8>: Send);

/// The assertions above run when this file compiles; this test is there so
/// that `cargo test --test thread_safety` reports it.
#[test]
fn the_handles_thread_bounds_hold() {}

//! [`TypedAlloc`](crate::TypedAlloc) for `&Arena` and `&ArenaLocal`:
//! references borrowed from the arena for `'a`, and [`ArenaSlice`](super::ArenaSlice)
//! handles. The typed methods and their unsafe writes are the trait's
//! (`alloc/typed.rs`).

use super::{Arena, ArenaLocal, ArenaSlice};

crate::alloc::typed::typed_alloc_for_strategy!(Arena, ArenaLocal::arena, ArenaSlice);

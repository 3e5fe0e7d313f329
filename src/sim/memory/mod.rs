//! Where the simulation's per-frame memory comes from: one file per
//! strategy, behind the [`FrameMemory`] trait.
//!
//! [`FrameMemory`] is what a system needs from a strategy: allocate a
//! payload (a trail of `Vec3`) that a component can hold, read it back,
//! release it before its entity is despawned, hand out scratch vectors that
//! live inside one system call, and end the frame. Systems are generic over
//! it, so each strategy gets its own monomorphised schedule and no entity
//! pays for dynamic dispatch.
//!
//! | strategy | payload component | scratch | end of frame |
//! | --- | --- | --- | --- |
//! | [`HeapMemory`] | `Vec<Vec3>`, freed by its `Drop` at despawn | a new `Vec` per use | nothing |
//! | [`PoolMemory`] | a `Vec<Vec3>` taken from a [`Pool`], put back before despawn | a [`Pooled`] `Vec` | idle trails dropped a window after a spike ([`TrimPolicy`](framemem::TrimPolicy)) |
//! | [`FrameSlab`] | a [`SlabSlice`], freed before despawn | a `Vec` in the [`Slab`] (over 4 KiB: the system heap) | empty chunks given back a window after a spike ([`FrameSlab::end_frame`](framemem::bevy::FrameSlab::end_frame)) |
//! | [`FrameArena`] | an [`ArenaSlice`], resolved through the epoch check | a `Vec` in the [`Arena`] | [`AllocStrategy::reset`] |
//! | [`RingMemory`] (the arena strategy when entities outlive their frame) | a [`RingSlice`](framemem::RingSlice) in the ring slot that resets at the end of the entity's last frame | a `Vec` in a frame [`Arena`] | one ring slot and the scratch arena |
//! | [`MimallocMemory`] | a `Vec<Vec3>` on mimalloc ([`MiAlloc`]), freed by its `Drop` at despawn | a new `Vec` on mimalloc per use | nothing |
//! | [`FrameVecMemory`] | an `(offset, len)` index into one frame-wide `Vec<Vec3>` | a `Vec` kept from frame to frame, cleared | the buffer is cleared (and shrunk a window after a spike) |
//!
//! Scratch vectors borrow the strategy (`&self`), and the arena's reset needs
//! `&mut self`, so the borrow checker proves that no scratch data outlives
//! the frame; it is also why scratch cannot be kept in a resource or
//! component, which must be `'static`.
//!
//! - `frame_memory.rs`: the trait, the plan a strategy is sized from, its
//!   figures;
//! - `scratch.rs`: the scratch vector types and the rows kept in them;
//! - `frame_bytes.rs`: the bytes in use (payloads through their last frame,
//!   and scratch) of the strategies whose allocator counts none (heap,
//!   mimalloc, pool, framevec);
//! - `mi_alloc.rs`: [`MiAlloc`], mimalloc as an `allocator_api2` allocator;
//! - `vec_memory.rs`: `VecMemory`, a `Vec` per trail and per scratch on a
//!   general-purpose allocator, which the heap and mimalloc strategies are;
//! - `heap.rs`, `pool.rs`, `slab.rs`, `arena.rs`: framemem's strategies and
//!   the baseline. The arena and the slab are the bevy module's resources
//!   ([`FrameArena`], [`FrameSlab`]) with the trait implemented on them: no
//!   wrapper between the simulation and what a bevy user gets;
//! - `mimalloc.rs`, `framevec.rs`: the references they are held against
//!   (swapping `malloc`, and the hand-written frame `Vec`).
//!
//! [`Pool`]: framemem::Pool
//! [`Pooled`]: framemem::Pooled
//! [`SlabSlice`]: framemem::SlabSlice
//! [`Slab`]: framemem::Slab
//! [`ArenaSlice`]: framemem::ArenaSlice
//! [`Arena`]: framemem::Arena
//! [`AllocStrategy::reset`]: framemem::AllocStrategy::reset
//! [`FrameArena`]: framemem::bevy::FrameArena
//! [`FrameSlab`]: framemem::bevy::FrameSlab

mod arena;
mod frame_bytes;
mod frame_memory;
mod framevec;
mod heap;
mod mi_alloc;
mod mimalloc;
mod pool;
mod ring;
mod scratch;
mod slab;
mod trails;
mod vec_memory;

pub use frame_memory::{ALLOCATING_SYSTEMS, FrameMemory, MemoryFigures, MemoryPlan, SystemBytes};
pub use framevec::FrameVecMemory;
pub use heap::HeapMemory;
pub use mi_alloc::MiAlloc;
pub(crate) use mi_alloc::counts as mimalloc_counts;
pub use mimalloc::MimallocMemory;
pub use pool::{PoolMemory, PoolTrail};
pub use ring::RingMemory;
pub use scratch::ScratchVec;
pub use slab::SlabTrail;
pub use trails::{PayloadReleaser, TrailWriter};

//! The systems of one frame, by phase, as plain named functions. Their
//! order is declared once, in `schedule.rs`.
//!
//! - `spawn.rs`: the emitters create this frame's transient entities (and,
//!   once, the persistent ones);
//! - `motion.rs`: integrate motion, derive each entity's reach from its
//!   trail;
//! - `collide.rs`: broadphase, contacts and resolve on the targets;
//! - `lifecycle.rs`: payloads go back, entities are despawned, the strategy
//!   ends the frame.
//!
//! Every computation that feeds the persistent state is the same for every
//! strategy and per entity (or single-threaded in a fixed order), and sums
//! over contacts are taken in integers, so the result does not depend on the
//! strategy, the thread count or the order of parallel work.
//!
//! Profiling: one puffin scope per system and per phase of `collide`, and
//! one per batch of each parallel loop (`for_each_init` runs its `init` once
//! per batch task, on the thread that runs the batch), so parallel work
//! shows under the worker threads' names. Never one per entity: a scope
//! costs 60-115 ns. With scopes off (`puffin::set_scopes_on(false)`, the
//! default) each costs one relaxed atomic load.

pub mod collide;
pub mod lifecycle;
pub mod motion;
pub mod spawn;

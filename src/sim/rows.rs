//! The scratch rows of one frame: what the collide system keeps about each
//! transient entity and each target while it runs. They live in scratch
//! vectors from the strategy (`memory/scratch.rs`) and die with the system
//! call.
//!
//! A leaf: these are plain data, named by the systems that fill them and by
//! the pool strategy, which keeps one recycled vector type per row.

use glam::Vec3;

/// A transient entity as the broadphase sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Body {
    /// Centre of the entity's reach (itself and its trail).
    pub center: Vec3,
    /// Radius of that reach.
    pub radius: f32,
    /// Energy it carries into a contact, fixed-point.
    pub energy: u32,
    /// Its bucket in the spatial hash table.
    pub bucket: u32,
}

/// A transient entity touching a target.
#[derive(Clone, Copy, Debug, Default)]
pub struct Contact {
    /// Index into the target rows.
    pub target: u32,
    /// Index into the body rows (the entity's spawn index).
    pub body: u32,
}

/// A target's position and what it received this frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetRow {
    /// Where the target is at the start of the resolve.
    pub position: Vec3,
    /// Its collision radius.
    pub radius: f32,
    /// Contacts this frame.
    pub hits: u64,
    /// Energy received this frame.
    pub energy: u64,
    /// Summed push, in fixed-point units of `PUSH_SCALE` (`collide.rs`).
    pub push: [i64; 3],
}

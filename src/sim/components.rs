//! The components of the frame-churn world.
//!
//! - Persistent entities, made once from the scenario: [`Emitter`] and
//!   [`Target`]. Their state is what the checksum covers.
//! - Transient entities, spawned by the emitters and despawned at the end of
//!   their last frame (by default the frame they were born in): [`Transient`] (with its [`Reach`]), [`Transform`],
//!   [`Velocity`] and the strategy's payload component (a trail of `Vec3`,
//!   see `memory/`).
//!
//! Only the payload differs between strategies; every other component, and
//! every computation on them, is the same, which is why the checksums match.

use bevy_ecs::component::Component;
use glam::{Quat, Vec3};

/// Marks a transient entity: the last frame it lives in and what the
/// payload update derived from its trail.
///
/// One component rather than two: every component of a transient entity
/// costs bevy a copy at spawn and a removal record at despawn, 50,000 times
/// a frame, whatever the strategy.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Transient {
    /// The frame (counting from 0) at whose end the entity is despawned.
    pub last_frame: u64,
    /// Written by the payload update.
    pub reach: Reach,
}

/// Position and orientation.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Transform {
    /// World position.
    pub translation: Vec3,
    /// Orientation, kept normalised.
    pub rotation: Quat,
}

/// Linear velocity (units per second) and angular velocity (radians per
/// second about each axis).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Velocity {
    /// Units per second.
    pub linear: Vec3,
    /// Radians per second.
    pub angular: Vec3,
}

/// What the payload update derives from the trail: a bounding sphere around
/// the entity and its trail, and the energy it carries into a contact.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reach {
    /// Centre of the bounding sphere.
    pub center: Vec3,
    /// Radius of the bounding sphere; 0 until the payload update ran.
    pub radius: f32,
    /// Energy in fixed-point units (integers, so that sums over contacts do
    /// not depend on their order).
    pub energy: u32,
}

/// A persistent entity that spawns transient ones in a cone around its aim.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Emitter {
    /// Position in the scenario's list; the checksum hashes in this order.
    pub id: u32,
    /// Where entities appear (plus up to `muzzle_radius` of jitter).
    pub position: Vec3,
    /// Aim, as yaw about +Y, in radians.
    pub yaw: f32,
    /// Aim, as pitch above the horizon, in radians.
    pub pitch: f32,
    /// How fast the aim turns about +Y, radians per second.
    pub sweep: f32,
    /// Share of each frame's entities, relative to the other emitters.
    pub weight: u32,
    /// Radius of the sphere spawn positions are jittered in.
    pub muzzle_radius: f32,
    /// Entities spawned so far.
    pub emitted: u64,
}

/// A persistent entity that transient ones hit.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// Position in the scenario's list (ring targets are numbered around the
    /// ring); the checksum hashes in this order.
    pub id: u32,
    /// Current position; contacts push it, a spring pulls it home.
    pub position: Vec3,
    /// Where the target returns to, and respawns when destroyed.
    pub home: Vec3,
    /// Collision radius.
    pub radius: f32,
    /// Health left, in the same fixed-point units as [`Reach::energy`].
    pub health: i64,
    /// Health after a respawn.
    pub max_health: i64,
    /// Contacts received so far.
    pub hits: u64,
    /// Energy absorbed so far.
    pub absorbed: u64,
    /// Times its health reached zero.
    pub destroyed: u32,
}

//! Motion: one fixed step of integration, and the payload update that reads
//! each trail and derives the entity's reach. Both run in parallel, per
//! entity.

use bevy_ecs::query::With;
use bevy_ecs::system::{Query, Res};
use glam::Quat;

use crate::sim::components::{Reach, Transform, Transient, Velocity};
use crate::sim::memory::FrameMemory;
use crate::sim::resources::SimConfig;

/// Integrate: one fixed step of motion, in parallel.
pub fn integrate(
    config: Res<SimConfig>,
    mut transients: Query<(&mut Transform, &mut Velocity), With<Transient>>,
) {
    puffin::profile_function!();
    let (dt, gravity) = (config.dt, config.gravity);
    transients.par_iter_mut().for_each_init(
        || puffin::profile_scope_custom!("integrate_batch"),
        |_batch, (mut transform, mut velocity)| {
            transform.translation += velocity.linear * dt;
            velocity.linear += gravity * dt;
            // First-order quaternion integration, then renormalise.
            let w = velocity.angular;
            let q = transform.rotation;
            let spin = Quat::from_xyzw(w.x, w.y, w.z, 0.0) * q;
            transform.rotation = (q + spin * (0.5 * dt)).normalize();
        },
    );
}

/// Payload update: read each trail and derive the entity's reach (a bounding
/// sphere of the entity and its trail) and energy, in parallel.
pub fn update_payloads<M: FrameMemory>(
    memory: Res<M>,
    mut transients: Query<(&Transform, &Velocity, &M::Payload, &mut Transient)>,
) {
    puffin::profile_function!();
    let memory = &*memory;
    transients.par_iter_mut().for_each_init(
        || puffin::profile_scope_custom!("update_payloads_batch"),
        |_batch, (transform, velocity, payload, mut transient)| {
            let trail = memory.trail(payload);
            let head = transform.translation;
            let tail = trail.last().copied().unwrap_or(head);
            let center = (head + tail) * 0.5;
            let mut radius_sq = head.distance_squared(center);
            for &point in trail {
                radius_sq = radius_sq.max(point.distance_squared(center));
            }
            let energy = 0.5 * trail.len() as f32 * velocity.linear.length_squared();
            transient.reach = Reach {
                center,
                radius: radius_sq.sqrt(),
                // `as` saturates; the cap keeps a frame's sum far from u64::MAX.
                energy: energy.min(1.0e9) as u32,
            };
        },
    );
}

//! The end of a transient entity's life, in three systems: when its last
//! frame ends, its payload goes back to the strategy and the entity is
//! despawned; then the strategy ends the frame (the arena resets).

use bevy_ecs::entity::Entity;
use bevy_ecs::query::QueryState;
use bevy_ecs::system::{Local, Query, Res, ResMut};
use bevy_ecs::world::World;

use crate::sim::components::Transient;
use crate::sim::memory::{FrameMemory, PayloadReleaser};
use crate::sim::resources::FrameCounters;

/// Release: the payloads of the entities whose last frame this is go back
/// before their entities are despawned, in parallel (pool and slab are
/// thread-safe, with per-thread lanes), through one releaser per batch,
/// taken on the thread that runs the batch (the slab's and the pool's are
/// their per-thread handles).
pub fn release_payloads<M: FrameMemory>(
    memory: Res<M>,
    counters: Res<FrameCounters>,
    mut payloads: Query<(&Transient, &mut M::Payload)>,
) {
    if !M::RELEASES_PAYLOADS {
        return;
    }
    puffin::profile_function!();
    let memory = &*memory;
    let frame = counters.frame;
    payloads.par_iter_mut().for_each_init(
        || {
            (
                puffin::profile_scope_custom!("release_payloads_batch"),
                memory.releaser(),
            )
        },
        |(_scope, releaser), (transient, mut payload)| {
            if transient.last_frame == frame {
                releaser.release(&mut payload);
            }
        },
    );
}

/// Despawn: the transient entities whose last frame this is, one by one, in
/// reverse table order (`despawn_all` would leak entity ids in bevy_ecs
/// 0.20.1; reverse order removes table rows from the end, so when every
/// entity goes, as with one-frame lifetimes, no row has to move).
pub fn despawn_transients(
    world: &mut World,
    transients: &mut QueryState<(Entity, &Transient)>,
    mut doomed: Local<Vec<Entity>>,
) {
    puffin::profile_function!();
    let frame = world.resource::<FrameCounters>().frame;
    doomed.extend(
        transients
            .iter(world)
            .filter(|(_, t)| t.last_frame == frame)
            .map(|(entity, _)| entity),
    );
    world.resource_mut::<FrameCounters>().alive -= doomed.len() as u32;
    for entity in doomed.drain(..).rev() {
        world.despawn(entity);
    }
}

/// The strategy's end of frame (the arena resets).
pub fn end_frame<M: FrameMemory>(mut memory: ResMut<M>) {
    puffin::profile_function!();
    memory.end_frame();
}

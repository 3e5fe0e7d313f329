//! The end of a transient entity's life, in three systems: its payload goes
//! back to the strategy, the entity is despawned, and the strategy ends the
//! frame (the arena resets).

use bevy_ecs::entity::Entity;
use bevy_ecs::query::{QueryState, With};
use bevy_ecs::system::{Local, Query, Res, ResMut};
use bevy_ecs::world::World;

use crate::sim::components::Transient;
use crate::sim::memory::FrameMemory;

/// Release: pool and slab payloads go back before their entities are
/// despawned, in parallel (both are thread-safe, with per-thread lanes).
pub fn release_payloads<M: FrameMemory>(memory: Res<M>, mut payloads: Query<&mut M::Payload>) {
    if !M::RELEASES_PAYLOADS {
        return;
    }
    puffin::profile_function!();
    let memory = &*memory;
    payloads.par_iter_mut().for_each_init(
        || puffin::profile_scope_custom!("release_payloads_batch"),
        |_batch, mut payload| memory.release_trail(&mut payload),
    );
}

/// Despawn: every transient entity, one by one, in reverse spawn order
/// (`despawn_all` would leak entity ids in bevy_ecs 0.20.1; reverse order
/// removes table rows from the end, so no row has to move).
pub fn despawn_transients(
    world: &mut World,
    transients: &mut QueryState<Entity, With<Transient>>,
    mut doomed: Local<Vec<Entity>>,
) {
    puffin::profile_function!();
    doomed.extend(transients.iter(world));
    for entity in doomed.drain(..).rev() {
        world.despawn(entity);
    }
}

/// The strategy's end of frame (the arena resets).
pub fn end_frame<M: FrameMemory>(mut memory: ResMut<M>) {
    puffin::profile_function!();
    memory.end_frame();
}

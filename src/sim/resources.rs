//! The resources every phase shares: the settings made from the scenario
//! ([`SimConfig`]) and the figures of the running frame ([`FrameCounters`]).
//! The spawn system's own resource, `Spawner`, is in `systems/spawn.rs`.

use bevy_ecs::resource::Resource;
use glam::Vec3;

use crate::sim::scenario::Scenario;

/// Settings every system reads; made from the scenario.
#[derive(Resource, Debug, Clone)]
pub struct SimConfig {
    /// Fixed time step, seconds.
    pub dt: f32,
    /// Acceleration of transient entities.
    pub gravity: Vec3,
    /// Side of a broadphase cell.
    pub cell_size: f32,
    /// Half the side of the world cube; targets stay inside.
    pub world_extent: f32,
}

impl SimConfig {
    /// The scenario's settings.
    pub fn new(scenario: &Scenario) -> Self {
        Self {
            dt: scenario.timestep_s,
            gravity: Vec3::from_array(scenario.gravity),
            cell_size: scenario.cell_size,
            world_extent: scenario.world_extent,
        }
    }
}

/// Figures of the current frame, read by `Simulation::step`.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct FrameCounters {
    /// The frame being run, counting from 0 (warm-up frames included).
    pub frame: u64,
    /// Transient entities spawned this frame.
    pub spawned: u32,
    /// Transient entities alive after the spawn: this frame's and those
    /// born earlier that live on.
    pub alive: u32,
    /// Contacts found this frame.
    pub contacts: u32,
}

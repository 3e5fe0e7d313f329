//! The frame-churn simulation: a headless `bevy_ecs` world in which emitters
//! spawn thousands of transient entities every frame, each with a payload
//! from the chosen allocation strategy, and despawn them all at frame end.
//!
//! This file is [`Simulation`]: it builds the world and the schedule for a
//! strategy, steps it and measures it. Read on top to bottom:
//!
//! - `schedule.rs`: the order of one frame, declared once;
//! - `systems/`: the systems by phase (`spawn`, `motion`, `collide`,
//!   `lifecycle`), plain functions generic over the strategy;
//! - `grid.rs`: the broadphase's spatial hash grid, pure functions;
//! - `memory/`: `FrameMemory`, the seam between the systems and a strategy,
//!   one file per strategy, and the scratch types;
//! - `scenario/`: the RON scenarios, schema, loading and validation apart;
//! - `entity_count.rs`: [`EntitiesPerFrame`], checked once, never clamped;
//! - `strategy.rs`: the strategies' names; `checksum.rs`: the hash of the
//!   persistent state;
//! - `resources.rs`, `components.rs`, `rows.rs`: the data, at the bottom:
//!   shared resources, the components, the collide system's scratch rows.
//!
//! Deterministic: a fixed time step, a seeded generator used by the
//! single-threaded spawn system only, parallel work that is per entity, and
//! contact sums in integers. The same scenario and seed give the same
//! [`checksum`](Simulation::checksum) under every strategy and thread count.

mod checksum;
mod components;
mod entity_count;
mod grid;
mod memory;
mod resources;
mod rows;
mod scenario;
mod schedule;
mod strategy;
mod systems;

use std::fmt;
use std::time::Instant;

use bevy_ecs::schedule::Schedule;
use bevy_ecs::world::World;

use crate::alloc::AllocCounts;

use crate::bevy::{FrameArena, FrameSlab};
use components::{Transform, Transient, Velocity};
use memory::{FrameMemory, HeapMemory, MemoryPlan, PoolMemory};
use memory::{PoolTrail, SlabTrail};
use resources::{FrameCounters, SimConfig};
use rows::{Body, Contact};
use systems::spawn::{Spawner, spawn_persistent};

pub use entity_count::{EntitiesPerFrame, EntityCountError, MAX_ENTITIES_PER_FRAME};
pub use memory::MemoryFigures;
pub use scenario::{
    DEFAULT_SCENARIO_RON, EmitterSpec, InvalidField, MAX_TRAIL_LEN, Scenario, ScenarioError,
    SpeedRange, TargetSpec, Targets, TrailLengths, TrailSpec,
};
pub use schedule::init_task_pool;
pub use strategy::Strategy;

/// The default `--seed`.
pub const DEFAULT_SEED: u64 = 0x5eed_f4a3_e000_0001;

/// Run settings that are not part of the scenario.
#[derive(Clone, Copy, Debug)]
pub struct SimOptions {
    /// Transient entities spawned (and despawned) every frame.
    pub entities_per_frame: EntitiesPerFrame,
    /// Seed of the spawn generator.
    pub seed: u64,
}

impl SimOptions {
    /// The scenario's own entity count, and `seed`.
    ///
    /// # Panics
    ///
    /// When the scenario's `entities_per_frame` is out of range, which a
    /// scenario from the loaders never is (they validate it); a scenario
    /// edited in code must keep it in `1..=`[`MAX_ENTITIES_PER_FRAME`].
    #[track_caller]
    pub fn for_scenario(scenario: &Scenario, seed: u64) -> Self {
        match EntitiesPerFrame::new(scenario.entities_per_frame) {
            Ok(entities_per_frame) => Self {
                entities_per_frame,
                seed,
            },
            Err(e) => panic!("scenario `{}`: {e}", scenario.name),
        }
    }
}

/// What one frame did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameRecord {
    /// Frame number, from 0 (warm-up frames included).
    pub frame: u64,
    /// Wall time of the frame's schedule plus `clear_trackers`, nanoseconds.
    pub time_ns: u64,
    /// Heap traffic of the frame (zero unless an allocation counter was
    /// given, see [`Simulation::count_allocations_with`]).
    pub heap: AllocCounts,
    /// Transient entities spawned and despawned.
    pub entities: u32,
    /// Contacts between transient entities and targets.
    pub contacts: u32,
}

/// A generous estimate of the memory one transient entity costs a running
/// simulation, in bytes: its components and entity record in bevy, its
/// longest possible trail, its broadphase scratch rows, all doubled for the
/// slack of growing tables and arena chunks. Used to refuse entity counts the
/// machine cannot hold before trying.
pub fn estimated_bytes_per_entity(scenario: &Scenario) -> u64 {
    use std::mem::size_of;
    let components = size_of::<Transient>()
        + size_of::<Transform>()
        + size_of::<Velocity>()
        + size_of::<PoolTrail>().max(size_of::<SlabTrail>())
        // The entity in its table, and bevy's per-entity location record.
        + 8
        + 24;
    let trail = scenario.max_trail_len() as usize * scenario::TRAIL_POINT_BYTES;
    // A body row, an entry, a share of the buckets (start and cursor, up to
    // two buckets per body), a contact.
    let scratch = size_of::<Body>() + 4 + 2 * 2 * 4 + size_of::<Contact>();
    2 * (components + trail + scratch) as u64
}

/// A world and its schedule for one strategy. See the module docs.
pub struct Simulation {
    world: World,
    schedule: Schedule,
    strategy: Strategy,
    /// Reads the strategy's figures; monomorphised for it in `new`.
    figures: fn(&World) -> MemoryFigures,
    count_allocations: Option<fn() -> AllocCounts>,
    frame: u64,
    entities_per_frame: EntitiesPerFrame,
}

impl fmt::Debug for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("strategy", &self.strategy)
            .field("frame", &self.frame)
            .field("entities_per_frame", &self.entities_per_frame.get())
            .finish_non_exhaustive()
    }
}

impl Simulation {
    /// Builds the world and the schedule for `strategy`.
    ///
    /// The scenario must be valid ([`Scenario::validate`]; the loaders
    /// check it). Start the compute threads first ([`init_task_pool`]), or
    /// bevy starts them with its defaults.
    pub fn new(strategy: Strategy, scenario: &Scenario, options: SimOptions) -> Simulation {
        match strategy {
            Strategy::Arena => Self::build::<FrameArena>(scenario, options),
            Strategy::Slab => Self::build::<FrameSlab>(scenario, options),
            Strategy::Pool => Self::build::<PoolMemory>(scenario, options),
            Strategy::Heap => Self::build::<HeapMemory>(scenario, options),
        }
    }

    fn build<M: FrameMemory>(scenario: &Scenario, options: SimOptions) -> Simulation {
        let entities = options.entities_per_frame;
        let mut world = World::new();
        world.insert_resource(M::new(&MemoryPlan {
            entities_per_frame: entities.get() as usize,
            max_trail_len: scenario.max_trail_len() as usize,
        }));
        world.insert_resource(SimConfig::new(scenario));
        world.insert_resource(Spawner::new(scenario, entities, options.seed));
        world.insert_resource(FrameCounters::default());
        spawn_persistent(&mut world, scenario);
        Simulation {
            world,
            schedule: schedule::frame_schedule::<M>(),
            strategy: M::STRATEGY,
            figures: |world| world.resource::<M>().figures(),
            count_allocations: None,
            frame: 0,
            entities_per_frame: entities,
        }
    }

    /// Makes [`step`](Self::step) record the heap traffic of each frame with
    /// `snapshot`, typically `|| GLOBAL.snapshot()` on the binary's
    /// [`CountingAllocator`](crate::CountingAllocator).
    pub fn count_allocations_with(mut self, snapshot: fn() -> AllocCounts) -> Self {
        self.count_allocations = Some(snapshot);
        self
    }

    /// Whether [`step`](Self::step) counts heap traffic
    /// ([`count_allocations_with`](Self::count_allocations_with)).
    pub fn counts_allocations(&self) -> bool {
        self.count_allocations.is_some()
    }

    /// Runs one frame and returns what it did.
    ///
    /// The frame begins with a puffin frame boundary: the scopes of the
    /// previous frame go to puffin's sinks (a `puffin_http` server, a
    /// recording), outside the timed and counted part of this frame.
    pub fn step(&mut self) -> FrameRecord {
        {
            puffin::profile_scope!("new_frame");
            puffin::GlobalProfiler::lock().new_frame();
        }
        let before = self.count_allocations.map(|snapshot| snapshot());
        let start = Instant::now();
        self.schedule.run(&mut self.world);
        {
            puffin::profile_scope!("clear_trackers");
            // Without this, change-detection state grows by megabytes a frame.
            self.world.clear_trackers();
        }
        let time_ns = start.elapsed().as_nanos() as u64;
        let heap = match (before, self.count_allocations) {
            (Some(before), Some(snapshot)) => snapshot().since(&before),
            _ => AllocCounts::default(),
        };
        let counters = *self.world.resource::<FrameCounters>();
        let record = FrameRecord {
            frame: self.frame,
            time_ns,
            heap,
            entities: counters.spawned,
            contacts: counters.contacts,
        };
        self.frame += 1;
        record
    }

    /// A hash of the persistent state: every target and emitter, by id.
    pub fn checksum(&mut self) -> u64 {
        checksum::persistent_state(&mut self.world)
    }

    /// The strategy's memory figures now.
    pub fn figures(&self) -> MemoryFigures {
        (self.figures)(&self.world)
    }

    /// The strategy.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Frames run so far.
    pub fn frames_done(&self) -> u64 {
        self.frame
    }

    /// Transient entities per frame.
    pub fn entities_per_frame(&self) -> u32 {
        self.entities_per_frame.get()
    }

    /// The world, for inspection.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Entities alive now (between frames: the persistent ones only). O(ids).
    pub fn entity_count(&self) -> u32 {
        self.world.entities().count_spawned()
    }

    /// Entity ids allocated so far, alive or free. Flat from frame to frame
    /// when despawned ids are reused (`despawn_all` would make it grow).
    pub fn entity_ids_allocated(&self) -> u32 {
        self.world.entities().len()
    }
}

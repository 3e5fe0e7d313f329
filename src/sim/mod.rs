//! The frame-churn simulation: a headless `bevy_ecs` world in which emitters
//! spawn thousands of transient entities every frame, each with a payload
//! from the chosen allocation strategy, and despawn them all at frame end.
//!
//! - `components.rs`: the components; `scenario.rs`: the RON scenarios;
//! - `memory.rs`: [`FrameMemory`], the glue that routes payloads and scratch
//!   to a strategy; `systems.rs`: the systems, plain functions generic over
//!   it; `checksum.rs`: FNV-1a for the checksum;
//! - this file: [`Simulation`], which builds the world and the schedule for a
//!   strategy, declares the order of one frame, steps it and measures it.
//!
//! Deterministic: a fixed time step, a seeded generator used by the
//! single-threaded spawn system only, parallel work that is per entity, and
//! contact sums in integers. The same scenario and seed give the same
//! [`checksum`](Simulation::checksum) under every strategy and thread count.

mod checksum;
mod components;
mod memory;
mod scenario;
mod systems;

use std::fmt;
use std::time::Instant;

use bevy_ecs::query::QueryState;
use bevy_ecs::schedule::{IntoScheduleConfigs, Schedule};
use bevy_ecs::world::World;
use glam::Vec3;

use crate::alloc::AllocCounts;

pub use checksum::Fnv1a;
pub use components::{Emitter, Reach, Target, Transform, Transient, Velocity};
pub use memory::{
    ArenaMemory, ArenaTrail, FrameMemory, HeapMemory, HeapTrail, MemoryFigures, MemoryPlan,
    PoolMemory, PoolTrail, ScratchItem, ScratchPools, ScratchVec, SlabMemory, SlabTrail,
};
pub use scenario::{
    DEFAULT_SCENARIO_RON, EmitterSpec, InvalidField, MAX_ENTITIES_PER_FRAME, MAX_TRAIL_LEN,
    Scenario, ScenarioError, SpeedRange, TRAIL_POINT_BYTES, TargetSpec, Targets, TrailLengths,
    TrailSpec,
};
pub use systems::{Body, Contact, FrameCounters, SimConfig, Spawner, TargetScratch};

use systems::{LengthSampler, Shot};

/// The default `--seed`.
pub const DEFAULT_SEED: u64 = 0x5eed_f4a3_e000_0001;

/// An allocation strategy for the per-frame memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The frame arena: everything released by one reset.
    Arena,
    /// The size-class slab: freed one by one.
    Slab,
    /// Object pools: recycled.
    Pool,
    /// The global allocator: the baseline.
    Heap,
}

impl Strategy {
    /// Every strategy, in the order reports list them.
    pub const ALL: [Strategy; 4] = [
        Strategy::Arena,
        Strategy::Slab,
        Strategy::Pool,
        Strategy::Heap,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Arena => "arena",
            Strategy::Slab => "slab",
            Strategy::Pool => "pool",
            Strategy::Heap => "heap",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Run settings that are not part of the scenario.
#[derive(Clone, Copy, Debug)]
pub struct SimOptions {
    /// Overrides the scenario's `entities_per_frame` when set.
    pub entities_per_frame: Option<u64>,
    /// Seed of the spawn generator.
    pub seed: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            entities_per_frame: None,
            seed: DEFAULT_SEED,
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
    let trail = scenario.max_trail_len() as usize * TRAIL_POINT_BYTES;
    // A body row, an entry, a share of the buckets (start and cursor, up to
    // two buckets per body), a contact.
    let scratch = size_of::<Body>() + 4 + 2 * 2 * 4 + size_of::<Contact>();
    2 * (components + trail + scratch) as u64
}

/// Initialises bevy's compute task pool with `threads` threads (all cores
/// when `None`) and returns the pool's thread count. Call it before building
/// a [`Simulation`]; the pool is global, so once it exists later calls return
/// its size and change nothing.
pub fn init_task_pool(threads: Option<usize>) -> usize {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    bevy_tasks::ComputeTaskPool::get_or_init(|| {
        bevy_tasks::TaskPoolBuilder::new()
            .num_threads(threads)
            .thread_name("framemem compute".to_owned())
            .build()
    })
    .thread_num()
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
    entities_per_frame: u32,
}

impl fmt::Debug for Simulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulation")
            .field("strategy", &self.strategy)
            .field("frame", &self.frame)
            .field("entities_per_frame", &self.entities_per_frame)
            .finish_non_exhaustive()
    }
}

impl Simulation {
    /// Builds the world and the schedule for `strategy`.
    ///
    /// The scenario must be valid ([`Scenario::validate`]; the loaders
    /// check it) and the entity count at most [`MAX_ENTITIES_PER_FRAME`].
    /// Initialise the task pool first ([`init_task_pool`]), or bevy
    /// initialises it with its defaults.
    pub fn new(strategy: Strategy, scenario: &Scenario, options: SimOptions) -> Simulation {
        match strategy {
            Strategy::Arena => Self::build::<ArenaMemory>(scenario, options),
            Strategy::Slab => Self::build::<SlabMemory>(scenario, options),
            Strategy::Pool => Self::build::<PoolMemory>(scenario, options),
            Strategy::Heap => Self::build::<HeapMemory>(scenario, options),
        }
    }

    fn build<M: FrameMemory>(scenario: &Scenario, options: SimOptions) -> Simulation {
        let entities = options
            .entities_per_frame
            .unwrap_or(scenario.entities_per_frame)
            .clamp(1, MAX_ENTITIES_PER_FRAME);
        let entities = u32::try_from(entities).expect("MAX_ENTITIES_PER_FRAME fits in u32");
        let mut world = World::new();
        world.insert_resource(M::new(&MemoryPlan {
            entities_per_frame: entities as usize,
            max_trail_len: scenario.max_trail_len() as usize,
        }));
        world.insert_resource(SimConfig {
            dt: scenario.timestep_s,
            gravity: Vec3::from_array(scenario.gravity),
            cell_size: scenario.cell_size,
            world_extent: scenario.world_extent,
        });
        world.insert_resource(Spawner {
            entities_per_frame: entities,
            rng: fastrand::Rng::with_seed(options.seed),
            speed_min: scenario.speed.min,
            speed_max: scenario.speed.max,
            spread: scenario.spread_deg.to_radians().tan(),
            flight_time_s: scenario.flight_time_s,
            trail_spacing_s: scenario.trail.spacing,
            lengths: LengthSampler::new(&scenario.trail.lengths),
            shots: Vec::<Shot>::with_capacity(scenario.emitters.len()),
        });
        world.insert_resource(FrameCounters::default());
        spawn_persistent(&mut world, scenario);

        let mut schedule = Schedule::default();
        // One frame, in order. Broadphase, contacts and resolve are phases of
        // `collide`, because their scratch cannot outlive one system call.
        schedule.add_systems(
            (
                systems::spawn_transients::<M>, // emitters spawn N entities with payloads
                systems::integrate,             // par_iter_mut: motion
                systems::update_payloads::<M>,  // par_iter_mut: trail -> reach, energy
                systems::collide::<M>,          // broadphase; contacts; resolve on targets
                systems::release_payloads::<M>, // pool and slab payloads go back
                systems::despawn_transients,    // every transient entity, one by one
                systems::end_frame::<M>,        // the strategy's end of frame (arena reset)
            )
                .chain(),
        );
        Simulation {
            world,
            schedule,
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
        let mut targets: Vec<Target> = QueryState::<&Target>::new(&mut self.world)
            .iter(&self.world)
            .copied()
            .collect();
        targets.sort_unstable_by_key(|t| t.id);
        let mut emitters: Vec<Emitter> = QueryState::<&Emitter>::new(&mut self.world)
            .iter(&self.world)
            .copied()
            .collect();
        emitters.sort_unstable_by_key(|e| e.id);
        let mut h = Fnv1a::new();
        for t in &targets {
            h.write_u64(u64::from(t.id));
            for v in t.position.to_array() {
                h.write_f32(v);
            }
            h.write_u64(t.health as u64);
            h.write_u64(t.hits);
            h.write_u64(t.absorbed);
            h.write_u64(u64::from(t.destroyed));
        }
        for e in &emitters {
            h.write_u64(u64::from(e.id));
            h.write_f32(e.yaw);
            h.write_u64(e.emitted);
        }
        h.finish()
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
        self.entities_per_frame
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

/// Spawns the scenario's emitters and targets.
fn spawn_persistent(world: &mut World, scenario: &Scenario) {
    for (id, e) in scenario.emitters.iter().enumerate() {
        world.spawn(Emitter {
            id: id as u32,
            position: Vec3::from_array(e.position),
            yaw: e.yaw_deg.to_radians(),
            pitch: e.pitch_deg.to_radians(),
            sweep: e.sweep_deg_per_s.to_radians(),
            weight: e.weight,
            muzzle_radius: e.muzzle_radius,
            emitted: 0,
        });
    }
    let target = |id: usize, home: Vec3, radius: f32, health: u32| Target {
        id: id as u32,
        position: home,
        home,
        radius,
        health: i64::from(health),
        max_health: i64::from(health),
        hits: 0,
        absorbed: 0,
        destroyed: 0,
    };
    match &scenario.targets {
        Targets::List(list) => {
            for (id, t) in list.iter().enumerate() {
                world.spawn(target(id, Vec3::from_array(t.position), t.radius, t.health));
            }
        }
        Targets::Ring {
            count,
            radius,
            height,
            target_radius,
            health,
        } => {
            for id in 0..*count as usize {
                let angle = std::f32::consts::TAU * id as f32 / *count as f32;
                let home = Vec3::new(radius * angle.sin(), *height, radius * angle.cos());
                world.spawn(target(id, home, *target_radius, *health));
            }
        }
    }
}

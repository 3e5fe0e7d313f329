//! The frame-churn simulation: a headless `bevy_ecs` world in which emitters
//! spawn thousands of transient entities every frame, each with a payload
//! from the chosen allocation strategy, and despawn them all at frame end.
//!
//! This file is [`Simulation`]: it builds the world and the schedule for a
//! strategy, steps it and measures it. Read on top to bottom:
//!
//! - `schedule.rs`: the order of one frame, declared once, a schedule per
//!   phase; `phase.rs`: [`PhaseTimes`], a value per phase;
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
mod phase;
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

use framemem::AllocCounts;

use components::{Transform, Transient, Velocity};
use framemem::bevy::{FrameArena, FrameSlab};
use memory::{FrameMemory, FrameVecMemory, HeapMemory, MemoryPlan};
use memory::{MimallocMemory, PoolMemory, RingMemory};
use memory::{PoolTrail, SlabTrail};
use phase::PHASES;
use resources::{FrameCounters, SimConfig};
use rows::{Body, Contact};
use systems::spawn::{Spawner, spawn_persistent};

pub use entity_count::{EntitiesPerFrame, EntityCountError, MAX_ENTITIES_PER_FRAME};
pub use memory::{ALLOCATING_SYSTEMS, MemoryFigures, MiAlloc, SystemBytes};
pub use phase::PhaseTimes;
pub use scenario::{
    DEFAULT_SCENARIO_RON, Distribution, EmitterSpec, InvalidField, MAX_LIFETIME_FRAMES,
    MAX_TRAIL_LEN, Scenario, ScenarioError, SpeedRange, TargetSpec, Targets, TrailSpec, Waves,
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
    /// Whether the frame arena counts its bytes per system (the arena
    /// strategy with one-frame lifetimes; the others keep no attribution):
    /// on by default, off to measure what it costs (`--attribution off`).
    pub attribution: bool,
    /// Whether the frame arena's chunks are 2 MiB on huge pages
    /// (`--huge-pages on`); off by default.
    pub huge_pages: bool,
}

impl SimOptions {
    /// The scenario's own entity count, and `seed`; attribution on, huge
    /// pages off.
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
                attribution: true,
                huge_pages: false,
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
    /// Wall time of the frame's schedules plus `clear_trackers`,
    /// nanoseconds.
    pub time_ns: u64,
    /// Wall time of each phase, nanoseconds; they add up to `time_ns`.
    pub phase_ns: PhaseTimes,
    /// Heap traffic of the frame (zero unless an allocation counter was
    /// given, see [`Simulation::count_allocations_with`]).
    pub heap: AllocCounts,
    /// Transient entities spawned.
    pub entities: u32,
    /// Contacts between transient entities and targets.
    pub contacts: u32,
    /// Bytes the strategy holds from the system at the end of the frame
    /// ([`MemoryFigures::bytes_reserved`]); `None` where not measured (the
    /// heap strategy).
    pub reserved_bytes: Option<u64>,
    /// The frame's arena bytes per lab system, where the strategy
    /// attributes them (the arena with one-frame lifetimes); `None`
    /// elsewhere.
    pub by_system: Option<SystemBytes>,
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
    /// One schedule per phase, in order.
    phases: [Schedule; PHASES],
    strategy: Strategy,
    /// Reads the strategy's figures; monomorphised for it in `new`.
    figures: fn(&World) -> MemoryFigures,
    by_system: fn(&World) -> Option<SystemBytes>,
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
    ///
    /// # Panics
    ///
    /// When the strategy cannot hold the scenario's lifetimes
    /// ([`Strategy::applies_to`]).
    #[track_caller]
    pub fn new(strategy: Strategy, scenario: &Scenario, options: SimOptions) -> Simulation {
        if let Err(why) = strategy.applies_to(scenario.max_lifetime_frames()) {
            panic!("{strategy} cannot run scenario {}: {why}", scenario.name);
        }
        match strategy {
            // The frame arena resets every frame: data that lives longer
            // goes in a ring of arenas keyed by expiry.
            Strategy::Arena if scenario.max_lifetime_frames() > 1 => {
                Self::build::<RingMemory>(scenario, options)
            }
            Strategy::Arena => Self::build::<FrameArena>(scenario, options),
            Strategy::Slab => Self::build::<FrameSlab>(scenario, options),
            Strategy::Pool => Self::build::<PoolMemory>(scenario, options),
            Strategy::Heap => Self::build::<HeapMemory>(scenario, options),
            Strategy::Mimalloc => Self::build::<MimallocMemory>(scenario, options),
            Strategy::Framevec => Self::build::<FrameVecMemory>(scenario, options),
        }
    }

    fn build<M: FrameMemory>(scenario: &Scenario, options: SimOptions) -> Simulation {
        let entities = options.entities_per_frame;
        let mut world = World::new();
        // The most entities born in one frame: a wave's frame.
        let births = u64::from(entities.get()) + scenario.waves.map_or(0, |w| w.extra_entities);
        world.insert_resource(M::new(&MemoryPlan {
            entities_per_frame: births as usize,
            max_trail_len: scenario.max_trail_len() as usize,
            max_lifetime_frames: scenario.max_lifetime_frames(),
            attribution: options.attribution,
            huge_pages: options.huge_pages,
        }));
        world.insert_resource(SimConfig::new(scenario));
        world.insert_resource(Spawner::new(scenario, entities, options.seed));
        world.insert_resource(FrameCounters::default());
        spawn_persistent(&mut world, scenario);
        Simulation {
            world,
            phases: schedule::frame_schedules::<M>(),
            strategy: M::STRATEGY,
            figures: |world| world.resource::<M>().figures(),
            by_system: |world| world.resource::<M>().by_system(),
            count_allocations: None,
            frame: 0,
            entities_per_frame: entities,
        }
    }

    /// Makes [`step`](Self::step) record the heap traffic of each frame with
    /// `snapshot`, typically `|| GLOBAL.snapshot()` on the binary's
    /// [`CountingAllocator`](framemem::CountingAllocator).
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
    /// recording), outside the timed and counted part of this frame. Each
    /// phase is timed by a clock read after it (six reads a frame, about
    /// 25 ns each: cheap enough to stay on always).
    pub fn step(&mut self) -> FrameRecord {
        {
            puffin::profile_scope!("new_frame");
            puffin::GlobalProfiler::lock().new_frame();
        }
        // The global allocator's counts, and the mimalloc strategy's, which
        // calls mimalloc directly (zero for the other strategies).
        let counts = |snapshot: fn() -> AllocCounts| snapshot() + memory::mimalloc_counts();
        let before = self.count_allocations.map(counts);
        self.world.resource_mut::<FrameCounters>().frame = self.frame;
        let start = Instant::now();
        let mut phase_ns = [0u64; PHASES];
        let mut last = start;
        for (ns, schedule) in phase_ns.iter_mut().zip(&mut self.phases) {
            schedule.run(&mut self.world);
            let now = Instant::now();
            *ns = (now - last).as_nanos() as u64;
            last = now;
        }
        {
            puffin::profile_scope!("clear_trackers");
            // Without this, change-detection state grows by megabytes a frame.
            self.world.clear_trackers();
        }
        let end = Instant::now();
        // `clear_trackers` is part of the end of the frame.
        phase_ns[PHASES - 1] += (end - last).as_nanos() as u64;
        let time_ns = (end - start).as_nanos() as u64;
        let heap = match (before, self.count_allocations) {
            (Some(before), Some(snapshot)) => counts(snapshot).since(&before),
            _ => AllocCounts::default(),
        };
        let counters = *self.world.resource::<FrameCounters>();
        let by_system = (self.by_system)(&self.world);
        if let Some(bytes) = by_system
            && puffin::are_scopes_on()
        {
            // The frame's arena bytes per system as a scope's data (puffin
            // takes data when a scope opens, so after the frame's systems,
            // in a scope of its own): a viewer shows them on hover.
            let data: Vec<String> = ALLOCATING_SYSTEMS
                .iter()
                .zip(bytes.bytes)
                .map(|(name, b)| format!("{name} {b} B"))
                .chain([format!("outside systems {} B", bytes.outside)])
                .collect();
            puffin::profile_scope!("arena_bytes_by_system", data.join(", "));
        }
        let record = FrameRecord {
            frame: self.frame,
            time_ns,
            phase_ns: PhaseTimes::from_array(phase_ns),
            heap,
            entities: counters.spawned,
            contacts: counters.contacts,
            reserved_bytes: self.figures().bytes_reserved,
            by_system,
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

    /// Transient entities alive now, between frames: those whose lifetime
    /// goes on past the last frame run (none with one-frame lifetimes).
    pub fn transient_count(&self) -> u32 {
        self.world.resource::<FrameCounters>().alive
    }

    /// The world, for inspection.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Entities alive now (between frames: the persistent ones and the
    /// transient ones that live on). O(ids).
    pub fn entity_count(&self) -> u32 {
        self.world.entities().count_spawned()
    }

    /// Entity ids allocated so far, alive or free. Flat from frame to frame
    /// when despawned ids are reused (`despawn_all` would make it grow).
    pub fn entity_ids_allocated(&self) -> u32 {
        self.world.entities().len()
    }
}

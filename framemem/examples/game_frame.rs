//! The smallest bevy_ecs program that uses a frame arena: the one to start
//! from.
//!
//! ```text
//! cargo run --release --example game_frame
//! ```
//!
//! The pattern has three parts, all from `framemem::bevy`:
//!
//! 1. **The arena is a resource**, [`FrameArena`], and systems reach it
//!    through [`FrameAlloc`] (or `Res<FrameArena>`, which derefs to the
//!    [`framemem::Arena`]).
//! 2. **Systems allocate per-frame data from it.** On one thread, `&Arena`
//!    works from anywhere, one lane lookup per call; in a parallel query,
//!    `par_iter_mut().for_each_init(|| frame.local(), |local, item| ...)`
//!    takes the worker's lane once per batch and then allocates at the speed
//!    of a bare bump. Data of entities that live one frame goes into their
//!    components as [`ArenaSlice`] handles (components must be `'static`),
//!    resolved through the arena, which checks they are from this frame.
//! 3. **The frame ends in a system**, [`end_arena_frame`], last in the schedule:
//!    it resets the arena (which needs `&mut`, so no borrow of it survives,
//!    and a handle kept by mistake stops resolving) and publishes the
//!    frame's [`FrameFigures`]. The bare `World` + `Schedule` loop also calls
//!    `world.clear_trackers()` each frame. (With `bevy_app`,
//!    `FrameArenaPlugin` inserts both resources and runs `end_arena_frame` in
//!    `Last`, in `FrameMemSystems::EndFrame`.)
//!
//! The schedule runs on bevy's multi-threaded executor. For comparison, the
//! same frame runs a second time with a heap `Vec` in each spark and a heap
//! `Vec` as scratch; the program prints heap allocations and time per frame
//! for both.

use std::alloc::System;
use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;
use framemem::bevy::{FrameAlloc, FrameArena, FrameFigures, end_arena_frame};
use framemem::{ArenaSlice, CountingAllocator, TypedAlloc};

// Counts every heap allocation, so the program can show what the arena saves.
#[global_allocator]
static GLOBAL: CountingAllocator<System> = CountingAllocator::new(System);

const EMITTERS: u32 = 64;
const SPARKS_PER_EMITTER: u32 = 64;
/// Heat samples carried by each spark: its per-frame payload.
const HEAT_SAMPLES: usize = 16;
/// Frames run before measuring, while tables, queues and the arena's chunk
/// grow to their steady size.
const WARM_UP_FRAMES: u32 = 60;
const MEASURED_FRAMES: u32 = 600;

/// A persistent entity: it spawns sparks every frame.
#[derive(Component)]
struct Emitter {
    position: [f32; 2],
}

/// An entity that lives one frame. Its heat samples are in the frame arena;
/// the component holds only a `Copy` handle to them.
#[derive(Component)]
struct Spark {
    position: [f32; 2],
    heat: ArenaSlice<f32>,
}

/// What the frame computed: the grid cell with the most heat.
#[derive(Resource, Default)]
struct HottestCell {
    cell: u32,
    heat: f32,
}

// ---------------------------------------------------------------------------
// The systems

/// Every emitter spawns its sparks, each with its heat samples in the arena.
/// One thread: a handle taken once for the whole loop.
fn emit_sparks(mut commands: Commands, frame: FrameAlloc, emitters: Query<&Emitter>) {
    let local = frame.local();
    for emitter in &emitters {
        for i in 0..SPARKS_PER_EMITTER {
            // A pointer bump in this thread's lane; nothing to free later.
            let heat = local.handle_slice_fill_with(HEAT_SAMPLES, |k| heat_sample(i, k));
            commands.spawn(Spark {
                position: spark_position(emitter.position, i),
                heat,
            });
        }
    }
}

/// The sparks cool, in parallel: each gets new heat samples, allocated
/// through its worker's lane, looked up once per batch.
fn cool_sparks(frame: FrameAlloc, mut sparks: Query<&mut Spark>) {
    sparks.par_iter_mut().for_each_init(
        || frame.local(),
        |local, mut spark| {
            // `get` checks the handle is from this frame's arena.
            let old = local.arena().get(spark.heat);
            spark.heat = local.handle_slice_fill_with(HEAT_SAMPLES, |k| old[k] * 0.9);
        },
    );
}

/// Sums the sparks' heat per grid cell, in scratch memory from the arena.
fn find_hottest_cell(frame: FrameAlloc, sparks: Query<&Spark>, mut hottest: ResMut<HottestCell>) {
    // Scratch for this call only. Sized up front: a `Vec` that grows while it
    // is the arena's latest block grows in place, but once anything else was
    // allocated after it, each growth copies and leaves the old block behind
    // until the reset.
    let mut cells = allocator_api2::vec::Vec::with_capacity_in(sparks.count(), frame.arena());
    for spark in &sparks {
        let heat: f32 = frame.get(spark.heat).iter().sum();
        cells.push((cell_of(spark.position), heat));
    }
    (hottest.cell, hottest.heat) = hottest_of(&mut cells);
}

/// The sparks live one frame. Despawned one by one: bevy_ecs 0.20's
/// `despawn_all` never frees entity ids.
fn despawn_sparks(mut commands: Commands, sparks: Query<Entity, With<Spark>>) {
    for spark in &sparks {
        commands.entity(spark).despawn();
    }
}

fn main() {
    println!(
        "game_frame: {EMITTERS} emitters x {SPARKS_PER_EMITTER} sparks = {} one-frame entities \
         per frame, {HEAT_SAMPLES} f32 heat samples each; {MEASURED_FRAMES} frames measured after \
         {WARM_UP_FRAMES}",
        EMITTERS * SPARKS_PER_EMITTER
    );
    let arena = run_with_arena();
    let heap = run_on_heap();
    println!();
    println!(
        "{:<12} {:>18} {:>17} {:>19} {:>20}",
        "frame memory",
        "heap allocs/frame",
        "time/frame (us)",
        "arena bytes/frame",
        "hottest cell (heat)"
    );
    arena.print("arena");
    heap.print("heap Vec");
    println!();
    if let Some((_, reserved)) = arena.arena_bytes {
        println!("arena: holds {reserved} bytes from the system, kept across resets");
    }
    println!(
        "arena: {:.2} heap allocations per frame against {:.2} with heap Vecs \
         (two per spark, one for the scratch); {:.2}x the frame time",
        arena.allocs_per_frame,
        heap.allocs_per_frame,
        arena.time_per_frame.as_secs_f64() / heap.time_per_frame.as_secs_f64(),
    );
}

/// The game loop with the frame arena.
fn run_with_arena() -> Figures {
    let mut world = World::new();
    world.init_resource::<FrameArena>();
    world.init_resource::<FrameFigures>();
    world.insert_resource(HottestCell::default());
    spawn_emitters(&mut world);

    // The default executor: multi-threaded, on bevy's compute threads.
    let mut schedule = Schedule::default();
    schedule.add_systems(
        (
            emit_sparks,
            cool_sparks,
            find_hottest_cell,
            despawn_sparks,
            end_arena_frame, // last: resets the arena, publishes FrameFigures
        )
            .chain(),
    );
    let mut frame = |world: &mut World| {
        schedule.run(world);
        // Without this, change-detection state grows every frame.
        world.clear_trackers();
    };
    let mut figures = measure(&mut world, &mut frame);
    let arena = *world.resource::<FrameFigures>();
    figures.arena_bytes = Some((arena.bytes, arena.bytes_reserved));
    figures.hottest = read_hottest(&world);
    figures
}

// ---------------------------------------------------------------------------
// The same frame on the heap, for comparison only

#[derive(Component)]
struct HeapSpark {
    position: [f32; 2],
    heat: Vec<f32>,
}

fn emit_sparks_on_heap(mut commands: Commands, emitters: Query<&Emitter>) {
    for emitter in &emitters {
        for i in 0..SPARKS_PER_EMITTER {
            commands.spawn(HeapSpark {
                position: spark_position(emitter.position, i),
                heat: (0..HEAT_SAMPLES).map(|k| heat_sample(i, k)).collect(),
            });
        }
    }
}

fn cool_sparks_on_heap(mut sparks: Query<&mut HeapSpark>) {
    sparks.par_iter_mut().for_each(|mut spark| {
        spark.heat = spark.heat.iter().map(|h| h * 0.9).collect();
    });
}

fn find_hottest_cell_on_heap(sparks: Query<&HeapSpark>, mut hottest: ResMut<HottestCell>) {
    let mut cells = Vec::with_capacity(sparks.count());
    for spark in &sparks {
        cells.push((cell_of(spark.position), spark.heat.iter().sum::<f32>()));
    }
    (hottest.cell, hottest.heat) = hottest_of(&mut cells);
}

fn despawn_sparks_on_heap(mut commands: Commands, sparks: Query<Entity, With<HeapSpark>>) {
    for spark in &sparks {
        commands.entity(spark).despawn(); // frees the spark's `Vec`
    }
}

fn run_on_heap() -> Figures {
    let mut world = World::new();
    world.insert_resource(HottestCell::default());
    spawn_emitters(&mut world);
    let mut schedule = Schedule::default();
    schedule.add_systems(
        (
            emit_sparks_on_heap,
            cool_sparks_on_heap,
            find_hottest_cell_on_heap,
            despawn_sparks_on_heap,
        )
            .chain(),
    );
    let mut frame = |world: &mut World| {
        schedule.run(world);
        world.clear_trackers();
    };
    let mut figures = measure(&mut world, &mut frame);
    figures.hottest = read_hottest(&world);
    figures
}

// ---------------------------------------------------------------------------
// Shared by both: the game's arithmetic and the measurement

fn spawn_emitters(world: &mut World) {
    for e in 0..EMITTERS {
        world.spawn(Emitter {
            position: [(e % 8) as f32 * 10.0, (e / 8) as f32 * 10.0],
        });
    }
}

fn spark_position(emitter: [f32; 2], i: u32) -> [f32; 2] {
    let angle = i as f32 * 0.618 * std::f32::consts::TAU;
    let radius = 1.0 + (i % 7) as f32;
    [
        emitter[0] + radius * angle.cos(),
        emitter[1] + radius * angle.sin(),
    ]
}

fn heat_sample(i: u32, k: usize) -> f32 {
    ((i as usize * 31 + k * 7) % 100) as f32 * 0.01
}

/// The 4-unit grid cell of a position, as one number.
fn cell_of([x, y]: [f32; 2]) -> u32 {
    let (cx, cy) = ((x / 4.0).floor() as i32, (y / 4.0).floor() as i32);
    ((cy + 1000) as u32) << 16 | (cx + 1000) as u32
}

/// Sorts `(cell, heat)` pairs by cell and returns the cell with the most heat.
fn hottest_of(cells: &mut [(u32, f32)]) -> (u32, f32) {
    cells.sort_unstable_by_key(|&(cell, _)| cell);
    let mut best = (0, f32::MIN);
    for run in cells.chunk_by(|a, b| a.0 == b.0) {
        let heat = run.iter().map(|&(_, h)| h).sum();
        if heat > best.1 {
            best = (run[0].0, heat);
        }
    }
    best
}

fn read_hottest(world: &World) -> (u32, f32) {
    let hottest = world.resource::<HottestCell>();
    (hottest.cell, hottest.heat)
}

struct Figures {
    allocs_per_frame: f64,
    time_per_frame: Duration,
    /// Bytes the last frame used, and bytes the arena holds from the system.
    arena_bytes: Option<(usize, usize)>,
    /// The last frame's result: the same both ways, or the arena changed it.
    hottest: (u32, f32),
}

impl Figures {
    fn print(&self, name: &str) {
        let bytes = self
            .arena_bytes
            .map_or("-".to_owned(), |(used, _)| used.to_string());
        println!(
            "{name:<12} {:>18.2} {:>17.1} {:>19} {:>20}",
            self.allocs_per_frame,
            self.time_per_frame.as_secs_f64() * 1e6,
            bytes,
            format!("{:#x} ({:.1})", self.hottest.0, self.hottest.1),
        );
    }
}

/// Runs the warm-up frames, then the measured ones between two heap
/// snapshots.
fn measure(world: &mut World, frame: &mut impl FnMut(&mut World)) -> Figures {
    for _ in 0..WARM_UP_FRAMES {
        frame(world);
    }
    let before = GLOBAL.snapshot();
    let start = Instant::now();
    for _ in 0..MEASURED_FRAMES {
        frame(world);
    }
    let elapsed = start.elapsed();
    let heap = GLOBAL.snapshot().since(&before);
    Figures {
        allocs_per_frame: heap.heap_calls() as f64 / MEASURED_FRAMES as f64,
        time_per_frame: elapsed / MEASURED_FRAMES,
        arena_bytes: None,
        hottest: (0, 0.0),
    }
}

//! framemem inside real bevy Apps, on bevy's multi-threaded executor with
//! 1, 2, 8 and 96 compute threads (issue 17).
//!
//! bevy's `ComputeTaskPool` is a process-wide singleton: the first
//! `TaskPoolPlugin` fixes the thread count for good. So this is a
//! `harness = false` binary (bumpalo's `tests/try_alloc.rs` pattern): run
//! plainly, it re-runs itself once per thread count with
//! `FRAMEMEM_BEVY_APP_THREADS=n`, and fails when any child fails. Each
//! child builds one App per scenario, on its `n` compute threads, and runs
//! every scenario even when one fails, printing one line each.
//!
//! Run one thread count by hand:
//! `FRAMEMEM_BEVY_APP_THREADS=8 cargo test -p framemem --features bevy_app --test bevy_app`.
//!
//! Scenarios (each a function below): `steady_load`, `limited_arena`,
//! `pool_component_pattern` and `steady_load_under_load` (two spinner
//! threads keep both cores busy); the end of a frame in
//! `bevy_app/frame_boundary.rs`: `end_frame_twice`, `fixed_update_crossing`;
//! per-system attribution and budgets in `bevy_app/attribution.rs`:
//! `exact_attribution`, `budget_warns_once_per_window`,
//! `budget_panics_in_debug`.
//! The executor places systems on whichever thread is free, so each
//! scenario has several systems that allocate, through `&Arena` and
//! through `local()` in `par_iter_mut().for_each_init`.

#[path = "bevy_app/attribution.rs"]
mod attribution;
#[path = "bevy_app/frame_boundary.rs"]
mod frame_boundary;
#[path = "bevy_app/huge_pages.rs"]
mod huge_pages;

use std::collections::HashSet;
use std::panic;
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Instant;

use bevy_app::{App, TaskPoolOptions, TaskPoolPlugin, TaskPoolThreadAssignmentPolicy, Update};
use bevy_ecs::prelude::*;
use framemem::TypedAlloc;
use framemem::bevy::{
    FrameAlloc, FrameArena, FrameArenaPlugin, FrameFigures, FramePool, FramePoolPlugin,
};

/// The thread counts the issue asks for.
const THREAD_COUNTS: [usize; 4] = [1, 2, 8, 96];
/// Set in a child: its compute thread count.
const CHILD_ENV: &str = "FRAMEMEM_BEVY_APP_THREADS";

fn main() -> ExitCode {
    match std::env::var(CHILD_ENV) {
        Ok(n) => child(
            n.parse()
                .expect("FRAMEMEM_BEVY_APP_THREADS is a thread count"),
        ),
        Err(_) => parent(),
    }
}

/// Runs one child per thread count; fails when any fails.
fn parent() -> ExitCode {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut failed = Vec::new();
    for threads in THREAD_COUNTS {
        let status = Command::new(&exe)
            .env(CHILD_ENV, threads.to_string())
            .status()
            .expect("re-run the test binary");
        if !status.success() {
            failed.push(threads);
        }
    }
    if failed.is_empty() {
        println!("bevy_app: every scenario passed on {THREAD_COUNTS:?} compute threads");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "bevy_app: FAILED at {failed:?} compute threads (see the FAILED lines above; \
             rerun one with {CHILD_ENV}=n)"
        );
        ExitCode::FAILURE
    }
}

type Scenario = fn(usize) -> Result<String, String>;

/// Runs every scenario on `threads` compute threads, one line each.
fn child(threads: usize) -> ExitCode {
    log::set_logger(&WARNINGS).expect("the only logger");
    log::set_max_level(log::LevelFilter::Warn);
    // The compute pool, once for the process: exactly `threads` threads.
    compute_threads(threads).create_default_pools();
    let pool_threads = bevy_tasks::ComputeTaskPool::get().thread_num();
    assert_eq!(pool_threads, threads, "the compute pool's thread count");

    let scenarios: [(&str, Scenario); 11] = [
        ("steady_load", steady_load),
        ("steady_load_huge_pages", huge_pages::steady_load_huge_pages),
        ("limited_arena", limited_arena),
        ("pool_component_pattern", pool_component_pattern),
        ("end_frame_twice", frame_boundary::end_frame_twice),
        (
            "fixed_update_crossing",
            frame_boundary::fixed_update_crossing,
        ),
        ("steady_load_under_load", steady_load_under_load),
        ("exact_attribution", attribution::exact_attribution),
        (
            "budget_warns_once_per_window",
            attribution::budget_warns_once_per_window,
        ),
        (
            "budget_panics_in_debug",
            attribution::budget_panics_in_debug,
        ),
        (
            "set_budget_warns_once_per_window",
            attribution::set_budget_warns_once_per_window,
        ),
    ];
    let mut failures = 0;
    for (name, scenario) in scenarios {
        let start = Instant::now();
        let outcome = panic::catch_unwind(|| scenario(threads))
            .unwrap_or_else(|payload| Err(format!("panicked: {}", panic_text(&*payload))));
        let ms = start.elapsed().as_millis();
        match outcome {
            Ok(note) => println!("threads={threads:>2} {name}: ok ({ms} ms) {note}"),
            Err(why) => {
                failures += 1;
                println!("threads={threads:>2} {name}: FAILED ({ms} ms): {why}");
            }
        }
    }
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Task pool options giving exactly `threads` compute threads (the IO and
/// async pools get their defaults, at least one thread each).
fn compute_threads(threads: usize) -> TaskPoolOptions {
    TaskPoolOptions {
        compute: TaskPoolThreadAssignmentPolicy {
            min_threads: threads,
            max_threads: threads,
            percent: 1.0,
            on_thread_spawn: None,
            on_thread_destroy: None,
        },
        ..TaskPoolOptions::default()
    }
}

/// An App on the process's compute pool (already built, so the plugin's
/// own options change nothing) with the frame arena plugin.
fn app_with(plugin: FrameArenaPlugin) -> App {
    let mut app = App::new();
    app.add_plugins((TaskPoolPlugin::default(), plugin));
    app
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(not a string)".to_owned()
    }
}

// ---------------------------------------------------------------------------
// What the systems record

/// The threads the allocating systems ran on: the executor should move them.
#[derive(Resource, Default)]
struct ThreadsSeen(Mutex<HashSet<ThreadId>>);

impl ThreadsSeen {
    fn note(&self) {
        self.0.lock().unwrap().insert(thread::current().id());
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// The `log` records at warn level and above, as the `log` facade gives
/// them (bevy's LogPlugin would print them).
struct Warnings(Mutex<Vec<String>>);

static WARNINGS: Warnings = Warnings(Mutex::new(Vec::new()));

impl log::Log for Warnings {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

impl Warnings {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

// ---------------------------------------------------------------------------
// Steady load: what the arena holds settles

/// Entities whose per-frame data goes through `local()` in `par_iter_mut`.
#[derive(Component)]
struct ByLocal(u64);

/// Entities whose per-frame data goes through `&Arena`, per item.
#[derive(Component)]
struct ByArena(u64);

const STEADY_ENTITIES: usize = 20_000;
const WARM_UP_FRAMES: usize = 60;
const MEASURED_FRAMES: usize = 180;

/// 64 B per entity per frame, half through `local()`, half through
/// `&Arena` per item, in two systems that run in parallel.
fn alloc_by_local(frame: FrameAlloc, seen: Res<ThreadsSeen>, mut items: Query<&mut ByLocal>) {
    items.par_iter_mut().for_each_init(
        || {
            seen.note();
            frame.local()
        },
        |local, mut item| {
            let words = local.alloc_slice_fill_with(8, |k| item.0 ^ k as u64);
            item.0 = words.iter().fold(0, |a, w| a ^ w).wrapping_add(1);
        },
    );
}

fn alloc_by_arena(frame: FrameAlloc, seen: Res<ThreadsSeen>, mut items: Query<&mut ByArena>) {
    items.par_iter_mut().for_each_init(
        || seen.note(),
        |(), mut item| {
            let words = frame.alloc_slice_copy(&[item.0; 8]);
            item.0 = words[7].wrapping_add(1);
        },
    );
}

/// A third allocating system: one frame-long `Vec` on `&Arena`, on
/// whichever thread runs it.
fn scratch_vec(frame: FrameAlloc, seen: Res<ThreadsSeen>, items: Query<&ByLocal>) {
    seen.note();
    let mut ids = allocator_api2::vec::Vec::with_capacity_in(64, frame.arena());
    ids.extend(items.iter().take(64).map(|i| i.0));
    assert_eq!(ids.len(), 64);
}

fn steady_load(_threads: usize) -> Result<String, String> {
    steady_load_with(FrameArenaPlugin::default())
}

fn steady_load_with(plugin: FrameArenaPlugin) -> Result<String, String> {
    let mut app = app_with(plugin);
    app.init_resource::<ThreadsSeen>()
        .add_systems(Update, (alloc_by_local, alloc_by_arena, scratch_vec));
    let half = STEADY_ENTITIES / 2;
    app.world_mut().spawn_batch((0..half as u64).map(ByLocal));
    app.world_mut().spawn_batch((0..half as u64).map(ByArena));
    for _ in 0..WARM_UP_FRAMES {
        app.update();
    }
    // No new chunk from the system over the measured frames.
    let chunks_before = app.world().resource::<FrameArena>().stats().chunks_taken;
    let mut reserved = Vec::with_capacity(MEASURED_FRAMES);
    for _ in 0..MEASURED_FRAMES {
        app.update();
        let figures = *app.world().resource::<FrameFigures>();
        let expected = STEADY_ENTITIES * 64 + 64 * 8;
        if figures.bytes != expected {
            return Err(format!(
                "frame {}: {} bytes allocated, expected {expected}",
                figures.frame, figures.bytes
            ));
        }
        reserved.push(figures.bytes_reserved);
    }
    let threads_seen = app.world().resource::<ThreadsSeen>().count();
    let (min, max) = (
        reserved.iter().min().unwrap(),
        reserved.iter().max().unwrap(),
    );
    let chunks = app.world().resource::<FrameArena>().stats().chunks_taken - chunks_before;
    if chunks > 0 {
        return Err(format!(
            "the arena took {chunks} new chunks from the system in {MEASURED_FRAMES} steady              frames after {WARM_UP_FRAMES} of warm-up (systems ran on {threads_seen} threads)"
        ));
    }
    let changes = reserved.windows(2).filter(|w| w[0] != w[1]).count();
    if changes > 0 {
        return Err(format!(
            "bytes_reserved moved {changes} times in {MEASURED_FRAMES} steady frames after \
             {WARM_UP_FRAMES} of warm-up, between {min} and {max} (one frame uses {} B; \
             systems ran on {threads_seen} threads); first frames: {:?}",
            STEADY_ENTITIES * 64,
            &reserved[..reserved.len().min(12)]
        ));
    }
    Ok(format!(
        "bytes_reserved {min} for {} B a frame; systems on {threads_seen} threads",
        STEADY_ENTITIES * 64
    ))
}

/// `steady_load` while two spinner threads keep both cores busy, so
/// workers are preempted mid-batch and batches move between threads.
fn steady_load_under_load(threads: usize) -> Result<String, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    let outcome = panic::catch_unwind(|| steady_load(threads));
    stop.store(true, Relaxed);
    for spinner in spinners {
        spinner.join().expect("spinner");
    }
    outcome.unwrap_or_else(|payload| panic::resume_unwind(payload))
}

// ---------------------------------------------------------------------------
// A limited arena fills to its limit whichever threads fill it

const LIMIT_BYTES: usize = 1 << 20;
const BLOCK_BYTES: usize = 4096;
const LIMITED_FRAMES: usize = 30;

/// Tokens for the `par_iter` filler: each item allocates until the arena
/// refuses it.
#[derive(Component)]
struct Filler;

fn fill_by_arena(frame: FrameAlloc, seen: Res<ThreadsSeen>) {
    seen.note();
    while frame.try_alloc_value([0u8; BLOCK_BYTES]).is_ok() {}
}

/// Every batch fills until its own thread is refused: the arena is full
/// when no thread can allocate. (Stopping every thread at the first
/// refusal anywhere would also measure the test: the chunks other threads
/// were filling still have room, up to 64 KiB each.)
fn fill_by_local(frame: FrameAlloc, seen: Res<ThreadsSeen>, items: Query<&Filler>) {
    items.par_iter().for_each_init(
        || {
            seen.note();
            frame.local()
        },
        |local, _| while local.try_alloc_value([0u8; BLOCK_BYTES]).is_ok() {},
    );
}

fn limited_arena(_threads: usize) -> Result<String, String> {
    let mut app = app_with(FrameArenaPlugin {
        limit_bytes: Some(LIMIT_BYTES),
        ..FrameArenaPlugin::default()
    });
    app.init_resource::<ThreadsSeen>()
        .add_systems(Update, (fill_by_arena, fill_by_arena, fill_by_local));
    app.world_mut().spawn_batch((0..256).map(|_| Filler));
    let mut worst = usize::MAX;
    for _ in 0..LIMITED_FRAMES {
        app.update();
        let figures = *app.world().resource::<FrameFigures>();
        worst = worst.min(figures.bytes);
        if figures.bytes * 10 < LIMIT_BYTES * 9 {
            return Err(format!(
                "frame {}: the arena fit {} B ({:.1}% of its {LIMIT_BYTES} B limit, \
                 {} blocks of {BLOCK_BYTES} B); at least 90% expected; systems ran on {} threads",
                figures.frame,
                figures.bytes,
                100.0 * figures.bytes as f64 / LIMIT_BYTES as f64,
                figures.bytes / BLOCK_BYTES,
                app.world().resource::<ThreadsSeen>().count()
            ));
        }
    }
    Ok(format!(
        "worst frame fit {:.1}% of the limit",
        100.0 * worst as f64 / LIMIT_BYTES as f64
    ))
}

// ---------------------------------------------------------------------------
// A pool: taken from in one system, returned in another

/// A pooled buffer in a component, taken at spawn, returned at despawn.
#[derive(Component)]
struct Buffer(Vec<u8>);

const POOL_DEMAND: usize = 2_000;
/// The most empty units of capacity a lane in use keeps: one lease (a
/// sixteenth of the capacity, at most 128; see `Pool`'s docs).
const POOL_LEASE: usize = 128;
const POOL_FRAMES: usize = 60;

/// The demand plus one lease per thread that may return through a
/// `PoolLocal` at the same time (the compute threads and the main thread):
/// a lane in use keeps its lease while the handle lives, so that is the
/// capacity the docs say covers the demand whatever the executor does. (An
/// eighth more than the demand was enough in most runs on 96 threads, but
/// dropped 1 return in 120,000 in one CI run: not a bound.)
fn pool_capacity(threads: usize) -> usize {
    POOL_DEMAND + POOL_LEASE * (threads + 1)
}

/// Returns last frame's buffers to the pool, in parallel, then despawns
/// their entities.
fn return_buffers(
    mut commands: Commands,
    pool: Res<FramePool<Vec<u8>>>,
    seen: Res<ThreadsSeen>,
    mut buffers: Query<(Entity, &mut Buffer)>,
) {
    buffers.par_iter_mut().for_each_init(
        || {
            seen.note();
            pool.local()
        },
        |local, (_, mut buffer)| local.put(std::mem::take(&mut buffer.0)),
    );
    for (entity, _) in &buffers {
        commands.entity(entity).despawn();
    }
}

/// Spawns this frame's entities, each with a buffer from the pool.
fn spawn_with_buffers(
    mut commands: Commands,
    pool: Res<FramePool<Vec<u8>>>,
    seen: Res<ThreadsSeen>,
) {
    seen.note();
    commands.spawn_batch(
        (0..POOL_DEMAND)
            .map(|_| {
                let mut buffer = pool.take();
                buffer.extend_from_slice(&[7; 32]);
                Buffer(buffer)
            })
            .collect::<Vec<_>>(),
    );
}

fn pool_component_pattern(threads: usize) -> Result<String, String> {
    let capacity = pool_capacity(threads);
    let mut app = app_with(FrameArenaPlugin::default());
    app.add_plugins(FramePoolPlugin::<Vec<u8>>::new(capacity))
        .init_resource::<ThreadsSeen>()
        .add_systems(Update, (return_buffers, spawn_with_buffers).chain());
    app.update(); // the first frame: every take is a miss
    let before = app.world().resource::<FramePool<Vec<u8>>>().stats();
    for _ in 0..POOL_FRAMES {
        app.update();
    }
    let after = app.world().resource::<FramePool<Vec<u8>>>().stats();
    let hits = after.hits - before.hits;
    let misses = after.misses - before.misses;
    let dropped = after.dropped - before.dropped;
    let rate = hits as f64 / (hits + misses) as f64;
    let seen = app.world().resource::<ThreadsSeen>().count();
    let summary = format!(
        "{:.2}% hits ({hits} hits, {misses} misses), {dropped} dropped over {POOL_FRAMES} frames \
         of {POOL_DEMAND} takes, capacity {capacity}; systems on {seen} threads",
        100.0 * rate
    );
    if rate < 0.99 || dropped > 0 {
        return Err(format!("{summary}; expected >= 99% hits and none dropped"));
    }
    Ok(summary)
}

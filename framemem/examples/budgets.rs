//! Per-system memory budgets in a small bevy App: three systems allocate
//! their per-frame data from the frame arena through `FrameAlloc`, one of
//! them more than its budget, and framemem warns (through the `log`
//! facade, as bevy's `LogPlugin` would show it) once per window of frames;
//! at exit, the bytes of each system in the last frame.
//!
//! `cargo run --release -p framemem --example budgets --features bevy_app`
//! (or `cargo run --release --example budgets` at the workspace root).

use bevy_app::{App, TaskPoolPlugin, Update};
use bevy_ecs::prelude::*;
use framemem::TypedAlloc;
use framemem::bevy::{FrameAlloc, FrameArenaPlugin, FrameBySystem};

const SPARKS: u32 = 2_000;
const FRAMES: u32 = 120;

#[derive(Component)]
struct Spark(f32);

/// 64 B per spark, one `local()` handle per batch: within its budget.
fn cool_sparks(frame: FrameAlloc, mut sparks: Query<&mut Spark>) {
    frame.label("cool_sparks");
    sparks.par_iter_mut().for_each_init(
        || frame.local(),
        |local, mut spark| {
            let samples = local.alloc_slice_fill_with(16, |k| spark.0 - k as f32);
            spark.0 = samples.iter().sum::<f32>() / 16.0;
        },
    );
}

/// A contact list that grows with the sparks: 16 B per spark and pair
/// candidate, over its budget.
fn find_contacts(frame: FrameAlloc, sparks: Query<&Spark>) {
    frame.label("find_contacts");
    let mut contacts = allocator_api2::vec::Vec::new_in(frame.counted());
    for (i, spark) in sparks.iter().enumerate() {
        contacts.extend((0..8).map(|k| (i as u32, k, spark.0, 0.0f32)));
    }
    assert_eq!(contacts.len(), SPARKS as usize * 8);
}

/// No label: the report calls it `system#ID` (bevy_ecs gives system names
/// only with its `debug` feature).
fn count_sparks(frame: FrameAlloc, sparks: Query<&Spark>) {
    let ids = frame.alloc_slice_fill_with(sparks.iter().len(), |i| i as u32);
    assert_eq!(ids.len(), SPARKS as usize);
}

/// The warnings on stderr: what bevy's `LogPlugin` does in a full App.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("{:<5} {}", record.level(), record.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Runs the App and prints the table. `pub` so that the lab's copy of this
/// example (`examples/budgets.rs` at the root) can call it.
pub fn main() {
    log::set_logger(&LOGGER).expect("the only logger");
    log::set_max_level(log::LevelFilter::Info);
    let mut app = App::new();
    app.add_plugins((
        TaskPoolPlugin::default(),
        FrameArenaPlugin::default()
            .with_system_budget("cool_sparks", 256 << 10)
            .with_system_budget("find_contacts", 128 << 10)
            .with_frame_budget(1 << 20)
            .with_budget_window(60),
    ))
    .add_systems(Update, (cool_sparks, find_contacts, count_sparks));
    app.world_mut()
        .spawn_batch((0..SPARKS).map(|i| Spark(i as f32)));
    for _ in 0..FRAMES {
        app.update();
    }
    print_table(app.world().resource::<FrameBySystem>());
}

fn print_table(by_system: &FrameBySystem) {
    println!(
        "frame {}: {} bytes in {} allocations from the frame arena",
        by_system.frame, by_system.total_bytes, by_system.total_allocations
    );
    println!(
        "{:<16} {:>12} {:>12} {:>12}",
        "system", "bytes", "allocations", "peak bytes"
    );
    for system in &by_system.systems {
        println!(
            "{:<16} {:>12} {:>12} {:>12}",
            system.name, system.bytes, system.allocations, system.peak_bytes
        );
    }
    println!(
        "{:<16} {:>12} {:>12}",
        "outside systems", by_system.outside.bytes, by_system.outside.allocations
    );
}

//! The end of a frame in a bevy App (issue 17), on the child's compute
//! threads: `end_arena_frame` run twice in one update (the plugin's and a
//! chained one), and data a `FixedUpdate` step allocates read in `Update`,
//! which crosses an end of frame whenever the fixed step did not run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bevy_app::{FixedMain, FixedUpdate, RunFixedMainLoop, RunFixedMainLoopSystems, Update};
use bevy_ecs::prelude::*;
use framemem::bevy::{FrameAlloc, FrameArena, FrameArenaPlugin, FrameFigures, end_arena_frame};
use framemem::{ArenaSlice, TypedAlloc};

use super::{WARNINGS, app_with, panic_text};

// end_arena_frame twice: the plugin's and a chained one

const TWICE_ALLOCATIONS: usize = 100;

fn alloc_a_hundred(frame: FrameAlloc) {
    for i in 0..TWICE_ALLOCATIONS {
        frame.alloc_value(i as u32);
    }
}

pub(super) fn end_frame_twice(_threads: usize) -> Result<String, String> {
    WARNINGS.take();
    let mut app = app_with(FrameArenaPlugin::default());
    // What the README shows for a bare World, here beside the plugin's.
    app.add_systems(Update, (alloc_a_hundred, end_arena_frame).chain());
    for update in 0..10u64 {
        app.update();
        let figures = *app.world().resource::<FrameFigures>();
        let got = (figures.frame, figures.allocations, figures.bytes);
        let want = (update, TWICE_ALLOCATIONS as u64, TWICE_ALLOCATIONS * 4);
        if got != want {
            return Err(format!(
                "update {update}: (frame, allocations, bytes) = {got:?}, expected {want:?}"
            ));
        }
    }
    let warnings = WARNINGS.take();
    let duplicate: Vec<_> = warnings
        .iter()
        .filter(|w| w.contains("a second `end_arena_frame`"))
        .collect();
    if duplicate.len() != 1 || !duplicate[0].contains("Remove the extra `end_arena_frame`") {
        return Err(format!(
            "expected one warning naming the duplicate, got {warnings:?}"
        ));
    }
    Ok("figures of every update right; one warning".to_owned())
}

// ---------------------------------------------------------------------------
// FixedUpdate data read in Update

/// What the last fixed step allocated, and in which update.
#[derive(Resource, Default)]
struct LastFixedStep {
    data: Option<ArenaSlice<u64>>,
    update: u64,
}

/// The update under way, counted in `First`-like fashion by the driver.
#[derive(Resource, Default)]
struct UpdateCount(u64);

/// bevy_time's fixed-step driver is not a dependency here (framemem uses
/// bevy_ecs and bevy_app only), so this one stands in for it: it runs
/// `FixedMain` (and so `FixedUpdate`) in one update of three, as a 20 Hz
/// step does at 60 updates a second, and zero times in the others.
fn run_fixed_main_some_updates(world: &mut World) {
    let update = {
        let mut count = world.resource_mut::<UpdateCount>();
        count.0 += 1;
        count.0
    };
    if update % 3 == 1 {
        world.run_schedule(FixedMain);
    }
}

fn fixed_step(frame: FrameAlloc, count: Res<UpdateCount>, mut last: ResMut<LastFixedStep>) {
    last.data = Some(frame.handle_slice_copy(&[count.0; 4]));
    last.update = count.0;
}

/// Counts the updates whose `Update` found the fixed step's data alive.
#[derive(Resource, Default)]
struct Reads {
    live: AtomicUsize,
    stale: AtomicUsize,
    stale_get_panics: AtomicUsize,
}

fn read_fixed_step(
    arena: Res<FrameArena>,
    count: Res<UpdateCount>,
    last: Res<LastFixedStep>,
    reads: Res<Reads>,
) {
    let Some(handle) = last.data else { return };
    match arena.try_get(handle) {
        Some(data) => {
            assert_eq!(last.update, count.0, "live data from an earlier update");
            assert_eq!(data, &[count.0; 4]);
            reads.live.fetch_add(1, Relaxed);
        }
        None => {
            assert_ne!(
                last.update, count.0,
                "this update's fixed-step data is stale"
            );
            reads.stale.fetch_add(1, Relaxed);
            let get = panic::catch_unwind(AssertUnwindSafe(|| arena.get(handle).len()));
            if let Err(payload) = get
                && panic_text(&*payload).contains("stale ArenaSlice")
            {
                reads.stale_get_panics.fetch_add(1, Relaxed);
            }
        }
    }
}

pub(super) fn fixed_update_crossing(_threads: usize) -> Result<String, String> {
    let mut app = app_with(FrameArenaPlugin::default());
    app.init_resource::<UpdateCount>()
        .init_resource::<LastFixedStep>()
        .init_resource::<Reads>()
        .add_systems(
            RunFixedMainLoop,
            run_fixed_main_some_updates.in_set(RunFixedMainLoopSystems::FixedMainLoop),
        )
        .add_systems(FixedUpdate, fixed_step)
        .add_systems(Update, read_fixed_step);
    // The expected panics of `get` on a stale handle stay quiet.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !panic_text(info.payload()).contains("stale ArenaSlice") {
            hook(info);
        }
    }));
    for _ in 0..30 {
        app.update();
    }
    drop(panic::take_hook()); // back to the default hook
    let reads = app.world().resource::<Reads>();
    let (live, stale, panics) = (
        reads.live.load(Relaxed),
        reads.stale.load(Relaxed),
        reads.stale_get_panics.load(Relaxed),
    );
    if (live, stale, panics) != (10, 20, 20) {
        return Err(format!(
            "in 30 updates with 10 fixed steps: {live} live reads, {stale} stale, {panics} \
             stale `get` panics; expected 10, 20, 20"
        ));
    }
    Ok("fixed-step data resolves in its own update only".to_owned())
}

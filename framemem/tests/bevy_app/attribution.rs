//! Per-system attribution and budgets in a bevy App (issue 20), on the
//! child's compute threads: the systems run wherever the executor puts
//! them, and their `par_iter` batches on any thread.

use std::panic::{self, AssertUnwindSafe};

use bevy_app::Update;
use bevy_ecs::prelude::*;
use framemem::TypedAlloc;
use framemem::bevy::{
    AllocBudget, AllocTag, FrameAlloc, FrameArena, FrameArenaPlugin, FrameBySystem, FrameFigures,
};

use super::{WARNINGS, app_with};

const ITEMS: usize = 5_000;
const FRAMES: u64 = 20;

#[derive(Component)]
struct Item(u64);

/// 64 B per item through `local()` handles, one per batch, on the workers.
fn by_local(frame: FrameAlloc, items: Query<&Item>) {
    frame.label("by_local");
    items.par_iter().for_each_init(
        || frame.local(),
        |local, item| {
            local.alloc_slice_copy(&[item.0; 8]);
        },
    );
}

/// 32 B per item per call through `&FrameAlloc`, from the workers.
fn by_call(frame: FrameAlloc, items: Query<&Item>) {
    frame.label("by_call");
    items.par_iter().for_each(|item| {
        frame.alloc_slice_copy(&[item.0; 4]);
    });
}

/// A `local()` handle and `&FrameAlloc` calls in the same frame, and a
/// scratch `Vec` with its capacity up front: 10 * 8 + 5 * 16 + 400 B.
fn mixed(frame: FrameAlloc) {
    frame.label("mixed");
    let local = frame.local();
    for i in 0..10u64 {
        local.alloc_value(i);
    }
    for i in 0..5u64 {
        frame.alloc_value([i; 2]);
    }
    let mut scratch = allocator_api2::vec::Vec::<u32, _>::with_capacity_in(100, frame.counted());
    scratch.extend(0..100);
    drop(local);
}

/// A `Vec` grown push by push (in place or moved, as the arena decides):
/// its figure is whatever the arena counted, so only the sum checks it.
fn growing(frame: FrameAlloc) {
    frame.label("growing");
    let mut v = allocator_api2::vec::Vec::new_in(frame.counted());
    for i in 0..1000u64 {
        v.push(i);
    }
    let local = frame.local();
    let mut w = allocator_api2::vec::Vec::new_in(&local);
    w.extend(0..300u16);
}

/// An exclusive system, through a tag: 24 B.
fn exclusive(world: &mut World, mut tag: Local<Option<AllocTag>>) {
    let arena = world.resource::<FrameArena>();
    let tag = tag.get_or_insert_with(|| arena.tag("exclusive"));
    arena.counted(tag).alloc_value([0u64; 3]);
}

/// Not through `FrameAlloc`: outside systems, 7 B.
fn outside(arena: Res<FrameArena>) {
    arena.alloc_value([0u8; 7]);
}

/// Each system's figure is what it allocated, and their sum with what came
/// from outside systems is the frame's total, every frame.
pub(super) fn exact_attribution(_threads: usize) -> Result<String, String> {
    let mut app = app_with(FrameArenaPlugin::default().with_attribution());
    app.add_systems(
        Update,
        (by_local, by_call, mixed, growing, exclusive, outside),
    );
    app.world_mut().spawn_batch((0..ITEMS as u64).map(Item));
    let want = [
        ("by_local", ITEMS as u64, ITEMS as u64 * 64),
        ("by_call", ITEMS as u64, ITEMS as u64 * 32),
        ("mixed", 16, 10 * 8 + 5 * 16 + 400),
        ("exclusive", 1, 24),
    ];
    for _ in 0..FRAMES {
        app.update();
        let figures = *app.world().resource::<FrameFigures>();
        let by_system = app.world().resource::<FrameBySystem>();
        if by_system.frame != figures.frame {
            return Err(format!(
                "FrameBySystem is of frame {}, not {}",
                by_system.frame, figures.frame
            ));
        }
        for (name, allocations, bytes) in want {
            let got = by_system
                .system(name)
                .ok_or_else(|| format!("no `{name}` in {by_system:?}"))?;
            if (got.allocations, got.bytes) != (allocations, bytes) {
                return Err(format!(
                    "frame {}: `{name}` counted ({}, {} B), it allocated ({allocations}, {bytes} B)",
                    figures.frame, got.allocations, got.bytes
                ));
            }
        }
        if (by_system.outside.allocations, by_system.outside.bytes) != (1, 7) {
            return Err(format!(
                "outside systems: {:?}, expected 1 allocation of 7 B",
                by_system.outside
            ));
        }
        let sum: u64 =
            by_system.systems.iter().map(|s| s.bytes).sum::<u64>() + by_system.outside.bytes;
        let allocations: u64 = by_system.systems.iter().map(|s| s.allocations).sum::<u64>()
            + by_system.outside.allocations;
        if (sum, allocations) != (figures.bytes as u64, figures.allocations) {
            return Err(format!(
                "frame {}: systems and outside sum to ({allocations}, {sum} B), the arena counted \
                 ({}, {} B): {by_system:?}",
                figures.frame, figures.allocations, figures.bytes
            ));
        }
        let growing = by_system.system("growing").ok_or("no `growing`")?;
        if growing.bytes < 1000 * 8 + 300 * 2 {
            return Err(format!(
                "`growing` counted {} B, less than its final Vecs",
                growing.bytes
            ));
        }
    }
    let by_system = app.world().resource::<FrameBySystem>();
    Ok(format!(
        "{} systems, {} B a frame, sums exact over {FRAMES} frames",
        by_system.systems.len(),
        by_system.total_bytes
    ))
}

/// 4 KiB a frame, over a 1 KiB budget.
fn over_budget(frame: FrameAlloc) {
    frame.label("over_budget");
    frame.alloc_slice_copy(&[0u8; 4096]);
}

const WINDOW: u64 = 5;
const BUDGET_FRAMES: u64 = 12;

/// A budget exceeded every frame warns once per window, naming the system,
/// its bytes and its budget; one within budget never warns.
pub(super) fn budget_warns_once_per_window(_threads: usize) -> Result<String, String> {
    WARNINGS.take();
    let mut app = app_with(
        FrameArenaPlugin::default()
            .with_system_budget("over_budget", 1024)
            .with_system_budget("by_local", u64::MAX)
            .with_budget_window(WINDOW),
    );
    app.add_systems(Update, (over_budget, by_local));
    app.world_mut().spawn_batch((0..100u64).map(Item));
    for _ in 0..BUDGET_FRAMES {
        app.update();
    }
    let warnings: Vec<String> = WARNINGS
        .take()
        .into_iter()
        .filter(|w| w.contains("budget"))
        .collect();
    let want: Vec<String> = (0..BUDGET_FRAMES)
        .step_by(WINDOW as usize)
        .map(|frame| {
            format!(
                "framemem: system `over_budget` allocated 4096 bytes from the frame arena in \
                 frame {frame}, over its budget of 1024 bytes (warned at most once per {WINDOW} frames)"
            )
        })
        .collect();
    if warnings != want {
        return Err(format!("warnings {warnings:#?}, expected {want:#?}"));
    }
    Ok(format!(
        "{} warnings in {BUDGET_FRAMES} frames",
        warnings.len()
    ))
}

/// Two sets, one inside the other, as a physics step might declare them.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
enum Sim {
    Physics,
    Contacts,
}

const INTEGRATE_BYTES: usize = 1024;
const CONTACT_ITEMS: usize = 100;
const CONTACT_BYTES: usize = CONTACT_ITEMS * 16;

/// In `Sim::Physics`, per call.
fn integrate(frame: FrameAlloc) {
    frame.alloc_slice_copy(&[0u8; INTEGRATE_BYTES]);
}

/// In `Sim::Contacts` (inside `Sim::Physics`), through `local()` handles on
/// the workers: 16 B per item.
fn contacts(frame: FrameAlloc, items: Query<&Item>) {
    items.par_iter().for_each_init(
        || frame.local(),
        |local, item| {
            local.alloc_value([item.0; 2]);
        },
    );
}

/// A budget on a system set bounds its systems' sum (a nested set's
/// included, a system outside the set not), and warns once per window,
/// naming the set, its bytes and its budget; the nested set within its own
/// budget never warns.
pub(super) fn set_budget_warns_once_per_window(_threads: usize) -> Result<String, String> {
    WARNINGS.take();
    let physics_bytes = (INTEGRATE_BYTES + CONTACT_BYTES) as u64;
    let budget = physics_bytes - 1;
    let mut app = app_with(
        FrameArenaPlugin::default()
            .with_set_budget(Sim::Physics, budget)
            .with_set_budget(Sim::Contacts, CONTACT_BYTES as u64)
            .with_budget_window(WINDOW),
    );
    app.configure_sets(Update, Sim::Contacts.in_set(Sim::Physics))
        .add_systems(
            Update,
            (
                integrate.in_set(Sim::Physics),
                contacts.in_set(Sim::Contacts),
                over_budget, // 4 KiB outside both sets
            ),
        );
    app.world_mut()
        .spawn_batch((0..CONTACT_ITEMS as u64).map(Item));
    for _ in 0..BUDGET_FRAMES {
        app.update();
    }
    let warnings: Vec<String> = WARNINGS
        .take()
        .into_iter()
        .filter(|w| w.contains("budget"))
        .collect();
    let want: Vec<String> = (0..BUDGET_FRAMES)
        .step_by(WINDOW as usize)
        .map(|frame| {
            format!(
                "framemem: system set `Physics` allocated {physics_bytes} bytes from the frame \
                 arena in frame {frame}, over its budget of {budget} bytes (warned at most once \
                 per {WINDOW} frames)"
            )
        })
        .collect();
    if warnings != want {
        return Err(format!("warnings {warnings:#?}, expected {want:#?}"));
    }
    Ok(format!(
        "{} warnings in {BUDGET_FRAMES} frames",
        warnings.len()
    ))
}

/// A budget made to panic in debug builds does, naming the system; in
/// release it warns.
pub(super) fn budget_panics_in_debug(_threads: usize) -> Result<String, String> {
    WARNINGS.take();
    let mut app = app_with(
        FrameArenaPlugin::default()
            .with_budget(AllocBudget::system("over_budget", 1024).panic_in_debug()),
    );
    app.add_systems(Update, over_budget);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| app.update()));
    let warnings = WARNINGS.take();
    match (cfg!(debug_assertions), outcome) {
        (true, Err(payload)) => {
            let text = super::panic_text(&*payload);
            if text.contains("`over_budget` allocated 4096 bytes") {
                Ok("panicked (debug build)".to_owned())
            } else {
                Err(format!("panicked with {text:?}"))
            }
        }
        (true, Ok(())) => Err("a debug build did not panic".to_owned()),
        (false, Err(_)) => Err("a release build panicked".to_owned()),
        (false, Ok(())) => match warnings.iter().any(|w| w.contains("`over_budget`")) {
            true => Ok("warned (release build)".to_owned()),
            false => Err(format!("no warning in release: {warnings:?}")),
        },
    }
}

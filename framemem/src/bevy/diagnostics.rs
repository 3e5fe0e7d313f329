//! The frame arena's bytes as bevy diagnostics (the `bevy_diagnostic`
//! feature): [`publish_frame_diagnostics`], which
//! [`FrameArenaPlugin::with_diagnostics`](crate::bevy::FrameArenaPlugin::with_diagnostics)
//! runs after the end of the frame, so that bevy's `LogDiagnosticsPlugin`
//! prints them beside the frame time.
//!
//! Paths: [`FRAME_BYTES`] (`framemem/frame_bytes`, the frame's total) and,
//! with attribution on, `framemem/bytes/NAME` for each system as
//! [`FrameBySystem`] names it (a `/` in a name becomes `_`, as a path
//! component cannot hold one), each registered the first frame it has a
//! figure. Values are bytes per frame.

use std::time::Instant;

use bevy_diagnostic::{Diagnostic, DiagnosticMeasurement, DiagnosticPath, DiagnosticsStore};
use bevy_ecs::system::{Local, Res, ResMut};

use super::arena::FrameFigures;
use super::attribution::FrameBySystem;

/// The frame's bytes from the frame arena ([`FrameFigures::bytes`]).
pub const FRAME_BYTES: DiagnosticPath = DiagnosticPath::const_new("framemem/frame_bytes");

/// The diagnostic path of the system shown as `name` in
/// [`FrameBySystem`]: `framemem/bytes/NAME`.
pub fn system_bytes_path(name: &str) -> DiagnosticPath {
    DiagnosticPath::new(format!("framemem/bytes/{}", name.replace('/', "_")))
}

/// Adds the last frame's figures to the [`DiagnosticsStore`]: the frame's
/// bytes, and each system's when [`FrameBySystem`] is this frame's.
/// Registers each path the first time (kept in `paths`, by slot id, so a
/// steady frame formats no path). Does nothing without the store or the
/// figures.
pub fn publish_frame_diagnostics(
    store: Option<ResMut<DiagnosticsStore>>,
    figures: Option<Res<FrameFigures>>,
    by_system: Option<Res<FrameBySystem>>,
    mut paths: Local<Vec<Option<(String, DiagnosticPath)>>>,
) {
    let (Some(mut store), Some(figures)) = (store, figures) else {
        return;
    };
    let now = Instant::now();
    measure(&mut store, &FRAME_BYTES, now, figures.bytes as u64);
    let Some(by_system) = by_system.filter(|b| b.frame == figures.frame) else {
        return;
    };
    for system in &by_system.systems {
        let id = system.id as usize;
        if paths.len() <= id {
            paths.resize(id + 1, None);
        }
        let known = &mut paths[id];
        // The first frame of the slot, or a label set since.
        if known.as_ref().is_none_or(|(name, _)| *name != system.name) {
            *known = Some((system.name.clone(), system_bytes_path(&system.name)));
        }
        if let Some((_, path)) = known {
            measure(&mut store, path, now, system.bytes);
        }
    }
}

/// Adds `bytes` to the diagnostic at `path`, registering it first if needed.
fn measure(store: &mut DiagnosticsStore, path: &DiagnosticPath, time: Instant, bytes: u64) {
    if store.get(path).is_none() {
        store.add(Diagnostic::new(path.clone()).with_suffix(" B"));
    }
    if let Some(diagnostic) = store.get_mut(path).filter(|d| d.is_enabled) {
        diagnostic.add_measurement(DiagnosticMeasurement {
            time,
            value: bytes as f64,
        });
    }
}

#[cfg(test)]
mod tests {
    use bevy_ecs::prelude::*;

    use super::*;
    use crate::alloc::TypedAlloc;
    use crate::bevy::{FrameAlloc, FrameArena, end_arena_frame};

    fn physics(frame: FrameAlloc) {
        frame.label("physics/contacts");
        frame.alloc_slice_copy(&[0u16; 50]);
    }

    #[test]
    fn each_frame_adds_one_measurement_per_system_and_for_the_frame() {
        let mut world = World::new();
        world.insert_resource(FrameArena::new().with_attribution());
        world.init_resource::<FrameFigures>();
        world.init_resource::<FrameBySystem>();
        world.init_resource::<DiagnosticsStore>();
        let mut schedule = Schedule::default();
        schedule.add_systems((physics, end_arena_frame, publish_frame_diagnostics).chain());
        for _ in 0..3 {
            schedule.run(&mut world);
            world.clear_trackers();
        }
        let store = world.resource::<DiagnosticsStore>();
        let path = system_bytes_path("physics/contacts");
        assert_eq!(path.as_str(), "framemem/bytes/physics_contacts");
        for path in [&path, &FRAME_BYTES] {
            let diagnostic = store.get(path).expect("registered");
            assert_eq!(diagnostic.history_len(), 3, "{path}");
            assert_eq!(diagnostic.value(), Some(100.0), "{path}");
        }
    }
}

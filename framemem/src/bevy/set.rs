//! [`FrameMemSystems`]: the system set of framemem's ends of frame.

use bevy_ecs::schedule::SystemSet;

/// The system set that holds framemem's end-of-frame systems:
/// [`end_arena_frame`](crate::bevy::end_arena_frame),
/// [`end_ring_frame`](crate::bevy::end_ring_frame),
/// [`trim_slab`](crate::bevy::trim_slab) and
/// [`trim_pool`](crate::bevy::trim_pool). The plugins put them in `Last`, in
/// [`EndFrame`](Self::EndFrame), so order against the set, not the
/// functions: a system in `Last` that still reads this frame's arena data
/// goes `.before(FrameMemSystems::EndFrame)`, one that wants the published
/// [`FrameFigures`](crate::bevy::FrameFigures) goes
/// `.after(FrameMemSystems::EndFrame)`. Systems in the schedules before
/// `Last` (`Update`, `PostUpdate`, …) always run before it.
///
/// ```
/// # #[cfg(feature = "bevy_app")] {
/// use bevy_app::{App, Last};
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameArena, FrameArenaPlugin, FrameFigures, FrameMemSystems};
/// use framemem::TypedAlloc;
///
/// fn last_look(arena: Res<FrameArena>) {
///     drop(arena.alloc_value(7u32)); // still this frame's arena
/// }
///
/// fn report(figures: Res<FrameFigures>) {
///     assert_eq!(figures.allocations, 1); // what `last_look` allocated
/// }
///
/// let mut app = App::new();
/// app.add_plugins(FrameArenaPlugin::default()).add_systems(
///     Last,
///     (
///         last_look.before(FrameMemSystems::EndFrame),
///         report.after(FrameMemSystems::EndFrame),
///     ),
/// );
/// app.update();
/// # }
/// ```
///
/// (Named as bevy names its own sets: `TransformSystems::Propagate`,
/// `TimeSystems`.)
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameMemSystems {
    /// The end of the frame: arena and ring resets, slab and pool trims.
    EndFrame,
}

//! [`FrameArenaPlugin`]: everything a bevy app needs for frame memory, in
//! one line (the `bevy_app` feature).

use bevy_app::{App, Last, Plugin};

use super::arena::{FrameArena, FrameFigures, end_frame};

/// Inserts a [`FrameArena`] (with the byte limit, if any) and
/// [`FrameFigures`], and runs [`end_frame`] in the `Last` schedule, after
/// everything that allocates in `Update` and the other main schedules.
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameAlloc, FrameArenaPlugin, FrameFigures};
///
/// #[derive(Component)]
/// struct Spark(f32);
///
/// fn sparkle(frame: FrameAlloc, sparks: Query<&Spark>) {
///     sparks.par_iter().for_each_init(
///         || frame.local(),
///         |local, spark| drop(local.alloc_slice_copy(&[spark.0; 4])),
///     );
/// }
///
/// let mut app = App::new();
/// app.add_plugins(FrameArenaPlugin::default())
///     .add_systems(Update, sparkle);
/// app.world_mut().spawn_batch((0..64).map(|i| Spark(i as f32)));
/// app.update();
/// app.update();
/// let figures = *app.world().resource::<FrameFigures>();
/// assert_eq!((figures.frame, figures.allocations, figures.bytes), (1, 64, 64 * 16));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameArenaPlugin {
    /// The arena's byte limit ([`FrameArena::with_limit`]), if any.
    pub limit_bytes: Option<usize>,
}

impl Plugin for FrameArenaPlugin {
    fn build(&self, app: &mut App) {
        let arena = match self.limit_bytes {
            Some(limit) => FrameArena::with_limit(limit),
            None => FrameArena::new(),
        };
        app.insert_resource(arena)
            .init_resource::<FrameFigures>()
            .add_systems(Last, end_frame);
    }
}

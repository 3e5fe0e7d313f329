//! [`FrameArenaPlugin`] and [`FramePoolPlugin`]: everything a bevy app
//! needs for frame memory, in one line each (the `bevy_app` feature).

use std::marker::PhantomData;

use bevy_app::{App, Last, Plugin};
use bevy_ecs::schedule::{IntoScheduleConfigs, SystemSet};

use super::arena::{FrameArena, FrameFigures, end_arena_frame};
use super::attribution::FrameBySystem;
use super::budget::{AllocBudget, FrameBudgets, check_frame_budgets};
use super::resources::{FramePool, FrameSlab, trim_pool, trim_slab};
use super::ring::{FrameRing, end_ring_frame};
use super::set::FrameMemSystems;
use crate::alloc::{CallRecycle, Recycle, RingOverflow};

/// Inserts a [`FrameArena`] (with the byte limit, if any) and
/// [`FrameFigures`], and runs [`end_arena_frame`] in the `Last` schedule,
/// in [`FrameMemSystems::EndFrame`], after everything that allocates in
/// `Update` and the other main schedules. With its options it also sets up
/// the slab ([`FrameSlab`] and [`trim_slab`]) and the expiry ring
/// ([`FrameRing`] and [`end_ring_frame`]) in the same set; pools, which are
/// typed, come with [`FramePoolPlugin`].
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameAlloc, FrameArenaPlugin, FrameFigures, FrameRing, FrameSlab};
/// use framemem::TypedAlloc;
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
/// app.add_plugins(FrameArenaPlugin::default().with_slab().with_ring(8))
///     .add_systems(Update, sparkle);
/// app.world_mut().spawn_batch((0..64).map(|i| Spark(i as f32)));
/// app.update();
/// app.update();
/// let figures = *app.world().resource::<FrameFigures>();
/// assert_eq!((figures.frame, figures.allocations, figures.bytes), (1, 64, 64 * 16));
/// assert_eq!(app.world().resource::<FrameRing>().frame(), 2);
/// assert!(app.world().get_resource::<FrameSlab>().is_some());
/// ```
///
/// Per-system attribution and budgets (see [`FrameBySystem`] and
/// [`FrameBudgets`]): with attribution on, the plugin also inserts
/// [`FrameBySystem`]; with budgets, [`FrameBudgets`] and
/// [`check_frame_budgets`] after [`end_arena_frame`]. A budget turns
/// attribution on.
///
/// ```
/// use framemem::TypedAlloc;
/// use bevy_app::{App, Update};
/// use framemem::bevy::{AllocBudget, FrameAlloc, FrameArenaPlugin, FrameBySystem};
///
/// fn particles(frame: FrameAlloc) {
///     frame.label("particles");
///     frame.alloc_slice_copy(&[0u8; 8192]);
/// }
///
/// let mut app = App::new();
/// app.add_plugins(
///     FrameArenaPlugin::default()
///         .with_system_budget("particles", 4096) // warns: 8192 > 4096
///         .with_frame_budget(1 << 20)
///         .with_budget_window(120),
/// )
/// .add_systems(Update, particles);
/// app.update();
/// let by_system = app.world().resource::<FrameBySystem>();
/// assert_eq!(by_system.system("particles").unwrap().bytes, 8192);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameArenaPlugin {
    /// The arena's byte limit ([`FrameArena::with_limit`]), if any.
    pub limit_bytes: Option<usize>,
    /// 2 MiB chunks backed by huge pages ([`FrameArena::with_huge_pages`]):
    /// for frames of tens of megabytes.
    pub huge_pages: bool,
    /// Also insert a [`FrameSlab`] and run [`trim_slab`].
    pub slab: bool,
    /// Also insert a [`FrameRing`] of this depth and run [`end_ring_frame`].
    pub ring_depth: Option<usize>,
    /// What the ring does with lifetimes beyond its depth (with
    /// `ring_depth`).
    pub ring_overflow: RingOverflow,
    /// Count what each system allocates ([`FrameBySystem`]).
    pub attribution: bool,
    /// Byte budgets, per system and per frame (any turns `attribution`
    /// on).
    pub budgets: FrameBudgets,
    /// Publish the bytes as bevy diagnostics (turns `attribution` on).
    #[cfg(feature = "bevy_diagnostic")]
    pub diagnostics: bool,
}

impl FrameArenaPlugin {
    /// The plugin with the arena limited to `limit_bytes`.
    pub fn with_limit(mut self, limit_bytes: usize) -> Self {
        self.limit_bytes = Some(limit_bytes);
        self
    }

    /// The plugin with the arena's chunks 2 MiB and backed by huge pages
    /// ([`FrameArena::with_huge_pages`]).
    pub fn with_huge_pages(mut self) -> Self {
        self.huge_pages = true;
        self
    }

    /// The plugin with per-system attribution on: [`FrameBySystem`] each
    /// frame.
    pub fn with_attribution(mut self) -> Self {
        self.attribution = true;
        self
    }

    /// The plugin with `budget` (and attribution on).
    pub fn with_budget(mut self, budget: AllocBudget) -> Self {
        self.budgets.add(budget);
        self.attribution = true;
        self
    }

    /// The plugin with a budget of `bytes` a frame for the system named
    /// `name` (its label, or bevy's short name with bevy_ecs's `debug`
    /// feature): [`AllocBudget::system`].
    pub fn with_system_budget(self, name: &'static str, bytes: u64) -> Self {
        self.with_budget(AllocBudget::system(name, bytes))
    }

    /// The plugin with a budget of `bytes` a frame for the systems of
    /// `set` together (nested sets included): [`AllocBudget::set`].
    pub fn with_set_budget(self, set: impl SystemSet, bytes: u64) -> Self {
        self.with_budget(AllocBudget::set(set, bytes))
    }

    /// The plugin with a budget of `bytes` for the whole frame.
    pub fn with_frame_budget(self, bytes: u64) -> Self {
        self.with_budget(AllocBudget::frame(bytes))
    }

    /// The plugin, each budget warning at most once per `frames` frames
    /// (60 by default).
    pub fn with_budget_window(mut self, frames: u64) -> Self {
        self.budgets = self.budgets.with_window(frames);
        self
    }

    /// The plugin, also publishing the frame's bytes and each system's as
    /// bevy diagnostics (and attribution on): see
    /// [`publish_frame_diagnostics`](crate::bevy::publish_frame_diagnostics).
    /// Inserts bevy's `DiagnosticsStore` if the App has none; add
    /// `LogDiagnosticsPlugin` to print them.
    ///
    /// ```
    /// use bevy_app::{App, Update};
    /// use bevy_diagnostic::DiagnosticsStore;
    /// use framemem::TypedAlloc;
    /// use framemem::bevy::{FRAME_BYTES, FrameAlloc, FrameArenaPlugin, system_bytes_path};
    ///
    /// fn particles(frame: FrameAlloc) {
    ///     frame.label("particles");
    ///     frame.alloc_slice_copy(&[0u8; 8192]);
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins(FrameArenaPlugin::default().with_diagnostics())
    ///     .add_systems(Update, particles);
    /// app.update();
    /// let store = app.world().resource::<DiagnosticsStore>();
    /// let particles = store.get(&system_bytes_path("particles")).and_then(|d| d.value());
    /// assert_eq!(particles, Some(8192.0));
    /// assert_eq!(store.get(&FRAME_BYTES).and_then(|d| d.value()), Some(8192.0));
    /// ```
    #[cfg(feature = "bevy_diagnostic")]
    pub fn with_diagnostics(mut self) -> Self {
        self.diagnostics = true;
        self.attribution = true;
        self
    }

    /// The plugin, also setting up the slab.
    pub fn with_slab(mut self) -> Self {
        self.slab = true;
        self
    }

    /// The plugin, also setting up an expiry ring of `depth` slots, whose
    /// longer lifetimes fail ([`RingOverflow::Fail`]; set `ring_overflow` for
    /// the slab instead).
    pub fn with_ring(mut self, depth: usize) -> Self {
        self.ring_depth = Some(depth);
        self
    }
}

impl Plugin for FrameArenaPlugin {
    fn build(&self, app: &mut App) {
        let mut arena = match self.limit_bytes {
            Some(limit) => FrameArena::with_limit(limit),
            None => FrameArena::new(),
        };
        if self.huge_pages {
            arena = arena.with_huge_pages();
        }
        let attribution = self.attribution || !self.budgets.is_empty();
        arena.set_attribution(attribution);
        app.insert_resource(arena)
            .init_resource::<FrameFigures>()
            .configure_sets(Last, FrameMemSystems::EndFrame)
            .add_systems(Last, end_arena_frame.in_set(FrameMemSystems::EndFrame));
        if attribution {
            app.init_resource::<FrameBySystem>();
        }
        if !self.budgets.is_empty() {
            app.insert_resource(self.budgets.clone()).add_systems(
                Last,
                check_frame_budgets
                    .after(end_arena_frame)
                    .in_set(FrameMemSystems::EndFrame),
            );
        }
        #[cfg(feature = "bevy_diagnostic")]
        if self.diagnostics {
            app.init_resource::<bevy_diagnostic::DiagnosticsStore>()
                .add_systems(
                    Last,
                    super::diagnostics::publish_frame_diagnostics
                        .after(end_arena_frame)
                        .in_set(FrameMemSystems::EndFrame),
                );
        }
        if self.slab {
            app.init_resource::<FrameSlab>()
                .add_systems(Last, trim_slab.in_set(FrameMemSystems::EndFrame));
        }
        if let Some(depth) = self.ring_depth {
            app.insert_resource(FrameRing::with_overflow(depth, self.ring_overflow))
                .add_systems(Last, end_ring_frame.in_set(FrameMemSystems::EndFrame));
        }
    }
}

/// Inserts a [`FramePool<T>`] of `capacity` idle objects and runs
/// [`trim_pool::<T>`](trim_pool) in `Last`, in [`FrameMemSystems::EndFrame`].
/// One plugin per pooled type.
///
/// ```
/// use bevy_app::{App, Update};
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FramePool, FramePoolPlugin};
///
/// #[derive(Component)]
/// struct Path(Vec<u32>);
///
/// fn plan(mut commands: Commands, pool: Res<FramePool<Vec<u32>>>) {
///     let mut steps = pool.take(); // recycled when a despawn put one back
///     steps.extend([1, 2, 3]);
///     commands.spawn(Path(steps));
/// }
///
/// fn arrive(
///     mut commands: Commands,
///     pool: Res<FramePool<Vec<u32>>>,
///     mut paths: Query<(Entity, &mut Path)>,
/// ) {
///     for (entity, mut path) in &mut paths {
///         pool.put(std::mem::take(&mut path.0));
///         commands.entity(entity).despawn();
///     }
/// }
///
/// let mut app = App::new();
/// app.add_plugins(FramePoolPlugin::<Vec<u32>>::new(64))
///     .add_systems(Update, (arrive, plan).chain());
/// for _ in 0..10 {
///     app.update();
/// }
/// let stats = app.world().resource::<FramePool<Vec<u32>>>().stats();
/// assert_eq!((stats.hits + stats.misses, stats.returns), (10, 9));
/// ```
pub struct FramePoolPlugin<T> {
    capacity: usize,
    _pooled: PhantomData<fn() -> T>,
}

impl<T> FramePoolPlugin<T> {
    /// A plugin for a pool keeping up to `capacity` idle objects: at least
    /// what one frame takes, so that a steady frame finds all it needs.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            _pooled: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for FramePoolPlugin<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramePoolPlugin")
            .field("type", &std::any::type_name::<T>())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<T: Send + Default + Recycle + 'static> Plugin for FramePoolPlugin<T> {
    fn build(&self, app: &mut App) {
        app.insert_resource(FramePool::<T>::new(self.capacity))
            .configure_sets(Last, FrameMemSystems::EndFrame)
            .add_systems(
                Last,
                trim_pool::<T, CallRecycle>.in_set(FrameMemSystems::EndFrame),
            );
    }
}

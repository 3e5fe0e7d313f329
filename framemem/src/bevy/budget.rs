//! Byte budgets on the frame arena, per system and per frame, checked at
//! the end of the frame only (never on the allocation path) by
//! [`check_frame_budgets`], after [`end_arena_frame`].
//!
//! Over budget, a warning goes through the `log` facade (the one bevy logs
//! through, so bevy's `LogPlugin` prints it) naming the system, its bytes
//! and its budget; each budget warns at most once per window of frames
//! ([`FrameBudgets::with_window`], 60 by default), so the log stays
//! readable. A budget made with [`AllocBudget::panic_in_debug`] panics
//! instead in debug builds (`debug_assertions`).
//!
//! System and system set budgets need attribution on
//! ([`FrameBySystem`]); the frame budget needs only [`FrameFigures`]. A
//! set's bytes are the sum over the systems bevy's schedules put in it
//! (nested sets included), found by [`check_frame_budgets`] in the world's
//! `Schedules` (`budget_sets.rs`).
//!
//! [`end_arena_frame`]: crate::bevy::end_arena_frame

use std::borrow::Cow;
use std::fmt;

use bevy_ecs::resource::Resource;
use bevy_ecs::schedule::{InternedSystemSet, Schedules, SystemSet};
use bevy_ecs::system::{Res, ResMut};

use super::arena::{FrameArena, FrameFigures};
use super::attribution::FrameBySystem;
use super::budget_sets::set_bytes;

/// What a budget bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BudgetScope {
    /// The system shown under this name in [`FrameBySystem`] (its label,
    /// bevy's short name, or `system#ID`); a name without generics also
    /// matches the name with them (`cool` matches `cool<Heat>`).
    System(Cow<'static, str>),
    /// The systems of a system set together (nested sets included), as
    /// bevy's schedules place them; see [`AllocBudget::set`].
    Set(InternedSystemSet),
    /// The whole frame: every byte the arena handed out in it.
    Frame,
}

/// A byte budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocBudget {
    /// What it bounds.
    pub scope: BudgetScope,
    /// The most bytes a frame may take, within budget.
    pub bytes: u64,
    /// Panic, in debug builds, instead of warning.
    pub panic_in_debug: bool,
}

impl AllocBudget {
    /// At most `bytes` a frame for the system named `name`.
    pub fn system(name: impl Into<Cow<'static, str>>, bytes: u64) -> Self {
        Self {
            scope: BudgetScope::System(name.into()),
            bytes,
            panic_in_debug: false,
        }
    }

    /// At most `bytes` a frame for the systems of `set` together: the
    /// sum of their [`FrameBySystem`] figures. Checked by
    /// [`check_frame_budgets`] (which the plugin runs in `Last`) over the
    /// schedules in the world's `Schedules`: the systems of `Update`,
    /// `FixedUpdate` and the other schedules an App runs, but not those of
    /// `Last` itself, which bevy takes out of `Schedules` while it runs.
    ///
    /// ```
    /// # #[cfg(feature = "bevy_app")] {
    /// use bevy_app::{App, Update};
    /// use bevy_ecs::prelude::*;
    /// use framemem::TypedAlloc;
    /// use framemem::bevy::{AllocBudget, FrameAlloc, FrameArenaPlugin, FrameBudgets};
    ///
    /// #[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
    /// struct Physics;
    ///
    /// fn broad_phase(frame: FrameAlloc) {
    ///     frame.alloc_slice_copy(&[0u32; 512]); // 2 KiB
    /// }
    ///
    /// fn narrow_phase(frame: FrameAlloc) {
    ///     frame.alloc_slice_copy(&[0u64; 512]); // 4 KiB
    /// }
    ///
    /// let mut app = App::new();
    /// app.add_plugins(FrameArenaPlugin::default().with_budget(AllocBudget::set(Physics, 4096)))
    ///     .add_systems(Update, (broad_phase, narrow_phase).in_set(Physics));
    /// app.update(); // log: "framemem: system set `Physics` allocated 6144 bytes ..."
    /// let warned = app.world().resource::<FrameBudgets>().last_breaches();
    /// assert_eq!(warned[0].to_string(), "framemem: system set `Physics` allocated 6144 bytes \
    ///     from the frame arena in frame 0, over its budget of 4096 bytes");
    /// # }
    /// ```
    pub fn set(set: impl SystemSet, bytes: u64) -> Self {
        Self {
            scope: BudgetScope::Set(set.intern()),
            bytes,
            panic_in_debug: false,
        }
    }

    /// At most `bytes` a frame for the whole arena.
    pub fn frame(bytes: u64) -> Self {
        Self {
            scope: BudgetScope::Frame,
            bytes,
            panic_in_debug: false,
        }
    }

    /// The budget, panicking in debug builds when exceeded.
    pub fn panic_in_debug(mut self) -> Self {
        self.panic_in_debug = true;
        self
    }

    fn matches(&self, name: &str) -> bool {
        match &self.scope {
            BudgetScope::System(want) => {
                name == want || name.split_once('<').is_some_and(|(bare, _)| bare == want)
            }
            BudgetScope::Set(_) | BudgetScope::Frame => false,
        }
    }
}

/// What went over a budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spender {
    /// The system of this name.
    System(String),
    /// The systems of the system set shown so (its `Debug`).
    Set(String),
    /// The whole frame.
    Frame,
}

/// A budget exceeded in a frame: what the warning says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetBreach {
    /// What went over: a system, a system set, or the frame.
    pub spender: Spender,
    /// The frame.
    pub frame: u64,
    /// Bytes it took.
    pub bytes: u64,
    /// Its budget.
    pub budget: u64,
}

impl fmt::Display for BudgetBreach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.spender {
            Spender::System(system) => write!(f, "framemem: system `{system}` allocated "),
            Spender::Set(set) => write!(f, "framemem: system set `{set}` allocated "),
            Spender::Frame => write!(f, "framemem: the frame allocated "),
        }?;
        write!(
            f,
            "{} bytes from the frame arena in frame {}, over its budget of {} bytes",
            self.bytes, self.frame, self.budget
        )
    }
}

/// The budgets, as a resource, and when each last warned. Configured on
/// [`FrameArenaPlugin`](crate::bevy::FrameArenaPlugin), or inserted by hand
/// with [`check_frame_budgets`] after
/// [`end_arena_frame`](crate::bevy::end_arena_frame):
///
/// ```
/// use framemem::TypedAlloc;
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{
///     AllocBudget, FrameAlloc, FrameArena, FrameBudgets, FrameBySystem, FrameFigures,
///     check_frame_budgets, end_arena_frame,
/// };
///
/// fn greedy(frame: FrameAlloc) {
///     frame.label("greedy");
///     frame.alloc_slice_copy(&[0u8; 4096]);
/// }
///
/// let mut world = World::new();
/// world.insert_resource(FrameArena::new().with_attribution());
/// world.init_resource::<FrameFigures>();
/// world.init_resource::<FrameBySystem>();
/// world.insert_resource(FrameBudgets::new().with(AllocBudget::system("greedy", 1024)));
/// let mut schedule = Schedule::default();
/// schedule.add_systems((greedy, end_arena_frame, check_frame_budgets).chain());
/// schedule.run(&mut world); // log: "framemem: system `greedy` allocated 4096 bytes ..."
/// ```
#[derive(Resource, Clone, Debug)]
pub struct FrameBudgets {
    budgets: Vec<AllocBudget>,
    /// The frame each budget last warned in, by index.
    last_warned: Vec<Option<u64>>,
    /// Frames between two warnings of one budget.
    window_frames: u64,
    /// The warnings of the last check.
    last_breaches: Vec<BudgetBreach>,
}

/// One second at 60 frames a second: a budget over in every frame warns
/// once a second.
pub const BUDGET_WINDOW_FRAMES: u64 = 60;

impl Default for FrameBudgets {
    fn default() -> Self {
        Self {
            budgets: Vec::new(),
            last_warned: Vec::new(),
            window_frames: BUDGET_WINDOW_FRAMES,
            last_breaches: Vec::new(),
        }
    }
}

impl FrameBudgets {
    /// No budgets; warnings at most once per 60 frames per budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// The budgets, with `budget` added.
    pub fn with(mut self, budget: AllocBudget) -> Self {
        self.add(budget);
        self
    }

    /// Adds a budget.
    pub fn add(&mut self, budget: AllocBudget) {
        self.budgets.push(budget);
        self.last_warned.push(None);
    }

    /// The budgets, each warning at most once per `frames` frames (at
    /// least 1).
    pub fn with_window(mut self, frames: u64) -> Self {
        self.window_frames = frames.max(1);
        self
    }

    /// The budgets.
    pub fn budgets(&self) -> &[AllocBudget] {
        &self.budgets
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.budgets.is_empty()
    }

    /// The warnings the last check gave (empty when none was due).
    pub fn last_breaches(&self) -> &[BudgetBreach] {
        &self.last_breaches
    }

    /// Checks the frame's figures against the budgets: logs a warning for
    /// each budget exceeded whose window has passed, and returns those
    /// warnings. System budgets are checked when `by_system` is given (and
    /// is this frame's); system set budgets are not (they need the
    /// schedules: [`check_with_sets`](Self::check_with_sets)).
    ///
    /// # Panics
    ///
    /// In debug builds, when a budget made with
    /// [`AllocBudget::panic_in_debug`] is exceeded, with the warning's text.
    pub fn check(
        &mut self,
        figures: &FrameFigures,
        by_system: Option<&FrameBySystem>,
    ) -> Vec<BudgetBreach> {
        self.check_with_sets(figures, by_system, |_| None)
    }

    /// [`check`](Self::check), with `set_bytes` giving the bytes a system
    /// set's systems took in the frame (`None`: unknown, not checked).
    ///
    /// # Panics
    ///
    /// As [`check`](Self::check).
    pub fn check_with_sets(
        &mut self,
        figures: &FrameFigures,
        by_system: Option<&FrameBySystem>,
        mut set_bytes: impl FnMut(InternedSystemSet) -> Option<u64>,
    ) -> Vec<BudgetBreach> {
        let by_system = by_system.filter(|b| b.frame == figures.frame);
        let mut warned = Vec::new();
        for (budget, last) in self.budgets.iter().zip(&mut self.last_warned) {
            let over = match &budget.scope {
                BudgetScope::Frame => {
                    (figures.bytes as u64 > budget.bytes).then_some(BudgetBreach {
                        spender: Spender::Frame,
                        frame: figures.frame,
                        bytes: figures.bytes as u64,
                        budget: budget.bytes,
                    })
                }
                BudgetScope::System(_) => by_system.and_then(|b| {
                    b.systems
                        .iter()
                        .find(|s| s.bytes > budget.bytes && budget.matches(&s.name))
                        .map(|s| BudgetBreach {
                            spender: Spender::System(s.name.clone()),
                            frame: figures.frame,
                            bytes: s.bytes,
                            budget: budget.bytes,
                        })
                }),
                BudgetScope::Set(set) => by_system
                    .and_then(|_| set_bytes(*set))
                    .filter(|&bytes| bytes > budget.bytes)
                    .map(|bytes| BudgetBreach {
                        spender: Spender::Set(format!("{set:?}")),
                        frame: figures.frame,
                        bytes,
                        budget: budget.bytes,
                    }),
            };
            let Some(breach) = over else { continue };
            if budget.panic_in_debug && cfg!(debug_assertions) {
                panic!("{breach} (a budget that panics in debug builds)");
            }
            if last.is_some_and(|at| figures.frame < at + self.window_frames) {
                continue;
            }
            *last = Some(figures.frame);
            log::warn!(
                "{breach} (warned at most once per {} frames)",
                self.window_frames
            );
            warned.push(breach);
        }
        self.last_breaches.clone_from(&warned);
        warned
    }
}

/// Checks [`FrameBudgets`] at the end of the frame: run it after
/// [`end_arena_frame`](crate::bevy::end_arena_frame), as
/// [`FrameArenaPlugin`](crate::bevy::FrameArenaPlugin) does when given
/// budgets. Does nothing without the budgets or the figures. System set
/// budgets are resolved in the world's `Schedules` (see
/// [`AllocBudget::set`]).
pub fn check_frame_budgets(
    budgets: Option<ResMut<FrameBudgets>>,
    figures: Option<Res<FrameFigures>>,
    by_system: Option<Res<FrameBySystem>>,
    arena: Option<Res<FrameArena>>,
    schedules: Option<Res<Schedules>>,
) {
    let (Some(mut budgets), Some(figures)) = (budgets, figures) else {
        return;
    };
    let by_system = by_system.as_deref();
    budgets.check_with_sets(&figures, by_system, |set| {
        match (by_system, &arena, &schedules) {
            (Some(by_system), Some(arena), Some(schedules)) => {
                set_bytes(set, schedules, &arena.attribution, by_system)
            }
            _ => None,
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bevy::SystemFigures;

    fn frame(n: u64, bytes: u64) -> (FrameFigures, FrameBySystem) {
        let figures = FrameFigures {
            frame: n,
            allocations: 1,
            bytes: bytes as usize,
            ..FrameFigures::default()
        };
        let by_system = FrameBySystem {
            frame: n,
            systems: vec![SystemFigures {
                id: 0,
                name: "cool<Heat>".to_owned(),
                allocations: 1,
                bytes,
                peak_bytes: bytes,
            }],
            total_allocations: 1,
            total_bytes: bytes,
            ..FrameBySystem::default()
        };
        (figures, by_system)
    }

    #[test]
    fn a_budget_over_every_frame_warns_once_per_window() {
        let mut budgets = FrameBudgets::new()
            .with(AllocBudget::system("cool", 100))
            .with(AllocBudget::frame(1000))
            .with_window(10);
        let mut warned_frames = Vec::new();
        for n in 0..25 {
            let (figures, by_system) = frame(n, 500);
            for breach in budgets.check(&figures, Some(&by_system)) {
                assert_eq!(breach.spender, Spender::System("cool<Heat>".to_owned()));
                assert_eq!((breach.bytes, breach.budget), (500, 100));
                warned_frames.push(n);
            }
        }
        assert_eq!(warned_frames, [0, 10, 20], "the frame budget never warned");
    }

    #[test]
    fn the_warning_names_the_system_its_bytes_and_its_budget() {
        let mut budgets = FrameBudgets::new().with(AllocBudget::system("cool<Heat>", 100));
        let (figures, by_system) = frame(3, 250);
        let text = budgets.check(&figures, Some(&by_system))[0].to_string();
        assert_eq!(
            text,
            "framemem: system `cool<Heat>` allocated 250 bytes from the frame arena in \
             frame 3, over its budget of 100 bytes"
        );
    }

    #[test]
    fn stale_per_system_figures_are_not_checked() {
        let mut budgets = FrameBudgets::new().with(AllocBudget::system("cool", 1));
        let (figures, _) = frame(5, 10);
        let (_, old) = frame(4, 10);
        assert!(budgets.check(&figures, Some(&old)).is_empty());
    }

    #[test]
    #[cfg_attr(
        debug_assertions,
        should_panic(expected = "the frame allocated 500 bytes")
    )]
    fn a_panicking_budget_panics_in_debug_builds() {
        let mut budgets = FrameBudgets::new().with(AllocBudget::frame(100).panic_in_debug());
        let (figures, _) = frame(0, 500);
        assert_eq!(budgets.check(&figures, None).len(), 1, "release: a warning");
    }
}

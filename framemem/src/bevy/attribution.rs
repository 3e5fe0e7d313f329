//! Who used the frame's memory: every allocation made through
//! [`FrameAlloc`](crate::bevy::FrameAlloc) (per call, or through its
//! [`local`](crate::bevy::FrameAlloc::local) handle on any thread) is
//! counted against the system it runs in, and [`FrameArena::end_frame`]
//! turns the counts into [`FrameBySystem`], published beside
//! [`FrameFigures`] by [`end_arena_frame`].
//!
//! - **Slots.** Each system that takes `FrameAlloc` gets a slot the first
//!   time it runs with attribution on: a stable id (the order in which the
//!   systems first allocated) and a name. An exclusive system, or any code
//!   outside a system, takes a slot with [`FrameArena::tag`] and allocates
//!   through [`FrameArena::counted`].
//! - **Names.** bevy_ecs gives real system names only with its `debug`
//!   feature, which framemem does not turn on. With it, a slot is named by
//!   bevy's short name (`spawn_sparks`, `cool<Heat>`); without it, by
//!   `system#ID`. A label set with [`FrameAlloc::label`] (or the one given
//!   to [`FrameArena::tag`]) wins in both cases. Budgets match the name
//!   shown.
//! - **Cost.** Per call through `FrameAlloc`: one thread-local load (the
//!   thread's lane id, which picks its shard) and two relaxed atomic adds
//!   on the calling thread's shard of the system's counters (one shard per
//!   thread, up to 16, so the threads of a `par_iter` do not share a cache
//!   line). Through `local()`: two additions on the handle's own counts,
//!   which stay in registers, added to the system's counters once, when it
//!   drops. At the end of the frame: one pass over the slots. With
//!   attribution off (the default: [`FrameArena::set_attribution`], or
//!   [`FrameArenaPlugin::with_attribution`]), whether to count is decided
//!   once per system run: per call, one test of a field that is `None`;
//!   through `local()`, the two register additions, whose sum is dropped.
//!   `scripts/callgrind-attribution.sh` measures each path.
//! - **Exactness.** The sum over the systems plus [`FrameBySystem::outside`]
//!   (what went to the arena by other paths: `Res<FrameArena>`,
//!   [`FrameAlloc::arena`], code outside systems) is the frame's
//!   [`FrameFigures`] total, bytes and allocations, exactly. A path that
//!   goes through `FrameAlloc` is counted as the arena counts it: requested
//!   bytes, a block grown in place by its growth, a moved block as a new
//!   allocation.
//!
//! [`FrameAlloc`]: crate::bevy::FrameAlloc
//! [`FrameAlloc::label`]: crate::bevy::FrameAlloc::label
//! [`FrameAlloc::arena`]: crate::bevy::FrameAlloc::arena
//! [`FrameArena::end_frame`]: crate::bevy::FrameArena::end_frame
//! [`FrameArena::tag`]: crate::bevy::FrameArena::tag
//! [`FrameArena::counted`]: crate::bevy::FrameArena::counted
//! [`FrameArena::set_attribution`]: crate::bevy::FrameArena::set_attribution
//! [`FrameArenaPlugin::with_attribution`]: https://docs.rs/framemem/latest/framemem/bevy/struct.FrameArenaPlugin.html#method.with_attribution
//! [`FrameFigures`]: crate::bevy::FrameFigures
//! [`end_arena_frame`]: crate::bevy::end_arena_frame

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};

use bevy_ecs::resource::Resource;

/// Hands out registry ids, so that a `FrameAlloc` whose world got a new
/// [`FrameArena`](crate::bevy::FrameArena) registers again.
static NEXT_REGISTRY: AtomicU64 = AtomicU64::new(1);

/// How many shards a system's counters have: threads counting through the
/// per-call path at once (a `par_iter` on the compute pool) each get their
/// own, up to this many, so they do not fight over one cache line. A power
/// of two: the shard is the thread's lane id masked.
const SHARDS: usize = 16;
const _: () = assert!(SHARDS.is_power_of_two());

/// One shard of a system's counts: its own cache line pair.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard {
    allocations: AtomicU64,
    bytes: AtomicU64,
}

/// One system's counts for the running frame. Written by any thread (per
/// call, and by `local()` handles as they drop), read and zeroed at the end
/// of the frame under `&mut`. Sharded by thread: each thread adds to its
/// own shard (an uncontended atomic add), and the end of the frame sums
/// them, so threads of a `par_iter` counting per call do not bounce one
/// cache line between them.
#[derive(Debug, Default)]
pub(crate) struct SlotCounters {
    shards: [Shard; SHARDS],
}

impl SlotCounters {
    /// Counts `allocations` blocks of `bytes` in all, on the calling
    /// thread's shard.
    ///
    /// The shard is the thread's arena lane id, masked: the ids of live
    /// threads are distinct and small (the lowest free one is claimed), so
    /// the first [`SHARDS`] threads each have a shard of their own, and
    /// finding it is one thread-local load with no lazy initialisation (the
    /// per-call path has just used the lane, so the id is set). Any shard
    /// is correct, only contention differs: a sentinel id (a thread without
    /// a lane) lands on some shard like any other.
    #[inline(always)]
    pub(crate) fn add(&self, allocations: u64, bytes: u64) {
        let shard = &self.shards[crate::alloc::lane_hint() & (SHARDS - 1)];
        shard.allocations.fetch_add(allocations, Relaxed);
        shard.bytes.fetch_add(bytes, Relaxed);
    }

    /// The frame's counts, summed over the shards and zeroed for the next
    /// frame.
    fn take(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(a, b), shard| {
            (
                a + shard.allocations.swap(0, Relaxed),
                b + shard.bytes.swap(0, Relaxed),
            )
        })
    }
}

/// A system's slot: its id, names and counters.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The slot's index in its registry: stable for the life of the arena.
    id: u32,
    /// bevy's short name for the system, when bevy_ecs has its `debug`
    /// feature; `None` otherwise.
    system_name: Option<String>,
    /// The user's label, which wins over the system name.
    label: OnceLock<&'static str>,
    /// Where the system's `FrameAlloc` state lives (0 for a tag's slot):
    /// inside the system bevy boxed, so that a system set's budget can find
    /// the slots of the set's systems (`budget_sets.rs`).
    state_addr: usize,
    pub(crate) counters: SlotCounters,
}

impl Slot {
    /// What reports and budgets call the slot: its label, else bevy's
    /// name, else `system#ID`.
    fn name(&self) -> String {
        let mut name = String::new();
        self.write_name(&mut name);
        name
    }

    /// Its [`name`](Self::name), into `out`, reusing its capacity: no heap
    /// allocation at the end of a steady frame.
    fn write_name(&self, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        match (self.label.get(), &self.system_name) {
            (Some(label), _) => out.push_str(label),
            (None, Some(name)) => out.push_str(name),
            (None, None) => {
                let _ = write!(out, "system#{}", self.id);
            }
        }
    }
}

/// A slot of the per-system attribution: what an exclusive system (or any
/// code outside a system) allocates through [`FrameArena::counted`] with it
/// counts against this slot. From [`FrameArena::tag`]; cloning it gives the
/// same slot.
///
/// [`FrameArena::counted`]: crate::bevy::FrameArena::counted
/// [`FrameArena::tag`]: crate::bevy::FrameArena::tag
#[derive(Clone)]
pub struct AllocTag {
    slot: Arc<Slot>,
    /// The registry it belongs to.
    registry: u64,
}

impl AllocTag {
    /// The slot's id: its index in [`FrameBySystem::systems`].
    pub fn id(&self) -> u32 {
        self.slot.id
    }

    /// The slot's name, as reports and budgets show it.
    pub fn name(&self) -> String {
        self.slot.name()
    }

    pub(crate) fn counters(&self) -> &SlotCounters {
        &self.slot.counters
    }

    pub(crate) fn registry(&self) -> u64 {
        self.registry
    }

    /// Sets the slot's label, if it has none yet.
    pub(crate) fn set_label(&self, label: &'static str) {
        // Ignored when already set: the first label is the one reports use.
        let _ = self.slot.label.set(label);
    }
}

impl fmt::Debug for AllocTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllocTag")
            .field("id", &self.slot.id)
            .field("name", &self.slot.name())
            .finish()
    }
}

/// The slots of one [`FrameArena`](crate::bevy::FrameArena), and the
/// switch.
#[derive(Debug)]
pub(crate) struct Attribution {
    /// Whether `FrameAlloc` counts.
    pub(crate) enabled: bool,
    /// Unique in the process.
    pub(crate) id: u64,
    /// Every slot, by id. Locked only to register a slot (once per system)
    /// and by [`FrameArena::tag`](crate::bevy::FrameArena::tag).
    slots: Mutex<Vec<Arc<Slot>>>,
    /// Each slot's largest frame so far, by id.
    peaks: Vec<u64>,
    /// The last frame's figures.
    pub(crate) last: FrameBySystem,
}

impl Default for Attribution {
    fn default() -> Self {
        Self {
            enabled: false,
            id: NEXT_REGISTRY.fetch_add(1, Relaxed),
            slots: Mutex::new(Vec::new()),
            peaks: Vec::new(),
            last: FrameBySystem::default(),
        }
    }
}

impl Attribution {
    /// A new slot for a system bevy calls `system_name` (its `DebugName`,
    /// a placeholder without bevy_ecs's `debug` feature), whose
    /// `FrameAlloc` state is at `state_addr`.
    pub(crate) fn register_system(
        &self,
        system_name: &bevy_ecs::utils::DebugName,
        state_addr: usize,
    ) -> AllocTag {
        // Without `debug`, bevy's names are one placeholder that starts with
        // '<' ("<Enable the debug feature to see the name>"); no Rust path
        // does.
        let name = (!system_name.starts_with('<')).then(|| system_name.shortname().to_string());
        self.register(name, None, state_addr)
    }

    /// The id of the newest slot whose system's `FrameAlloc` state lies in
    /// `start..end` (the bytes of one boxed system): that system's slot. The
    /// newest, because a system dropped and another boxed at its address
    /// registers again; an older slot there allocates no more.
    pub(crate) fn slot_within(&self, start: usize, end: usize) -> Option<u32> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .rev()
            .find(|s| s.state_addr != 0 && (start..end).contains(&s.state_addr))
            .map(|s| s.id)
    }

    /// The slot labelled `label`, made if there is none.
    pub(crate) fn tag(&self, label: &'static str) -> AllocTag {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.iter().find(|s| s.label.get() == Some(&label)) {
            return AllocTag {
                slot: Arc::clone(slot),
                registry: self.id,
            };
        }
        drop(slots);
        self.register(None, Some(label), 0)
    }

    fn register(
        &self,
        system_name: Option<String>,
        label: Option<&'static str>,
        state_addr: usize,
    ) -> AllocTag {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let id = u32::try_from(slots.len()).expect("fewer than 2^32 systems");
        let slot = Arc::new(Slot {
            id,
            system_name,
            label: label.map_or_else(OnceLock::new, OnceLock::from),
            state_addr,
            counters: SlotCounters::default(),
        });
        slots.push(Arc::clone(&slot));
        AllocTag {
            slot,
            registry: self.id,
        }
    }

    /// Moves the frame's counts into [`last`](Self::last), with the
    /// frame's number and totals (the arena's) for the share outside
    /// systems.
    pub(crate) fn end_frame(&mut self, frame: u64, total_allocations: u64, total_bytes: u64) {
        let slots = self.slots.get_mut().unwrap_or_else(|e| e.into_inner());
        self.peaks.resize(slots.len(), 0);
        let last = &mut self.last;
        last.frame = frame;
        last.systems
            .resize_with(slots.len(), SystemFigures::default);
        let (mut allocations, mut bytes) = (0u64, 0u64);
        for ((slot, figures), peak) in slots.iter().zip(&mut last.systems).zip(&mut self.peaks) {
            let (a, b) = slot.counters.take();
            *peak = (*peak).max(b);
            allocations += a;
            bytes += b;
            figures.id = slot.id;
            figures.allocations = a;
            figures.bytes = b;
            figures.peak_bytes = *peak;
            slot.write_name(&mut figures.name);
        }
        debug_assert!(
            allocations <= total_allocations && bytes <= total_bytes,
            "the systems' {allocations} allocations and {bytes} bytes exceed the arena's \
             {total_allocations} and {total_bytes}"
        );
        last.outside = OutsideFigures {
            allocations: total_allocations.saturating_sub(allocations),
            bytes: total_bytes.saturating_sub(bytes),
        };
        last.total_allocations = total_allocations;
        last.total_bytes = total_bytes;
    }
}

/// What each system took from the [`FrameArena`](crate::bevy::FrameArena)
/// in the last frame, published by
/// [`end_arena_frame`](crate::bevy::end_arena_frame) when attribution is on
/// (see the [`bevy` module docs](crate::bevy)).
///
/// `systems` holds every system that has allocated through `FrameAlloc`
/// since attribution was turned on, by id (those that allocated nothing
/// this frame with 0 bytes); `outside` is what reached the arena by other
/// paths. Their sum is the frame's total, exactly:
///
/// ```
/// use framemem::TypedAlloc;
/// use bevy_ecs::prelude::*;
/// use framemem::bevy::{FrameAlloc, FrameArena, FrameBySystem, end_arena_frame};
///
/// fn sparks(frame: FrameAlloc) {
///     frame.label("sparks"); // the name reports and budgets use
///     frame.alloc_slice_copy(&[0u32; 16]); // 64 B, per call
///     let local = frame.local(); // one lane lookup
///     local.alloc_value(0u64); // 8 B, counted when `local` drops
/// }
///
/// fn outside(arena: Res<FrameArena>) {
///     arena.alloc_value(0u8); // not through FrameAlloc
/// }
///
/// let mut world = World::new();
/// world.insert_resource(FrameArena::new().with_attribution());
/// world.init_resource::<FrameBySystem>();
/// let mut schedule = Schedule::default();
/// schedule.add_systems(((sparks, outside), end_arena_frame).chain());
/// schedule.run(&mut world);
/// let by_system = world.resource::<FrameBySystem>();
/// let sparks = by_system.system("sparks").unwrap();
/// assert_eq!((sparks.allocations, sparks.bytes), (2, 72));
/// assert_eq!(by_system.outside.bytes, 1);
/// assert_eq!(by_system.total_bytes, 73);
/// ```
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FrameBySystem {
    /// The frame's number, as [`FrameFigures::frame`](crate::bevy::FrameFigures::frame).
    pub frame: u64,
    /// Each system's figures, by slot id.
    pub systems: Vec<SystemFigures>,
    /// What reached the arena without going through `FrameAlloc`.
    pub outside: OutsideFigures,
    /// The frame's allocations ([`FrameFigures::allocations`](crate::bevy::FrameFigures::allocations)).
    pub total_allocations: u64,
    /// The frame's bytes ([`FrameFigures::bytes`](crate::bevy::FrameFigures::bytes)).
    pub total_bytes: u64,
}

impl FrameBySystem {
    /// The figures of the system named `name` (as shown: label, bevy's
    /// short name or `system#ID`).
    pub fn system(&self, name: &str) -> Option<&SystemFigures> {
        self.systems.iter().find(|s| s.name == name)
    }
}

/// One system's share of a frame's arena memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SystemFigures {
    /// The slot's id, stable for the life of the arena.
    pub id: u32,
    /// Its label, else bevy's short system name (with bevy_ecs's `debug`
    /// feature), else `system#ID`.
    pub name: String,
    /// Allocations it made in the frame.
    pub allocations: u64,
    /// Bytes they requested.
    pub bytes: u64,
    /// Its largest frame so far, in bytes.
    pub peak_bytes: u64,
}

/// What reached the arena in a frame without going through `FrameAlloc`:
/// `Res<FrameArena>`, `FrameAlloc::arena()`, code outside systems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct OutsideFigures {
    /// Allocations.
    pub allocations: u64,
    /// Bytes requested.
    pub bytes: u64,
}

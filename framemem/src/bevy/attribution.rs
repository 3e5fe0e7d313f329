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
//! - **Cost.** Each system's counters have a shard per arena lane id (and
//!   one overflow for threads beyond the lanes), each on its own cache
//!   line pair, and a thread adds only to its own: a plain load and store
//!   per count, no atomic read-modify-write, no line shared between the
//!   threads of a `par_iter`. Per call through `FrameAlloc`: one
//!   thread-local load (the lane id) and those adds. Through `local()`:
//!   the shard is found once, when the handle is made; per allocation, the
//!   adds. At the end of the frame: one pass over the slots and their
//!   shards. With attribution off (the default:
//!   [`FrameArena::set_attribution`], or
//!   [`FrameArenaPlugin::with_attribution`]), whether to count is decided
//!   once per system run (or per handle): one test of a `None` per call.
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

use crate::alloc::MAX_LANES;

/// Hands out registry ids, so that a `FrameAlloc` whose world got a new
/// [`FrameArena`](crate::bevy::FrameArena) registers again.
static NEXT_REGISTRY: AtomicU64 = AtomicU64::new(1);

/// One thread's counts in a system's slot, or the slot's shared overflow:
/// its own cache line pair, so that the threads of a `par_iter` do not
/// bounce one line between them.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Shard {
    allocations: AtomicU64,
    bytes: AtomicU64,
    /// The overflow, for threads without a lane id: any number of them add
    /// to it at once. A lane's shard has one writer (see [`SlotCounters`]).
    shared: bool,
}

impl Shard {
    fn new(shared: bool) -> Self {
        Self {
            allocations: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            shared,
        }
    }

    /// Counts `allocations` blocks of `bytes` in all. On a lane's shard a
    /// load and a store each (no `lock` prefix: its thread is its one
    /// writer); on the overflow, atomic adds.
    #[inline(always)]
    pub(crate) fn add(&self, allocations: u64, bytes: u64) {
        if self.shared {
            self.allocations.fetch_add(allocations, Relaxed);
            self.bytes.fetch_add(bytes, Relaxed);
        } else {
            // One writer at a time (see `SlotCounters`); were there two, a
            // count could be lost, but nothing else: these are atomics.
            let (a, b) = (&self.allocations, &self.bytes);
            a.store(a.load(Relaxed) + allocations, Relaxed);
            b.store(b.load(Relaxed) + bytes, Relaxed);
        }
    }

    /// The counts, zeroed.
    fn take(&self) -> (u64, u64) {
        (
            self.allocations.swap(0, Relaxed),
            self.bytes.swap(0, Relaxed),
        )
    }
}

/// One system's counts for the running frame: a [`Shard`] per lane id and
/// one overflow, summed and zeroed at the end of the frame under `&mut`.
///
/// A thread holding lane id `i` (`alloc::lane_hint`) counts in shard `i`
/// with plain loads and stores: ids of live threads are distinct, a thread
/// gives its id up only after it stops reading it (its lane guard sets the
/// thread's id to a sentinel first, and a live `FrameLocal`'s pin defers
/// the release until the handle drops), and the next holder claims it with
/// acquire ordering after the release, so each shard has one writer at a
/// time, in order. Threads without an id (more than the lanes alive at
/// once) add to the overflow atomically. Per call through `FrameAlloc`:
/// one thread-local load and the shard's two adds; a `FrameLocal` finds
/// its shard once, when it is made.
#[derive(Debug)]
pub(crate) struct SlotCounters {
    lanes: [Shard; MAX_LANES],
    overflow: Shard,
}

impl Default for SlotCounters {
    fn default() -> Self {
        Self {
            lanes: std::array::from_fn(|_| Shard::new(false)),
            overflow: Shard::new(true),
        }
    }
}

impl SlotCounters {
    /// The calling thread's shard: its lane id's, or the overflow.
    #[inline(always)]
    pub(crate) fn shard(&self) -> &Shard {
        self.lanes
            .get(crate::alloc::lane_hint())
            .unwrap_or(&self.overflow)
    }

    /// Counts `allocations` blocks of `bytes` in all, on the calling
    /// thread's shard.
    #[inline(always)]
    pub(crate) fn add(&self, allocations: u64, bytes: u64) {
        self.shard().add(allocations, bytes);
    }

    /// The frame's counts, summed over the shards and zeroed for the next
    /// frame.
    fn take(&self) -> (u64, u64) {
        self.lanes
            .iter()
            .chain([&self.overflow])
            .map(Shard::take)
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
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

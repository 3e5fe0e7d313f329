//! The arena strategy: trails and scratch in the frame arena, the bevy
//! module's [`FrameArena`] resource, all released by one reset at the end
//! of the frame ([`FrameArena::end_frame`], what the `end_frame` system
//! runs). Trails reach components only as [`ArenaSlice`] handles, and
//! resolving one checks the arena's epoch: no pointer survives a reset.

use bevy_ecs::component::Component;
use glam::Vec3;

use crate::sim::memory::frame_memory::{FrameMemory, MemoryFigures, MemoryPlan, SystemBytes};
use crate::sim::memory::scratch::ScratchItem;
use crate::sim::memory::trails::{ReleasePerCall, TrailWriter};
use crate::sim::strategy::Strategy;
use framemem::bevy::{AllocTag, CountedArena, FrameArena, FrameLocal};
use framemem::{ArenaSlice, TypedAlloc};

/// An arena trail: a `Copy` handle that resolves only until the reset.
#[derive(Component, Clone, Copy, Debug)]
pub struct ArenaTrail(pub ArenaSlice<Vec3>);

impl FrameMemory for FrameArena {
    const STRATEGY: Strategy = Strategy::Arena;
    type Payload = ArenaTrail;
    type Scratch<'a, T: ScratchItem> = allocator_api2::vec::Vec<T, CountedArena<'a>>;
    type Trails<'a> = ArenaTrails<'a>;
    const RELEASES_PAYLOADS: bool = false;

    /// With per-system attribution as planned (on by default): the
    /// report's bytes per system.
    fn new(plan: &MemoryPlan) -> Self {
        let mut arena = if plan.huge_pages {
            Self::new().with_huge_pages()
        } else {
            Self::new()
        };
        arena.set_attribution(plan.attribution);
        arena
    }

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> ArenaTrail {
        ArenaTrail(self.handle_slice_fill_with(len, fill))
    }

    #[inline]
    fn try_trail<'a>(&'a self, payload: &'a ArenaTrail) -> Option<&'a [Vec3]> {
        self.try_get(payload.0)
    }

    fn release_trail(&self, _payload: &mut ArenaTrail) {}

    type Releaser<'a> = ReleasePerCall<'a, Self>;

    fn releaser(&self) -> ReleasePerCall<'_, Self> {
        ReleasePerCall(self)
    }

    fn scratch<T: ScratchItem>(&self, capacity: usize) -> Self::Scratch<'_, T> {
        allocator_api2::vec::Vec::with_capacity_in(capacity, self.uncounted())
    }

    fn system_tag(&self, system: &'static str) -> Option<AllocTag> {
        self.attribution().then(|| self.tag(system))
    }

    #[inline]
    fn alloc_trail_for(
        &mut self,
        tag: Option<&AllocTag>,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> ArenaTrail {
        ArenaTrail(match tag {
            Some(tag) => self.counted(tag).handle_slice_fill_with(len, fill),
            None => self.handle_slice_fill_with(len, fill),
        })
    }

    /// The calling thread's lane, counted against `tag`'s system once, when
    /// the batch ends: no lane lookup and no atomic per trail.
    fn trails<'a>(&'a mut self, tag: Option<&'a AllocTag>) -> ArenaTrails<'a> {
        let this: &'a FrameArena = self;
        let view = tag.map_or_else(|| this.uncounted(), |tag| this.counted(tag));
        ArenaTrails(view.local())
    }

    fn scratch_for<'a, T: ScratchItem>(
        &'a self,
        tag: Option<&'a AllocTag>,
        capacity: usize,
    ) -> Self::Scratch<'a, T> {
        let arena = tag.map_or_else(|| self.uncounted(), |tag| self.counted(tag));
        allocator_api2::vec::Vec::with_capacity_in(capacity, arena)
    }

    fn by_system(&self) -> Option<SystemBytes> {
        self.attribution()
            .then(|| SystemBytes::from_frame(FrameArena::by_system(self)))
    }

    fn end_frame(&mut self) {
        FrameArena::end_frame(self);
    }

    fn figures(&self) -> MemoryFigures {
        let stats = self.arena().stats();
        MemoryFigures {
            peak_bytes_in_use: stats.peak_bytes_in_use as u64,
            bytes_reserved: Some(stats.bytes_reserved as u64),
        }
    }
}

/// One spawn batch's trails in the frame arena: the calling thread's lane,
/// taken once ([`FrameMemory::trails`]).
#[derive(Debug)]
pub struct ArenaTrails<'a>(FrameLocal<'a>);

impl TrailWriter for ArenaTrails<'_> {
    type Payload = ArenaTrail;

    #[inline]
    fn alloc_trail(
        &mut self,
        len: usize,
        _lifetime_frames: u32,
        fill: impl FnMut(usize) -> Vec3,
    ) -> ArenaTrail {
        ArenaTrail((&self.0).handle_slice_fill_with(len, fill))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_pages_plan_gives_the_arena_huge_pages() {
        for huge_pages in [false, true] {
            let plan = MemoryPlan {
                entities_per_frame: 1,
                max_trail_len: 4,
                max_lifetime_frames: 1,
                attribution: false,
                huge_pages,
            };
            let mut memory = <FrameArena as FrameMemory>::new(&plan);
            assert_eq!(memory.arena().huge_pages(), huge_pages);
            let trail = memory.alloc_trail(4, 1, |i| Vec3::splat(i as f32));
            assert_eq!(memory.trail(&trail)[3], Vec3::splat(3.0));
            let chunk = if huge_pages { 2 << 20 } else { 64 << 10 };
            assert_eq!(memory.arena().stats().bytes_reserved, chunk);
            FrameMemory::end_frame(&mut memory);
        }
    }

    #[test]
    fn a_trail_does_not_resolve_after_the_end_of_frame() {
        let plan = MemoryPlan {
            entities_per_frame: 1,
            max_trail_len: 4,
            max_lifetime_frames: 1,
            attribution: true,
            huge_pages: false,
        };
        let mut memory = <FrameArena as FrameMemory>::new(&plan);
        let trail = memory.alloc_trail(4, 1, |i| Vec3::splat(i as f32));
        assert_eq!(memory.trail(&trail)[3], Vec3::splat(3.0));
        FrameMemory::end_frame(&mut memory);
        assert!(
            memory.try_trail(&trail).is_none(),
            "a handle survived the reset"
        );
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            memory.trail(&trail);
        }))
        .expect_err("resolving a stale handle must panic");
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(message.contains("arena"), "unclear message: {message}");
    }
}

//! One end of frame per frame: which instance of an end-of-frame system
//! ends the frame for a resource, and what any other instance does.
//!
//! The defect this guards against: an App with [`FrameArenaPlugin`] whose
//! schedule also runs `end_arena_frame` (as a bare `World` loop would)
//! reset the arena twice per update, so the published figures were those of
//! the empty second "frame" (0 allocations) and the frame count went up by
//! two. Now each system instance carries an id ([`EndFrameInstance`], its
//! `Local`); the resource remembers the first instance that ran as its
//! owner ([`FrameOwner`]); any other instance does nothing and warns once,
//! through the `log` facade bevy_ecs itself uses.
//!
//! The owner is held weakly: when its system is dropped (a schedule rebuilt
//! each frame, `World::run_system_once`), the next instance that runs takes
//! over, so a loop that makes a new system every frame still ends every
//! frame. What remains undetected: two live instances that run on
//! alternate frames (each then looks like the one that ends the frame).
//!
//! [`FrameArenaPlugin`]: crate::bevy::FrameArenaPlugin

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

/// Hands out system instance ids, from 1.
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// The identity of one end-of-frame system instance (the `Local` of
/// [`end_arena_frame`](crate::bevy::end_arena_frame),
/// [`end_ring_frame`](crate::bevy::end_ring_frame),
/// [`trim_slab`](crate::bevy::trim_slab) and
/// [`trim_pool`](crate::bevy::trim_pool)): an id taken when bevy
/// initialises the system, alive as long as the system is.
#[derive(Debug)]
pub struct EndFrameInstance {
    /// Unique in the process.
    id: u64,
    /// Dropped with the system: the resource's weak reference to it then
    /// fails, and another instance may take the frame over.
    alive: Arc<()>,
    /// Whether this instance already said that it is a duplicate.
    warned: bool,
}

impl Default for EndFrameInstance {
    fn default() -> Self {
        Self {
            id: NEXT_INSTANCE.fetch_add(1, Relaxed),
            alive: Arc::new(()),
            warned: false,
        }
    }
}

/// Kept by each resource that an end-of-frame system ends: the instance
/// that owns its frame end.
#[derive(Debug, Default)]
pub(crate) struct FrameOwner {
    /// The owning instance's id, and its liveness.
    owner: Option<(u64, Weak<()>)>,
}

impl FrameOwner {
    /// Whether `instance` ends the frame: it owns the resource, or no live
    /// instance does and it takes it over. Otherwise it is a second
    /// end-of-frame system for the resource: warns once (naming `system`,
    /// the function to remove, and `resource`) and returns `false`.
    pub(crate) fn claim(
        &mut self,
        instance: &mut EndFrameInstance,
        system: &str,
        resource: &str,
    ) -> bool {
        match &self.owner {
            Some((id, _)) if *id == instance.id => true,
            Some((owner, alive)) if alive.strong_count() > 0 => {
                if !instance.warned {
                    instance.warned = true;
                    log::warn!(
                        "framemem: a second `{system}` system (instance #{}) runs for the \
                         `{resource}` resource, which instance #{owner} already ends each \
                         frame (FrameArenaPlugin runs one in `Last`, in \
                         `FrameMemSystems::EndFrame`); this one does nothing. Remove the \
                         extra `{system}` from your schedule.",
                        instance.id,
                    );
                }
                false
            }
            _ => {
                self.owner = Some((instance.id, Arc::downgrade(&instance.alive)));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_instance_owns_and_a_second_does_nothing() {
        let mut owner = FrameOwner::default();
        let mut a = EndFrameInstance::default();
        let mut b = EndFrameInstance::default();
        assert!(owner.claim(&mut a, "end_arena_frame", "FrameArena"));
        assert!(!owner.claim(&mut b, "end_arena_frame", "FrameArena"));
        assert!(b.warned);
        assert!(owner.claim(&mut a, "end_arena_frame", "FrameArena"));
        assert!(!owner.claim(&mut b, "end_arena_frame", "FrameArena"));
    }

    #[test]
    fn a_dropped_owner_hands_over() {
        let mut owner = FrameOwner::default();
        let mut a = EndFrameInstance::default();
        assert!(owner.claim(&mut a, "end_arena_frame", "FrameArena"));
        drop(a);
        let mut b = EndFrameInstance::default();
        assert!(owner.claim(&mut b, "end_arena_frame", "FrameArena"));
        assert!(!b.warned);
    }
}

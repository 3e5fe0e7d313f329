//! The expiry ring in bevy: [`FrameRing`] (the resource) and
//! [`end_ring_frame`] (the system that ends its frame).

use std::ops::Deref;

use bevy_ecs::resource::Resource;
use bevy_ecs::system::{Local, ResMut};

use super::owner::{EndFrameInstance, FrameOwner};
use crate::alloc::{ExpiryRing, RingOverflow};

/// The [`ExpiryRing`] as a resource, for data that lives a known number of
/// frames (a decal that fades over 30 frames, a contact kept for the next
/// two). Derefs to the ring, so systems allocate on `Res<FrameRing>`
/// directly, and take [`ExpiryRing::local`] once per batch in parallel
/// queries; [`end_ring_frame`] ends its frame. Handles
/// ([`RingSlice`](crate::RingSlice)) are `'static` and `Copy`: keep them in
/// components, and resolve them with [`get`](ExpiryRing::get) or
/// [`try_get`](ExpiryRing::try_get) (`None` once their last frame ended).
///
/// ```
/// use bevy_ecs::prelude::*;
/// use framemem::RingSlice;
/// use framemem::bevy::{FrameRing, end_ring_frame};
/// use framemem::TypedAlloc;
///
/// #[derive(Component)]
/// struct Fade(RingSlice<f32>);
///
/// fn spawn_fade(mut commands: Commands, ring: Res<FrameRing>) {
///     if ring.frame() == 0 {
///         // Valid through the end of frame 2.
///         commands.spawn(Fade(ring.for_frames(3).handle_slice_copy(&[1.0, 0.5, 0.0])));
///     }
/// }
///
/// fn read_fades(ring: Res<FrameRing>, fades: Query<&Fade>) {
///     for fade in &fades {
///         assert_eq!(ring.try_get(fade.0).is_some(), ring.frame() < 3);
///     }
/// }
///
/// let mut world = World::new();
/// world.insert_resource(FrameRing::new(4));
/// let mut schedule = Schedule::default();
/// schedule.add_systems((spawn_fade, read_fades, end_ring_frame).chain());
/// for _ in 0..5 {
///     schedule.run(&mut world);
///     world.clear_trackers();
/// }
/// assert_eq!(world.resource::<FrameRing>().frame(), 5);
/// ```
#[derive(Resource, Debug)]
pub struct FrameRing {
    ring: ExpiryRing,
    /// The [`end_ring_frame`] instance that ends the frame.
    owner: FrameOwner,
}

impl FrameRing {
    /// A ring of `depth` slots: lifetimes of 1 to `depth` frames; longer
    /// ones fail ([`ExpiryRing::new`]).
    ///
    /// # Panics
    ///
    /// When `depth` is 0.
    #[track_caller]
    pub fn new(depth: usize) -> Self {
        Self::from(ExpiryRing::new(depth))
    }

    /// A ring of `depth` slots that treats lifetimes beyond `depth` frames
    /// as `overflow` says ([`ExpiryRing::with_overflow`]).
    ///
    /// # Panics
    ///
    /// When `depth` is 0.
    #[track_caller]
    pub fn with_overflow(depth: usize, overflow: RingOverflow) -> Self {
        Self::from(ExpiryRing::with_overflow(depth, overflow))
    }

    /// The ring.
    pub fn ring(&self) -> &ExpiryRing {
        &self.ring
    }

    /// Ends the ring's frame ([`ExpiryRing::end_frame`]): the data whose
    /// last frame it was goes. What [`end_ring_frame`] calls.
    pub fn end_frame(&mut self) {
        self.ring.end_frame();
    }
}

impl From<ExpiryRing> for FrameRing {
    fn from(ring: ExpiryRing) -> Self {
        Self {
            ring,
            owner: FrameOwner::default(),
        }
    }
}

impl Deref for FrameRing {
    type Target = ExpiryRing;
    fn deref(&self) -> &ExpiryRing {
        &self.ring
    }
}

/// The ring's end of frame, as a system ([`FrameRing::end_frame`]): run it
/// once a frame, after every system that reads or allocates ring data (in
/// `Last`, in [`FrameMemSystems::EndFrame`](crate::bevy::FrameMemSystems),
/// as the plugin does). Like [`end_arena_frame`](crate::bevy::end_arena_frame),
/// only the first instance that runs ends the frame; a second one does
/// nothing and warns once.
pub fn end_ring_frame(mut ring: ResMut<FrameRing>, mut instance: Local<EndFrameInstance>) {
    let ring = &mut *ring;
    if ring
        .owner
        .claim(&mut instance, "end_ring_frame", "FrameRing")
    {
        ring.end_frame();
    }
}

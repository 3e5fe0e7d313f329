//! What a system set took from the frame arena in a frame, for a set's
//! budget ([`AllocBudget::set`](crate::bevy::AllocBudget::set)): the sum of
//! its systems' figures in [`FrameBySystem`].
//!
//! bevy's schedules know which systems a set holds, nested sets included
//! ([`ScheduleGraph::systems_in_set`]); a system's attribution slot knows
//! where the system's `FrameAlloc` state lives. bevy keeps a system's
//! parameter state inside the boxed system (`FunctionSystem` holds it
//! inline, and the wrappers hold their systems inline), so the schedule
//! system whose bytes contain that address is the slot's. Only addresses
//! are compared; nothing is read through them.
//!
//! Seen: the systems of every schedule in the world's [`Schedules`] that
//! has run, except the one that runs the check (`Last`, for
//! [`check_frame_budgets`](crate::bevy::check_frame_budgets)), which bevy
//! takes out of `Schedules` while it runs. A bare `Schedule` run outside
//! `Schedules` is not seen either.
//!
//! [`ScheduleGraph::systems_in_set`]: bevy_ecs::schedule::ScheduleGraph::systems_in_set

use bevy_ecs::schedule::{InternedSystemSet, Schedules};

use super::attribution::{Attribution, FrameBySystem};

/// The bytes the systems of `set` took in `by_system`'s frame, or `None`
/// when no schedule in `schedules` holds the set (or none has run since it
/// changed).
pub(crate) fn set_bytes(
    set: InternedSystemSet,
    schedules: &Schedules,
    attribution: &Attribution,
    by_system: &FrameBySystem,
) -> Option<u64> {
    let mut found = false;
    let mut bytes = 0;
    for (_, schedule) in schedules.iter() {
        let (Ok(members), Ok(systems)) = (schedule.graph().systems_in_set(set), schedule.systems())
        else {
            continue;
        };
        found = true;
        for (key, system) in systems {
            if !members.contains(&key) {
                continue;
            }
            let system = &**system;
            let start = std::ptr::from_ref(system).cast::<u8>().addr();
            let end = start + size_of_val(system);
            if let Some(id) = attribution.slot_within(start, end) {
                bytes += by_system.systems.get(id as usize).map_or(0, |s| s.bytes);
            }
        }
    }
    found.then_some(bytes)
}

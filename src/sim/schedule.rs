//! The order of one frame, declared here and nowhere else, and the compute
//! threads that run its parallel systems.

use bevy_ecs::schedule::{IntoScheduleConfigs, Schedule};

use crate::sim::memory::FrameMemory;
use crate::sim::phase::PHASES;
use crate::sim::systems::collide::collide;
use crate::sim::systems::lifecycle::{despawn_transients, end_frame, release_payloads};
use crate::sim::systems::motion::{integrate, update_payloads};
use crate::sim::systems::spawn::spawn_transients;

/// One frame's systems for the strategy `M`, in order: one schedule per
/// phase ([`PhaseTimes`](crate::sim::PhaseTimes)'s order), which the
/// simulation runs one after the other and times.
///
/// Chained, so each sees all of the one before: spawn before motion, the
/// payload update before the broadphase reads its reach, and every payload
/// released before its entity goes. The parallelism is inside systems
/// (`par_iter_mut`), not between them, so a schedule per phase loses
/// nothing but a few microseconds of executor start per phase. Broadphase,
/// contacts and resolve are phases of `collide`, because their scratch
/// cannot outlive one system call.
pub fn frame_schedules<M: FrameMemory>() -> [Schedule; PHASES] {
    let mut spawn = Schedule::default();
    spawn.add_systems(spawn_transients::<M>); // emitters spawn N entities with payloads
    let mut simulate = Schedule::default();
    simulate.add_systems(
        (
            integrate,            // par_iter_mut: motion
            update_payloads::<M>, // par_iter_mut: trail -> reach, energy
        )
            .chain(),
    );
    let mut collide_phase = Schedule::default();
    collide_phase.add_systems(collide::<M>); // broadphase; contacts; resolve on targets
    let mut despawn = Schedule::default();
    despawn.add_systems(
        (
            release_payloads::<M>, // pool and slab payloads go back
            despawn_transients,    // every transient entity, one by one
        )
            .chain(),
    );
    let mut end = Schedule::default();
    end.add_systems(end_frame::<M>); // the strategy's end of frame (arena reset)
    [spawn, simulate, collide_phase, despawn, end]
}

/// Starts bevy's compute threads (its global `ComputeTaskPool`, hence the
/// name), `threads` of them or one per core when `None`, and returns how
/// many there are. Call it before building a `Simulation`; once the threads
/// exist, later calls return their number and change nothing.
pub fn init_task_pool(threads: Option<usize>) -> usize {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    bevy_tasks::ComputeTaskPool::get_or_init(|| {
        bevy_tasks::TaskPoolBuilder::new()
            .num_threads(threads)
            .thread_name("framemem compute".to_owned())
            .build()
    })
    .thread_num()
}

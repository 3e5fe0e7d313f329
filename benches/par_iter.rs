//! A bevy `par_iter_mut` over 50,000 entities on 2 compute threads, each
//! entity allocating a 64 B payload (16 `f32`) in a frame arena and keeping
//! its handle; then one reset.
//!
//! `cargo bench --bench par_iter`
//!
//! - `framemem_arena`: `&Arena` per item (one lane lookup per allocation);
//! - `framemem_arena_local`: `for_each_init(|| arena.local(), ...)`, one
//!   lookup per batch;
//! - `heap_vec`: a `Vec<f32>` per entity from the global allocator, for
//!   scale;
//! - `floor`: the same loop writing a payload that needs no allocation
//!   (`None`): bevy's iteration, the closure call and the component write,
//!   which every variant pays. No allocator can take a variant below it;
//! - `inline_array`: the same 16 `f32` written into an array in the
//!   component itself (no allocation, no handle): the loop plus writing the
//!   payload, the floor for any allocator that has to store it.
//!
//! The group `par_iter_50k_2threads_slab` makes and frees a 64 B slab
//! slice per entity (two parallel loops a frame): per item through `&Slab`
//! (`framemem_slab`, a lane lookup per call) and per batch through
//! `for_each_init(|| slab.local(), ...)` (`framemem_slab_local`), whose
//! handle bevy moves through its fold for every item.
//!
//! The group `par_iter_50k_2threads_system` runs the same loop as a bevy
//! system (with `end_arena_frame`) to measure per-system attribution: per
//! item (`*_per_item`) and per batch (`*_local`), through
//! `Res<FrameArena>` (`res_arena_*`: `FrameAlloc` before attribution) and
//! through `FrameAlloc` with attribution off (`frame_alloc_off_*`, the
//! default) and on (`frame_alloc_on_*`).

// criterion_group! and criterion_main! generate public functions without docs.
#![allow(missing_docs)]

use std::time::Duration;

use bevy_ecs::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use framemem::bevy::{FrameAlloc, FrameArena, FrameBySystem, end_arena_frame};
use framemem::{Arena, ArenaSlice, Slab, SlabSlice, TypedAlloc};

const ENTITIES: u32 = 50_000;
const SAMPLES: usize = 16;

#[derive(Component)]
struct Payload(Option<ArenaSlice<f32>>);

#[derive(Component)]
struct HeapPayload(Vec<f32>);

#[derive(Component)]
struct SlabPayload(Option<SlabSlice<f32>>);

#[derive(Component)]
struct InlinePayload([f32; SAMPLES]);

fn par_iter_50k(c: &mut Criterion) {
    framemem_lab::sim::init_task_pool(Some(2));
    let mut g = c.benchmark_group("par_iter_50k_2threads");
    g.throughput(Throughput::Elements(u64::from(ENTITIES)));

    let mut world = World::new();
    world.spawn_batch((0..ENTITIES).map(|_| {
        (
            Payload(None),
            HeapPayload(Vec::new()),
            InlinePayload([0.0; SAMPLES]),
        )
    }));
    let mut payloads = world.query::<&mut Payload>();
    let mut arena = Arena::new();

    g.bench_function("framemem_arena", |b| {
        b.iter(|| {
            payloads.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = Some(arena.handle_slice_fill_with(SAMPLES, |k| k as f32));
            });
            arena.reset();
        })
    });
    g.bench_function("framemem_arena_local", |b| {
        b.iter(|| {
            payloads.par_iter_mut(&mut world).for_each_init(
                || arena.local(),
                |local, mut p| {
                    p.0 = Some(local.handle_slice_fill_with(SAMPLES, |k| k as f32));
                },
            );
            arena.reset();
        })
    });
    g.bench_function("floor", |b| {
        b.iter(|| {
            payloads.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = None;
            });
        })
    });
    let mut inline = world.query::<&mut InlinePayload>();
    g.bench_function("inline_array", |b| {
        b.iter(|| {
            inline.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = std::array::from_fn(|k| k as f32);
            });
        })
    });
    let mut heap = world.query::<&mut HeapPayload>();
    g.bench_function("heap_vec", |b| {
        b.iter(|| {
            heap.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = (0..SAMPLES).map(|k| k as f32).collect();
            });
        })
    });
    g.finish();
}

fn par_iter_50k_slab(c: &mut Criterion) {
    framemem_lab::sim::init_task_pool(Some(2));
    let mut g = c.benchmark_group("par_iter_50k_2threads_slab");
    g.throughput(Throughput::Elements(u64::from(ENTITIES)));
    let mut world = World::new();
    world.spawn_batch((0..ENTITIES).map(|_| SlabPayload(None)));
    let mut payloads = world.query::<&mut SlabPayload>();
    let slab = Slab::new();
    g.bench_function("framemem_slab", |b| {
        b.iter(|| {
            payloads.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = Some(slab.handle_slice_fill_with(SAMPLES, |k| k as f32));
            });
            payloads.par_iter_mut(&mut world).for_each(|mut p| {
                if let Some(slice) = p.0.take() {
                    slab.free_slice(slice);
                }
            });
        })
    });
    g.bench_function("framemem_slab_local", |b| {
        b.iter(|| {
            payloads.par_iter_mut(&mut world).for_each_init(
                || slab.local(),
                |local, mut p| {
                    p.0 = Some(local.handle_slice_fill_with(SAMPLES, |k| k as f32));
                },
            );
            payloads.par_iter_mut(&mut world).for_each_init(
                || slab.local(),
                |local, mut p| {
                    if let Some(slice) = p.0.take() {
                        local.free_slice(slice);
                    }
                },
            );
        })
    });
    g.finish();
}

fn res_arena_per_item(arena: Res<FrameArena>, mut payloads: Query<&mut Payload>) {
    payloads.par_iter_mut().for_each(|mut p| {
        p.0 = Some(arena.handle_slice_fill_with(SAMPLES, |k| k as f32));
    });
}

fn res_arena_local(arena: Res<FrameArena>, mut payloads: Query<&mut Payload>) {
    payloads.par_iter_mut().for_each_init(
        || arena.local(),
        |local, mut p| p.0 = Some(local.handle_slice_fill_with(SAMPLES, |k| k as f32)),
    );
}

fn frame_alloc_per_item(frame: FrameAlloc, mut payloads: Query<&mut Payload>) {
    payloads.par_iter_mut().for_each(|mut p| {
        p.0 = Some(frame.handle_slice_fill_with(SAMPLES, |k| k as f32));
    });
}

fn frame_alloc_local(frame: FrameAlloc, mut payloads: Query<&mut Payload>) {
    payloads.par_iter_mut().for_each_init(
        || frame.local(),
        |local, mut p| p.0 = Some(local.handle_slice_fill_with(SAMPLES, |k| k as f32)),
    );
}

/// The loop as a system, then `end_arena_frame`, in a world of its own.
fn system_bench<M>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    attribution: bool,
    system: impl IntoScheduleConfigs<bevy_ecs::system::ScheduleSystem, M>,
) {
    let mut world = World::new();
    world.spawn_batch((0..ENTITIES).map(|_| Payload(None)));
    let mut arena = FrameArena::new();
    arena.set_attribution(attribution);
    world.insert_resource(arena);
    world.init_resource::<FrameBySystem>();
    let mut schedule = Schedule::default();
    schedule.add_systems((system, end_arena_frame).chain());
    g.bench_function(name, |b| {
        b.iter(|| {
            schedule.run(&mut world);
            world.clear_trackers();
        })
    });
}

fn par_iter_50k_system(c: &mut Criterion) {
    framemem_lab::sim::init_task_pool(Some(2));
    let mut g = c.benchmark_group("par_iter_50k_2threads_system");
    g.throughput(Throughput::Elements(u64::from(ENTITIES)));
    system_bench(&mut g, "res_arena_per_item", false, res_arena_per_item);
    system_bench(
        &mut g,
        "frame_alloc_off_per_item",
        false,
        frame_alloc_per_item,
    );
    system_bench(
        &mut g,
        "frame_alloc_on_per_item",
        true,
        frame_alloc_per_item,
    );
    system_bench(&mut g, "res_arena_local", false, res_arena_local);
    system_bench(&mut g, "frame_alloc_off_local", false, frame_alloc_local);
    system_bench(&mut g, "frame_alloc_on_local", true, frame_alloc_local);
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = par_iter_50k, par_iter_50k_slab, par_iter_50k_system
}
criterion_main!(benches);

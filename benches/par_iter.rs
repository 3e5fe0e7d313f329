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
//!   scale.

// criterion_group! and criterion_main! generate public functions without docs.
#![allow(missing_docs)]

use std::time::Duration;

use bevy_ecs::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use framemem::{Arena, ArenaSlice, TypedAlloc};

const ENTITIES: u32 = 50_000;
const SAMPLES: usize = 16;

#[derive(Component)]
struct Payload(Option<ArenaSlice<f32>>);

#[derive(Component)]
struct HeapPayload(Vec<f32>);

fn par_iter_50k(c: &mut Criterion) {
    framemem_lab::sim::init_task_pool(Some(2));
    let mut g = c.benchmark_group("par_iter_50k_2threads");
    g.throughput(Throughput::Elements(u64::from(ENTITIES)));

    let mut world = World::new();
    world.spawn_batch((0..ENTITIES).map(|_| (Payload(None), HeapPayload(Vec::new()))));
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
    targets = par_iter_50k
}
criterion_main!(benches);

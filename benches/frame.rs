//! One simulated frame of the default scenario, per strategy and entity count.
//!
//! `cargo bench --bench frame` (all), or one strategy:
//! `cargo bench --bench frame -- frame/arena`.
//!
//! Each iteration is one whole frame (spawn N entities with payloads,
//! integrate, payload update, broadphase, contacts, resolve, despawn, end of
//! frame), after 10 warm-up frames so pools are full and arena chunks have
//! settled. Throughput is in entities, so criterion reports time per entity.
//! The process-level comparison, interleaved and with heap-allocation counts,
//! is `framealloc --compare`.

// criterion_group! and criterion_main! generate public functions without docs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use framealloc::sim::{self, Scenario, SimOptions, Simulation, Strategy};

fn frame(c: &mut Criterion) {
    sim::init_task_pool(None);
    let scenario = Scenario::builtin();
    let mut group = c.benchmark_group("frame");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [10_000u64, 50_000] {
        group.throughput(Throughput::Elements(n));
        for strategy in Strategy::ALL {
            let options = SimOptions {
                entities_per_frame: Some(n),
                ..SimOptions::default()
            };
            let mut simulation = Simulation::new(strategy, &scenario, options);
            for _ in 0..10 {
                simulation.step();
            }
            group.bench_function(BenchmarkId::new(strategy.name(), n), |b| {
                b.iter(|| black_box(simulation.step()));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);

//! One simulated frame, per scenario, strategy and entity count.
//!
//! `cargo bench --bench frame` runs everything (a few minutes on 2 cores);
//! one scenario: `cargo bench --bench frame -- swarm`; one strategy of it:
//! `cargo bench --bench frame -- swarm-system/arena`. Add `--features
//! mimalloc` to run the same frames on mimalloc as the global allocator.
//!
//! A group per scenario of `assets/scenarios` (swarm, bullet_hell, debris),
//! named `SCENARIO-GLOBAL` where GLOBAL is the global allocator (`system` or
//! `mimalloc`: the one the `heap` strategy and bevy allocate from), and in
//! each every strategy of `Strategy::ALL` at N = 10k, 50k and 100k entities
//! per frame: framemem's `arena`, `slab` and `pool`, and the references
//! they are held against, `heap`, `mimalloc` (called directly, whatever the
//! global allocator) and `framevec` (the hand-written frame `Vec`).
//!
//! Each iteration is one whole frame (spawn N entities with payloads,
//! integrate, payload update, broadphase, contacts, resolve, despawn, end of
//! frame), after 10 warm-up frames so pools are full and arena chunks have
//! settled. Throughput is in entities, so criterion reports entities per
//! second beside the frame time. The process-level comparison, interleaved
//! and with heap-allocation counts, is `framemem --compare`.

// criterion_group! and criterion_main! generate public functions without docs.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use framemem_lab::sim::{self, EntitiesPerFrame, Scenario, SimOptions, Simulation, Strategy};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The global allocator, in the group names and the first line printed.
const GLOBAL_ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

/// The scenario files, in `assets/scenarios`.
const SCENARIOS: [&str; 3] = ["swarm", "bullet_hell", "debris"];

/// Entities per frame: the sweep.
const ENTITIES: [u64; 3] = [10_000, 50_000, 100_000];

/// Frames run before measuring: pools fill and arena chunks settle.
const WARMUP_FRAMES: usize = 10;

/// 54 benchmarks of 1 to 100 ms frames: 10 samples of one or more frames
/// each (flat sampling, as criterion advises for slow iterations), 0.5 s of
/// warm-up and 1.5 s of measurement apiece, so the whole run takes a few
/// minutes on 2 cores. The spread criterion prints says whether that is
/// enough on a given machine; `--measurement-time` on the command line
/// overrides it.
fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500));
}

fn load(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/scenarios")
        .join(format!("{name}.ron"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn frame(c: &mut Criterion) {
    let threads = sim::init_task_pool(None);
    println!("frame bench: global allocator {GLOBAL_ALLOCATOR}, {threads} compute threads");
    for name in SCENARIOS {
        let scenario = load(name);
        let mut group = c.benchmark_group(format!("{}-{GLOBAL_ALLOCATOR}", scenario.name));
        configure(&mut group);
        for n in ENTITIES {
            group.throughput(Throughput::Elements(n));
            for strategy in Strategy::ALL {
                let options = SimOptions {
                    entities_per_frame: EntitiesPerFrame::new(n).expect("a count in range"),
                    seed: sim::DEFAULT_SEED,
                    attribution: true,
                    huge_pages: false,
                };
                // One world at a time: a 100k debris world holds hundreds
                // of MiB.
                let mut simulation = Simulation::new(strategy, &scenario, options);
                for _ in 0..WARMUP_FRAMES {
                    simulation.step();
                }
                group.bench_function(BenchmarkId::new(strategy.name(), n), |b| {
                    b.iter(|| black_box(simulation.step()));
                });
            }
        }
        group.finish();
    }
}

criterion_group!(benches, frame);
criterion_main!(benches);

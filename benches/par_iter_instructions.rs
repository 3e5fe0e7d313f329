//! The loops of `benches/par_iter.rs` for instruction counts under
//! callgrind: `scripts/callgrind-par-iter.sh` runs
//! `par_iter_instructions VARIANT FRAMES` twice under
//! `valgrind --tool=callgrind`, with `FRAMES` = 0 and = N, and divides the
//! difference by `N * ENTITIES`: instructions per entity (the item, its
//! allocation and its share of the batch's set-up, the task pool's and the
//! reset), with start-up and warm-up subtracted.
//!
//! Without arguments (as `cargo bench` runs it) every variant runs a few
//! frames, a smoke test.

// A bench binary, not a library: nothing to document for users.
#![allow(missing_docs)]

use bevy_ecs::prelude::*;
use framemem::{Arena, ArenaSlice, TypedAlloc};

const ENTITIES: u32 = 50_000;
const SAMPLES: usize = 16;
const WARM_UP_FRAMES: usize = 5;

/// The variants, by their ids in `benches/par_iter.rs`.
/// `floor` writes a payload that needs no allocation: bevy's loop, the
/// closure call and the component write alone, which every variant pays.
/// `inline_array` writes the same 16 `f32` into an array in the component:
/// the floor for any allocator that has to store the payload somewhere.
const VARIANTS: [&str; 5] = [
    "floor",
    "inline_array",
    "framemem_arena",
    "framemem_arena_local",
    "heap_vec",
];

#[derive(Component)]
struct Payload(Option<ArenaSlice<f32>>);

#[derive(Component)]
struct HeapPayload(Vec<f32>);

#[derive(Component)]
struct InlinePayload([f32; SAMPLES]);

fn variant(name: &str, frames: usize) {
    let mut world = World::new();
    world.spawn_batch((0..ENTITIES).map(|_| {
        (
            Payload(None),
            HeapPayload(Vec::new()),
            InlinePayload([0.0; SAMPLES]),
        )
    }));
    let mut payloads = world.query::<&mut Payload>();
    let mut heap = world.query::<&mut HeapPayload>();
    let mut inline = world.query::<&mut InlinePayload>();
    let mut arena = Arena::new();
    for _ in 0..WARM_UP_FRAMES + frames {
        match name {
            "floor" => payloads.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = None;
            }),
            "inline_array" => inline.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = std::array::from_fn(|k| k as f32);
            }),
            "framemem_arena" => {
                payloads.par_iter_mut(&mut world).for_each(|mut p| {
                    p.0 = Some(arena.handle_slice_fill_with(SAMPLES, |k| k as f32));
                });
                arena.reset();
            }
            "framemem_arena_local" => {
                payloads.par_iter_mut(&mut world).for_each_init(
                    || arena.local(),
                    |local, mut p| {
                        p.0 = Some(local.handle_slice_fill_with(SAMPLES, |k| k as f32));
                    },
                );
                arena.reset();
            }
            "heap_vec" => heap.par_iter_mut(&mut world).for_each(|mut p| {
                p.0 = (0..SAMPLES).map(|k| k as f32).collect();
            }),
            _ => panic!("unknown variant {name:?}; one of {VARIANTS:?}"),
        }
    }
}

fn main() {
    framemem_lab::sim::init_task_pool(Some(2));
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`: run every variant briefly.
    match args.as_slice() {
        [name, frames] if !name.starts_with('-') => {
            variant(name, frames.parse().expect("FRAMES: a number"));
        }
        _ => VARIANTS.iter().for_each(|name| variant(name, 1)),
    }
}

//! What per-system attribution costs, in instructions under callgrind:
//! `scripts/callgrind-attribution.sh` runs `attribution PATTERN FRAMES`
//! twice under `valgrind --tool=callgrind`, with `FRAMES` = 0 and = N, and
//! divides the difference by `N * 1000`: instructions per allocation, with
//! the schedule's run, the system's share and the end of frame included.
//!
//! One bevy system on the single-threaded executor allocates 1,000 blocks
//! of 64 B a frame from the `FrameArena`, then `end_arena_frame` ends the
//! frame. Patterns:
//!
//! - `res_arena`, `res_arena_local`: `Res<FrameArena>`, per call and
//!   through `Arena::local`: what `FrameAlloc` was before attribution;
//! - `frame_alloc_off`, `frame_local_off`: `FrameAlloc` per call and
//!   through `local()`, attribution off (the default);
//! - `frame_alloc_on`, `frame_local_on`: the same with attribution on.
//!
//! Without arguments (as `cargo bench` runs it) every pattern runs a few
//! frames, a smoke test.

// A bench binary, not a library: nothing to document for users.
#![allow(missing_docs)]

use std::hint::black_box;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;
use framemem::TypedAlloc;
use framemem::bevy::{FrameAlloc, FrameArena, FrameBySystem, FrameFigures, end_arena_frame};

const FRAME: usize = 1000;
const WARM_UP_FRAMES: usize = 10;

type Object = [u64; 8];

const PATTERNS: [&str; 6] = [
    "res_arena",
    "res_arena_local",
    "frame_alloc_off",
    "frame_local_off",
    "frame_alloc_on",
    "frame_local_on",
];

fn res_arena(arena: Res<FrameArena>) {
    for i in 0..FRAME {
        black_box(arena.alloc_value::<Object>([i as u64; 8]));
    }
}

fn res_arena_local(arena: Res<FrameArena>) {
    let local = arena.local();
    for i in 0..FRAME {
        black_box(local.alloc_value::<Object>([i as u64; 8]));
    }
}

fn frame_alloc(frame: FrameAlloc) {
    for i in 0..FRAME {
        black_box(frame.alloc_value::<Object>([i as u64; 8]));
    }
}

fn frame_local(frame: FrameAlloc) {
    let local = frame.local();
    for i in 0..FRAME {
        black_box(local.alloc_value::<Object>([i as u64; 8]));
    }
}

fn pattern(name: &str, frames: usize) {
    let mut world = World::new();
    let mut arena = FrameArena::new();
    arena.set_attribution(name.ends_with("_on"));
    world.insert_resource(arena);
    world.init_resource::<FrameFigures>();
    world.init_resource::<FrameBySystem>();
    let mut schedule = Schedule::default();
    schedule.set_executor(SingleThreadedExecutor::new());
    match name {
        "res_arena" => schedule.add_systems((res_arena, end_arena_frame).chain()),
        "res_arena_local" => schedule.add_systems((res_arena_local, end_arena_frame).chain()),
        "frame_alloc_off" | "frame_alloc_on" => {
            schedule.add_systems((frame_alloc, end_arena_frame).chain())
        }
        "frame_local_off" | "frame_local_on" => {
            schedule.add_systems((frame_local, end_arena_frame).chain())
        }
        _ => panic!("unknown pattern {name}: one of {PATTERNS:?}"),
    };
    for _ in 0..WARM_UP_FRAMES + frames {
        schedule.run(&mut world);
        world.clear_trackers();
    }
    let figures = world.resource::<FrameFigures>();
    assert_eq!(figures.bytes, FRAME * size_of::<Object>());
    if name.ends_with("_on") {
        let by_system = world.resource::<FrameBySystem>();
        assert_eq!(by_system.systems[0].bytes, figures.bytes as u64);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [name, frames] if !name.starts_with('-') => {
            pattern(name, frames.parse().expect("FRAMES is a number"));
        }
        // `cargo bench` passes `--bench`: a smoke run of every pattern.
        _ => {
            for name in PATTERNS {
                pattern(name, 2);
            }
        }
    }
}

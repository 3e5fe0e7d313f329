//! Defects whose checks need a process of their own (the hardening issue's
//! defects 1, 3 and 5; `tests/defects/main.rs` has the table):
//!
//! - an allocation failure inside `allocator_api2::vec::Vec` ends the process
//!   (`handle_alloc_error`): a shrink that needs memory would abort the whole
//!   run, not fail one test;
//! - which lane ids are free depends on every thread the process has run, so
//!   the lane scenarios start from a process with no other threads.
//!
//! A `harness = false` binary (bumpalo's `tests/try_alloc.rs` pattern): run
//! plainly, it runs every scenario of [`SCENARIOS`] in a child process (this
//! binary with `--scenario NAME`), prints one line each, and fails when any
//! child fails, aborts included, printing that child's output. Arguments that
//! do not start with `-` keep only the scenarios whose names contain them;
//! libtest's flags are ignored. One scenario by hand:
//! `cargo test -p framemem --test fresh_process -- --scenario slab::shrink_across_classes_needs_no_new_memory`.
//!
//! The binary installs [`Refusing`] as its global allocator (see
//! `tests/common/refusing.rs`).

use std::alloc::Layout;
use std::process::{Command, ExitCode};
use std::sync::{Arc, Barrier, mpsc};

use allocator_api2::alloc::Allocator as _;
use allocator_api2::vec::Vec as AVec;
use framemem::{AllocStrategy, Arena, Heap, Pool, Slab};

#[path = "common/refusing.rs"]
mod refusing;
use refusing::{Refusing, without_memory};

#[global_allocator]
static GLOBAL: Refusing = Refusing;

/// Every scenario, by component: its name and its body, which panics when
/// the defect is back. The parent and the child both read this one table.
const SCENARIOS: &[(&str, fn())] = &[
    // The arena
    (
        "arena::vec_shrink_to_fit_on_a_full_limited_arena_needs_no_memory",
        arena_vec_shrink_to_fit_when_full,
    ),
    (
        "arena::shrink_of_a_raw_block_succeeds_when_the_arena_is_full",
        arena_shrink_when_full,
    ),
    (
        "arena::a_limited_arena_reclaims_the_chunk_of_an_exited_thread_at_reset",
        arena_chunk_of_an_exited_thread,
    ),
    // The slab
    ("slab::shrink_of_a_large_block_needs_no_new_memory", || {
        slab_shrink_without_memory(8192, 5000, "large to large")
    }),
    (
        "slab::shrink_from_the_large_path_into_a_class_needs_no_new_memory",
        || slab_shrink_without_memory(8192, 100, "large to a slot"),
    ),
    ("slab::shrink_across_classes_needs_no_new_memory", || {
        slab_shrink_without_memory(1024, 100, "1 KiB slot to a 112 B slot")
    }),
    (
        "slab::reuses_the_free_slots_of_an_exited_thread",
        slab_free_slots_of_an_exited_thread,
    ),
    // The heap
    (
        "heap::shrink_needs_no_new_memory",
        heap_shrink_without_memory,
    ),
    // The pool
    (
        "pool::finds_the_idle_objects_of_an_exited_thread",
        pool_idle_objects_of_an_exited_thread,
    ),
    // The lanes
    (
        "lanes::a_thread_that_found_no_free_lane_gets_one_once_lanes_free_up",
        late_thread_gets_a_lane,
    ),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--scenario") {
        let Some(name) = args.get(at + 1) else {
            eprintln!("--scenario needs a name: one of {:?}", names());
            return ExitCode::from(2);
        };
        return child(name);
    }
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    parent(&filters)
}

fn names() -> Vec<&'static str> {
    SCENARIOS.iter().map(|(name, _)| *name).collect()
}

/// Runs one scenario in this process; a failure is a panic (exit code 101).
fn child(name: &str) -> ExitCode {
    match SCENARIOS.iter().find(|(n, _)| *n == name) {
        Some((_, run)) => {
            run();
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("unknown scenario {name:?}: one of {:?}", names());
            ExitCode::from(2)
        }
    }
}

/// Runs every scenario (or those matching `filters`) in a child each.
fn parent(filters: &[&str]) -> ExitCode {
    let exe = std::env::current_exe().expect("the test binary's path");
    let chosen: Vec<&str> = names()
        .into_iter()
        .filter(|name| filters.is_empty() || filters.iter().any(|f| name.contains(f)))
        .collect();
    println!("\nrunning {} scenarios, one process each", chosen.len());
    let mut failed = Vec::new();
    for name in &chosen {
        let out = Command::new(&exe)
            .args(["--scenario", name])
            .output()
            .expect("re-run the test binary");
        if out.status.success() {
            println!("scenario {name} ... ok");
        } else {
            println!("scenario {name} ... FAILED ({})", out.status);
            println!(
                "--- stderr\n{}\n--- stdout\n{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
            failed.push(*name);
        }
    }
    if failed.is_empty() {
        println!("fresh_process: {} scenarios passed", chosen.len());
        ExitCode::SUCCESS
    } else {
        eprintln!("fresh_process: FAILED: {failed:?}");
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------
// The arena

/// Allocates from `arena` on this thread until not even one byte fits.
fn fill_to_the_brim(arena: &Arena) {
    for size in [4096, 1024, 64, 8, 1] {
        let layout = Layout::from_size_align(size, 1).unwrap();
        while AllocStrategy::alloc(arena, layout).is_ok() {}
    }
}

fn arena_vec_shrink_to_fit_when_full() {
    let arena = Arena::with_limit(64 * 1024);
    let mut v: AVec<u8, &Arena> = AVec::with_capacity_in(4096, &arena);
    v.extend((0..100).map(|i| i as u8));
    fill_to_the_brim(&arena);
    v.shrink_to_fit(); // aborts today: "memory allocation of 100 bytes failed"
    assert!(v.iter().copied().eq((0..100).map(|i| i as u8)));
    assert_eq!(v.capacity(), 100);
}

fn arena_shrink_when_full() {
    let arena = Arena::with_limit(64 * 1024);
    let old = Layout::from_size_align(4096, 8).unwrap();
    let new = Layout::from_size_align(100, 8).unwrap();
    let block = AllocStrategy::alloc(&arena, old).unwrap();
    fill_to_the_brim(&arena);
    // SAFETY: `block` is live, from `&arena`, with `old`; `new` is smaller.
    let shrunk = unsafe { (&arena).shrink(block, old, new) };
    assert!(
        shrunk.is_ok(),
        "shrinking a 4 KiB block to 100 B on a full arena failed: a shrink must not need memory"
    );
}

fn arena_chunk_of_an_exited_thread() {
    claim_a_lane();
    const LIMIT: usize = 1 << 20;
    let mut arena = Arena::with_limit(LIMIT);
    let block = Layout::from_size_align(1024, 8).unwrap();
    let fill = |arena: &Arena| {
        let mut n = 0;
        while AllocStrategy::alloc(arena, block).is_ok() {
            n += 1;
        }
        n
    };
    let helper = std::thread::scope(|s| s.spawn(|| fill(&arena)).join().unwrap());
    arena.reset();
    let main = fill(&arena);
    assert!(
        main * 4 >= helper * 3,
        "after a reset, this thread fitted {main} KiB under a {} KiB limit where an exited \
         thread fitted {helper} KiB: the exited thread's lane still holds its chunk",
        LIMIT / 1024
    );
}

// ---------------------------------------------------------------------------
// The slab

fn slab_shrink_without_memory(old_size: usize, new_size: usize, what: &str) {
    let slab = Slab::new();
    let old = Layout::from_size_align(old_size, 8).unwrap();
    let new = Layout::from_size_align(new_size, 8).unwrap();
    let block = AllocStrategy::alloc(&slab, old).unwrap();
    // SAFETY: a live block of `old_size` bytes.
    unsafe { block.as_ptr().write_bytes(0x5A, old_size) };
    // SAFETY: `block` is live, from `&slab`, with `old`; `new` is smaller.
    let shrunk = without_memory(|| unsafe { (&slab).shrink(block, old, new) });
    let Ok(block) = shrunk else {
        panic!(
            "Slab: shrinking {what} ({old_size} B to {new_size} B) asked the system for new memory"
        );
    };
    // SAFETY: the shrunk block holds `new_size` bytes.
    let bytes = unsafe { std::slice::from_raw_parts(block.cast::<u8>().as_ptr(), new_size) };
    assert!(
        bytes.iter().all(|&b| b == 0x5A),
        "contents lost in the shrink"
    );
    // SAFETY: the shrunk block, with its new layout.
    unsafe { AllocStrategy::free(&slab, block.cast(), new) };
    assert_eq!(slab.stats().bytes_in_use, 0);
}

fn slab_free_slots_of_an_exited_thread() {
    claim_a_lane();
    let slab = Slab::new();
    let layout = Layout::from_size_align(4096, 8).unwrap(); // 16 slots per chunk
    // Joined explicitly, as above: the lane id goes at the thread's exit.
    std::thread::scope(|s| {
        s.spawn(|| {
            let blocks: Vec<_> = (0..16).map(|_| slab.alloc(layout).unwrap()).collect();
            for b in blocks {
                // SAFETY: freed once with its layout.
                unsafe { slab.free(b, layout) };
            }
        })
        .join()
        .unwrap();
    });
    let reserved_before = slab.stats().bytes_reserved;
    let blocks: Vec<_> = (0..16).map(|_| slab.alloc(layout).unwrap()).collect();
    let reserved_after = slab.stats().bytes_reserved;
    for b in blocks {
        // SAFETY: freed once with its layout.
        unsafe { slab.free(b, layout) };
    }
    assert_eq!(
        reserved_after, reserved_before,
        "16 slots free in an exited thread's magazine, yet the slab took a new chunk"
    );
}

// ---------------------------------------------------------------------------
// The heap

fn heap_shrink_without_memory() {
    let heap = Heap::new();
    let old = Layout::from_size_align(8192, 8).unwrap();
    let new = Layout::from_size_align(100, 8).unwrap();
    let block = AllocStrategy::alloc(&heap, old).unwrap();
    // SAFETY: `block` is live, from `&heap`, with `old`; `new` is smaller.
    let shrunk = without_memory(|| unsafe { (&heap).shrink(block, old, new) });
    let Ok(block) = shrunk else {
        panic!("Heap: shrinking 8192 B to 100 B asked the system for new memory");
    };
    // SAFETY: the shrunk block, with its new layout.
    unsafe { AllocStrategy::free(&heap, block.cast(), new) };
}

// ---------------------------------------------------------------------------
// The pool

fn pool_idle_objects_of_an_exited_thread() {
    claim_a_lane();
    let pool: Pool<Vec<u8>> = Pool::new(16);
    // Joined explicitly, so that this checks the reclaim of a lane whose id
    // was released. (Without the join, the id may still be held when the
    // takes below run; the objects are then taken from the idle lane
    // instead: `tests/pool_threads.rs` checks every form.)
    std::thread::scope(|s| {
        s.spawn(|| {
            let taken: Vec<_> = (0..16).map(|_| pool.take()).collect();
            for v in taken {
                pool.put(v);
            }
        })
        .join()
        .unwrap();
    });
    assert_eq!(pool.stats().held, 16);
    let taken: Vec<_> = (0..16).map(|_| pool.take()).collect();
    let after_takes = pool.stats();
    for v in taken {
        pool.put(v);
    }
    let after_returns = pool.stats();
    assert_eq!(
        after_takes.hits, 16,
        "the 16 idle objects of the exited helper were not found: {after_takes:?}"
    );
    assert_eq!(
        (after_takes.misses, after_returns.dropped),
        (16, 0),
        "returns dropped as over capacity while the pool held nothing usable: {after_returns:?}"
    );
}

// ---------------------------------------------------------------------------
// The lanes

/// Lanes per process (`MAX_LANES`, not public): holders for all of them.
const LANES: usize = 64;

fn late_thread_gets_a_lane() {
    claim_a_lane();
    let pool: Pool<Vec<u8>> = Pool::new(64);
    let all_held = Arc::new(Barrier::new(LANES + 1));
    let release = Arc::new(Barrier::new(LANES + 1));
    let holders: Vec<_> = (0..LANES)
        .map(|_| {
            let (all_held, release) = (all_held.clone(), release.clone());
            std::thread::spawn(move || {
                claim_a_lane();
                all_held.wait();
                release.wait();
            })
        })
        .collect();
    all_held.wait(); // every lane id is taken now
    let (to_main, from_late) = mpsc::channel::<&str>();
    let (to_late, from_main) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            // No lane is free: this object goes back through the fallback,
            // onto the shared list, where the main thread finds it.
            drop(pool.get());
            to_main.send("returned on the fallback").unwrap();
            from_main.recv().unwrap(); // the lanes are free again
            // Give a fix that retries only now and then its chances.
            for _ in 0..1000 {
                drop(pool.get());
            }
            // A handle locks this thread's lane (if it has one) while the
            // main thread checks, so that the main thread cannot take the
            // object from it, as it would from an idle lane.
            let lane_locked = pool.local();
            to_main.send("returned after the lanes freed up").unwrap();
            from_main.recv().unwrap(); // stay alive until checked
            drop(lane_locked);
        });
        from_late.recv().unwrap();
        let before = pool.stats();
        drop(pool.take()); // kept, not returned
        let first = pool.stats();
        assert_eq!(
            first.hits,
            before.hits + 1,
            "the test's precondition: the late thread was on the fallback (its object on the \
             shared list) while all lanes were held: {first:?}"
        );
        release.wait();
        for h in holders {
            h.join().unwrap();
        }
        to_late.send(()).unwrap();
        from_late.recv().unwrap();
        // The late thread's own gets are hits either way (from its lane, or
        // from the shared list): compare around this thread's take only.
        let before_second = pool.stats();
        drop(pool.take());
        let second = pool.stats();
        to_late.send(()).unwrap();
        assert_eq!(
            second.hits, before_second.hits,
            "the late thread still returns its objects to the shared list (the locked \
             fallback) after 64 lanes freed up: {second:?}"
        );
    });
}

/// Makes the calling thread claim a lane id (a first use of any strategy).
/// Makes the calling thread claim a lane id (a first use of any strategy).
fn claim_a_lane() {
    let heap = Heap::new();
    let block = AllocStrategy::alloc(&heap, Layout::new::<u64>()).unwrap();
    // SAFETY: freed once with its layout.
    unsafe { AllocStrategy::free(&heap, block, Layout::new::<u64>()) };
}

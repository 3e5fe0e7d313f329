//! One test per defect of the hardening issue: each fails on the code the
//! issue was filed against and passes once that defect is fixed. Public API
//! only.
//!
//! | # | defect | tests |
//! | --- | --- | --- |
//! | 1 | a shrink needs memory (`allocator_api2` defaults); a resize inside one slab class moves | `shrink_*`, `grow_within_a_slab_class_*` |
//! | 2 | stats read counters at different moments | `*_stats_are_coherent_*` |
//! | 3 | resources stranded in dead threads' lanes | `*_of_an_exited_thread_*` |
//! | 4 | panics in user code lose pool capacity | `pool_keeps_its_capacity_after_a_panicking_*` |
//! | 5 | a thread past the 64 lanes never gets one | `a_thread_that_found_no_free_lane_gets_one_once_lanes_free_up` |
//! | 6 | release builds trust the caller of `Slab::free` | `slab_free_*_panics_in_every_build` |
//! | 7 | counts that drift | `counting_allocator_*`, `zero_size_shrink_*` |
//!
//! On the code of the issue every test fails except two kinds, kept as guards:
//! `pool_keeps_its_capacity_after_a_panicking_reset_hook` (no capacity is lost
//! there today), and the `slab_free_*_panics_in_every_build` tests in debug
//! builds (where the slab's debug checks already panic; run them with
//! `--release`).
//!
//! Scenarios that abort the process today (an allocation failure inside
//! `allocator_api2::vec::Vec` calls `handle_alloc_error`), or that depend on
//! which lane ids are free, run in a child process: this test binary again,
//! filtered to `child` with `FRAMEMEM_DEFECT_CHILD` naming the scenario, as
//! `tests/asan_poison.rs` does. The parent asserts that the child exited
//! normally and prints its stderr otherwise, so an abort is a test failure,
//! not the end of the run.
//!
//! The binary installs [`Refusing`] as its global allocator: it forwards to
//! `System`, except that inside [`without_memory`] it refuses every request
//! that needs new memory on the calling thread. That is how "a shrink must
//! never need memory" is checked for the strategies that have no limit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use allocator_api2::alloc::Allocator as _;
use allocator_api2::vec::Vec as AVec;
use framemem::{AllocStrategy, Arena, CountingAllocator, Heap, Pool, Slab};

// ---------------------------------------------------------------------------
// The refusing global allocator

thread_local! {
    /// Set by `without_memory`: refuse new memory on this thread.
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

fn refusing() -> bool {
    REFUSE.try_with(Cell::get).unwrap_or(false)
}

/// `System`, except that it returns null for any request that needs new
/// memory on a thread inside [`without_memory`]. Shrinking `realloc`s pass:
/// giving memory back is not needing it.
struct Refusing;

// SAFETY: forwards to `System` with the caller's arguments, or returns null,
// which `GlobalAlloc` allows for `alloc`, `alloc_zeroed` and `realloc`.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refusing() && new_size > layout.size() {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Refusing = Refusing;

/// Runs `f` with every request for new memory on this thread refused.
/// `f` must not panic (the panic message itself needs memory): compute,
/// return, and assert outside.
fn without_memory<R>(f: impl FnOnce() -> R) -> R {
    REFUSE.set(true);
    let result = f();
    REFUSE.set(false);
    result
}

// ---------------------------------------------------------------------------
// Child processes

const CHILD: &str = "FRAMEMEM_DEFECT_CHILD";

/// Not a test of its own: the body of each child process (does nothing
/// unless `FRAMEMEM_DEFECT_CHILD` names a scenario).
#[test]
fn child() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    match scenario.as_str() {
        "arena_vec_shrink_to_fit_when_full" => arena_vec_shrink_to_fit_when_full(),
        "arena_shrink_when_full" => arena_shrink_when_full(),
        "heap_shrink_without_memory" => heap_shrink_without_memory(),
        "slab_shrink_large_to_large_without_memory" => {
            slab_shrink_without_memory(8192, 5000, "large to large")
        }
        "slab_shrink_large_to_small_without_memory" => {
            slab_shrink_without_memory(8192, 100, "large to a slot")
        }
        "slab_shrink_across_classes_without_memory" => {
            slab_shrink_without_memory(1024, 100, "1 KiB slot to a 112 B slot")
        }
        "pool_idle_objects_of_an_exited_thread" => pool_idle_objects_of_an_exited_thread(),
        "slab_free_slots_of_an_exited_thread" => slab_free_slots_of_an_exited_thread(),
        "arena_chunk_of_an_exited_thread" => arena_chunk_of_an_exited_thread(),
        "late_thread_gets_a_lane" => late_thread_gets_a_lane(),
        other => panic!("unknown child scenario {other:?}"),
    }
}

/// Runs `scenario` in a child process and fails, with the child's output,
/// unless it exits normally.
#[track_caller]
fn assert_child_ok(scenario: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child scenario {scenario:?} failed ({}):\n--- stderr\n{}\n--- stdout\n{}",
        out.status,
        stderr.trim(),
        stdout.trim()
    );
}

// ---------------------------------------------------------------------------
// 1. A shrink must never need memory.

/// Allocates from `arena` on this thread until not even one byte fits.
fn fill_to_the_brim(arena: &Arena) {
    for size in [4096, 1024, 64, 8, 1] {
        let layout = Layout::from_size_align(size, 1).unwrap();
        while arena.alloc(layout).is_ok() {}
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
    let block = arena.alloc(old).unwrap();
    fill_to_the_brim(&arena);
    // SAFETY: `block` is live, from `&arena`, with `old`; `new` is smaller.
    let shrunk = unsafe { (&arena).shrink(block, old, new) };
    assert!(
        shrunk.is_ok(),
        "shrinking a 4 KiB block to 100 B on a full arena failed: a shrink must not need memory"
    );
}

fn heap_shrink_without_memory() {
    let heap = Heap::new();
    let old = Layout::from_size_align(8192, 8).unwrap();
    let new = Layout::from_size_align(100, 8).unwrap();
    let block = heap.alloc(old).unwrap();
    // SAFETY: `block` is live, from `&heap`, with `old`; `new` is smaller.
    let shrunk = without_memory(|| unsafe { (&heap).shrink(block, old, new) });
    let Ok(block) = shrunk else {
        panic!("Heap: shrinking 8192 B to 100 B asked the system for new memory");
    };
    // SAFETY: the shrunk block, with its new layout.
    unsafe { heap.free(block.cast(), new) };
}

fn slab_shrink_without_memory(old_size: usize, new_size: usize, what: &str) {
    let slab = Slab::new();
    let old = Layout::from_size_align(old_size, 8).unwrap();
    let new = Layout::from_size_align(new_size, 8).unwrap();
    let block = slab.alloc(old).unwrap();
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
    unsafe { slab.free(block.cast(), new) };
    assert_eq!(slab.stats().bytes_in_use, 0);
}

#[test]
fn shrink_on_a_full_limited_arena_returns_memory_without_allocating() {
    assert_child_ok("arena_vec_shrink_to_fit_when_full");
}

#[test]
fn shrink_of_a_raw_arena_block_succeeds_when_the_arena_is_full() {
    assert_child_ok("arena_shrink_when_full");
}

#[test]
fn shrink_on_the_heap_needs_no_new_memory() {
    assert_child_ok("heap_shrink_without_memory");
}

#[test]
fn shrink_of_a_large_slab_block_needs_no_new_memory() {
    assert_child_ok("slab_shrink_large_to_large_without_memory");
}

#[test]
fn shrink_from_the_large_path_into_a_slab_class_needs_no_new_memory() {
    assert_child_ok("slab_shrink_large_to_small_without_memory");
}

#[test]
fn shrink_across_slab_classes_needs_no_new_memory() {
    assert_child_ok("slab_shrink_across_classes_without_memory");
}

#[test]
fn shrink_within_a_slab_class_keeps_the_block_in_place() {
    // 40 B and 48 B are both served by the 48 B class: nothing to move.
    let slab = Slab::new();
    let old = Layout::from_size_align(48, 8).unwrap();
    let new = Layout::from_size_align(40, 8).unwrap();
    let block = slab.alloc(old).unwrap();
    // SAFETY: live block, its layout, a smaller one.
    let shrunk = unsafe { (&slab).shrink(block, old, new) }.unwrap();
    let moved = shrunk.cast::<u8>() != block;
    // SAFETY: the shrunk block, with its new layout.
    unsafe { slab.free(shrunk.cast(), new) };
    assert!(
        !moved,
        "a shrink inside one size class moved the block (a new slot and a copy)"
    );
}

#[test]
fn grow_within_a_slab_class_keeps_the_block_in_place() {
    // 17 B and 32 B are both served by the 32 B class.
    let slab = Slab::new();
    let old = Layout::from_size_align(17, 1).unwrap();
    let new = Layout::from_size_align(32, 1).unwrap();
    let block = slab.alloc(old).unwrap();
    // SAFETY: live block, its layout, a larger one.
    let grown = unsafe { (&slab).grow(block, old, new) }.unwrap();
    let moved = grown.cast::<u8>() != block;
    // SAFETY: the grown block, with its new layout.
    unsafe { slab.free(grown.cast(), new) };
    assert!(
        !moved,
        "a growth inside one size class moved the block (a new slot and a copy)"
    );
}

// ---------------------------------------------------------------------------
// 2. Every figure of every strategy's stats is a coherent snapshot.

/// How long each coherence test hammers before it gives up looking.
const RACE_FOR: Duration = Duration::from_secs(6);

#[test]
fn pool_stats_are_coherent_while_another_thread_uses_the_pool() {
    let pool: Pool<Vec<u8>> = Pool::new(16);
    let stop = AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        // Two workers, so that the sampling thread is also preempted inside
        // `stats` (this machine may have one free core, or none).
        for _ in 0..2 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    drop(pool.get());
                }
            });
        }
        let deadline = Instant::now() + RACE_FOR;
        let mut bad = None;
        while bad.is_none() && Instant::now() < deadline {
            // Debug builds may panic with an overflow inside `stats`.
            match catch_unwind(AssertUnwindSafe(|| pool.stats())) {
                // Every object returned was taken first (nothing is `put`
                // from outside), and the pool holds at most `capacity`.
                Ok(st) if st.held > st.capacity || st.returns > st.hits + st.misses => {
                    bad = Some(format!("{st:?}"));
                }
                Ok(_) => {}
                Err(e) => bad = Some(format!("stats() panicked: {}", panic_message(&*e))),
            }
        }
        stop.store(true, Ordering::Relaxed);
        bad
    });
    assert!(seen.is_none(), "incoherent pool stats: {}", seen.unwrap());
}

/// Producers allocate and send, a consumer frees, the test thread samples
/// `stats` all along: `frees` can never exceed `allocations`, nor
/// `bytes_in_use` exceed `bytes_reserved` or `peak_bytes_in_use`.
fn stats_stay_coherent_under_cross_thread_frees<A: AllocStrategy + Sync>(
    alloc: &A,
    rounds: usize,
) -> Option<String> {
    struct Sent(NonNull<u8>, Layout);
    // SAFETY: the block is owned by whoever holds it.
    unsafe impl Send for Sent {}
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Sent>(1024);
        for t in 0..2 {
            let tx = tx.clone();
            let stop = &stop;
            s.spawn(move || {
                // Small blocks, and `rounds` bounded for the arena, which keeps
                // every block until a reset (2 x 500,000 x 72 B at most).
                for i in (t..).step_by(2).take(rounds) {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let layout = Layout::from_size_align(8 + (i * 8) % 64, 8).unwrap();
                    let ptr = alloc.alloc(layout).unwrap();
                    if tx.send(Sent(ptr, layout)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        s.spawn(move || {
            for Sent(ptr, layout) in rx {
                // SAFETY: a live block with its layout, freed once.
                unsafe { alloc.free(ptr, layout) };
            }
        });
        let deadline = Instant::now() + RACE_FOR;
        let mut bad = None;
        while bad.is_none() && Instant::now() < deadline {
            let st = alloc.stats();
            if st.frees > st.allocations
                || st.bytes_in_use > st.bytes_reserved
                || st.bytes_in_use > st.peak_bytes_in_use
            {
                bad = Some(format!("{st:?}"));
            }
        }
        stop.store(true, Ordering::Relaxed);
        bad
    })
}

#[test]
fn slab_stats_are_coherent_while_other_threads_allocate_and_free() {
    let seen = stats_stay_coherent_under_cross_thread_frees(&Slab::new(), usize::MAX);
    assert!(seen.is_none(), "incoherent slab stats: {}", seen.unwrap());
}

#[test]
fn heap_stats_are_coherent_while_other_threads_allocate_and_free() {
    let seen = stats_stay_coherent_under_cross_thread_frees(&Heap::new(), usize::MAX);
    assert!(seen.is_none(), "incoherent heap stats: {}", seen.unwrap());
}

#[test]
fn arena_stats_are_coherent_while_other_threads_allocate_and_free() {
    let seen = stats_stay_coherent_under_cross_thread_frees(&Arena::new(), 500_000);
    assert!(seen.is_none(), "incoherent arena stats: {}", seen.unwrap());
}

// ---------------------------------------------------------------------------
// 3. Nothing stays stranded in a dead thread's lane.

/// Makes the calling thread claim a lane id (a first use of any strategy).
fn claim_a_lane() {
    let heap = Heap::new();
    let block = heap.alloc(Layout::new::<u64>()).unwrap();
    // SAFETY: freed once with its layout.
    unsafe { heap.free(block, Layout::new::<u64>()) };
}

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

fn arena_chunk_of_an_exited_thread() {
    claim_a_lane();
    const LIMIT: usize = 1 << 20;
    let mut arena = Arena::with_limit(LIMIT);
    let block = Layout::from_size_align(1024, 8).unwrap();
    let fill = |arena: &Arena| {
        let mut n = 0;
        while arena.alloc(block).is_ok() {
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

#[test]
fn pool_finds_the_idle_objects_of_an_exited_thread() {
    assert_child_ok("pool_idle_objects_of_an_exited_thread");
}

#[test]
fn slab_reuses_the_free_slots_of_an_exited_thread() {
    assert_child_ok("slab_free_slots_of_an_exited_thread");
}

#[test]
fn limited_arena_reclaims_the_chunk_of_an_exited_thread_at_reset() {
    assert_child_ok("arena_chunk_of_an_exited_thread");
}

// ---------------------------------------------------------------------------
// 4. Panics in user code leave the pool consistent.

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string panic>".into())
}

#[test]
fn pool_keeps_its_capacity_after_a_panicking_create_in_prefill() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let pool = Pool::with(
        8,
        move || {
            if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                panic!("create failed (deliberate)");
            }
            Vec::<u8>::new()
        },
        |v: &mut Vec<u8>| v.clear(),
    );
    assert!(catch_unwind(AssertUnwindSafe(|| pool.prefill(8))).is_err());
    drop(pool.get());
    let st = pool.stats();
    assert_eq!(
        (st.held, st.dropped),
        (1, 0),
        "after a panicking create in prefill the pool keeps nothing: {st:?}"
    );
    // The whole capacity is still there.
    let loans: Vec<_> = (0..8).map(|_| pool.get()).collect();
    drop(loans);
    assert_eq!(pool.stats().held, 8, "{:?}", pool.stats());
}

#[test]
fn pool_keeps_its_capacity_after_a_panicking_reset_hook() {
    let panic_next = Arc::new(AtomicBool::new(false));
    let flag = panic_next.clone();
    let pool = Pool::with(4, Vec::<u8>::new, move |v: &mut Vec<u8>| {
        if flag.swap(false, Ordering::Relaxed) {
            panic!("reset hook failed (deliberate)");
        }
        v.clear();
    });
    panic_next.store(true, Ordering::Relaxed);
    assert!(catch_unwind(AssertUnwindSafe(|| drop(pool.get()))).is_err());
    let loans: Vec<_> = (0..4).map(|_| pool.get()).collect();
    drop(loans);
    let st = pool.stats();
    assert_eq!(
        (st.held, st.dropped),
        (4, 0),
        "after a panicking hook: {st:?}"
    );
}

/// Panics in `drop` when `BOMB_ARMED` is set (once: it disarms itself, so a
/// second panic during the unwind cannot abort).
struct Bomb(#[allow(dead_code)] u32);
static BOMB_ARMED: AtomicBool = AtomicBool::new(false);
impl Drop for Bomb {
    fn drop(&mut self) {
        if BOMB_ARMED.swap(false, Ordering::Relaxed) {
            panic!("T::drop failed (deliberate)");
        }
    }
}

#[test]
fn pool_keeps_its_capacity_after_a_panicking_drop_in_clear() {
    let mut pool = Pool::with(8, || Bomb(0), |_: &mut Bomb| {});
    // Idle objects both in this thread's lane and on the shared list.
    let loans: Vec<_> = (0..4).map(|_| pool.get()).collect();
    drop(loans);
    pool.prefill(4);
    assert_eq!(pool.stats().held, 8);
    BOMB_ARMED.store(true, Ordering::Relaxed);
    assert!(catch_unwind(AssertUnwindSafe(|| pool.reset())).is_err());
    BOMB_ARMED.store(false, Ordering::Relaxed);
    let after_clear = pool.stats();
    let loans: Vec<_> = (0..8).map(|_| pool.get()).collect();
    drop(loans);
    let st = pool.stats();
    assert!(
        after_clear.held <= 8,
        "held after the panicking clear: {after_clear:?}"
    );
    assert_eq!(
        (st.held, st.dropped),
        (8, 0),
        "capacity lost after a panicking T::drop in clear: {st:?}"
    );
}

// ---------------------------------------------------------------------------
// 5. A thread past the 64 lanes gets one once lanes free up.

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

#[test]
fn a_thread_that_found_no_free_lane_gets_one_once_lanes_free_up() {
    assert_child_ok("late_thread_gets_a_lane");
}

// ---------------------------------------------------------------------------
// 6. `Slab::free` misuse is caught in release builds too.
//
// Both calls below break `free`'s safety contract on purpose: the point is
// that the slab detects it and panics instead of corrupting a free list.

#[test]
#[should_panic(expected = "Slab::free")]
fn slab_free_of_a_foreign_pointer_panics_in_every_build() {
    let owner = Slab::new();
    let other = Slab::new();
    let layout = Layout::from_size_align(64, 8).unwrap();
    let _warm = other.alloc(layout).unwrap(); // `other` has a chunk of that class
    let block = owner.alloc(layout).unwrap();
    // SAFETY: none: a deliberate free on the wrong slab, which must panic.
    unsafe { other.free(block, layout) };
}

#[test]
#[should_panic(expected = "Slab::free")]
fn slab_free_with_a_layout_of_another_class_panics_in_every_build() {
    let slab = Slab::new();
    let made = Layout::from_size_align(48, 8).unwrap();
    let wrong = Layout::from_size_align(4096, 8).unwrap();
    let _warm = slab.alloc(wrong).unwrap(); // a 4 KiB chunk exists too
    let block = slab.alloc(made).unwrap();
    // SAFETY: none: a deliberate free with the wrong layout, which must panic.
    unsafe { slab.free(block, wrong) };
}

#[test]
#[should_panic(expected = "Slab::free")]
fn slab_free_of_a_slot_with_a_large_layout_panics_in_every_build() {
    let slab = Slab::new();
    let made = Layout::from_size_align(64, 8).unwrap();
    let wrong = Layout::from_size_align(8192, 8).unwrap();
    let block = slab.alloc(made).unwrap();
    // SAFETY: none: a deliberate free with the wrong layout, which must panic.
    unsafe { slab.free(block, wrong) };
}

// ---------------------------------------------------------------------------
// 7. Counts that do not drift.

/// A `GlobalAlloc` that refuses every request.
struct Empty;

// SAFETY: returning null is always allowed; nothing is ever handed out, so
// `dealloc` is never legitimately called.
unsafe impl GlobalAlloc for Empty {
    unsafe fn alloc(&self, _: Layout) -> *mut u8 {
        std::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    unsafe fn realloc(&self, _: *mut u8, _: Layout, _: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
}

#[test]
fn counting_allocator_does_not_count_failed_allocations() {
    let counting = CountingAllocator::new(Empty);
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: a non-zero layout; nothing is handed out, so nothing to free.
    let (a, z) = unsafe { (counting.alloc(layout), counting.alloc_zeroed(layout)) };
    assert!(a.is_null() && z.is_null());
    let c = counting.snapshot();
    assert_eq!(
        (c.allocations, c.bytes_allocated),
        (0, 0),
        "failed allocations counted: {c:?}"
    );
}

#[test]
fn counting_allocator_does_not_count_failed_reallocations() {
    let counting = CountingAllocator::new(Empty);
    let layout = Layout::from_size_align(8, 8).unwrap();
    let mut word = 0u64;
    // SAFETY: `Empty::realloc` never touches the pointer; the call fails.
    let p = unsafe { counting.realloc((&raw mut word).cast(), layout, 4096) };
    assert!(p.is_null());
    let c = counting.snapshot();
    assert_eq!(
        (c.reallocations, c.bytes_allocated),
        (0, 0),
        "a failed realloc counted: {c:?}"
    );
}

/// An empty `Vec` shrunk to fit on `alloc`, then dropped: every allocation
/// the strategy counted must have its free.
fn zero_size_shrink_balances<A>(alloc: &A) -> framemem::Stats
where
    A: AllocStrategy,
    for<'a> &'a A: allocator_api2::alloc::Allocator,
{
    let mut v: AVec<u32, &A> = AVec::with_capacity_in(4, alloc);
    v.push(1);
    v.clear();
    v.shrink_to_fit();
    drop(v);
    alloc.stats()
}

#[test]
fn zero_size_shrink_keeps_slab_allocation_and_free_counts_equal() {
    let st = zero_size_shrink_balances(&Slab::new());
    assert_eq!(st.allocations, st.frees, "{st:?}");
}

#[test]
fn zero_size_shrink_keeps_heap_allocation_and_free_counts_equal() {
    let st = zero_size_shrink_balances(&Heap::new());
    assert_eq!(st.allocations, st.frees, "{st:?}");
}

#[test]
fn zero_size_shrink_keeps_arena_allocation_and_free_counts_equal() {
    let st = zero_size_shrink_balances(&Arena::new());
    assert_eq!(st.allocations, st.frees, "{st:?}");
}

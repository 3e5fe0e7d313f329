//! `Pool<T>`: take, put, guards, prefill, clear, against an exact model of
//! its counters. The pool is exact as long as one thread at a time uses it:
//! a take hits exactly when an object is idle, a return is dropped exactly
//! when `capacity` objects are idle, whichever thread (now exited) returned
//! or took the others.
//!
//! Also the defects `framemem/tests/defects/pool.rs` pins, now that they are
//! fixed: a panicking `create` or reset hook (defect 4) costs the pool no
//! capacity (the model follows the pool's own counts over the panicking call,
//! then must hold exactly again); objects a thread returned before it
//! exited are found by the next take (defects 2 and 3).

#![no_main]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arbitrary::Arbitrary;
use framemem::{Pool, PoolStats};
use framemem_fuzz::catch_silently;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    /// `take`: the object is kept out of the pool.
    Take,
    /// `put` a kept object back (dirty: the hook must clean it).
    Put {
        which: u8,
    },
    /// `put` an object the pool never made.
    PutForeign,
    /// A guard, used and dropped.
    Get {
        fill: u8,
    },
    /// Several guards at once, dropped in reverse.
    GetMany {
        n: u8,
    },
    /// Drops a kept object without returning it.
    Forget {
        which: u8,
    },
    Prefill {
        n: u8,
    },
    Clear,
    Stats,
    /// `put` a kept object back on a thread that then exits.
    PutElsewhere {
        which: u8,
    },
    /// `take` on a thread that then exits; the object is kept here.
    TakeElsewhere,
    /// The next `create` panics: a `take` (a miss panics, a hit does not).
    TakePanickingCreate,
    /// The next reset hook panics: a `put` of a kept object.
    PutPanickingHook {
        which: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u8,
    ops: Vec<Op>,
}

/// The model: what the pool's stats must say.
#[derive(Debug, Default)]
struct Model {
    idle: usize,
    hits: u64,
    misses: u64,
    returns: u64,
    dropped: u64,
}

impl Model {
    fn take(&mut self) {
        if self.idle > 0 {
            self.idle -= 1;
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    fn put(&mut self, capacity: usize) {
        self.returns += 1;
        if self.idle < capacity {
            self.idle += 1;
        } else {
            self.dropped += 1;
        }
    }
}

/// After a deliberate panic inside the pool: takes its counts `s`
/// as the model's, checking first that they are ones the call could leave
/// (counts only grow, and no more idle objects than the capacity); the
/// model must then hold exactly again, so no capacity may have been lost.
fn follow(model: &mut Model, s: PoolStats, capacity: usize) {
    assert!(s.held <= capacity, "{s:?}");
    assert!(
        s.hits >= model.hits
            && s.misses >= model.misses
            && s.returns >= model.returns
            && s.dropped >= model.dropped,
        "counts went back: {s:?} vs {model:?}"
    );
    *model = Model {
        idle: s.held,
        hits: s.hits,
        misses: s.misses,
        returns: s.returns,
        dropped: s.dropped,
    };
}

fuzz_target!(|input: Input| {
    let capacity = usize::from(input.capacity);
    let created = Arc::new(AtomicUsize::new(0));
    let counter = created.clone();
    let (panic_create, panic_hook) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let (create_flag, hook_flag) = (panic_create.clone(), panic_hook.clone());
    let mut pool = Pool::with(
        capacity,
        move || {
            if create_flag.swap(false, Ordering::Relaxed) {
                panic!("create failed (deliberate)");
            }
            counter.fetch_add(1, Ordering::Relaxed);
            Vec::<u8>::new()
        },
        move |v: &mut Vec<u8>| {
            if hook_flag.swap(false, Ordering::Relaxed) {
                panic!("reset hook failed (deliberate)");
            }
            v.clear()
        },
    );
    let mut model = Model::default();
    let mut prefilled = 0usize;
    // Misses whose `create` panicked: counted, but no object was made.
    let mut unmade = 0usize;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for op in input.ops {
        match op {
            Op::Take => {
                let v = pool.take();
                assert!(v.is_empty(), "a recycled object came back dirty");
                model.take();
                kept.push(v);
            }
            Op::Put { which } => {
                if !kept.is_empty() {
                    let mut v = kept.swap_remove(which as usize % kept.len());
                    v.extend_from_slice(b"dirty");
                    pool.put(v);
                    model.put(capacity);
                }
            }
            Op::PutForeign => {
                pool.put(vec![1, 2, 3]);
                model.put(capacity);
            }
            Op::Get { fill } => {
                let mut g = pool.get();
                assert!(g.is_empty(), "a recycled object came back dirty");
                g.resize(usize::from(fill), fill);
                model.take();
                drop(g);
                model.put(capacity);
            }
            Op::GetMany { n } => {
                let guards: Vec<_> = (0..n % 32)
                    .map(|i| {
                        let mut g = pool.get();
                        assert!(g.is_empty());
                        g.push(i);
                        model.take();
                        g
                    })
                    .collect();
                for g in guards.into_iter().rev() {
                    drop(g);
                    model.put(capacity);
                }
            }
            Op::Forget { which } => {
                if !kept.is_empty() {
                    kept.swap_remove(which as usize % kept.len());
                }
            }
            Op::Prefill { n } => {
                let made = pool.prefill(usize::from(n));
                assert!(
                    made <= usize::from(n) && made <= capacity - model.idle,
                    "prefill({n}) made {made} with {} of {capacity} idle",
                    model.idle
                );
                model.idle += made;
                prefilled += made;
            }
            Op::Clear => {
                pool.reset();
                model.idle = 0;
            }
            Op::Stats => {}
            Op::PutElsewhere { which } => {
                if !kept.is_empty() {
                    let mut v = kept.swap_remove(which as usize % kept.len());
                    v.extend_from_slice(b"dirty");
                    let pool = &pool;
                    // Joined (not left to the scope): the thread's exit, its
                    // lane's release included, is over before the next op.
                    std::thread::scope(|s| s.spawn(move || pool.put(v)).join().unwrap());
                    model.put(capacity);
                }
            }
            Op::TakeElsewhere => {
                let pool = &pool;
                let v = std::thread::scope(|s| s.spawn(move || pool.take()).join().unwrap());
                assert!(v.is_empty(), "a recycled object came back dirty");
                model.take();
                kept.push(v);
            }
            Op::TakePanickingCreate => {
                panic_create.store(true, Ordering::Relaxed);
                let taken = catch_silently(|| pool.take());
                let fired = !panic_create.swap(false, Ordering::Relaxed);
                match taken {
                    Ok(v) => {
                        assert!(!fired, "create panicked, yet take returned");
                        assert!(v.is_empty(), "a recycled object came back dirty");
                        model.take();
                        kept.push(v);
                    }
                    Err(_) => {
                        assert!(fired, "take panicked without a panicking create");
                        assert_eq!(model.idle, 0, "a take with idle objects called create");
                        follow(&mut model, pool.stats(), capacity);
                        unmade =
                            model.misses as usize + prefilled - created.load(Ordering::Relaxed);
                    }
                }
            }
            Op::PutPanickingHook { which } => {
                if !kept.is_empty() {
                    let mut v = kept.swap_remove(which as usize % kept.len());
                    v.extend_from_slice(b"dirty");
                    panic_hook.store(true, Ordering::Relaxed);
                    let put = catch_silently(|| pool.put(v));
                    let fired = !panic_hook.swap(false, Ordering::Relaxed);
                    if put.is_ok() {
                        // The hook runs only on an object the pool keeps.
                        assert!(!fired, "the hook panicked, yet put returned");
                        model.put(capacity);
                    } else {
                        assert!(fired, "put panicked without a panicking hook");
                        follow(&mut model, pool.stats(), capacity);
                    }
                }
            }
        }
        let s = pool.stats();
        assert_eq!(s.capacity, capacity);
        assert_eq!(
            (s.held, s.hits, s.misses, s.returns, s.dropped),
            (
                model.idle,
                model.hits,
                model.misses,
                model.returns,
                model.dropped
            ),
            "pool {s:?} vs model {model:?}"
        );
        assert_eq!(
            created.load(Ordering::Relaxed) + unmade,
            model.misses as usize + prefilled,
            "objects made"
        );
    }
});

//! Property tests for `Pool<T>` against a model, and the guarantee that a
//! `Pooled<T>` goes back to its pool on every path out of a scope.
//!
//! The model is the set of idle object ids. A take must hand out an idle
//! object when there is one (cleaned by the hook) and create one otherwise; a
//! return keeps the object while fewer than `capacity` are idle and drops it
//! otherwise. The counters must match.
//!
//! The model holds whichever thread runs an operation, as long as no other
//! thread is inside a call meanwhile: so an operation may run on a short-lived
//! helper thread (which exits after it, its lane left with what it returned,
//! its lane id released whenever its thread-local destructors run), and the
//! next one on the test's thread finds what the helper left.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use framemem::{Pool, PoolStats};
use proptest::prelude::*;

/// A pooled object: its id, and whether it was used since it was cleaned.
#[derive(Debug)]
struct Obj {
    id: u64,
    dirty: bool,
}

#[derive(Clone, Debug)]
enum Op {
    /// Take `n` objects, on a helper thread if `.1`.
    Take(usize, bool),
    /// Return `n` of the objects out on loan (the most recent first), on a
    /// helper thread if `.1`.
    Put(usize, bool),
    /// Drop every idle object.
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let n = || prop_oneof![4 => 1usize..4, 1 => 100usize..1500];
    prop_oneof![
        5 => (n(), any::<bool>()).prop_map(|(n, helper)| Op::Take(n, helper)),
        5 => (n(), any::<bool>()).prop_map(|(n, helper)| Op::Put(n, helper)),
        1 => Just(Op::Clear),
    ]
}

/// Runs `f` on a helper thread that exits after it (only its scope is
/// waited for, not its thread-local destructors), or here.
fn on<R: Send>(helper: bool, f: impl FnOnce() -> R + Send) -> R {
    if helper {
        std::thread::scope(|s| s.spawn(f).join().unwrap())
    } else {
        f()
    }
}

fn run(capacity: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let mut pool = Pool::with(
        capacity,
        || Obj {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            dirty: false,
        },
        |o: &mut Obj| o.dirty = false,
    );
    let mut idle: BTreeSet<u64> = BTreeSet::new();
    let mut out: Vec<Obj> = Vec::new();
    let mut expected = PoolStats {
        capacity,
        ..PoolStats::default()
    };
    for op in ops {
        match op {
            Op::Take(n, helper) => {
                let taken: Vec<Obj> = on(helper, || (0..n).map(|_| pool.take()).collect());
                for mut obj in taken {
                    prop_assert!(!obj.dirty, "object {} came back dirty", obj.id);
                    if idle.is_empty() {
                        expected.misses += 1;
                    } else {
                        prop_assert!(idle.remove(&obj.id), "object {} was not idle", obj.id);
                        expected.hits += 1;
                    }
                    obj.dirty = true;
                    out.push(obj);
                }
            }
            Op::Put(n, helper) => {
                let returned = out.split_off(out.len() - n.min(out.len()));
                for obj in returned.iter().rev() {
                    expected.returns += 1;
                    if idle.len() < capacity {
                        idle.insert(obj.id);
                    } else {
                        expected.dropped += 1;
                    }
                }
                on(helper, || {
                    returned.into_iter().rev().for_each(|obj| pool.put(obj))
                });
            }
            Op::Clear => {
                pool.reset();
                idle.clear();
            }
        }
        expected.held = idle.len();
        prop_assert_eq!(pool.stats(), expected);
    }
    Ok(())
}

proptest! {
    #![proptest_config(common::model::config(300))]

    #[test]
    fn pool_matches_the_model(
        capacity in prop_oneof![1usize..8, 100usize..3000],
        ops in prop::collection::vec(op(), 1..24),
    ) {
        run(capacity, ops)?;
    }
}

/// Every way out of a scope returns the object: fall-through, early
/// `return`, `?`, `break`, a panic that unwinds, a guard moved into a closure
/// and a guard dropped on another thread.
#[test]
fn pooled_goes_back_on_every_path() {
    let pool: Pool<Vec<u8>> = Pool::new(16);
    let returns = || pool.stats().returns;

    {
        let _buf = pool.get();
    }
    assert_eq!(returns(), 1, "end of scope");

    let early = |fail: bool| {
        let mut buf = pool.get();
        if fail {
            return;
        }
        buf.push(1);
    };
    early(true);
    assert_eq!(returns(), 2, "early return");

    let question_mark = || -> Option<()> {
        let _buf = pool.get();
        None?;
        Some(())
    };
    assert!(question_mark().is_none());
    assert_eq!(returns(), 3, "`?`");

    for round in 0.. {
        let _buf = pool.get();
        if round == 1 {
            break;
        }
    }
    assert_eq!(returns(), 5, "break");

    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut buf = pool.get();
        buf.push(7);
        panic!("a system panicked mid-frame");
    }));
    assert!(unwound.is_err());
    assert_eq!(returns(), 6, "panic");

    let buf = pool.get();
    let consume = move || drop(buf);
    consume();
    assert_eq!(returns(), 7, "moved into a closure");

    let buf = pool.get();
    std::thread::scope(|s| {
        s.spawn(move || drop(buf));
    });
    assert_eq!(returns(), 8, "dropped on another thread");

    let s = pool.stats();
    assert_eq!(s.held, 1, "one Vec went round and round: {s:?}");
    assert!(pool.get().is_empty(), "and came back clean every time");
}

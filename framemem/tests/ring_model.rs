//! Property test: random sequences of allocations with random lifetimes,
//! frame ends and reads of any handle ever made, against a model of the
//! [`ExpiryRing`] that knows each handle's last frame.
//!
//! After every step: every handle whose last frame has not ended reads back
//! its contents (through `get`), every other one gives `None` (through
//! `try_get`), another ring rejects them all, a lifetime beyond the depth
//! fails exactly when the ring has no overflow, and the ring's counters
//! (allocations, bytes in the slots and in the overflow) match the model's.
//!
//! Cases: 10,000 in a release run (`cargo test --release --test
//! ring_model`), 500 in a debug run, 4 under Miri.

mod common;

use framemem::{ExpiryRing, RingError, RingOverflow, RingSlice, TypedAlloc};
use proptest::prelude::*;

/// One allocation: `len` values made from `seed`, for `lifetime` frames.
#[derive(Clone, Debug)]
struct AllocSpec {
    lifetime: u32,
    len: usize,
    seed: u32,
    /// Through `handle_slice_fill_with` instead of `handle_slice_copy`.
    fill: bool,
}

#[derive(Clone, Debug)]
enum Op {
    /// One allocation through `&ExpiryRing`.
    Alloc(AllocSpec),
    /// A batch of allocations through one `RingLocal`.
    Batch(Vec<AllocSpec>),
    /// End the frame.
    EndFrame,
    /// Read the handle at `index % handles.len()`, live or not.
    Get { index: usize },
}

/// Lifetimes around every depth tried (1 to 5), and some far beyond.
fn lifetime() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..=7, 1 => 8u32..=40]
}

fn alloc_spec() -> impl Strategy<Value = AllocSpec> {
    (lifetime(), 0usize..=12, any::<u32>(), any::<bool>()).prop_map(
        |(lifetime, len, seed, fill)| AllocSpec {
            lifetime,
            len,
            seed,
            fill,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => alloc_spec().prop_map(Op::Alloc),
        2 => prop::collection::vec(alloc_spec(), 0..8).prop_map(Op::Batch),
        3 => Just(Op::EndFrame),
        3 => any::<usize>().prop_map(|index| Op::Get { index }),
    ]
}

fn values(spec: &AllocSpec) -> Vec<u32> {
    (0..spec.len as u32)
        .map(|i| spec.seed.wrapping_mul(31).wrapping_add(i))
        .collect()
}

/// A handle the test made, and what the model knows of it.
struct Made {
    handle: RingSlice<u32>,
    values: Vec<u32>,
    /// The last frame it is valid in.
    expires_at: u64,
    /// Whether it lives beyond the ring's depth (in the overflow slab).
    beyond: bool,
}

struct Model {
    ring: ExpiryRing,
    depth: usize,
    overflow: RingOverflow,
    now: u64,
    made: Vec<Made>,
    allocations: u64,
}

impl Model {
    /// Checks the ring's answer to `spec` against the model, and records
    /// the handle.
    fn alloc(
        &mut self,
        spec: &AllocSpec,
        result: Result<RingSlice<u32>, RingError>,
    ) -> Result<(), TestCaseError> {
        let expires_at = self.now + u64::from(spec.lifetime.max(1)) - 1;
        let beyond = expires_at - self.now >= self.depth as u64;
        match result {
            Err(e) => {
                prop_assert!(
                    beyond && self.overflow == RingOverflow::Fail,
                    "unexpected {e}"
                );
                prop_assert_eq!(
                    e,
                    RingError::BeyondDepth {
                        lifetime_frames: spec.lifetime,
                        depth: self.depth
                    }
                );
            }
            Ok(handle) => {
                prop_assert!(!beyond || self.overflow == RingOverflow::Slab);
                prop_assert_eq!(handle.expires_at(), expires_at);
                prop_assert_eq!(handle.len(), spec.len);
                self.allocations += 1;
                self.made.push(Made {
                    handle,
                    values: values(spec),
                    expires_at,
                    beyond,
                });
            }
        }
        Ok(())
    }

    fn check(&self, made: &Made) -> Result<(), TestCaseError> {
        if made.expires_at >= self.now {
            prop_assert_eq!(self.ring.get(made.handle), &made.values[..]);
        } else {
            prop_assert_eq!(self.ring.try_get(made.handle), None);
        }
        Ok(())
    }

    fn check_all(&self, foreign: &ExpiryRing) -> Result<(), TestCaseError> {
        let mut bytes = 0;
        let mut overflow_bytes = 0;
        for made in &self.made {
            self.check(made)?;
            prop_assert!(
                foreign.try_get(made.handle).is_none(),
                "a foreign handle resolved"
            );
            if made.expires_at >= self.now {
                bytes += made.values.len() * 4;
                if made.beyond {
                    overflow_bytes += made.values.len() * 4;
                }
            }
        }
        let s = self.ring.stats();
        prop_assert_eq!(s.frame, self.now);
        prop_assert_eq!(s.allocations, self.allocations);
        prop_assert_eq!(s.bytes_in_use, bytes);
        prop_assert_eq!(s.overflow_bytes_in_use, overflow_bytes);
        Ok(())
    }
}

fn run(depth: usize, overflow: RingOverflow, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut model = Model {
        ring: ExpiryRing::with_overflow(depth, overflow),
        depth,
        overflow,
        now: 0,
        made: Vec::new(),
        allocations: 0,
    };
    let foreign = ExpiryRing::with_overflow(depth, overflow);
    for op in ops {
        match op {
            Op::Alloc(spec) => {
                let result = if spec.fill {
                    let v = values(&spec);
                    model
                        .ring
                        .for_frames(spec.lifetime)
                        .try_handle_slice_fill_with(spec.len, |i| v[i])
                } else {
                    model
                        .ring
                        .for_frames(spec.lifetime)
                        .try_handle_slice_copy(&values(&spec))
                };
                model.alloc(&spec, result)?;
            }
            Op::Batch(specs) => {
                // The local borrows the ring; collect its answers first.
                let results: Vec<_> = {
                    let local = model.ring.local();
                    specs
                        .iter()
                        .map(|spec| {
                            if spec.fill {
                                let v = values(spec);
                                local
                                    .for_frames(spec.lifetime)
                                    .try_handle_slice_fill_with(spec.len, |i| v[i])
                            } else {
                                local
                                    .for_frames(spec.lifetime)
                                    .try_handle_slice_copy(&values(spec))
                            }
                        })
                        .collect()
                };
                for (spec, result) in specs.iter().zip(results) {
                    model.alloc(spec, result)?;
                }
            }
            Op::EndFrame => {
                model.ring.end_frame();
                model.now += 1;
            }
            Op::Get { index } => {
                if !model.made.is_empty() {
                    model.check(&model.made[index % model.made.len()])?;
                }
            }
        }
        model.check_all(&foreign)?;
    }
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 80 })
}

proptest! {
    #![proptest_config(common::model::config(500))]

    #[test]
    fn ring_matches_the_model(
        depth in 1usize..=5,
        slab in any::<bool>(),
        ops in ops(),
    ) {
        let overflow = if slab { RingOverflow::Slab } else { RingOverflow::Fail };
        run(depth, overflow, ops)?;
    }
}

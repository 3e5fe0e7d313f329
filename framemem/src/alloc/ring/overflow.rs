//! Lifetimes beyond the ring's depth: [`RingOverflow`], and the owned [`Slab`]
//! with its per-frame expiry lists.
//!
//! A block for data that must outlive every slot's next reset comes from
//! the slab and goes on the list of the frame it expires at; the
//! `end_frame` that ends that frame frees the list. Cost per block: a slab
//! allocation, a lock, and a `BTreeMap` insert (a node and a `Vec` when its
//! frame has no list yet); per frame end, one `pop_first` and a slab free
//! per expiring block. Long lifetimes are the exception in a frame loop,
//! so the lock is on the slow path only.
//!
//! Invariants (checked by [`SlabOverflow::check_invariants`]):
//! - every listed frame is the current frame or later: expired lists are
//!   freed at the frame end;
//! - `bytes` is the sum of the listed blocks' sizes.

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};

use crate::alloc::{AllocError, AllocStrategy, Slab};

/// What the ring does with a lifetime longer than its depth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RingOverflow {
    /// Refuse it: [`RingError::BeyondDepth`](super::RingError::BeyondDepth).
    #[default]
    Fail,
    /// Serve it from a [`Slab`] the ring owns; the block is freed by the
    /// `end_frame` that ends its lifetime. Costs a lock per allocation.
    Slab,
}

/// A slab block the ring owns until its frame ends.
struct SlabBlock {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the block is plain memory owned by the ring (no handle owns it:
// `RingSlice`s only read it through the ring); it may be freed from any
// thread, as any slab block may.
unsafe impl Send for SlabBlock {}

/// The expiry lists, behind the ring's lock.
#[derive(Default)]
struct Expiring {
    /// By the last frame they are valid in, the blocks to free at its end.
    by_frame: BTreeMap<u64, Vec<SlabBlock>>,
    /// Requested bytes of the listed blocks.
    bytes: usize,
    /// Blocks ever listed; only grows.
    allocations: u64,
}

/// The slab and its expiry lists.
pub(super) struct SlabOverflow {
    slab: Slab,
    expiring: Mutex<Expiring>,
}

impl SlabOverflow {
    pub(super) fn new() -> Self {
        Self {
            slab: Slab::new(),
            expiring: Mutex::new(Expiring::default()),
        }
    }

    /// A slab block for `layout`, owned by the ring and freed at the end of
    /// frame `expires_at`. It is listed before the caller writes to it, so
    /// a panic while filling it leaks nothing.
    pub(super) fn alloc(&self, layout: Layout, expires_at: u64) -> Result<NonNull<u8>, AllocError> {
        let ptr = self.slab.alloc(layout)?;
        let mut expiring = self.lock();
        expiring
            .by_frame
            .entry(expires_at)
            .or_default()
            .push(SlabBlock { ptr, layout });
        expiring.bytes += layout.size();
        expiring.allocations += 1;
        Ok(ptr)
    }

    /// Frees the blocks whose last frame was `ended` (and any earlier, of
    /// which there are none: see the invariants).
    pub(super) fn free_expired(&mut self, ended: u64) {
        let expiring = self
            .expiring
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        while let Some(entry) = expiring.by_frame.first_entry() {
            if *entry.key() > ended {
                break;
            }
            for block in entry.remove() {
                expiring.bytes -= block.layout.size();
                // SAFETY: the block came from `self.slab.alloc(layout)` and
                // was listed once; its handles no longer resolve (their last
                // frame, `ended` or earlier, is over) and `&mut self` rules
                // out a borrow of it.
                unsafe { self.slab.free(block.ptr, block.layout) };
            }
        }
    }

    /// Requested bytes of live overflow blocks.
    pub(super) fn bytes_in_use(&self) -> usize {
        self.lock().bytes
    }

    /// Overflow blocks ever allocated.
    pub(super) fn allocations(&self) -> u64 {
        self.lock().allocations
    }

    /// Bytes the slab holds from the system.
    pub(super) fn bytes_reserved(&self) -> usize {
        self.slab.stats().bytes_reserved
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Expiring> {
        self.expiring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The invariants of the [module docs](self), at frame `now`; panics
    /// naming the values when one is broken.
    pub(super) fn check_invariants(&mut self, now: u64) {
        let expiring = self
            .expiring
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((&first, _)) = expiring.by_frame.first_key_value() {
            assert!(
                first >= now,
                "ring overflow: blocks of frame {first} are still listed at frame {now}, after \
                 their frame ended"
            );
        }
        let listed: usize = expiring
            .by_frame
            .values()
            .flatten()
            .map(|b| b.layout.size())
            .sum();
        assert_eq!(
            listed, expiring.bytes,
            "ring overflow: the listed blocks hold {listed} bytes but the counter says {}",
            expiring.bytes
        );
        self.slab.check_invariants();
    }
}

//! Multi-threaded stress tests for every `Sync` strategy.
//!
//! Each test moves blocks between threads the way a frame does (workers
//! allocate, another thread frees or resets) and checks the contents of every
//! block before it is given back. Run them under ThreadSanitizer or Miri for
//! data races; here they check contents, counters and bounds.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::mpsc;

use framemem::{AllocStrategy, Arena, Heap, Pool, Slab};

/// Rounds of work per thread: enough to interleave, short under Miri.
const ROUNDS: usize = if cfg!(miri) { 20 } else { 5_000 };
const THREADS: usize = 4;

/// A block sent to another thread to be checked and freed.
struct Sent {
    ptr: NonNull<u8>,
    layout: Layout,
    tag: u8,
}

// SAFETY: the block is owned by whoever holds the `Sent`; the channel orders
// the sender's writes before the receiver's reads.
unsafe impl Send for Sent {}

fn layout_for(i: usize) -> Layout {
    Layout::from_size_align(1 + (i * 53) % 600, 1 << (i % 7)).unwrap()
}

fn fill(ptr: NonNull<u8>, layout: Layout, tag: u8) {
    // SAFETY: a live block of `layout.size()` bytes.
    unsafe { ptr.as_ptr().write_bytes(tag, layout.size()) }
}

fn check(sent: &Sent) {
    // SAFETY: a live block, filled by its sender.
    let bytes = unsafe { std::slice::from_raw_parts(sent.ptr.as_ptr(), sent.layout.size()) };
    assert!(
        // `==` on bytes is one memcmp (fast under Miri too).
        bytes == vec![sent.tag; bytes.len()].as_slice(),
        "block {:p} ({:?}) was overwritten in flight",
        sent.ptr,
        sent.layout
    );
}

/// `THREADS` producers allocate and send; one consumer checks and frees.
/// Every block is freed on a thread other than the one that made it.
fn cross_thread_free<A: AllocStrategy + Sync>(alloc: &A) {
    let (tx, rx) = mpsc::sync_channel::<Sent>(256);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let tx = tx.clone();
            s.spawn(move || {
                for i in 0..ROUNDS {
                    let layout = layout_for(i + t);
                    let ptr = alloc.alloc(layout).unwrap();
                    let tag = (t * 31 + i) as u8 | 1;
                    fill(ptr, layout, tag);
                    tx.send(Sent { ptr, layout, tag }).unwrap();
                }
            });
        }
        drop(tx);
        s.spawn(move || {
            for sent in rx {
                check(&sent);
                // SAFETY: freed once, with its layout, after its last use.
                unsafe { alloc.free(sent.ptr, sent.layout) };
            }
        });
    });
}

#[test]
fn slab_survives_cross_thread_frees() {
    let slab = Slab::new();
    cross_thread_free(&slab);
    let s = slab.stats();
    assert_eq!(s.allocations, (THREADS * ROUNDS) as u64);
    assert_eq!(s.frees, s.allocations);
    assert_eq!(s.bytes_in_use, 0);
}

#[test]
fn heap_survives_cross_thread_frees() {
    let heap = Heap::new();
    cross_thread_free(&heap);
    let s = heap.stats();
    assert_eq!(
        (s.allocations, s.frees),
        ((THREADS * ROUNDS) as u64, (THREADS * ROUNDS) as u64)
    );
    assert_eq!(s.bytes_in_use, 0);
}

#[test]
fn slab_memory_stays_bounded_when_threads_trade_blocks() {
    // Two threads each free what the other allocated, for many rounds: the
    // magazines hand surplus to the central list instead of growing forever.
    let slab = Slab::new();
    let layout = Layout::from_size_align(256, 16).unwrap();
    let (to_b, from_a) = mpsc::sync_channel::<Sent>(64);
    let (to_a, from_b) = mpsc::sync_channel::<Sent>(64);
    let rounds = if cfg!(miri) { 10 } else { 20_000 };
    std::thread::scope(|s| {
        let slab = &slab;
        for (tx, rx, tag) in [(to_b, from_b, 0xA1u8), (to_a, from_a, 0xB2)] {
            s.spawn(move || {
                for _ in 0..rounds {
                    let ptr = slab.alloc(layout).unwrap();
                    fill(ptr, layout, tag);
                    tx.send(Sent { ptr, layout, tag }).unwrap();
                    let sent = rx.recv().unwrap();
                    check(&sent);
                    // SAFETY: freed once, with its layout.
                    unsafe { slab.free(sent.ptr, sent.layout) };
                }
            });
        }
    });
    let s = slab.stats();
    assert_eq!(s.bytes_in_use, 0);
    assert!(
        s.bytes_reserved <= 16 * 64 * 1024,
        "{} bytes reserved for at most 130 live 256 B blocks",
        s.bytes_reserved
    );
}

#[test]
fn arena_serves_many_threads_then_resets() {
    let mut arena = Arena::new();
    for frame in 0..3u8 {
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let arena = &arena;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..ROUNDS / 10 {
                        let layout = layout_for(i + t);
                        let ptr = arena.alloc(layout).unwrap();
                        let tag = frame.wrapping_mul(7) ^ (t as u8) | 1;
                        fill(ptr, layout, tag);
                        mine.push(Sent { ptr, layout, tag });
                    }
                    for sent in &mine {
                        check(sent);
                    }
                });
            }
        });
        let s = arena.stats();
        assert_eq!(
            s.allocations,
            (THREADS * (ROUNDS / 10)) as u64 * (frame as u64 + 1)
        );
        arena.reset();
        assert_eq!(arena.stats().bytes_in_use, 0);
    }
}

#[test]
fn pooled_guards_drop_on_other_threads() {
    let pool: Pool<Vec<u32>> = Pool::new(64);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for t in 0..THREADS as u32 {
            let tx = tx.clone();
            let pool = &pool;
            s.spawn(move || {
                for i in 0..ROUNDS as u32 / 10 {
                    let mut guard = pool.get();
                    assert!(guard.is_empty(), "a recycled Vec must come back clean");
                    guard.push(t * 100_000 + i);
                    tx.send(guard).unwrap();
                }
            });
        }
        drop(tx);
        s.spawn(move || {
            for guard in rx {
                assert_eq!(guard.len(), 1);
            } // each guard drops here, on this thread, back into the pool
        });
    });
    let s = pool.stats();
    let total = (THREADS * (ROUNDS / 10)) as u64;
    assert_eq!(s.hits + s.misses, total);
    assert_eq!(s.returns, total);
    assert!(s.held <= 64, "{s:?}");
}

//! With the `asan` feature, under AddressSanitizer, a use after free *inside*
//! a slab chunk or an arena chunk is reported. The system allocator never sees
//! those frees, so without the poisoning ASan would stay silent.
//!
//! Run: `scripts/asan.sh`. Each case runs in a child process (this same test
//! binary), because ASan ends the process that it catches.

#![cfg(feature = "asan")]

use std::alloc::Layout;
use std::process::Command;

use framemem::{AllocStrategy, Arena, Slab};

const CHILD: &str = "FRAMEMEM_ASAN_CHILD";

/// Not a test of its own: the body of each child process.
#[test]
fn child() {
    let layout = Layout::from_size_align(64, 8).unwrap();
    match std::env::var(CHILD).as_deref() {
        Ok("slab") => {
            let slab = Slab::new();
            let p = slab.alloc(layout).unwrap();
            // SAFETY: freed once; the read below is the bug under test.
            unsafe { slab.free(p, layout) };
            // SAFETY: none: a deliberate use after free, which ASan must catch.
            let _ = unsafe { p.as_ptr().add(8).read_volatile() };
        }
        Ok("arena") => {
            let mut arena = Arena::new();
            let p = arena.alloc(layout).unwrap();
            arena.reset();
            // SAFETY: none: a deliberate use after reset, which ASan must catch.
            let _ = unsafe { p.as_ptr().read_volatile() };
        }
        Ok("clean") => {
            // The same steps without the bug: no report.
            let slab = Slab::new();
            let p = slab.alloc(layout).unwrap();
            // SAFETY: freed once, not used after.
            unsafe { slab.free(p, layout) };
            let mut arena = Arena::new();
            for _ in 0..3 {
                let q = arena.alloc(layout).unwrap();
                // SAFETY: a live 64-byte block.
                unsafe { q.as_ptr().write_bytes(1, 64) };
                arena.reset();
            }
        }
        _ => {}
    }
}

fn run_child(case: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn slab_use_after_free_is_reported() {
    let (ok, stderr) = run_child("slab");
    assert!(
        !ok && stderr.contains("use-after-poison"),
        "no ASan report:\n{stderr}"
    );
}

#[test]
fn arena_use_after_reset_is_reported() {
    let (ok, stderr) = run_child("arena");
    assert!(
        !ok && stderr.contains("use-after-poison"),
        "no ASan report:\n{stderr}"
    );
}

#[test]
fn correct_use_is_not_reported() {
    let (ok, stderr) = run_child("clean");
    assert!(ok, "ASan reported a correct program:\n{stderr}");
}

//! With the `asan` feature, under AddressSanitizer, a use after free *inside*
//! a slab chunk or an arena chunk is reported. The system allocator never sees
//! those frees, so without the poisoning ASan would stay silent.
//!
//! Run: `scripts/asan.sh`. ASan ends the process it catches, so this is a
//! `harness = false` binary (bumpalo's `tests/try_alloc.rs` pattern): run
//! plainly, it runs each case of [`CASES`] in a child process (this binary
//! with `--case NAME`) and fails unless every child ends as its case
//! expects: the two bugs with an ASan report, the correct program without.
//! It is built only with the `asan` feature (`required-features`), whose
//! poisoning calls link against the sanitizer's runtime.

use std::alloc::Layout;
use std::process::{Command, ExitCode};

use framemem::{AllocStrategy, Arena, Slab};

/// What a case's child must show.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Ends with an ASan report of a use of poisoned memory.
    Reported,
    /// Exits normally, with no report.
    Clean,
}

/// Every case: its name, its body and what its child must show. The parent
/// and the child both read this one table.
const CASES: &[(&str, fn(), Expect)] = &[
    (
        "slab_use_after_free_is_reported",
        slab_use_after_free,
        Expect::Reported,
    ),
    (
        "arena_use_after_reset_is_reported",
        arena_use_after_reset,
        Expect::Reported,
    ),
    ("correct_use_is_not_reported", correct_use, Expect::Clean),
];

fn layout() -> Layout {
    Layout::from_size_align(64, 8).unwrap()
}

fn slab_use_after_free() {
    let slab = Slab::new();
    let p = slab.alloc(layout()).unwrap();
    // SAFETY: freed once; the read below is the bug under test.
    unsafe { slab.free(p, layout()) };
    // SAFETY: none: a deliberate use after free, which ASan must catch.
    let _ = unsafe { p.as_ptr().add(8).read_volatile() };
}

fn arena_use_after_reset() {
    let mut arena = Arena::new();
    let p = AllocStrategy::alloc(&arena, layout()).unwrap();
    arena.reset();
    // SAFETY: none: a deliberate use after reset, which ASan must catch.
    let _ = unsafe { p.as_ptr().read_volatile() };
}

/// The same steps without the bug.
fn correct_use() {
    let slab = Slab::new();
    let p = slab.alloc(layout()).unwrap();
    // SAFETY: freed once, not used after.
    unsafe { slab.free(p, layout()) };
    let mut arena = Arena::new();
    for _ in 0..3 {
        let q = AllocStrategy::alloc(&arena, layout()).unwrap();
        // SAFETY: a live 64-byte block.
        unsafe { q.as_ptr().write_bytes(1, 64) };
        arena.reset();
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--case") {
        let name = args.get(at + 1).map(String::as_str).unwrap_or_default();
        let Some((_, run, _)) = CASES.iter().find(|(n, ..)| *n == name) else {
            eprintln!("unknown case {name:?}");
            return ExitCode::from(2);
        };
        run();
        return ExitCode::SUCCESS;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut failed = 0;
    for (name, _, expect) in CASES {
        let out = Command::new(&exe)
            .args(["--case", name])
            .output()
            .expect("re-run the test binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reported = stderr.contains("use-after-poison");
        let ok = match expect {
            Expect::Reported => !out.status.success() && reported,
            Expect::Clean => out.status.success() && !reported,
        };
        if ok {
            println!("case {name} ... ok");
        } else {
            failed += 1;
            println!(
                "case {name} ... FAILED: expected {expect:?}, the child exited with {}:\n{}",
                out.status,
                stderr.trim()
            );
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

//! Misuse the types rule out, proven by failing to compile (trybuild).
//!
//! Each file in `tests/compile_fail/` must fail with the error recorded
//! beside it in a `.stderr` file. To refresh them after a compiler upgrade:
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read the diff.
//!
//! Which handles may cross threads is checked at compile time in
//! `tests/thread_safety.rs` (trait assertions, whose errors name only the
//! public types). The values the arena refuses at build time (a post-monomorphisation
//! error, which `cargo check` does not report) are in `tests/post_mono.rs`.

#[test]
#[cfg_attr(miri, ignore = "trybuild runs rustc")]
fn misuse_does_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}

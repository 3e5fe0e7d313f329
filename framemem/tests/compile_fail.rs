//! Misuse the types rule out, proven by failing to compile (trybuild).
//!
//! Each file in `tests/compile_fail/` must fail with the error recorded
//! beside it in a `.stderr` file. To refresh them after a compiler upgrade:
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read the diff.

#[test]
#[cfg_attr(miri, ignore = "trybuild runs rustc")]
fn misuse_does_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}

/// Values the arena would leak (their type needs drop) are refused when the
/// code is built. That is a post-monomorphisation error, which `cargo check`
/// (what trybuild runs when every case is `compile_fail`) never reports, so
/// these cases run beside a `pass` case, which makes trybuild build. The
/// expectation shows the library's own lines (`src/alloc/typed.rs`),
/// as every post-monomorphisation error does: refresh it when they move.
#[test]
#[cfg_attr(miri, ignore = "trybuild runs rustc")]
fn values_that_need_drop_do_not_build() {
    let t = trybuild::TestCases::new();
    t.pass("tests/compile_pass/*.rs");
    t.compile_fail("tests/compile_fail/post_mono/*.rs");
}

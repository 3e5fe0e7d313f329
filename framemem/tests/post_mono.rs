//! Values the arena would leak (their type needs drop) are refused when the
//! code is built, with a message that says why.
//!
//! That is a post-monomorphisation error: `cargo check` (and so trybuild's
//! `compile_fail`) never reports it, only a build does. So this test builds
//! a scratch crate that depends on framemem alone, one binary per case in
//! `tests/post_mono/`, with `cargo build`: one case must build, the other
//! must fail with the arena's message. The scratch crate has no dependency
//! but framemem, so the first run builds allocator-api2 and libc and
//! nothing else (trybuild would build every dev-dependency of this package).
//! The expectation names only what a user sees: the error code and the
//! message, not the library's private paths.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The cases: (binary, source under `tests/post_mono/`).
const BUILDS: (&str, &str) = ("without_drop_glue", "values_without_drop_glue.rs");
const REFUSED: (&str, &str) = ("needs_drop", "value_that_needs_drop.rs");

/// Writes the scratch crate under this package's test scratch directory and
/// returns its directory.
fn scratch_crate() -> PathBuf {
    let framemem = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("post_mono");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = |(name, file): (&str, &str)| {
        let path = framemem.join("tests/post_mono").join(file);
        format!(
            "[[bin]]\nname = {name:?}\npath = {:?}\n",
            path.display().to_string()
        )
    };
    let manifest = format!(
        "[package]\nname = \"framemem-post-mono\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\nframemem = {{ path = {:?} }}\n\n{}\n{}\n\
         # Not a member of the repository's workspace.\n[workspace]\n",
        framemem.display().to_string(),
        bin(BUILDS),
        bin(REFUSED),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file: the same allocator-api2 and libc as
    // every other build here, with no registry lookup.
    let lock = framemem.join("../Cargo.lock");
    if lock.exists() {
        std::fs::copy(lock, dir.join("Cargo.lock")).unwrap();
    }
    dir
}

fn build(dir: &Path, bin: &str) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    Command::new(cargo)
        .current_dir(dir)
        .args([
            "build",
            "--quiet",
            "--color=never",
            "--bin",
            bin,
            "--target-dir",
        ])
        .arg(dir.join("target"))
        // What the outer build was given is not this crate's business.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(miri, ignore = "runs cargo")]
fn values_that_need_drop_do_not_build_and_the_others_do() {
    let dir = scratch_crate();

    let ok = build(&dir, BUILDS.0);
    assert!(
        ok.status.success(),
        "{} should build:\n{}",
        BUILDS.1,
        String::from_utf8_lossy(&ok.stderr)
    );

    let refused = build(&dir, REFUSED.0);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "{} built, but its String would leak",
        REFUSED.1
    );
    for expected in [
        "error[E0080]",
        "never drop the values they hold, and this type needs drop (it would leak)",
        REFUSED.1,
    ] {
        assert!(
            stderr.contains(expected),
            "no {expected:?} in the build's errors:\n{stderr}"
        );
    }
}

//! Helpers shared by the lab's integration tests.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::Output;

/// Runs the lab's `framemem` binary with `args`, with a quiet stderr (no
/// progress bar: not a terminal anyway).
pub fn framemem(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_framemem"))
        .args(args)
        .output()
        .expect("the framemem binary runs")
}

/// The process's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The process's stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A fresh scratch directory for this test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("framemem-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir is writable");
    dir
}

/// Small and fast enough for a debug build: a few hundred entities, a few
/// frames.
pub const SMALL: &[&str] = &[
    "--entities",
    "300",
    "--frames",
    "6",
    "--warmup",
    "2",
    "--quiet",
];

pub mod puffin_frames;

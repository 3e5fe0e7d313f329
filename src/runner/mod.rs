//! How the binary runs: the parts `main.rs` wires together, in the order a
//! run uses them.
//!
//! - `config.rs`: [`RunConfig`], the run the command line asks for, checked
//!   once (scenario loaded, entity count resolved, memory estimated);
//! - `outputs.rs`: [`Outputs`], the summary on stdout and the files the
//!   command line names, created before the first frame, with one mapping
//!   from their errors to messages;
//! - `frame_order.rs`: [`FrameOrder`], which frame runs next (warm-up,
//!   re-warm, rotation), and how many there are for the progress bar;
//! - `driver.rs`: runs the frames in that order, paced, with progress and
//!   Ctrl-C;
//! - `global_heap.rs`: the process's global allocator and its counts.

pub mod config;
pub mod driver;
pub mod frame_order;
pub mod global_heap;
pub mod outputs;

use std::fmt;

pub use config::RunConfig;
pub use outputs::Outputs;

/// Bad input: reported in one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] as the `anyhow::Error` the binary passes around.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

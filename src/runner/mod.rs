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
//! - `global_heap.rs`: the process's global allocator and its counts;
//! - `usage.rs`: [`UsageError`], bad input (exit code 2).

pub mod config;
pub mod driver;
pub mod frame_order;
pub mod global_heap;
pub mod outputs;
pub mod usage;

pub use config::RunConfig;
pub use outputs::Outputs;
pub use usage::{UsageError, usage};

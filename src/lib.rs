//! The framemem lab: what a frame arena, a size-class slab or an object
//! pool buys a game loop over plain `Box`/`Vec`, measured on your machine.
//!
//! The allocators are the `framemem` library (`framemem/` in this
//! workspace); the lab uses them as any game would, through their public
//! API, and holds no unsafe code.
//!
//! # The map
//!
//! Layers only point down:
//!
//! - [`sim`]: the frame-churn simulation, a headless `bevy_ecs` world whose
//!   per-frame memory goes through the strategy chosen at run time
//!   (framemem's [`Arena`](framemem::Arena), [`Slab`](framemem::Slab),
//!   [`Pool`](framemem::Pool) and [`ExpiryRing`](framemem::ExpiryRing), the
//!   heap, mimalloc, and a hand-rolled frame `Vec`).
//! - [`profile`]: live profiling of the simulation — puffin scopes on, a
//!   `puffin_http` server for `puffin_viewer`, `.puffin` recordings.
//! - [`report`]: frame statistics and their formats (table, JSON, CSV, SVG
//!   plot), one [`Output`](report::Output) each.
//!
//! The `framemem` binary (`src/main.rs`, `cli.rs` and `runner/`) only
//! wires these together: it parses the command line, builds the run's
//! configuration once, creates its output files, runs the frames and
//! prints the report.

#![forbid(unsafe_code)]

pub mod profile;
pub mod report;
pub mod sim;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

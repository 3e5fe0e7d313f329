//! Scenarios: what a simulation spawns and how, read from RON files in
//! `assets/scenarios/` (RON because it is bevy's convention).
//!
//! - `schema.rs`: the types a file deserialises into, and what the
//!   simulation derives from them;
//! - `load.rs`: the compiled-in default (`swarm.ron`, so that `cargo run`
//!   works from any directory), [`Scenario::load`] for another file, and
//!   [`ScenarioError`];
//! - `validate.rs`: [`Scenario::validate`], every field against its range;
//! - `tests.rs`: loading and validation, end to end.
//!
//! Each error is one line that names the field (`emitters[1].weight`), the
//! value and the allowed range; syntax errors carry RON's line and column.
//! Unknown fields are rejected (`deny_unknown_fields`), so a typo is an error
//! rather than a silently ignored setting.

mod load;
mod schema;
mod validate;

#[cfg(test)]
mod tests;

pub use load::{DEFAULT_SCENARIO_RON, ScenarioError};
pub use schema::{
    Distribution, EmitterSpec, MAX_TRAIL_LEN, Scenario, SpeedRange, TRAIL_POINT_BYTES, TargetSpec,
    Targets, TrailSpec, Waves,
};
pub use validate::{InvalidField, MAX_LIFETIME_FRAMES};

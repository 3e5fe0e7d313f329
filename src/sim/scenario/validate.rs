//! Validation: every field of a [`Scenario`] against its allowed range.
//! Each error names the field by its path (`emitters[1].weight`), the value
//! and the range.

use std::fmt;
use std::ops::RangeInclusive;

use crate::sim::entity_count::MAX_ENTITIES_PER_FRAME;
use crate::sim::scenario::schema::{Distribution, MAX_TRAIL_LEN, Scenario, Targets};

const MAX_EMITTERS: usize = 256;
const MAX_TARGETS: usize = 4096;
const MAX_WEIGHTED_LENGTHS: usize = 64;
const MAX_WEIGHT: u32 = 1_000_000;
const MAX_HEALTH: u32 = 1_000_000_000;
const MAX_NAME_CHARS: usize = 64;
/// The longest lifetime: a minute at 60 frames a second, longer than any
/// debris a game keeps (and the ring of arenas it needs stays small).
pub const MAX_LIFETIME_FRAMES: u32 = 3600;
/// The fewest frames between waves.
const MAX_WAVE_PERIOD: u32 = 1_000_000;

impl Scenario {
    /// Checks every field against its allowed range.
    ///
    /// # Errors
    ///
    /// The first field out of range, with its path and the allowed range.
    pub fn validate(&self) -> Result<(), InvalidField> {
        let chars = self.name.chars().count();
        if !(1..=MAX_NAME_CHARS).contains(&chars) || self.name.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "name",
                format!(
                    "= {:?} is not allowed (1 to {MAX_NAME_CHARS} printable characters)",
                    self.name
                ),
            ));
        }
        check_range(
            "entities_per_frame",
            self.entities_per_frame,
            1..=MAX_ENTITIES_PER_FRAME,
        )?;
        check_range("timestep_s", self.timestep_s, 0.0001..=1.0)?;
        for (axis, &g) in ["x", "y", "z"].iter().zip(&self.gravity) {
            check_range(&format!("gravity.{axis}"), g, -1000.0..=1000.0)?;
        }
        check_range("world_extent", self.world_extent, 1.0..=1.0e6)?;
        let extent = self.world_extent;
        check_range("cell_size", self.cell_size, 0.01..=extent)?;
        check_range("speed.min", self.speed.min, 0.0..=1.0e4)?;
        check_range("speed.max", self.speed.max, self.speed.min..=1.0e4)?;
        check_range("spread_deg", self.spread_deg, 0.0..=90.0)?;
        check_range("flight_time_s", self.flight_time_s, 0.0..=60.0)?;
        check_range("trail.spacing", self.trail.spacing, 0.0001..=10.0)?;
        check_distribution(
            "trail.lengths",
            "length",
            &self.trail.lengths,
            MAX_TRAIL_LEN,
        )?;
        if let Some(lifetimes) = &self.lifetime_frames {
            check_distribution("lifetime_frames", "frames", lifetimes, MAX_LIFETIME_FRAMES)?;
        }
        if let Some(waves) = &self.waves {
            check_range(
                "waves.every_frames",
                waves.every_frames,
                1..=MAX_WAVE_PERIOD,
            )?;
            check_range(
                "waves.extra_entities",
                waves.extra_entities,
                1..=MAX_ENTITIES_PER_FRAME,
            )?;
        }
        check_len("emitters", self.emitters.len(), 1..=MAX_EMITTERS)?;
        for (i, e) in self.emitters.iter().enumerate() {
            let field = |name: &str| format!("emitters[{i}].{name}");
            check_position(&field("position"), e.position, extent)?;
            check_range(&field("yaw_deg"), e.yaw_deg, -360.0..=360.0)?;
            check_range(&field("pitch_deg"), e.pitch_deg, -90.0..=90.0)?;
            check_range(
                &field("sweep_deg_per_s"),
                e.sweep_deg_per_s,
                -3600.0..=3600.0,
            )?;
            check_range(&field("weight"), e.weight, 1..=MAX_WEIGHT)?;
            check_range(&field("muzzle_radius"), e.muzzle_radius, 0.0..=extent)?;
        }
        match &self.targets {
            Targets::List(list) => {
                check_len("targets", list.len(), 1..=MAX_TARGETS)?;
                for (i, t) in list.iter().enumerate() {
                    let field = |name: &str| format!("targets[{i}].{name}");
                    check_position(&field("position"), t.position, extent)?;
                    check_range(&field("radius"), t.radius, 0.01..=extent)?;
                    check_range(&field("health"), t.health, 1..=MAX_HEALTH)?;
                }
            }
            Targets::Ring {
                count,
                radius,
                height,
                target_radius,
                health,
            } => {
                check_range("targets.count", *count, 1..=MAX_TARGETS as u32)?;
                check_range("targets.radius", *radius, 0.0..=extent)?;
                check_range("targets.height", *height, -extent..=extent)?;
                check_range("targets.target_radius", *target_radius, 0.01..=extent)?;
                check_range("targets.health", *health, 1..=MAX_HEALTH)?;
            }
        }
        Ok(())
    }
}

/// A field outside its allowed range, from [`Scenario::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidField {
    /// The field's path, such as `emitters[1].weight`.
    pub field: String,
    /// The value and the allowed range.
    pub message: String,
}

impl InvalidField {
    fn new(field: &str, message: String) -> Self {
        Self {
            field: field.to_owned(),
            message,
        }
    }
}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}` {}", self.field, self.message)
    }
}

/// Checks that `value` is in `allowed`. For floats, `contains` is false for
/// NaN, so NaN is reported as out of range.
fn check_range<T: PartialOrd + fmt::Display>(
    field: &str,
    value: T,
    allowed: RangeInclusive<T>,
) -> Result<(), InvalidField> {
    check(field, &value, &allowed, || {
        format!("= {value} is out of range")
    })
}

/// Checks a distribution whose values (`what`) lie in `1..=max`.
fn check_distribution(
    field: &str,
    what: &str,
    dist: &Distribution,
    max: u32,
) -> Result<(), InvalidField> {
    match dist {
        Distribution::Uniform { min, max: top } => {
            check_range(&format!("{field}.min"), *min, 1..=max)?;
            check_range(&format!("{field}.max"), *top, *min..=max)
        }
        Distribution::Weighted(pairs) => {
            check_len(field, pairs.len(), 1..=MAX_WEIGHTED_LENGTHS)?;
            for (i, &(value, weight)) in pairs.iter().enumerate() {
                check_range(&format!("{field}[{i}].{what}"), value, 1..=max)?;
                check_range(&format!("{field}[{i}].weight"), weight, 1..=MAX_WEIGHT)?;
            }
            Ok(())
        }
    }
}

/// Checks that a list has a number of entries in `allowed`.
fn check_len(field: &str, len: usize, allowed: RangeInclusive<usize>) -> Result<(), InvalidField> {
    check(field, &len, &allowed, || format!("has {len} entries"))
}

/// Checks that each coordinate of `p` is inside the world cube.
fn check_position(field: &str, p: [f32; 3], extent: f32) -> Result<(), InvalidField> {
    for (axis, &v) in ["x", "y", "z"].iter().zip(&p) {
        check_range(&format!("{field}.{axis}"), v, -extent..=extent)?;
    }
    Ok(())
}

/// `Ok` when `allowed` contains `value`, otherwise an error that says
/// `what` is wrong and the allowed range.
fn check<T: PartialOrd + fmt::Display>(
    field: &str,
    value: &T,
    allowed: &RangeInclusive<T>,
    what: impl FnOnce() -> String,
) -> Result<(), InvalidField> {
    if allowed.contains(value) {
        return Ok(());
    }
    let range = format!("(allowed {}..={})", allowed.start(), allowed.end());
    Err(InvalidField::new(field, format!("{} {range}", what())))
}

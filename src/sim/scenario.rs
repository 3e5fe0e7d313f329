//! Scenarios: what a simulation spawns and how, read from RON files in
//! `assets/scenarios/` (RON because it is bevy's convention).
//!
//! The default scenario, `swarm.ron`, is compiled into the binary so that
//! `cargo run` works from any directory; [`Scenario::load`] reads another.
//!
//! Every field is checked by [`Scenario::validate`] against the ranges in this
//! file. Each error is one line that names the field (`emitters[1].weight`),
//! the value and the allowed range; syntax errors carry RON's line and column.
//! Unknown fields are rejected (`deny_unknown_fields`), so a typo is an error
//! rather than a silently ignored setting.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::Path;

use serde::Deserialize;

/// The default scenario, compiled in.
pub const DEFAULT_SCENARIO_RON: &str = include_str!("../../assets/scenarios/swarm.ron");

/// The most entities one frame may spawn: spawn indices are `u32`, and this
/// is well past what a frame budget allows on a desktop machine.
pub const MAX_ENTITIES_PER_FRAME: u64 = 50_000_000;

/// The longest trail, in points: 320 `Vec3` are 3840 bytes, which still fits
/// the slab's largest size class (4 KiB), so `debris.ron` can reach the big
/// classes without leaving the slab.
pub const MAX_TRAIL_LEN: u32 = 320;

/// Bytes of one trail point (`glam::Vec3`).
pub const TRAIL_POINT_BYTES: usize = std::mem::size_of::<glam::Vec3>();

const MAX_EMITTERS: usize = 256;
const MAX_TARGETS: usize = 4096;
const MAX_WEIGHTED_LENGTHS: usize = 64;
const MAX_WEIGHT: u32 = 1_000_000;
const MAX_HEALTH: u32 = 1_000_000_000;
const MAX_NAME_CHARS: usize = 64;

/// A scenario file. See `assets/scenarios/swarm.ron` for a commented example.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, shown in reports. 1 to 64 characters.
    pub name: String,
    /// What the scenario stresses.
    #[serde(default)]
    pub description: String,
    /// Transient entities spawned (and despawned) every frame; `--entities`
    /// overrides it.
    pub entities_per_frame: u64,
    /// Fixed simulation step, in seconds.
    pub timestep_s: f32,
    /// Acceleration applied to every transient entity.
    pub gravity: [f32; 3],
    /// Half the side of the cube the world lives in; positions must be inside.
    pub world_extent: f32,
    /// Side of one cell of the broadphase's spatial hash grid.
    pub cell_size: f32,
    /// Launch speed of transient entities, drawn uniformly.
    pub speed: SpeedRange,
    /// Half-angle of the cone emitters spray into, in degrees.
    pub spread_deg: f32,
    /// Each transient entity is spawned somewhere along its flight path, at an
    /// age drawn uniformly from 0 to this many seconds after launch, so one
    /// frame's entities fill the space a stream of projectiles would.
    pub flight_time_s: f32,
    /// The payload: a trail of points behind each entity.
    pub trail: TrailSpec,
    /// The emitters, in order.
    pub emitters: Vec<EmitterSpec>,
    /// The targets.
    pub targets: Targets,
}

/// A range of launch speeds, units per second.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpeedRange {
    /// Slowest launch speed.
    pub min: f32,
    /// Fastest launch speed, at least `min`.
    pub max: f32,
}

/// The per-entity payload.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrailSpec {
    /// How many points each trail has.
    pub lengths: TrailLengths,
    /// Distance between consecutive points, as a time step along the path
    /// (seconds of flight).
    pub spacing: f32,
}

/// The distribution of trail lengths, in points.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub enum TrailLengths {
    /// Every length from `min` to `max` equally likely.
    Uniform {
        /// Shortest trail.
        min: u32,
        /// Longest trail, at least `min`.
        max: u32,
    },
    /// `(length, weight)` pairs: a length is drawn with probability
    /// proportional to its weight.
    Weighted(Vec<(u32, u32)>),
}

/// One emitter.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EmitterSpec {
    /// Where entities appear.
    pub position: [f32; 3],
    /// Initial aim about +Y, degrees.
    pub yaw_deg: f32,
    /// Aim above the horizon, degrees.
    pub pitch_deg: f32,
    /// How fast the aim turns about +Y, degrees per second.
    #[serde(default)]
    pub sweep_deg_per_s: f32,
    /// Share of each frame's entities, relative to the other emitters.
    pub weight: u32,
    /// Spawn positions are jittered within this radius.
    #[serde(default)]
    pub muzzle_radius: f32,
}

/// Where the targets are.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub enum Targets {
    /// An explicit list.
    List(Vec<TargetSpec>),
    /// `count` targets evenly spaced on a horizontal circle.
    Ring {
        /// How many targets.
        count: u32,
        /// Radius of the circle.
        radius: f32,
        /// Height of the circle.
        height: f32,
        /// Collision radius of each target.
        target_radius: f32,
        /// Health of each target.
        health: u32,
    },
}

/// One target of an explicit list.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Home position.
    pub position: [f32; 3],
    /// Collision radius.
    pub radius: f32,
    /// Health, in energy units.
    pub health: u32,
}

/// Why a scenario could not be used. Every variant displays as one line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    Unreadable {
        /// The file.
        origin: String,
        /// What the OS said.
        reason: String,
    },
    /// The file is empty (or only whitespace).
    Empty {
        /// The file.
        origin: String,
    },
    /// The file is not text.
    Binary {
        /// The file.
        origin: String,
        /// What gave it away.
        detail: String,
    },
    /// RON could not parse the file, or it has unknown or missing fields.
    Syntax {
        /// The file.
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        col: usize,
        /// RON's message.
        message: String,
    },
    /// A field has a value outside its allowed range.
    Invalid {
        /// The file.
        origin: String,
        /// The field's path, such as `emitters[1].weight`.
        field: String,
        /// What is wrong, with the value and the allowed range.
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Unreadable { origin, reason } => {
                write!(f, "cannot read scenario {origin}: {reason}")
            }
            ScenarioError::Empty { origin } => {
                write!(
                    f,
                    "scenario {origin} is empty; expected a RON `Scenario(...)`"
                )
            }
            ScenarioError::Binary { origin, detail } => {
                write!(f, "scenario {origin} is not a RON text file ({detail})")
            }
            ScenarioError::Syntax {
                origin,
                line,
                col,
                message,
            } => write!(f, "scenario {origin}:{line}:{col}: {message}"),
            ScenarioError::Invalid {
                origin,
                field,
                message,
            } => write!(f, "scenario {origin}: field `{field}` {message}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// The compiled-in default scenario (`swarm.ron`).
    pub fn builtin() -> Scenario {
        Scenario::from_ron(DEFAULT_SCENARIO_RON, "swarm.ron (built in)")
            .expect("the built-in scenario is valid (tested by `builtin_scenario_is_valid`)")
    }

    /// Reads, parses and validates a scenario file.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] naming the file: unreadable, empty, binary,
    /// malformed (with line and column), or a field out of range.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ScenarioError::Unreadable {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        Scenario::from_bytes(&bytes, &origin)
    }

    /// Parses and validates scenario text from `origin` (used in messages).
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), minus the I/O.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Scenario, ScenarioError> {
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Err(ScenarioError::Binary {
                origin: origin.to_owned(),
                detail: format!("NUL byte at offset {offset}"),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| ScenarioError::Binary {
            origin: origin.to_owned(),
            detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        })?;
        Scenario::from_ron(text, origin)
    }

    /// Parses and validates RON text from `origin` (used in messages).
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), minus the I/O.
    pub fn from_ron(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        if text.trim().is_empty() {
            return Err(ScenarioError::Empty {
                origin: origin.to_owned(),
            });
        }
        let scenario: Scenario = ron::from_str(text).map_err(|e| ScenarioError::Syntax {
            origin: origin.to_owned(),
            line: e.span.start.line,
            col: e.span.start.col,
            message: e.code.to_string(),
        })?;
        scenario
            .validate()
            .map_err(|invalid| ScenarioError::Invalid {
                origin: origin.to_owned(),
                field: invalid.field,
                message: invalid.message,
            })?;
        Ok(scenario)
    }

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
        check_int(
            "entities_per_frame",
            self.entities_per_frame,
            1..=MAX_ENTITIES_PER_FRAME,
        )?;
        check_f32("timestep_s", self.timestep_s, 0.0001..=1.0)?;
        for (axis, &g) in ["x", "y", "z"].iter().zip(&self.gravity) {
            check_f32(&format!("gravity.{axis}"), g, -1000.0..=1000.0)?;
        }
        check_f32("world_extent", self.world_extent, 1.0..=1.0e6)?;
        let extent = self.world_extent;
        check_f32("cell_size", self.cell_size, 0.01..=extent)?;
        check_f32("speed.min", self.speed.min, 0.0..=1.0e4)?;
        check_f32("speed.max", self.speed.max, self.speed.min..=1.0e4)?;
        check_f32("spread_deg", self.spread_deg, 0.0..=90.0)?;
        check_f32("flight_time_s", self.flight_time_s, 0.0..=60.0)?;
        check_f32("trail.spacing", self.trail.spacing, 0.0001..=10.0)?;
        match &self.trail.lengths {
            TrailLengths::Uniform { min, max } => {
                check_int("trail.lengths.min", *min, 1..=MAX_TRAIL_LEN)?;
                check_int("trail.lengths.max", *max, *min..=MAX_TRAIL_LEN)?;
            }
            TrailLengths::Weighted(pairs) => {
                check_len("trail.lengths", pairs.len(), 1..=MAX_WEIGHTED_LENGTHS)?;
                for (i, &(len, weight)) in pairs.iter().enumerate() {
                    check_int(
                        &format!("trail.lengths[{i}].length"),
                        len,
                        1..=MAX_TRAIL_LEN,
                    )?;
                    check_int(
                        &format!("trail.lengths[{i}].weight"),
                        weight,
                        1..=MAX_WEIGHT,
                    )?;
                }
            }
        }
        check_len("emitters", self.emitters.len(), 1..=MAX_EMITTERS)?;
        for (i, e) in self.emitters.iter().enumerate() {
            let field = |name: &str| format!("emitters[{i}].{name}");
            check_position(&field("position"), e.position, extent)?;
            check_f32(&field("yaw_deg"), e.yaw_deg, -360.0..=360.0)?;
            check_f32(&field("pitch_deg"), e.pitch_deg, -90.0..=90.0)?;
            check_f32(
                &field("sweep_deg_per_s"),
                e.sweep_deg_per_s,
                -3600.0..=3600.0,
            )?;
            check_int(&field("weight"), e.weight, 1..=MAX_WEIGHT)?;
            check_f32(&field("muzzle_radius"), e.muzzle_radius, 0.0..=extent)?;
        }
        match &self.targets {
            Targets::List(list) => {
                check_len("targets", list.len(), 1..=MAX_TARGETS)?;
                for (i, t) in list.iter().enumerate() {
                    let field = |name: &str| format!("targets[{i}].{name}");
                    check_position(&field("position"), t.position, extent)?;
                    check_f32(&field("radius"), t.radius, 0.01..=extent)?;
                    check_int(&field("health"), t.health, 1..=MAX_HEALTH)?;
                }
            }
            Targets::Ring {
                count,
                radius,
                height,
                target_radius,
                health,
            } => {
                check_int("targets.count", *count, 1..=MAX_TARGETS as u32)?;
                check_f32("targets.radius", *radius, 0.0..=extent)?;
                check_f32("targets.height", *height, -extent..=extent)?;
                check_f32("targets.target_radius", *target_radius, 0.01..=extent)?;
                check_int("targets.health", *health, 1..=MAX_HEALTH)?;
            }
        }
        Ok(())
    }

    /// The longest trail this scenario can draw, in points.
    pub fn max_trail_len(&self) -> u32 {
        match &self.trail.lengths {
            TrailLengths::Uniform { max, .. } => *max,
            TrailLengths::Weighted(pairs) => pairs.iter().map(|&(len, _)| len).max().unwrap_or(1),
        }
    }

    /// The average trail length, in points.
    pub fn mean_trail_len(&self) -> f64 {
        match &self.trail.lengths {
            TrailLengths::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            TrailLengths::Weighted(pairs) => {
                let total: f64 = pairs.iter().map(|&(_, w)| f64::from(w)).sum();
                let sum: f64 = pairs
                    .iter()
                    .map(|&(len, w)| f64::from(len) * f64::from(w))
                    .sum();
                sum / total.max(1.0)
            }
        }
    }

    /// How many targets the scenario defines.
    pub fn target_count(&self) -> usize {
        match &self.targets {
            Targets::List(list) => list.len(),
            Targets::Ring { count, .. } => *count as usize,
        }
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

fn check_f32(field: &str, value: f32, allowed: RangeInclusive<f32>) -> Result<(), InvalidField> {
    // `contains` is false for NaN, so NaN is reported as out of range.
    check_int(field, value, allowed)
}

fn check_int<T: PartialOrd + fmt::Display>(
    field: &str,
    value: T,
    allowed: RangeInclusive<T>,
) -> Result<(), InvalidField> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(InvalidField::new(
            field,
            format!(
                "= {value} is out of range (allowed {}..={})",
                allowed.start(),
                allowed.end()
            ),
        ))
    }
}

fn check_len(field: &str, len: usize, allowed: RangeInclusive<usize>) -> Result<(), InvalidField> {
    if allowed.contains(&len) {
        Ok(())
    } else {
        Err(InvalidField::new(
            field,
            format!(
                "has {len} entries (allowed {}..={})",
                allowed.start(),
                allowed.end()
            ),
        ))
    }
}

fn check_position(field: &str, p: [f32; 3], extent: f32) -> Result<(), InvalidField> {
    for (axis, &v) in ["x", "y", "z"].iter().zip(&p) {
        check_f32(&format!("{field}.{axis}"), v, -extent..=extent)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swarm() -> Scenario {
        Scenario::from_ron(DEFAULT_SCENARIO_RON, "swarm.ron").unwrap()
    }

    /// Replaces the first `from` in the built-in text and parses the result.
    fn edited(from: &str, to: &str) -> ScenarioError {
        assert!(
            DEFAULT_SCENARIO_RON.contains(from),
            "swarm.ron has no {from:?}"
        );
        let text = DEFAULT_SCENARIO_RON.replacen(from, to, 1);
        Scenario::from_ron(&text, "test.ron").unwrap_err()
    }

    fn invalid_field(error: &ScenarioError) -> &str {
        match error {
            ScenarioError::Invalid { field, .. } => field,
            other => panic!("expected an invalid field, got {other}"),
        }
    }

    #[test]
    fn builtin_scenario_is_valid() {
        let s = Scenario::builtin();
        assert_eq!(s.name, "swarm");
        assert!(s.max_trail_len() <= 32);
    }

    #[test]
    fn every_shipped_scenario_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ron") {
                Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                seen += 1;
            }
        }
        assert!(seen >= 3, "only {seen} scenarios shipped");
    }

    #[test]
    fn out_of_range_names_the_field_and_range() {
        let e = edited("entities_per_frame: 50000", "entities_per_frame: 0");
        assert_eq!(invalid_field(&e), "entities_per_frame");
        let text = e.to_string();
        assert!(
            text.contains("= 0") && text.contains("1..=50000000"),
            "{text}"
        );
        assert!(!text.contains('\n'));
    }

    #[test]
    fn nested_fields_are_named_with_their_path() {
        let e = edited("weight: 3", "weight: 0");
        assert_eq!(invalid_field(&e), "emitters[0].weight");
        let e = edited("max: 12", "max: 999");
        assert_eq!(invalid_field(&e), "trail.lengths.max");
        assert!(e.to_string().contains("allowed 4..=320"), "{e}");
        let e = edited("spread_deg: 25.0", "spread_deg: 120.0");
        assert_eq!(invalid_field(&e), "spread_deg");
    }

    #[test]
    fn nan_and_inverted_ranges_are_rejected() {
        let mut s = swarm();
        s.timestep_s = f32::NAN;
        assert_eq!(s.validate().unwrap_err().field, "timestep_s");
        let mut s = swarm();
        s.speed = SpeedRange {
            min: 10.0,
            max: 5.0,
        };
        assert_eq!(s.validate().unwrap_err().field, "speed.max");
        let mut s = swarm();
        s.emitters[0].position[1] = s.world_extent * 2.0;
        assert_eq!(s.validate().unwrap_err().field, "emitters[0].position.y");
    }

    #[test]
    fn empty_lists_are_rejected() {
        let mut s = swarm();
        s.emitters.clear();
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "emitters");
        assert!(e.message.contains("0 entries"), "{e}");
        let mut s = swarm();
        s.trail.lengths = TrailLengths::Weighted(vec![]);
        assert_eq!(s.validate().unwrap_err().field, "trail.lengths");
        let mut s = swarm();
        s.targets = Targets::List(vec![]);
        assert_eq!(s.validate().unwrap_err().field, "targets");
    }

    #[test]
    fn unknown_field_is_named_with_its_position() {
        let e = edited("cell_size:", "cel_size:");
        match &e {
            ScenarioError::Syntax {
                line, col, message, ..
            } => {
                assert!(*line > 1 && *col >= 1);
                assert!(message.contains("cel_size"), "{message}");
            }
            other => panic!("expected a syntax error, got {other}"),
        }
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let e = Scenario::from_ron(
            "Scenario(\n  name: \"x\",\n  entities_per_frame: ,\n)",
            "t.ron",
        )
        .unwrap_err();
        match e {
            // RON points at the gap before the missing value.
            ScenarioError::Syntax { line, col, .. } => assert_eq!((line, col), (3, 22)),
            other => panic!("expected a syntax error, got {other}"),
        }
        assert!(
            Scenario::from_ron("(", "t.ron")
                .unwrap_err()
                .to_string()
                .starts_with("scenario t.ron:1:")
        );
    }

    #[test]
    fn empty_and_binary_input_are_rejected() {
        assert!(matches!(
            Scenario::from_bytes(b"  \n\t", "e.ron"),
            Err(ScenarioError::Empty { .. })
        ));
        assert!(matches!(
            Scenario::from_bytes(b"Scenario(\0\x01\x02", "b.ron"),
            Err(ScenarioError::Binary { .. })
        ));
        assert!(matches!(
            Scenario::from_bytes(&[0xff, 0xfe, b'(', b')'], "b.ron"),
            Err(ScenarioError::Binary { .. })
        ));
    }

    #[test]
    fn missing_file_is_unreadable() {
        let e = Scenario::load(Path::new("/nonexistent/x.ron")).unwrap_err();
        assert!(matches!(e, ScenarioError::Unreadable { .. }));
        assert!(e.to_string().contains("/nonexistent/x.ron"), "{e}");
    }

    #[test]
    fn weighted_lengths_parse_and_average() {
        let text = DEFAULT_SCENARIO_RON.replacen(
            "Uniform(min: 4, max: 12)",
            "Weighted([(4, 3), (32, 1)])",
            1,
        );
        let s = Scenario::from_ron(&text, "t.ron").unwrap();
        assert_eq!(s.max_trail_len(), 32);
        assert!((s.mean_trail_len() - 11.0).abs() < 1e-9);
    }
}

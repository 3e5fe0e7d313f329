//! The scenario's schema: the types a RON scenario file deserialises into,
//! with one doc line per field, and what the simulation derives from them
//! (trail lengths, the targets one by one). Ranges are checked in
//! `validate.rs`; see `assets/scenarios/swarm.ron` for a commented file.

use serde::Deserialize;

/// The longest trail, in points: 320 `Vec3` are 3840 bytes, which still fits
/// the slab's largest size class (4 KiB), so `debris.ron` can reach the big
/// classes without leaving the slab.
pub const MAX_TRAIL_LEN: u32 = 320;

/// Bytes of one trail point (`glam::Vec3`).
pub const TRAIL_POINT_BYTES: usize = std::mem::size_of::<glam::Vec3>();

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
    /// How many frames each transient entity lives, counting the frame it
    /// is born in; optional, 1 by default (every entity dies at the end of
    /// the frame it was born in).
    #[serde(default)]
    pub lifetime_frames: Option<Distribution>,
    /// Extra entities on some frames (an explosion), on top of
    /// `entities_per_frame`; optional.
    #[serde(default)]
    pub waves: Option<Waves>,
}

/// A wave: every `every_frames`-th frame spawns `extra_entities` more.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Waves {
    /// Frames from one wave to the next; the first wave comes in frame
    /// `every_frames - 1` (counting from 0, warm-up frames included).
    pub every_frames: u32,
    /// Entities a wave adds to its frame.
    pub extra_entities: u64,
}

impl Waves {
    /// Whether frame `frame` (counting from 0) has a wave.
    pub fn in_frame(&self, frame: u64) -> bool {
        (frame + 1).is_multiple_of(u64::from(self.every_frames.max(1)))
    }
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
    pub lengths: Distribution,
    /// Distance between consecutive points, as a time step along the path
    /// (seconds of flight).
    pub spacing: f32,
}

/// A distribution of whole numbers: trail lengths in points, lifetimes in
/// frames.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub enum Distribution {
    /// Every value from `min` to `max` equally likely.
    Uniform {
        /// The smallest value.
        min: u32,
        /// The largest value, at least `min`.
        max: u32,
    },
    /// `(value, weight)` pairs: a value is drawn with probability
    /// proportional to its weight.
    Weighted(Vec<(u32, u32)>),
}

impl Distribution {
    /// The largest value it can draw.
    pub fn max(&self) -> u32 {
        match self {
            Distribution::Uniform { max, .. } => *max,
            Distribution::Weighted(pairs) => pairs.iter().map(|&(v, _)| v).max().unwrap_or(1),
        }
    }

    /// Its mean.
    pub fn mean(&self) -> f64 {
        match self {
            Distribution::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
            Distribution::Weighted(pairs) => {
                let total: f64 = pairs.iter().map(|&(_, w)| f64::from(w)).sum();
                let sum: f64 = pairs
                    .iter()
                    .map(|&(v, w)| f64::from(v) * f64::from(w))
                    .sum();
                sum / total.max(1.0)
            }
        }
    }
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

impl Scenario {
    /// The longest trail this scenario can draw, in points.
    pub fn max_trail_len(&self) -> u32 {
        self.trail.lengths.max()
    }

    /// The average trail length, in points.
    pub fn mean_trail_len(&self) -> f64 {
        self.trail.lengths.mean()
    }

    /// The longest an entity lives, in frames (1: it dies in the frame it
    /// was born in).
    pub fn max_lifetime_frames(&self) -> u32 {
        self.lifetime_frames.as_ref().map_or(1, Distribution::max)
    }

    /// The most transient entities alive at once when `entities` are born a
    /// frame: every frame's births until the longest lifetime ends, and the
    /// largest wave among them.
    pub fn max_alive(&self, entities: u64) -> u64 {
        let lifetime = u64::from(self.max_lifetime_frames());
        let wave = self.waves.map_or(0, |w| {
            // Waves within one lifetime of each other overlap.
            w.extra_entities * lifetime.div_ceil(u64::from(w.every_frames.max(1)))
        });
        entities.saturating_mul(lifetime).saturating_add(wave)
    }

    /// How many targets the scenario defines.
    pub fn target_count(&self) -> usize {
        match &self.targets {
            Targets::List(list) => list.len(),
            Targets::Ring { count, .. } => *count as usize,
        }
    }
}

impl Targets {
    /// Every target, in id order: the list as it is, or the ring expanded
    /// into `count` targets evenly spaced around it, the first at +Z.
    pub fn specs(&self) -> Vec<TargetSpec> {
        match self {
            Targets::List(list) => list.clone(),
            Targets::Ring {
                count,
                radius,
                height,
                target_radius,
                health,
            } => (0..*count)
                .map(|id| {
                    let angle = std::f32::consts::TAU * id as f32 / *count as f32;
                    TargetSpec {
                        position: [radius * angle.sin(), *height, radius * angle.cos()],
                        radius: *target_radius,
                        health: *health,
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_expands_into_evenly_spaced_targets() {
        let ring = Targets::Ring {
            count: 4,
            radius: 10.0,
            height: 2.0,
            target_radius: 1.5,
            health: 7,
        };
        let specs = ring.specs();
        assert_eq!(specs.len(), 4);
        let close = |a: [f32; 3], b: [f32; 3]| a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(specs[0].position, [0.0, 2.0, 10.0]), "{specs:?}");
        assert!(close(specs[1].position, [10.0, 2.0, 0.0]), "{specs:?}");
        assert!(close(specs[2].position, [0.0, 2.0, -10.0]), "{specs:?}");
        assert!(specs.iter().all(|t| t.radius == 1.5 && t.health == 7));
    }

    #[test]
    fn a_list_expands_into_itself() {
        let list = vec![TargetSpec {
            position: [1.0, 2.0, 3.0],
            radius: 4.0,
            health: 5,
        }];
        assert_eq!(Targets::List(list.clone()).specs(), list);
    }
}

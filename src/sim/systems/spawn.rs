//! Spawn: the persistent entities once, from the scenario, and every frame
//! the transient ones, which the emitters spray in a cone with a trail each
//! from the strategy.
//!
//! Single-threaded, in emitter order: the seeded generator is drawn in the
//! same order for every strategy and thread count.

use bevy_ecs::query::QueryState;
use bevy_ecs::resource::Resource;
use bevy_ecs::world::{Mut, World};
use glam::{Quat, Vec3};

use crate::sim::components::{Emitter, Reach, Target, Transform, Transient, Velocity};
use crate::sim::entity_count::EntitiesPerFrame;
use crate::sim::memory::{FrameMemory, TrailWriter};
use crate::sim::resources::{FrameCounters, SimConfig};
use crate::sim::scenario::{Distribution, Scenario, Waves};

/// What the spawn system needs: the distributions, the seeded random number
/// generator, and a buffer of per-emitter plans reused every frame.
#[derive(Resource, Debug)]
pub struct Spawner {
    entities_per_frame: u32,
    /// Extra entities on some frames.
    waves: Option<Waves>,
    /// The generator; seeded once, used only by the spawn system, which runs
    /// on one thread.
    rng: fastrand::Rng,
    speed_min: f32,
    speed_max: f32,
    /// `tan` of the spread half-angle.
    spread: f32,
    flight_time_s: f32,
    trail_spacing_s: f32,
    lengths: Sampler,
    /// Lifetimes in frames; `None`: one frame each, and nothing is drawn
    /// (so scenarios without lifetimes draw what they always drew).
    lifetimes: Option<Sampler>,
    /// This frame's plan per emitter, in emitter id order.
    shots: Vec<Shot>,
}

impl Spawner {
    /// Entities born in frame `frame`: the scenario's count, and a wave's on
    /// top in a wave frame.
    fn births(&self, frame: u64) -> u32 {
        let wave = match self.waves {
            Some(w) if w.in_frame(frame) => w.extra_entities,
            _ => 0,
        };
        // Both are at most MAX_ENTITIES_PER_FRAME (validated), so the sum
        // fits in u32.
        u32::try_from(u64::from(self.entities_per_frame) + wave)
            .expect("entities per frame and a wave are each at most 50,000,000")
    }

    /// The scenario's distributions, `entities` a frame, drawn from a
    /// generator seeded with `seed`.
    pub fn new(scenario: &Scenario, entities: EntitiesPerFrame, seed: u64) -> Self {
        Self {
            entities_per_frame: entities.get(),
            waves: scenario.waves,
            rng: fastrand::Rng::with_seed(seed),
            speed_min: scenario.speed.min,
            speed_max: scenario.speed.max,
            spread: scenario.spread_deg.to_radians().tan(),
            flight_time_s: scenario.flight_time_s,
            trail_spacing_s: scenario.trail.spacing,
            lengths: Sampler::new(&scenario.trail.lengths),
            lifetimes: scenario.lifetime_frames.as_ref().map(Sampler::new),
            shots: Vec::with_capacity(scenario.emitters.len()),
        }
    }
}

/// Draws from one of the scenario's distributions (trail lengths,
/// lifetimes).
#[derive(Debug, Clone)]
enum Sampler {
    Uniform {
        min: u32,
        max: u32,
    },
    /// Cumulative weights and the length each ends at.
    Weighted {
        cumulative: Vec<u64>,
        lengths: Vec<u32>,
    },
}

impl Sampler {
    fn new(dist: &Distribution) -> Self {
        match dist {
            Distribution::Uniform { min, max } => Sampler::Uniform {
                min: *min,
                max: *max,
            },
            Distribution::Weighted(pairs) => {
                let mut total = 0;
                let cumulative = pairs
                    .iter()
                    .map(|&(_, w)| {
                        total += u64::from(w);
                        total
                    })
                    .collect();
                Sampler::Weighted {
                    cumulative,
                    lengths: pairs.iter().map(|&(len, _)| len).collect(),
                }
            }
        }
    }

    #[inline(always)]
    fn sample(&self, rng: &mut fastrand::Rng) -> usize {
        match self {
            Sampler::Uniform { min, max } => rng.u32(*min..=*max) as usize,
            Sampler::Weighted {
                cumulative,
                lengths,
            } => {
                let total = *cumulative.last().expect("validated: at least one length");
                let draw = rng.u64(0..total);
                lengths[cumulative.partition_point(|&c| c <= draw)] as usize
            }
        }
    }
}

/// One emitter's plan for this frame.
#[derive(Debug, Clone, Copy)]
struct Shot {
    id: u32,
    count: u32,
    position: Vec3,
    forward: Vec3,
    right: Vec3,
    up: Vec3,
    /// Spawned entities start facing the emitter's aim.
    rotation: Quat,
    muzzle_radius: f32,
}

/// Spawns the scenario's emitters, then its targets, each numbered in
/// scenario order (the checksum's order).
pub fn spawn_persistent(world: &mut World, scenario: &Scenario) {
    for (id, e) in scenario.emitters.iter().enumerate() {
        world.spawn(Emitter {
            id: id as u32,
            position: Vec3::from_array(e.position),
            yaw: e.yaw_deg.to_radians(),
            pitch: e.pitch_deg.to_radians(),
            sweep: e.sweep_deg_per_s.to_radians(),
            weight: e.weight,
            muzzle_radius: e.muzzle_radius,
            emitted: 0,
        });
    }
    for (id, t) in scenario.targets.specs().iter().enumerate() {
        let home = Vec3::from_array(t.position);
        world.spawn(Target {
            id: id as u32,
            position: home,
            home,
            radius: t.radius,
            health: i64::from(t.health),
            max_health: i64::from(t.health),
            hits: 0,
            absorbed: 0,
            destroyed: 0,
        });
    }
}

/// Spawn: the emitters create this frame's transient entities, each with a
/// trail allocated from the strategy.
pub fn spawn_transients<M: FrameMemory>(
    world: &mut World,
    emitters: &mut QueryState<&mut Emitter>,
) {
    puffin::profile_function!();
    world.resource_scope(|world, mut spawner: Mut<Spawner>| {
        let dt = world.resource::<SimConfig>().dt;
        let gravity = world.resource::<SimConfig>().gravity;
        let frame = world.resource::<FrameCounters>().frame;
        let n = spawner.births(frame);
        plan_shots(&mut spawner, n, emitters, world);
        world.resource_scope(|world, mut memory: Mut<M>| {
            let spawner = &mut *spawner;
            let memory = &mut *memory;
            // Counted against `spawn` in the arena's per-system attribution.
            let tag = memory.system_tag("spawn");
            // Taken once for the batch: the arena's lane, counting in plain
            // cells (`memory/trails.rs`).
            let mut trails = memory.trails(tag.as_ref());
            let (shots, rng) = (&spawner.shots, &mut spawner.rng);
            let (speed_min, speed_span) =
                (spawner.speed_min, spawner.speed_max - spawner.speed_min);
            let (spread, flight, spacing) = (
                spawner.spread,
                spawner.flight_time_s,
                spawner.trail_spacing_s,
            );
            let (lengths, lifetimes) = (&spawner.lengths, &spawner.lifetimes);
            let half_g = gravity * 0.5;
            let (mut shot, mut left) = (0, shots[0].count);
            // `Map<Range>` has an exact size, so `spawn_batch` reserves once.
            let batch = (0..n).map(move |_| {
                while left == 0 {
                    shot += 1;
                    left = shots[shot].count;
                }
                left -= 1;
                let s = &shots[shot];
                // 16 random bits per jitter value are plenty; four values
                // per draw keep the generator off the profile.
                let [a, b, c] = [rng.u64(..), rng.u64(..), rng.u64(..)];
                let muzzle = s.position
                    + Vec3::new(signed16(a, 0), signed16(a, 1), signed16(a, 2)) * s.muzzle_radius;
                let aim = (s.forward
                    + s.right * (signed16(a, 3) * spread)
                    + s.up * (signed16(b, 0) * spread))
                    .normalize();
                let launch = aim * (speed_min + unit16(b, 1) * speed_span);
                let age = unit16(b, 2) * flight;
                let position = muzzle + launch * age + half_g * (age * age);
                let angular = Vec3::new(signed16(b, 3), signed16(c, 0), signed16(c, 1)) * 3.0;
                let len = lengths.sample(rng);
                let lifetime = lifetimes.as_ref().map_or(1, |l| l.sample(rng) as u32);
                // The trail: where the entity was `k + 1` spacings ago.
                let trail = trails.alloc_trail(len, lifetime, |k| {
                    let t = age - (k + 1) as f32 * spacing;
                    muzzle + launch * t + half_g * (t * t)
                });
                (
                    Transient {
                        last_frame: frame + u64::from(lifetime) - 1,
                        reach: Reach::default(),
                    },
                    Transform {
                        translation: position,
                        rotation: s.rotation,
                    },
                    Velocity {
                        linear: launch + gravity * age,
                        angular,
                    },
                    trail,
                )
            });
            world.spawn_batch(batch);
        });
        {
            let mut counters = world.resource_mut::<FrameCounters>();
            counters.spawned = n;
            counters.alive += n;
        }
        // The emitters turn and count what they emitted.
        for mut emitter in emitters.iter_mut(world) {
            let count = spawner
                .shots
                .iter()
                .find(|s| s.id == emitter.id)
                .map_or(0, |s| s.count);
            emitter.emitted += u64::from(count);
            emitter.yaw = (emitter.yaw + emitter.sweep * dt).rem_euclid(std::f32::consts::TAU);
        }
    });
}

/// The `i`-th 16-bit field of `bits` as a float in `0.0..1.0`.
#[inline(always)]
fn unit16(bits: u64, i: u32) -> f32 {
    ((bits >> (16 * i)) & 0xffff) as f32 * (1.0 / 65536.0)
}

/// The `i`-th 16-bit field of `bits` as a float in `-1.0..1.0`.
#[inline(always)]
fn signed16(bits: u64, i: u32) -> f32 {
    unit16(bits, i) * 2.0 - 1.0
}

/// Splits this frame's entities between the emitters by weight (the
/// remainder to the first ones) and computes each emitter's aim.
fn plan_shots(
    spawner: &mut Spawner,
    n: u32,
    emitters: &mut QueryState<&mut Emitter>,
    world: &World,
) {
    spawner.shots.clear();
    for e in emitters.iter(world) {
        let forward = Vec3::new(
            e.pitch.cos() * e.yaw.sin(),
            e.pitch.sin(),
            e.pitch.cos() * e.yaw.cos(),
        );
        let right = forward.cross(Vec3::Y).try_normalize().unwrap_or(Vec3::X);
        spawner.shots.push(Shot {
            id: e.id,
            count: e.weight,
            position: e.position,
            forward,
            right,
            up: right.cross(forward),
            rotation: Quat::from_rotation_arc(Vec3::Z, forward),
            muzzle_radius: e.muzzle_radius,
        });
    }
    spawner.shots.sort_unstable_by_key(|s| s.id);
    let total_weight: u64 = spawner.shots.iter().map(|s| u64::from(s.count)).sum();
    let n = u64::from(n);
    let mut given = 0;
    for s in &mut spawner.shots {
        s.count = (n * u64::from(s.count) / total_weight) as u32;
        given += u64::from(s.count);
    }
    for s in spawner.shots.iter_mut().take((n - given) as usize) {
        s.count += 1;
    }
}

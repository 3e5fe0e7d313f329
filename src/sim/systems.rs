//! The systems of one frame, as plain named functions. Their order is
//! declared once, in [`Simulation::new`](super::Simulation::new).
//!
//! Every computation that feeds the persistent state is the same for every
//! strategy and per entity (or single-threaded in a fixed order), and sums
//! over contacts are taken in integers, so the result does not depend on the
//! strategy, the thread count or the order of parallel work.
//!
//! Profiling: one puffin scope per system and per phase of `collide`, and
//! one per batch of each parallel loop (`for_each_init` runs its `init` once
//! per batch task, on the thread that runs the batch), so parallel work shows
//! under the worker threads' names. Never one per entity: a scope costs
//! 60-115 ns. With scopes off (`puffin::set_scopes_on(false)`, the default)
//! each costs one relaxed atomic load.

use bevy_ecs::entity::Entity;
use bevy_ecs::query::{QueryState, With};
use bevy_ecs::resource::Resource;
use bevy_ecs::system::{Local, Query, Res, ResMut};
use bevy_ecs::world::{Mut, World};
use glam::{Quat, Vec3};

use super::components::{Emitter, Reach, Target, Transform, Transient, Velocity};
use super::memory::{FrameMemory, ScratchVec};
use super::scenario::TrailLengths;

/// Fixed-point scale of a contact's push direction (1/256 of a unit vector
/// per contact): integers, so the sum over contacts is order-independent.
const PUSH_SCALE: f32 = 256.0;
/// How far one unit of summed push moves a target, in world units.
const KNOCKBACK: f32 = 0.002;
/// The fraction of the way home a target springs back each frame.
const SPRING: f32 = 0.05;
/// Fewest buckets in the broadphase's hash table.
const MIN_BUCKETS: usize = 64;
/// Most buckets: the bucket starts and cursors (8 bytes a bucket) are hit at
/// random once per body, so they must stay in L2 for the grid build to cost
/// the same per body at 200k bodies as at 50k; more bodies then share a
/// bucket, which only the few buckets near a target pay for.
const MAX_BUCKETS: usize = 1 << 15;

/// Settings every system reads; made from the scenario.
#[derive(Resource, Debug, Clone)]
pub struct SimConfig {
    /// Fixed time step, seconds.
    pub dt: f32,
    /// Acceleration of transient entities.
    pub gravity: Vec3,
    /// Side of a broadphase cell.
    pub cell_size: f32,
    /// Half the side of the world cube; targets stay inside.
    pub world_extent: f32,
}

/// What the spawn system needs: the distributions, the seeded random number
/// generator, and a buffer of per-emitter plans reused every frame.
#[derive(Resource, Debug)]
pub struct Spawner {
    /// Entities per frame.
    pub entities_per_frame: u32,
    /// The generator; seeded once, used only by the spawn system, which runs
    /// on one thread.
    pub rng: fastrand::Rng,
    pub(super) speed_min: f32,
    pub(super) speed_max: f32,
    /// `tan` of the spread half-angle.
    pub(super) spread: f32,
    pub(super) flight_time_s: f32,
    pub(super) trail_spacing_s: f32,
    pub(super) lengths: LengthSampler,
    pub(super) shots: Vec<Shot>,
}

/// Draws trail lengths from the scenario's distribution.
#[derive(Debug, Clone)]
pub(super) enum LengthSampler {
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

impl LengthSampler {
    pub(super) fn new(lengths: &TrailLengths) -> Self {
        match lengths {
            TrailLengths::Uniform { min, max } => LengthSampler::Uniform {
                min: *min,
                max: *max,
            },
            TrailLengths::Weighted(pairs) => {
                let mut total = 0;
                let cumulative = pairs
                    .iter()
                    .map(|&(_, w)| {
                        total += u64::from(w);
                        total
                    })
                    .collect();
                LengthSampler::Weighted {
                    cumulative,
                    lengths: pairs.iter().map(|&(len, _)| len).collect(),
                }
            }
        }
    }

    #[inline(always)]
    fn sample(&self, rng: &mut fastrand::Rng) -> usize {
        match self {
            LengthSampler::Uniform { min, max } => rng.u32(*min..=*max) as usize,
            LengthSampler::Weighted {
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
pub(super) struct Shot {
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

/// Figures of the current frame, read by [`Simulation::step`](super::Simulation::step).
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct FrameCounters {
    /// Transient entities spawned this frame.
    pub spawned: u32,
    /// Contacts found this frame.
    pub contacts: u32,
}

/// A transient entity as the broadphase sees it (a scratch row).
#[derive(Clone, Copy, Debug, Default)]
pub struct Body {
    center: Vec3,
    radius: f32,
    energy: u32,
    /// Its bucket in the spatial hash table.
    bucket: u32,
}

/// A transient entity touching a target (a scratch row).
#[derive(Clone, Copy, Debug, Default)]
pub struct Contact {
    /// Index into the targets' scratch rows.
    target: u32,
    /// Index into the bodies' scratch rows (the spawn index).
    body: u32,
}

/// A target's position and what it received this frame (a scratch row).
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetScratch {
    position: Vec3,
    radius: f32,
    hits: u64,
    energy: u64,
    push: [i64; 3],
}

/// Spawn: the emitters create this frame's transient entities, each with a
/// trail allocated from the strategy. Single-threaded, in emitter order, so
/// the random draws are the same for every strategy and thread count.
pub fn spawn_transients<M: FrameMemory>(
    world: &mut World,
    emitters: &mut QueryState<&mut Emitter>,
) {
    puffin::profile_function!();
    world.resource_scope(|world, mut spawner: Mut<Spawner>| {
        let dt = world.resource::<SimConfig>().dt;
        let gravity = world.resource::<SimConfig>().gravity;
        plan_shots(&mut spawner, emitters, world);
        world.resource_scope(|world, memory: Mut<M>| {
            let spawner = &mut *spawner;
            let memory = &*memory;
            let n = spawner.entities_per_frame;
            let (shots, rng) = (&spawner.shots, &mut spawner.rng);
            let (speed_min, speed_span) =
                (spawner.speed_min, spawner.speed_max - spawner.speed_min);
            let (spread, flight, spacing) = (
                spawner.spread,
                spawner.flight_time_s,
                spawner.trail_spacing_s,
            );
            let lengths = &spawner.lengths;
            let half_g = gravity * 0.5;
            let (mut shot, mut left) = (0, shots[0].count);
            // `Map<Range>` has an exact size, so `spawn_batch` reserves once.
            let batch = (0..n).map(move |index| {
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
                // The trail: where the entity was `k + 1` spacings ago.
                let trail = memory.alloc_trail(len, |k| {
                    let t = age - (k + 1) as f32 * spacing;
                    muzzle + launch * t + half_g * (t * t)
                });
                (
                    Transient {
                        index,
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
        world.resource_mut::<FrameCounters>().spawned = spawner.entities_per_frame;
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
fn plan_shots(spawner: &mut Spawner, emitters: &mut QueryState<&mut Emitter>, world: &World) {
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
    let n = u64::from(spawner.entities_per_frame);
    let mut given = 0;
    for s in &mut spawner.shots {
        s.count = (n * u64::from(s.count) / total_weight) as u32;
        given += u64::from(s.count);
    }
    for s in spawner.shots.iter_mut().take((n - given) as usize) {
        s.count += 1;
    }
}

/// Integrate: one fixed step of motion, in parallel.
pub fn integrate(
    config: Res<SimConfig>,
    mut transients: Query<(&mut Transform, &mut Velocity), With<Transient>>,
) {
    puffin::profile_function!();
    let (dt, gravity) = (config.dt, config.gravity);
    transients.par_iter_mut().for_each_init(
        || puffin::profile_scope_custom!("integrate_batch"),
        |_batch, (mut transform, mut velocity)| {
            transform.translation += velocity.linear * dt;
            velocity.linear += gravity * dt;
            // First-order quaternion integration, then renormalise.
            let w = velocity.angular;
            let q = transform.rotation;
            let spin = Quat::from_xyzw(w.x, w.y, w.z, 0.0) * q;
            transform.rotation = (q + spin * (0.5 * dt)).normalize();
        },
    );
}

/// Payload update: read each trail and derive the entity's reach (a bounding
/// sphere of the entity and its trail) and energy, in parallel.
pub fn update_payloads<M: FrameMemory>(
    memory: Res<M>,
    mut transients: Query<(&Transform, &Velocity, &M::Payload, &mut Transient)>,
) {
    puffin::profile_function!();
    let memory = &*memory;
    transients.par_iter_mut().for_each_init(
        || puffin::profile_scope_custom!("update_payloads_batch"),
        |_batch, (transform, velocity, payload, mut transient)| {
            let trail = memory.trail(payload);
            let head = transform.translation;
            let tail = trail.last().copied().unwrap_or(head);
            let center = (head + tail) * 0.5;
            let mut radius_sq = head.distance_squared(center);
            for &point in trail {
                radius_sq = radius_sq.max(point.distance_squared(center));
            }
            let energy = 0.5 * trail.len() as f32 * velocity.linear.length_squared();
            transient.reach = Reach {
                center,
                radius: radius_sq.sqrt(),
                // `as` saturates; the cap keeps a frame's sum far from u64::MAX.
                energy: energy.min(1.0e9) as u32,
            };
        },
    );
}

/// Broadphase, contacts and resolve, as three phases of one system: the
/// spatial hash grid and the contact list are scratch borrowed from the
/// strategy, and a borrow cannot outlive the system call (resources and
/// components must be `'static`), so the phases that share them share a call.
pub fn collide<M: FrameMemory>(
    memory: Res<M>,
    config: Res<SimConfig>,
    mut counters: ResMut<FrameCounters>,
    transients: Query<&Transient>,
    mut targets: Query<&mut Target>,
) {
    puffin::profile_function!();
    let memory = &*memory;
    let n = counters.spawned as usize;
    let inv_cell = 1.0 / config.cell_size;
    let buckets = n.next_power_of_two().clamp(MIN_BUCKETS, MAX_BUCKETS);
    let mask = (buckets - 1) as u32;

    // Broadphase: a spatial hash grid of the bodies, by counting sort, so
    // each bucket's bodies are contiguous and in spawn order.
    let mut bodies = memory.scratch::<Body>(n);
    let mut starts = memory.scratch::<u32>(buckets + 1);
    let mut entries = memory.scratch::<u32>(n);
    let mut max_radius = 0.0f32;
    {
        puffin::profile_scope!("broadphase");
        bodies.resize(n, Body::default());
        starts.resize(buckets + 1, 0);
        let rows = bodies.as_mut_slice();
        let counts = starts.as_mut_slice();
        for transient in &transients {
            let reach = &transient.reach;
            let bucket = bucket_of(cell_of(reach.center, inv_cell), mask);
            rows[transient.index as usize] = Body {
                center: reach.center,
                radius: reach.radius,
                energy: reach.energy,
                bucket,
            };
            counts[bucket as usize + 1] += 1;
            max_radius = max_radius.max(reach.radius);
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        // `counts[b]` is now where bucket `b` starts; fill forwards with a
        // cursor per bucket (reusing `entries` would need a second pass).
        let mut cursor = memory.scratch::<u32>(buckets);
        cursor.resize(buckets, 0);
        cursor
            .as_mut_slice()
            .copy_from_slice(&starts.as_slice()[..buckets]);
        entries.resize(n, 0);
        let (cursor, out) = (cursor.as_mut_slice(), entries.as_mut_slice());
        for (i, body) in bodies.as_slice().iter().enumerate() {
            let slot = &mut cursor[body.bucket as usize];
            out[*slot as usize] = i as u32;
            *slot += 1;
        }
    }

    // Contacts: each target looks up the buckets its sphere (grown by the
    // largest body radius) can touch, in ascending order, each once.
    let mut target_rows = memory.scratch::<TargetScratch>(targets.iter().len());
    let mut contacts = memory.scratch::<Contact>(n / 16 + 64);
    {
        puffin::profile_scope!("contacts");
        let mut visit = memory.scratch::<u32>(256);
        let (bodies, starts, entries) = (bodies.as_slice(), starts.as_slice(), entries.as_slice());
        for target in &targets {
            target_rows.push(TargetScratch {
                position: target.position,
                radius: target.radius,
                ..TargetScratch::default()
            });
        }
        for (t, row) in target_rows.as_slice().iter().enumerate() {
            let grow = Vec3::splat(row.radius + max_radius);
            let lo = cell_of(row.position - grow, inv_cell);
            let hi = cell_of(row.position + grow, inv_cell);
            let span = |a: i32, b: i32| (i64::from(b) - i64::from(a) + 1) as u64;
            let cells = span(lo[0], hi[0]) * span(lo[1], hi[1]) * span(lo[2], hi[2]);
            visit.clear();
            if cells >= buckets as u64 {
                // The box covers more cells than there are buckets: scan all.
                for b in 0..buckets as u32 {
                    visit.push(b);
                }
            } else {
                for x in lo[0]..=hi[0] {
                    for y in lo[1]..=hi[1] {
                        for z in lo[2]..=hi[2] {
                            visit.push(bucket_of([x, y, z], mask));
                        }
                    }
                }
                visit.as_mut_slice().sort_unstable();
            }
            let mut previous = None;
            for &b in visit.as_slice() {
                if previous == Some(b) {
                    continue; // two cells hashed to one bucket
                }
                previous = Some(b);
                let range = starts[b as usize] as usize..starts[b as usize + 1] as usize;
                for &i in &entries[range] {
                    let body = &bodies[i as usize];
                    let touch = body.radius + row.radius;
                    if body.center.distance_squared(row.position) < touch * touch {
                        contacts.push(Contact {
                            target: t as u32,
                            body: i,
                        });
                    }
                }
            }
        }
    }

    // Resolve: contacts hit, damage and push the targets. Sums are integers,
    // so they do not depend on the contact order.
    {
        puffin::profile_scope!("resolve");
        let rows = target_rows.as_mut_slice();
        let bodies = bodies.as_slice();
        for contact in contacts.as_slice() {
            let row = &mut rows[contact.target as usize];
            let body = &bodies[contact.body as usize];
            let away = (row.position - body.center).normalize_or_zero() * PUSH_SCALE;
            row.hits += 1;
            row.energy += u64::from(body.energy);
            row.push[0] += away.x.round() as i64;
            row.push[1] += away.y.round() as i64;
            row.push[2] += away.z.round() as i64;
        }
        let extent = config.world_extent;
        for (mut target, row) in targets.iter_mut().zip(rows.iter()) {
            if row.hits == 0 && target.position == target.home {
                continue;
            }
            target.hits += row.hits;
            target.absorbed += row.energy;
            target.health -= row.energy.min(i64::MAX as u64) as i64;
            let push = Vec3::new(row.push[0] as f32, row.push[1] as f32, row.push[2] as f32)
                * (KNOCKBACK / PUSH_SCALE);
            let moved = target.position + push;
            target.position = (moved + (target.home - moved) * SPRING)
                .clamp(Vec3::splat(-extent), Vec3::splat(extent));
            if target.health <= 0 {
                target.destroyed += 1;
                target.health = target.max_health;
                target.position = target.home;
            }
        }
        counters.contacts = contacts.len() as u32;
    }
}

/// The integer cell containing `p` (`as` saturates far outside the world).
#[inline(always)]
fn cell_of(p: Vec3, inv_cell: f32) -> [i32; 3] {
    let c = p * inv_cell;
    [floor_i32(c.x), floor_i32(c.y), floor_i32(c.z)]
}

/// `v.floor() as i32` without the call to `floorf` that baseline x86-64 (no
/// SSE4.1 `roundss`) makes: truncate, then step down for negative fractions.
#[inline(always)]
fn floor_i32(v: f32) -> i32 {
    let t = v as i32;
    t.saturating_sub(i32::from((t as f32) > v))
}

/// The bucket of a cell: the coordinates times large odd constants (from
/// the golden ratio and murmur3's finaliser), xored, masked to the table.
#[inline(always)]
fn bucket_of(cell: [i32; 3], mask: u32) -> u32 {
    ((cell[0] as u32).wrapping_mul(0x9E37_79B1)
        ^ (cell[1] as u32).wrapping_mul(0x85EB_CA77)
        ^ (cell[2] as u32).wrapping_mul(0xC2B2_AE3D))
        & mask
}

/// Release: pool and slab payloads go back before their entities are
/// despawned, in parallel (both are thread-safe, with per-thread lanes).
pub fn release_payloads<M: FrameMemory>(memory: Res<M>, mut payloads: Query<&mut M::Payload>) {
    if !M::RELEASES_PAYLOADS {
        return;
    }
    puffin::profile_function!();
    let memory = &*memory;
    payloads.par_iter_mut().for_each_init(
        || puffin::profile_scope_custom!("release_payloads_batch"),
        |_batch, mut payload| memory.release_trail(&mut payload),
    );
}

/// Despawn: every transient entity, one by one, in reverse spawn order
/// (`despawn_all` would leak entity ids in bevy_ecs 0.20.1; reverse order
/// removes table rows from the end, so no row has to move).
pub fn despawn_transients(
    world: &mut World,
    transients: &mut QueryState<Entity, With<Transient>>,
    mut doomed: Local<Vec<Entity>>,
) {
    puffin::profile_function!();
    doomed.extend(transients.iter(world));
    for entity in doomed.drain(..).rev() {
        world.despawn(entity);
    }
}

/// The strategy's end of frame (the arena resets).
pub fn end_frame<M: FrameMemory>(mut memory: ResMut<M>) {
    puffin::profile_function!();
    memory.end_frame();
}

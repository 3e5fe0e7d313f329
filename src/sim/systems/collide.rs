//! Collide: broadphase, contacts and resolve, as three phases of one
//! system. The spatial hash grid and the contact list are scratch borrowed
//! from the strategy, and a borrow cannot outlive the system call (resources
//! and components must be `'static`), so the phases that share them share a
//! call.
//!
//! Scratch is taken in a fixed order (bodies, bucket starts, entries,
//! cursors; target rows, contacts, buckets to visit), so every strategy sees
//! the same requests every frame.

use bevy_ecs::system::{Query, Res, ResMut};
use framemem::bevy::AllocTag;
use glam::Vec3;

use crate::sim::components::{Target, Transient};
use crate::sim::grid::{self, HashGrid};
use crate::sim::memory::{FrameMemory, ScratchVec};
use crate::sim::resources::{FrameCounters, SimConfig};
use crate::sim::rows::{Body, Contact, TargetRow};

/// Fixed-point scale of a contact's push direction (1/256 of a unit vector
/// per contact): integers, so the sum over contacts is order-independent.
const PUSH_SCALE: f32 = 256.0;
/// How far one unit of summed push moves a target, in world units.
const KNOCKBACK: f32 = 0.002;
/// The fraction of the way home a target springs back each frame.
const SPRING: f32 = 0.05;

/// Broadphase, contacts and resolve on the targets. See the module docs.
pub fn collide<M: FrameMemory>(
    memory: Res<M>,
    config: Res<SimConfig>,
    mut counters: ResMut<FrameCounters>,
    transients: Query<&Transient>,
    mut targets: Query<&mut Target>,
) {
    puffin::profile_function!();
    let memory = &*memory;
    // Counted against `collide` in the arena's per-system attribution.
    let tag = memory.system_tag("collide");
    let tag = tag.as_ref();
    let alive = counters.alive as usize;
    let grid = HashGrid::new(config.cell_size, alive);
    let bodies = broadphase(memory, tag, grid, alive, &transients);
    let (mut rows, contacts) = find_contacts(memory, tag, grid, &bodies, &targets);
    {
        puffin::profile_scope!("resolve");
        tally(
            rows.as_mut_slice(),
            contacts.as_slice(),
            bodies.rows.as_slice(),
        );
        for (mut target, row) in targets.iter_mut().zip(rows.as_slice()) {
            // Untouched and at home: nothing changes (and nothing is marked
            // changed).
            if row.hits > 0 || target.position != target.home {
                resolve(&mut target, row, config.world_extent);
            }
        }
        counters.contacts = contacts.len() as u32;
    }
}

/// The bodies in the spatial hash grid, bucket by bucket.
struct GriddedBodies<'a, M: FrameMemory + 'a> {
    /// One row per transient entity, in query order (the same for every
    /// strategy: the same entities are spawned and despawned in the same
    /// order, so bevy's tables hold them in the same rows).
    rows: M::Scratch<'a, Body>,
    /// Bucket `b`'s bodies are `entries[starts[b]..starts[b + 1]]`.
    starts: M::Scratch<'a, u32>,
    /// Body indices, grouped by bucket, in spawn order within a bucket.
    entries: M::Scratch<'a, u32>,
    /// The largest body radius: how far beyond its own radius a target must
    /// look.
    max_radius: f32,
}

/// Broadphase: a spatial hash grid of the bodies, by counting sort.
fn broadphase<'a, M: FrameMemory>(
    memory: &'a M,
    tag: Option<&'a AllocTag>,
    grid: HashGrid,
    n: usize,
    transients: &Query<&Transient>,
) -> GriddedBodies<'a, M> {
    puffin::profile_scope!("broadphase");
    let buckets = grid.buckets();
    let mut rows = memory.scratch_for::<Body>(tag, n);
    let mut starts = memory.scratch_for::<u32>(tag, buckets + 1);
    let mut entries = memory.scratch_for::<u32>(tag, n);
    let mut max_radius = 0.0f32;
    rows.resize(n, Body::default());
    starts.resize(buckets + 1, 0);
    let (out, counts) = (rows.as_mut_slice(), starts.as_mut_slice());
    for (row, transient) in transients.iter().enumerate() {
        let reach = &transient.reach;
        let bucket = grid.bucket_of(grid.cell_of(reach.center));
        out[row] = Body {
            center: reach.center,
            radius: reach.radius,
            energy: reach.energy,
            bucket,
        };
        counts[bucket as usize + 1] += 1;
        max_radius = max_radius.max(reach.radius);
    }
    grid::counts_to_starts(counts);
    // Fill forwards with a cursor per bucket (reusing `entries` would need
    // a second pass).
    let mut cursor = memory.scratch_for::<u32>(tag, buckets);
    cursor.resize(buckets, 0);
    cursor
        .as_mut_slice()
        .copy_from_slice(&starts.as_slice()[..buckets]);
    entries.resize(n, 0);
    grid::fill_buckets(
        rows.as_slice().iter().map(|body| body.bucket),
        cursor.as_mut_slice(),
        entries.as_mut_slice(),
    );
    GriddedBodies {
        rows,
        starts,
        entries,
        max_radius,
    }
}

/// Contacts: each target looks up the buckets its sphere (grown by the
/// largest body radius) can touch, in ascending order, each once. Returns a
/// row per target, in query order, and the contacts.
fn find_contacts<'a, M: FrameMemory>(
    memory: &'a M,
    tag: Option<&'a AllocTag>,
    grid: HashGrid,
    bodies: &GriddedBodies<'a, M>,
    targets: &Query<&mut Target>,
) -> (M::Scratch<'a, TargetRow>, M::Scratch<'a, Contact>) {
    let mut rows = memory.scratch_for::<TargetRow>(tag, targets.iter().len());
    let mut contacts = memory.scratch_for::<Contact>(tag, bodies.rows.len() / 16 + 64);
    puffin::profile_scope!("contacts");
    let mut visit = memory.scratch_for::<u32>(tag, 256);
    let (starts, entries) = (bodies.starts.as_slice(), bodies.entries.as_slice());
    let body_rows = bodies.rows.as_slice();
    for target in targets {
        rows.push(TargetRow {
            position: target.position,
            radius: target.radius,
            ..TargetRow::default()
        });
    }
    for (t, row) in rows.as_slice().iter().enumerate() {
        grid.buckets_in_box(row.position, row.radius + bodies.max_radius, &mut visit);
        for &b in visit.as_slice() {
            let range = starts[b as usize] as usize..starts[b as usize + 1] as usize;
            for &i in &entries[range] {
                let body = &body_rows[i as usize];
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
    (rows, contacts)
}

/// Sums each target's contacts into its row: hits, energy and push, all in
/// integers, so the sums do not depend on the contact order.
fn tally(rows: &mut [TargetRow], contacts: &[Contact], bodies: &[Body]) {
    for contact in contacts {
        let row = &mut rows[contact.target as usize];
        let body = &bodies[contact.body as usize];
        let away = (row.position - body.center).normalize_or_zero() * PUSH_SCALE;
        row.hits += 1;
        row.energy += u64::from(body.energy);
        row.push[0] += away.x.round() as i64;
        row.push[1] += away.y.round() as i64;
        row.push[2] += away.z.round() as i64;
    }
}

/// Resolve one target: its contacts damage and push it, a spring pulls it
/// home (inside the world cube), and at no health left it respawns at home.
fn resolve(target: &mut Target, row: &TargetRow, world_extent: f32) {
    target.hits += row.hits;
    target.absorbed += row.energy;
    target.health -= row.energy.min(i64::MAX as u64) as i64;
    let push = Vec3::new(row.push[0] as f32, row.push[1] as f32, row.push[2] as f32)
        * (KNOCKBACK / PUSH_SCALE);
    let moved = target.position + push;
    target.position = (moved + (target.home - moved) * SPRING)
        .clamp(Vec3::splat(-world_extent), Vec3::splat(world_extent));
    if target.health <= 0 {
        target.destroyed += 1;
        target.health = target.max_health;
        target.position = target.home;
    }
}

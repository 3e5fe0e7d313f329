//! The simulation's checksum: a hash of the persistent state (every target
//! and emitter, by id), the figure every strategy must agree on.
//!
//! Hashed with FNV-1a, not `std`'s `DefaultHasher`: its algorithm is
//! unspecified and may change between Rust releases, and a checksum printed
//! today must mean the same tomorrow. FNV-1a is a few lines, stable by definition, and plenty for
//! telling two simulation states apart (it is not a defence against
//! adversaries, which we do not have).

use bevy_ecs::query::QueryState;
use bevy_ecs::world::World;

use crate::sim::components::{Emitter, Target};

/// A hash of the persistent state: every target, then every emitter, each
/// sorted by id, field by field.
pub fn persistent_state(world: &mut World) -> u64 {
    let mut targets: Vec<Target> = QueryState::<&Target>::new(world)
        .iter(world)
        .copied()
        .collect();
    targets.sort_unstable_by_key(|t| t.id);
    let mut emitters: Vec<Emitter> = QueryState::<&Emitter>::new(world)
        .iter(world)
        .copied()
        .collect();
    emitters.sort_unstable_by_key(|e| e.id);
    let mut h = Fnv1a::new();
    for t in &targets {
        h.write_u64(u64::from(t.id));
        for v in t.position.to_array() {
            h.write_f32(v);
        }
        h.write_u64(t.health as u64);
        h.write_u64(t.hits);
        h.write_u64(t.absorbed);
        h.write_u64(u64::from(t.destroyed));
    }
    for e in &emitters {
        h.write_u64(u64::from(e.id));
        h.write_f32(e.yaw);
        h.write_u64(e.emitted);
    }
    h.finish()
}

/// 64-bit FNV-1a (offset basis and prime from the FNV specification).
#[derive(Clone, Copy, Debug)]
struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// A hasher in its initial state.
    fn new() -> Self {
        Self(Self::OFFSET_BASIS)
    }

    /// Hashes bytes, one at a time (that is the algorithm).
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// Hashes a `u64` as little-endian bytes.
    fn write_u64(&mut self, v: u64) {
        self.write(&v.to_le_bytes());
    }

    /// Hashes an `f32` by its bits, so `-0.0` and `0.0` differ and the
    /// checksum sees every bit of drift.
    fn write_f32(&mut self, v: f32) {
        self.write(&v.to_bits().to_le_bytes());
    }

    /// The hash so far.
    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        // From the FNV reference test suite.
        let hash = |s: &str| {
            let mut h = Fnv1a::new();
            h.write(s.as_bytes());
            h.finish()
        };
        assert_eq!(hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash("foobar"), 0x8594_4171_f739_67e8);
    }
}

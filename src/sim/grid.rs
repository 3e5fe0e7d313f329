//! The broadphase's spatial hash grid, as pure functions on plain values:
//! which cell a point is in, which bucket a cell hashes to, how many
//! buckets a frame gets, the counting sort that makes each bucket's bodies
//! contiguous, and which buckets a box touches.
//!
//! The collide system (`systems/collide.rs`) runs them on scratch vectors
//! from the strategy; the tests here run them on plain `Vec`s.

use glam::Vec3;

use crate::sim::memory::ScratchVec;

/// Fewest buckets in the hash table.
const MIN_BUCKETS: usize = 64;

/// Most buckets: the bucket starts and cursors (8 bytes a bucket) are hit at
/// random once per body, so they must stay in L2 for the grid build to cost
/// the same per body at 200k bodies as at 50k; more bodies then share a
/// bucket, which only the few buckets near a target pay for.
const MAX_BUCKETS: usize = 1 << 15;

/// The shape of one frame's grid: the cell size and the bucket count.
#[derive(Clone, Copy, Debug)]
pub struct HashGrid {
    /// `1 / cell size`.
    inv_cell: f32,
    /// A power of two in `MIN_BUCKETS..=MAX_BUCKETS`.
    buckets: usize,
}

impl HashGrid {
    /// A grid of cells of side `cell_size` for `bodies` bodies: one bucket
    /// per body, rounded up to a power of two, within the bounds above.
    pub fn new(cell_size: f32, bodies: usize) -> Self {
        Self {
            inv_cell: 1.0 / cell_size,
            buckets: bodies.next_power_of_two().clamp(MIN_BUCKETS, MAX_BUCKETS),
        }
    }

    /// How many buckets the table has.
    pub fn buckets(self) -> usize {
        self.buckets
    }

    /// The integer cell containing `p` (`as` saturates far outside the
    /// world).
    #[inline(always)]
    pub fn cell_of(self, p: Vec3) -> [i32; 3] {
        let c = p * self.inv_cell;
        [floor_i32(c.x), floor_i32(c.y), floor_i32(c.z)]
    }

    /// The bucket of a cell: the coordinates times large odd constants (from
    /// the golden ratio and murmur3's finaliser), xored, masked to the table.
    #[inline(always)]
    pub fn bucket_of(self, cell: [i32; 3]) -> u32 {
        ((cell[0] as u32).wrapping_mul(0x9E37_79B1)
            ^ (cell[1] as u32).wrapping_mul(0x85EB_CA77)
            ^ (cell[2] as u32).wrapping_mul(0xC2B2_AE3D))
            & (self.buckets - 1) as u32
    }

    /// Fills `visit` with the buckets of every cell that the box
    /// `center ± half_side` touches, ascending, each once (two cells may hash
    /// to one bucket). A box of more cells than there are buckets gets every
    /// bucket.
    pub fn buckets_in_box(self, center: Vec3, half_side: f32, visit: &mut impl ScratchVec<u32>) {
        let grow = Vec3::splat(half_side);
        let lo = self.cell_of(center - grow);
        let hi = self.cell_of(center + grow);
        let span = |a: i32, b: i32| (i64::from(b) - i64::from(a) + 1) as u64;
        let cells = span(lo[0], hi[0]) * span(lo[1], hi[1]) * span(lo[2], hi[2]);
        visit.clear();
        if cells >= self.buckets as u64 {
            for b in 0..self.buckets as u32 {
                visit.push(b);
            }
            return;
        }
        for x in lo[0]..=hi[0] {
            for y in lo[1]..=hi[1] {
                for z in lo[2]..=hi[2] {
                    visit.push(self.bucket_of([x, y, z]));
                }
            }
        }
        visit.as_mut_slice().sort_unstable();
        visit.dedup();
    }
}

/// `v.floor() as i32` without the call to `floorf` that baseline x86-64 (no
/// SSE4.1 `roundss`) makes: truncate, then step down for negative fractions.
#[inline(always)]
fn floor_i32(v: f32) -> i32 {
    let t = v as i32;
    t.saturating_sub(i32::from((t as f32) > v))
}

/// The counting sort's middle step: `counts[b + 1]` holds the bodies of
/// bucket `b` (and `counts[0]` is 0); afterwards `counts[b]` is where
/// bucket `b` starts and `counts[b + 1]` where it ends.
pub fn counts_to_starts(counts: &mut [u32]) {
    for i in 1..counts.len() {
        counts[i] += counts[i - 1];
    }
}

/// The counting sort's last step: writes each body's index into `entries`
/// at its bucket's cursor, so each bucket's bodies are contiguous and in
/// body order. `cursor` starts as the bucket starts (`counts_to_starts`)
/// and ends as their ends.
pub fn fill_buckets(
    body_buckets: impl Iterator<Item = u32>,
    cursor: &mut [u32],
    entries: &mut [u32],
) {
    for (i, bucket) in body_buckets.enumerate() {
        let slot = &mut cursor[bucket as usize];
        entries[*slot as usize] = i as u32;
        *slot += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_i32_matches_floor() {
        for v in [
            0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 2.999, -2.999, 1e-7, -1e-7, 123456.7,
            -123456.7,
        ] {
            assert_eq!(floor_i32(v), v.floor() as i32, "floor of {v}");
        }
    }

    #[test]
    fn floor_i32_saturates_far_outside() {
        assert_eq!(floor_i32(1e20), i32::MAX);
        assert_eq!(floor_i32(-1e20), i32::MIN);
        assert_eq!(floor_i32(f32::NAN), 0);
    }

    #[test]
    fn bucket_count_is_a_power_of_two_within_bounds() {
        assert_eq!(HashGrid::new(1.0, 0).buckets(), MIN_BUCKETS);
        assert_eq!(HashGrid::new(1.0, 1000).buckets(), 1024);
        assert_eq!(HashGrid::new(1.0, 1024).buckets(), 1024);
        assert_eq!(HashGrid::new(1.0, 10_000_000).buckets(), MAX_BUCKETS);
    }

    #[test]
    fn cells_are_cell_size_wide_and_floor_negative_coordinates() {
        let grid = HashGrid::new(2.0, 100);
        assert_eq!(grid.cell_of(Vec3::new(0.0, 1.9, 2.0)), [0, 0, 1]);
        assert_eq!(grid.cell_of(Vec3::new(-0.1, -2.0, -2.1)), [-1, -1, -2]);
    }

    #[test]
    fn buckets_are_inside_the_table_and_see_every_axis() {
        let grid = HashGrid::new(1.0, 100);
        let origin = grid.bucket_of([0, 0, 0]);
        for cell in [[1, 0, 0], [0, 1, 0], [0, 0, 1], [-7, 3, 99]] {
            let b = grid.bucket_of(cell);
            assert!((b as usize) < grid.buckets());
            assert_ne!(b, origin, "{cell:?} hashes like the origin");
        }
    }

    #[test]
    fn a_box_visits_each_of_its_cells_buckets_once_in_order() {
        let grid = HashGrid::new(1.0, 4096);
        let mut visit = Vec::new();
        grid.buckets_in_box(Vec3::new(0.5, 0.5, 0.5), 1.0, &mut visit);
        let mut expected: Vec<u32> = (-1..=1)
            .flat_map(|x| (-1..=1).flat_map(move |y| (-1..=1).map(move |z| [x, y, z])))
            .map(|cell| grid.bucket_of(cell))
            .collect();
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(visit, expected);
    }

    #[test]
    fn a_box_larger_than_the_table_visits_every_bucket() {
        let grid = HashGrid::new(1.0, 0);
        let mut visit = vec![7, 7];
        grid.buckets_in_box(Vec3::ZERO, 100.0, &mut visit);
        assert_eq!(visit, (0..MIN_BUCKETS as u32).collect::<Vec<_>>());
    }

    #[test]
    fn the_counting_sort_groups_bodies_by_bucket_in_body_order() {
        let body_buckets = [3u32, 1, 3, 0, 1, 3];
        let buckets = 4;
        let mut starts = vec![0u32; buckets + 1];
        for &b in &body_buckets {
            starts[b as usize + 1] += 1;
        }
        counts_to_starts(&mut starts);
        assert_eq!(starts, [0, 1, 3, 3, 6]);
        let mut cursor = starts[..buckets].to_vec();
        let mut entries = vec![0u32; body_buckets.len()];
        fill_buckets(body_buckets.iter().copied(), &mut cursor, &mut entries);
        assert_eq!(entries, [3, 1, 4, 0, 2, 5]);
        assert_eq!(cursor, starts[1..]);
    }
}

//! Collections on the allocators against `std` models: `hashbrown` maps,
//! `allocator_api2` vectors and byte buffers that grow and shrink across
//! every slab size class and into and out of the large path, on `&Slab`,
//! `&Arena` and `&Heap`, random operations with fixed seeds.

use super::*;

/// Runs random operations on a map, a vector and a set of byte buffers
/// living on `alloc`, mirrored on `std` models, and checks them against each
/// other after every step.
fn collections_match_std_models<A>(alloc: &A, seed: u64)
where
    A: AllocStrategy,
    for<'a> &'a A: Api2,
{
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut map: Map<'_, A> = hashbrown::HashMap::with_hasher_in(RandomState::new(), alloc);
    let mut map_model: StdMap<u32, u64> = StdMap::new();
    let mut vec: AVec<u64, &A> = AVec::new_in(alloc);
    let mut vec_model: Vec<u64> = Vec::new();
    // (buffer, tag): byte buffers whose sizes wander over the slab classes
    // and past 4 KiB.
    let mut bufs: Vec<(AVec<u8, &A>, u8)> = Vec::new();

    for step in 0..OPS {
        match rng.u8(0..14) {
            0..=2 => {
                let k = rng.u32(0..512);
                let v = rng.u64(..);
                assert_eq!(map.insert(k, v), map_model.insert(k, v), "step {step}");
            }
            3 => {
                let k = rng.u32(0..512);
                assert_eq!(map.remove(&k), map_model.remove(&k), "step {step}");
            }
            4 => {
                let keep = rng.u32(1..5);
                map.retain(|k, _| k % keep != 0);
                map_model.retain(|k, _| k % keep != 0);
            }
            5 => {
                let v = rng.u64(..);
                vec.push(v);
                vec_model.push(v);
            }
            6 => {
                let n = rng.usize(0..300);
                let start = rng.u64(..);
                vec.extend((0..n as u64).map(|i| start.wrapping_add(i)));
                vec_model.extend((0..n as u64).map(|i| start.wrapping_add(i)));
            }
            7 => {
                let len = rng.usize(0..=vec.len());
                vec.truncate(len);
                vec_model.truncate(len);
                if rng.bool() {
                    vec.shrink_to_fit();
                }
            }
            8 => {
                // A new buffer, up to 3 x the largest slot.
                let len = rng.usize(0..12_000);
                let tag = rng.u8(..);
                let mut b = AVec::with_capacity_in(rng.usize(0..64), alloc);
                extend_pattern(&mut b, tag, len);
                bufs.push((b, tag));
            }
            9 if !bufs.is_empty() => {
                // Grow a buffer: across classes, into the large path.
                let i = rng.usize(0..bufs.len());
                let (b, tag) = &mut bufs[i];
                let more = rng.usize(1..6_000);
                let len = b.len();
                extend_pattern(b, *tag, len + more);
            }
            10 if !bufs.is_empty() => {
                // Shrink a buffer: across classes, out of the large path.
                let i = rng.usize(0..bufs.len());
                let (b, _) = &mut bufs[i];
                let len = rng.usize(0..=b.len());
                b.truncate(len);
                if rng.bool() {
                    b.shrink_to(len + rng.usize(0..32));
                } else {
                    b.shrink_to_fit();
                }
            }
            11 if !bufs.is_empty() => {
                let i = rng.usize(0..bufs.len());
                let (b, tag) = bufs.swap_remove(i);
                assert!(has_pattern(&b, tag), "step {step}");
            }
            12 => {
                let n = rng.usize(0..200);
                map.reserve(n);
                vec.reserve(n);
            }
            _ => {
                if rng.u8(0..20) == 0 {
                    map.clear();
                    map_model.clear();
                    vec.clear();
                    vec_model.clear();
                }
            }
        }
        assert_eq!(map.len(), map_model.len(), "step {step}");
        assert_eq!(&vec[..], &vec_model[..], "step {step}");
        if step % 64 == 0 {
            for (k, v) in &map_model {
                assert_eq!(map.get(k), Some(v), "step {step}");
            }
            for (b, tag) in &bufs {
                assert!(has_pattern(b, *tag), "step {step}");
            }
        }
    }
    for (b, tag) in &bufs {
        assert!(has_pattern(b, *tag));
    }
}

#[test]
fn slab_collections_match_std_models() {
    for seed in [1, 2, 3] {
        let slab = Slab::new();
        collections_match_std_models(&slab, seed);
        let s = slab.stats();
        assert_eq!(s.bytes_in_use, 0, "seed {seed}: every block freed: {s:?}");
        assert!(s.peak_bytes_in_use > 0, "{s:?}");
        assert!(
            s.large_allocations > 0,
            "the > 4 KiB path was exercised: {s:?}"
        );
    }
}

#[test]
fn heap_collections_match_std_models() {
    for seed in [4, 5] {
        let heap = Heap::new();
        collections_match_std_models(&heap, seed);
        let s = heap.stats();
        assert_eq!(s.bytes_in_use, 0, "seed {seed}: every block freed: {s:?}");
    }
}

#[test]
fn arena_collections_match_std_models() {
    let mut arena = Arena::new();
    for seed in [6, 7, 8] {
        collections_match_std_models(&arena, seed);
        let s = arena.stats();
        assert!(s.bytes_in_use <= s.peak_bytes_in_use, "{s:?}");
        arena.reset();
        assert_eq!(arena.stats().bytes_in_use, 0);
    }
}

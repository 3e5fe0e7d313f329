//! [`Slab::trim`]: giving empty chunks back to the system.
//!
//! A slab keeps every chunk it ever took, so one spike (an explosion that
//! spawns ten times the usual) pins its memory for the rest of the run. A
//! trim, with exclusive access (so no lane, batch or lookup moves while it
//! works):
//!
//! 1. moves the free slots of exited threads' lanes to the central lists;
//! 2. counts the free slots of every chunk, on the central lists and in the
//!    lanes' magazines, and marks the chunks a lane is carving (off the
//!    fast path entirely: nothing is counted per allocation or free);
//! 3. picks chunks none of whose slots is in use, first the spare ones,
//!    then those whose free slots are all on the central lists, then those
//!    a lane's magazine holds slots of, newest first within each (a
//!    spike's chunks are the newest), until the free memory left is at
//!    most what the caller keeps;
//! 4. drops their slots from the free lists, unmaps them from the chunk map
//!    and gives them back to the global allocator.
//!
//! Chunks a lane is carving stay: the lane would take a new one at its
//! next refill. After a spike, the threads' magazines are full of the
//! spike's slots; a trim that left every chunk a magazine touches kept a
//! slab 1.3x its steady holding on `waves.ron` for dozens of frames.
//!
//! Cost: a pass over every free slot (a hash-map update each) plus the
//! chunks held: a few milliseconds after a large spike, so a policy calls it
//! rarely ([`TrimPolicy`](crate::TrimPolicy), as the bevy module's
//! `FrameSlab::end_frame` does).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ptr::NonNull;

use super::Slab;
use super::classes::{CHUNK_BYTES, NUM_CLASSES, SIZE_CLASSES};

impl Slab {
    /// Gives chunks none of whose slots is in use (and which no lane is
    /// carving) back to the system until at most `keep_free_bytes` of the
    /// chunk memory held is free, or no such chunk is left; returns the
    /// bytes given back. Live blocks and handles stay valid: only free
    /// slots go. See `trim.rs` for the order and the cost.
    ///
    /// ```
    /// use framemem::TypedAlloc;
    /// use framemem::{AllocStrategy, Slab};
    ///
    /// let mut slab = Slab::new();
    /// let spike: Vec<_> = (0..10_000).map(|_| slab.handle_slice_copy(&[0u64; 8])).collect();
    /// let keep = slab.handle_slice_copy(&[1u64; 8]);
    /// let held = slab.stats().bytes_reserved;
    /// for block in spike {
    ///     assert!(slab.free_slice(block));
    /// }
    ///
    /// let given_back = slab.trim(0);
    /// assert_eq!(slab.stats().bytes_reserved, held - given_back);
    /// // One chunk stays: the one this thread is carving, which holds `keep`.
    /// assert_eq!(slab.stats().bytes_reserved, 64 * 1024);
    /// assert_eq!(slab.get(&keep), &[1; 8]); // live blocks stay
    /// ```
    pub fn trim(&mut self, keep_free_bytes: usize) -> usize {
        self.fold_pending();
        let in_use = self.small_bytes_in_use(&self.class_stats());
        let mut free = self.registry.chunk_bytes().saturating_sub(in_use);
        if free <= keep_free_bytes {
            return 0;
        }
        self.reclaim_dead_lanes();
        let uses = self.count_free_slots();
        let chunks = self.registry.chunks_newest_first();
        let rank = |chunk: NonNull<u8>, class: Option<usize>| -> Option<u8> {
            let Some(class) = class else {
                return Some(0); // spare
            };
            let c = uses.get(&chunk.addr().get())?;
            let empty = !c.carving && c.free_slots == CHUNK_BYTES / SIZE_CLASSES[class];
            empty.then_some(if c.in_magazine { 2 } else { 1 })
        };
        let mut released: Vec<NonNull<u8>> = Vec::new();
        'ranks: for wanted in 0..=2 {
            for &(chunk, class) in &chunks {
                if free <= keep_free_bytes {
                    break 'ranks;
                }
                if rank(chunk, class) == Some(wanted) {
                    released.push(chunk);
                    free = free.saturating_sub(CHUNK_BYTES);
                }
            }
        }
        if released.is_empty() {
            return 0;
        }
        released.sort_unstable_by_key(|c| c.addr());
        let gone = |chunk: usize| {
            released
                .binary_search_by_key(&chunk, |c| c.addr().get())
                .is_ok()
        };
        for (lane, _) in self.lanes.all_mut() {
            for class in 0..NUM_CLASSES {
                lane.forget_released(class, gone);
            }
        }
        for (class, central) in self.central.iter_mut().enumerate() {
            central.forget_released(class, gone);
        }
        self.registry.release_chunks(&released);
        if cfg!(debug_assertions) {
            self.check_invariants();
        }
        released.len() * CHUNK_BYTES
    }

    /// Bytes of the free slots the lanes keep for their own threads (their
    /// magazines, up to 256 KiB per class, and what their carvings have
    /// left): memory a steady workload holds by construction, which a trim
    /// policy should not count as surplus (the bevy `FrameSlab`'s trim
    /// rule leaves them out). `&mut self`: it reads every lane's counts
    /// with no other thread allocating.
    pub fn lane_cached_bytes(&mut self) -> usize {
        let mut bytes = 0;
        for (lane, _) in self.lanes.all_mut() {
            for (class, size) in SIZE_CLASSES.iter().enumerate() {
                bytes += lane.cached_slots(class) * size;
            }
        }
        bytes
    }

    /// Per chunk start address: its free slots on the free lists, and
    /// whether a lane's magazine holds some or a lane is carving it.
    fn count_free_slots(&mut self) -> ChunkUses {
        let mut chunks = ChunkUses::default();
        for (lane, _) in self.lanes.all_mut() {
            for class in 0..NUM_CLASSES {
                let carving = lane.count_free(class, |chunk| {
                    let c = chunks.entry(chunk).or_default();
                    c.free_slots += 1;
                    c.in_magazine = true;
                });
                if let Some(chunk) = carving {
                    chunks.entry(chunk).or_default().carving = true;
                }
            }
        }
        for central in &mut self.central {
            central.count_free(|chunk, n| chunks.entry(chunk).or_default().free_slots += n);
        }
        chunks
    }
}

/// Per chunk start address, what a trim knows of it. Keyed by a chunk
/// address: a multiplicative hash is enough (SipHash made a trim after a
/// `waves.ron` frame cost 1.5 ms, mostly hashing).
type ChunkUses = HashMap<usize, ChunkUse, BuildHasherDefault<ChunkHasher>>;

/// Fibonacci hashing of a chunk number (the address without its 16 zero
/// bits): consecutive chunks spread over the table.
#[derive(Default)]
struct ChunkHasher(u64);

impl Hasher for ChunkHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, addr: usize) {
        self.0 =
            ((addr >> CHUNK_BYTES.trailing_zeros()) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What a trim knows of a chunk.
#[derive(Default)]
struct ChunkUse {
    /// Its slots on a free list (a central batch or a magazine).
    free_slots: usize,
    /// Whether a lane's magazine holds one of its slots.
    in_magazine: bool,
    /// Whether a lane is carving it.
    carving: bool,
}

#[cfg(test)]
mod tests {
    use std::alloc::Layout;
    use std::ptr::NonNull;

    use super::*;
    use crate::alloc::AllocStrategy;
    use crate::alloc::slab::classes::chunk_of;

    /// 16 slots per chunk: chunks fill and empty quickly.
    const BIG: Layout = match Layout::from_size_align(4096, 8) {
        Ok(l) => l,
        Err(_) => panic!(),
    };

    fn fill_chunks(slab: &Slab, chunks: usize) -> Vec<NonNull<u8>> {
        (0..chunks * CHUNK_BYTES / 4096)
            .map(|i| {
                let p = slab.alloc(BIG).unwrap();
                // SAFETY: a live block of 4096 bytes.
                unsafe { p.as_ptr().write_bytes(i as u8, 4096) };
                p
            })
            .collect()
    }

    fn free_all(slab: &Slab, blocks: impl IntoIterator<Item = NonNull<u8>>) {
        // SAFETY: each a live block of `slab`, freed once with its layout.
        blocks
            .into_iter()
            .for_each(|b| unsafe { slab.free(b, BIG) });
    }

    /// The chunks a trim must keep: those a lane is carving, and those
    /// holding `live` blocks.
    fn kept_by_design(slab: &mut Slab, live: &[NonNull<u8>]) -> usize {
        let mut kept: Vec<usize> = slab
            .count_free_slots()
            .into_iter()
            .filter(|(_, c)| c.carving)
            .map(|(chunk, _)| chunk)
            .chain(live.iter().map(|p| chunk_of(p.addr().get())))
            .collect();
        kept.sort_unstable();
        kept.dedup();
        kept.len()
    }

    #[test]
    fn empty_chunks_go_back_and_a_chunk_with_a_live_slot_stays() {
        let mut slab = Slab::new();
        let mut blocks = fill_chunks(&slab, 10);
        let kept = blocks.remove(40); // in the third chunk
        free_all(&slab, blocks);
        assert_eq!(slab.stats().bytes_reserved, 10 * CHUNK_BYTES);

        let stay = kept_by_design(&mut slab, &[kept]);
        assert_eq!(stay, 1, "only the live block's chunk stays");
        assert_eq!(slab.trim(0), (10 - stay) * CHUNK_BYTES);
        let s = slab.stats();
        assert_eq!(
            (s.bytes_reserved, s.bytes_in_use),
            (stay * CHUNK_BYTES, 4096)
        );
        // SAFETY: `kept` is live: its chunk stayed.
        let bytes = unsafe { std::slice::from_raw_parts(kept.as_ptr(), 4096) };
        assert!(
            bytes.iter().all(|&b| b == 40),
            "a live block lost its contents"
        );
        slab.check_invariants();
        // The slab goes on: new chunks, and the old one is still found.
        let more = fill_chunks(&slab, 2);
        free_all(&slab, more.into_iter().chain([kept]));
        assert_eq!(slab.stats().bytes_in_use, 0);
        slab.check_invariants();
    }

    #[test]
    fn a_trim_keeps_the_free_memory_asked_for() {
        let mut slab = Slab::new();
        let blocks = fill_chunks(&slab, 20);
        free_all(&slab, blocks);
        // This thread's magazine holds 64 slots of 4 KiB: those chunks go
        // last, but they go.
        assert_eq!(kept_by_design(&mut slab, &[]), 0);
        assert_eq!(slab.trim(20 * CHUNK_BYTES), 0);
        // Whole chunks only: 10 chunks and a byte keeps 10.
        assert_eq!(slab.trim(10 * CHUNK_BYTES + 1), 10 * CHUNK_BYTES);
        assert_eq!(slab.stats().bytes_reserved, 10 * CHUNK_BYTES);
        slab.check_invariants();
        assert_eq!(slab.trim(0), 10 * CHUNK_BYTES);
        assert_eq!(slab.stats().bytes_reserved, 0);
        slab.check_invariants();
        // The magazine lost its slots with their chunks: new ones come.
        free_all(&slab, fill_chunks(&slab, 2));
        slab.check_invariants();
    }

    #[test]
    fn free_slots_are_found_on_every_list() {
        let mut slab = Slab::new();
        // Threads that allocate and free more than a magazine holds (64
        // slots of 4 KiB): slots end in their magazines, in the central
        // list, and in the lanes they leave behind when they exit (found
        // by the trim's reclaim, unless another test's thread took the
        // lane's id meanwhile: then they are still in its magazine).
        let both_full = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let blocks = fill_chunks(&slab, 6);
                    both_full.wait();
                    free_all(&slab, blocks);
                });
            }
        });
        // This thread takes a few slots and frees them into its magazine.
        let few: Vec<_> = (0..3).map(|_| slab.alloc(BIG).unwrap()).collect();
        free_all(&slab, few);
        let held = slab.stats().bytes_reserved;
        assert!(held >= 12 * CHUNK_BYTES, "{held} B held");

        let stay = kept_by_design(&mut slab, &[]);
        let given_back = slab.trim(0);
        assert_eq!(given_back, held - stay * CHUNK_BYTES, "{stay} chunks stay");
        assert!(given_back >= 12 * CHUNK_BYTES, "{given_back} B given back");
        slab.check_invariants();
        free_all(&slab, fill_chunks(&slab, 3));
        slab.check_invariants();
    }
    #[test]
    fn cached_bytes_are_every_slot_the_lanes_keep() {
        let mut slab = Slab::new();
        let blocks = fill_chunks(&slab, 3);
        free_all(&slab, blocks.into_iter().take(20));
        let small = Layout::from_size_align(48, 8).unwrap();
        let p = slab.alloc(small).unwrap(); // a carving with most of a chunk left
        // This thread's lane: 20 slots of 4 KiB in its magazine (its 4 KiB
        // carving used up at a chunk's end), and of the 48 B class a
        // carving of 64 slots into the magazine, one handed out, 1,301 left
        // to carve.
        let expected = 20 * 4096 + (CHUNK_BYTES / 48 - 1) * 48;
        assert_eq!(slab.lane_cached_bytes(), expected);
        // SAFETY: live, freed once with its layout.
        unsafe { slab.free(p, small) };
    }

    #[test]
    fn spare_chunks_after_a_reset_go_back() {
        let mut slab = Slab::new();
        fill_chunks(&slab, 4);
        slab.alloc(Layout::from_size_align(48, 8).unwrap()).unwrap();
        slab.reset();
        assert_eq!(slab.trim(CHUNK_BYTES), 4 * CHUNK_BYTES);
        assert_eq!(slab.stats().bytes_reserved, CHUNK_BYTES);
        slab.check_invariants();
    }

    #[test]
    fn classes_mixed_in_many_chunks_stay_findable() {
        let mut slab = Slab::new();
        let layouts: Vec<Layout> = [16, 48, 160, 1024, 4096]
            .iter()
            .map(|&size| Layout::from_size_align(size, 8).unwrap())
            .collect();
        let per_class = if cfg!(miri) { 120 } else { 3000 };
        let mut blocks: Vec<(NonNull<u8>, Layout)> = Vec::new();
        for i in 0..per_class {
            for &l in &layouts {
                blocks.push((slab.alloc(l).unwrap(), l));
            }
            if i % 7 == 0 {
                let (b, l) = blocks.swap_remove(i % blocks.len());
                // SAFETY: live, freed once with its layout.
                unsafe { slab.free(b, l) };
            }
        }
        // Free all but every tenth block, trim, then free the rest: each is
        // still found in its chunk.
        let (kept, freed): (Vec<_>, Vec<_>) = blocks
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 10 == 0);
        for (_, (b, l)) in freed {
            // SAFETY: live, freed once with its layout.
            unsafe { slab.free(b, l) };
        }
        let before = slab.stats();
        let given_back = slab.trim(0);
        assert!(given_back > 0);
        assert_eq!(slab.stats().bytes_in_use, before.bytes_in_use);
        slab.check_invariants();
        for (_, (b, l)) in kept {
            // SAFETY: live, freed once with its layout.
            unsafe { slab.free(b, l) };
        }
        assert_eq!(slab.stats().bytes_in_use, 0);
        slab.check_invariants();
    }

    #[test]
    #[should_panic(expected = "was not allocated by this Slab")]
    fn a_free_into_a_chunk_given_back_panics_in_every_build() {
        let mut slab = Slab::new();
        let blocks = fill_chunks(&slab, 10);
        let first = blocks[0];
        free_all(&slab, blocks);
        assert!(slab.trim(0) > 0);
        // SAFETY: none: a deliberate double free into memory the slab gave
        // back; the chunk map no longer lists it, so the free panics
        // without touching the memory.
        unsafe { slab.free(first, BIG) };
    }
}

//! The size classes: which slot size serves a request, and the chunks slots
//! are carved from.
//!
//! **The rule.** Multiples of 16 B up to 128 B, then four classes per doubling
//! (steps of a quarter of the power of two below): 16, 32, …, 128, 160, 192,
//! 224, 256, 320, …, 3584, 4096. That is 28 classes. A request is served by
//! the smallest class at least as large, so the waste is at most 15 B for
//! requests up to 128 B and under 20% above (the worst case is one byte past a
//! class boundary: 129 B in a 160 B slot wastes 31/160). `every_size_maps_to_
//! the_smallest_fitting_class` and `waste_is_bounded` check both claims for
//! every size.
//!
//! **Alignment.** Chunks are aligned to their 64 KiB (at least 4096) and slot `k` of a class of size `S`
//! sits at `k * S`, so it is aligned to the largest power of two dividing `S`.
//! Every class is a multiple of 16, so alignments up to 16 need nothing more;
//! a larger alignment moves up to the first class that is a multiple of it
//! (the power-of-two classes 32, 64, …, 4096 always qualify).

use std::alloc::Layout;

/// The slot sizes, in bytes, from the rule in the module docs.
pub const SIZE_CLASSES: [usize; NUM_CLASSES] = build_classes();

/// How many size classes there are.
pub(crate) const NUM_CLASSES: usize = 28;

/// The largest slot; larger requests go to the system allocator.
pub(crate) const MAX_SLOT_BYTES: usize = 4096;

/// Bytes per chunk: 16 slots of the largest class, 4096 of the smallest.
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;
/// Chunk alignment: slots inherit it up to the largest power of two dividing
/// their class, which is how alignments up to 4 KiB are honoured. The whole
/// chunk size, so that a slot's chunk is its address with the low bits
/// masked off (`chunk_map.rs`, how `free` finds a block's class).
pub(crate) const CHUNK_ALIGN: usize = CHUNK_BYTES;

const _: () = assert!(CHUNK_BYTES.is_multiple_of(CHUNK_ALIGN));

/// The start of the chunk holding address `addr` (chunks are aligned to
/// their size).
#[inline(always)]
pub(crate) const fn chunk_of(addr: usize) -> usize {
    addr & !(CHUNK_BYTES - 1)
}

/// Every class is a multiple of this, and the lookup table is indexed by it.
const GRANULE: usize = 16;

const fn build_classes() -> [usize; NUM_CLASSES] {
    let mut classes = [0; NUM_CLASSES];
    let mut i = 0;
    let mut size: usize = 0;
    while i < NUM_CLASSES {
        size += if size < 128 {
            GRANULE
        } else {
            // A quarter of the largest power of two not above `size`.
            (1 << (usize::BITS - 1 - size.leading_zeros())) / 4
        };
        classes[i] = size;
        i += 1;
    }
    classes
}

impl super::Slab {
    /// The slot sizes, in bytes, smallest first: multiples of 16 B up to
    /// 128 B, then four classes per doubling (160, 192, 224, 256, 320, …,
    /// 4096), 28 in all. A request takes the smallest class at least as
    /// large, so it wastes at most 15 B up to 128 B and under 20% above; an
    /// alignment above 16 moves up to the first class that is a multiple of
    /// it. Larger requests go to the system allocator.
    pub const SIZE_CLASSES: [usize; NUM_CLASSES] = SIZE_CLASSES;
}

// The table ends exactly at the largest slot.
const _: () = assert!(SIZE_CLASSES[NUM_CLASSES - 1] == MAX_SLOT_BYTES);
const _: () = assert!(MAX_SLOT_BYTES <= CHUNK_ALIGN);

/// `CLASS_OF_GRANULES[g]`: the smallest class of at least `g * 16` bytes.
/// A `const`, not a `static`: a crate calling the inlined fast paths then
/// has the table's values, and folds the lookup for a constant layout (a
/// `static` of this crate is an opaque address there, loaded every call).
const CLASS_OF_GRANULES: [u8; MAX_SLOT_BYTES / GRANULE + 1] = build_lookup();

const fn build_lookup() -> [u8; MAX_SLOT_BYTES / GRANULE + 1] {
    let mut table = [0u8; MAX_SLOT_BYTES / GRANULE + 1];
    let mut g = 0;
    let mut class = 0;
    while g < table.len() {
        while SIZE_CLASSES[class] < g * GRANULE {
            class += 1;
        }
        table[g] = class as u8;
        g += 1;
    }
    table
}

// The promise `class_of` makes to the compiler: every entry names a class.
const _: () = {
    let table = build_lookup();
    let mut g = 0;
    while g < table.len() {
        assert!((table[g] as usize) < NUM_CLASSES);
        g += 1;
    }
};

/// The class serving `layout`, or `None` when it is too large (or too
/// aligned) for any slot, and for zero sizes, which get no slot.
///
/// Cost: one compare for all three exits (`size - 1` wraps for zero, and
/// two numbers are below 4096 exactly when their OR is), a shift and one
/// table load when `align <= 16`.
#[inline(always)]
pub(crate) fn class_of(layout: Layout) -> Option<usize> {
    let (size, align) = (layout.size(), layout.align());
    const _: () = assert!(MAX_SLOT_BYTES.is_power_of_two());
    if (size.wrapping_sub(1) | (align - 1)) >= MAX_SLOT_BYTES {
        return None;
    }
    let class = CLASS_OF_GRANULES[size.div_ceil(GRANULE)] as usize;
    // SAFETY: every entry of the table is below `NUM_CLASSES` (checked at
    // compile time below). Told to the compiler, so that indexing the
    // per-class arrays (magazines, counters) needs no bounds check on the
    // fast paths.
    unsafe { std::hint::assert_unchecked(class < NUM_CLASSES) };
    if align <= GRANULE {
        Some(class)
    } else {
        Some(class_for_alignment(class, align))
    }
}

#[cold]
fn class_for_alignment(mut class: usize, align: usize) -> usize {
    // Terminates: the last class, 4096, is a multiple of every `align <= 4096`.
    while !SIZE_CLASSES[class].is_multiple_of(align) {
        class += 1;
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_follows_the_rule() {
        assert_eq!(
            SIZE_CLASSES,
            [
                16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768,
                896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096
            ]
        );
    }

    #[test]
    fn every_size_maps_to_the_smallest_fitting_class() {
        for size in 1..=MAX_SLOT_BYTES {
            let class = class_of(Layout::from_size_align(size, 1).unwrap()).unwrap();
            assert!(
                SIZE_CLASSES[class] >= size,
                "{size} B does not fit class {class}"
            );
            if class > 0 {
                assert!(
                    SIZE_CLASSES[class - 1] < size,
                    "{size} B got class {} but {} fits",
                    SIZE_CLASSES[class],
                    SIZE_CLASSES[class - 1]
                );
            }
        }
    }

    #[test]
    fn waste_is_bounded() {
        for size in 1..=MAX_SLOT_BYTES {
            let slot = SIZE_CLASSES[class_of(Layout::from_size_align(size, 1).unwrap()).unwrap()];
            let waste = slot - size;
            if size <= 128 {
                assert!(waste < GRANULE, "{size} B wastes {waste} B");
            } else {
                assert!(waste * 5 < slot, "{size} B wastes {waste} B of {slot}");
            }
        }
    }

    #[test]
    fn alignment_picks_a_multiple() {
        let mut align = 1;
        while align <= 4096 {
            for size in [1, 17, 100, 129, 1000, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                let class = class_of(layout).unwrap();
                let slot = SIZE_CLASSES[class];
                assert!(
                    slot >= size && slot.is_multiple_of(align),
                    "{layout:?} -> {slot}"
                );
            }
            align *= 2;
        }
    }

    #[test]
    fn too_large_or_empty_has_no_class() {
        assert_eq!(class_of(Layout::from_size_align(0, 8).unwrap()), None);
        assert_eq!(
            class_of(Layout::from_size_align(4096, 4096).unwrap()),
            Some(27)
        );
        assert_eq!(class_of(Layout::from_size_align(4097, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(8, 8192).unwrap()), None);
    }
}

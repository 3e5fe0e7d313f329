//! [`ChunkMap`]: which chunks are this slab's, and which class each serves,
//! readable from any thread without a lock. How `free` learns a block's real
//! class (a block shrunk in place is freed with a smaller layout than its
//! slot's) and catches, in every build, a pointer of another slab and a
//! layout its slot cannot hold.
//!
//! Chunks are aligned to their size, so a block's chunk is its address with
//! the low 16 bits masked off. The map is an open-addressed table of those
//! chunk addresses, indexed by the chunk number's low bits (chunks from one
//! allocator are mostly consecutive, so they spread without hashing),
//! linear probing. An entry is the chunk address with its *tag* in the low
//! bits: the class plus one, or 0 for a spare chunk. Empty entries are 0.
//!
//! Cost of a lookup (every `free`): the table pointer, the mask beside the
//! entries (one allocation: two dependent loads after the pointer, not
//! three), a shift, a mask, one entry load and a compare; a probe only on a
//! collision (the table is at most half full).
//!
//! Threads: entries and tables are written only under the registry's lock.
//! A table that grows is copied into one twice its size, published with a
//! `Release` store (lookups load it with `Acquire`, so they see the copied
//! entries), and kept until the map drops, since a lookup may still be
//! reading it. A lookup for a live block always finds its chunk and current
//! tag: both were written before the block was handed out, which happened
//! before the free that looks them up.
//!
//! Invariants ([`ChunkMap::check_invariants`]): every chunk of the registry
//! has exactly one entry; tables are at most half full.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::classes::CHUNK_BYTES;

/// The bits of an entry below a chunk address: the tag.
const TAG_MASK: usize = CHUNK_BYTES - 1;
/// log2 of [`CHUNK_BYTES`]: chunk address to chunk number.
const CHUNK_SHIFT: u32 = CHUNK_BYTES.trailing_zeros();
/// Entries of the first table: 16 chunks (1 MiB) before the first growth.
const FIRST_CAPACITY: usize = 32;

const _: () = assert!(CHUNK_BYTES.is_power_of_two());

/// The chunks of one slab and their classes. See the [module docs](self).
pub(super) struct ChunkMap {
    /// The current table's first slot (its mask, then its entries: see
    /// [`Table`]); never null: the slots of the last of `tables`. A pointer
    /// to the slots, not to the `Table`, so that a lookup loads the mask
    /// and the entry from one base: two loads after this one, not three.
    current: AtomicPtr<AtomicUsize>,
    /// Every table made, the current one last: the old ones are kept for
    /// lookups that still read them, and freed when the map drops.
    tables: Mutex<Tables>,
    /// Entries in the current table (chunks mapped).
    len: AtomicUsize,
}

/// Tables from `Box::into_raw`, each freed once, in `Drop`.
struct Tables(Vec<*mut Table>);

// SAFETY: the tables are plain heap memory of atomics, owned by the map and
// not tied to any thread.
unsafe impl Send for Tables {}

struct Table {
    /// Slot 0: the mask, `entries().len() - 1`, written before the table is
    /// published and never after; slots `1..`: the entries, whose number is
    /// a power of two.
    slots: Box<[AtomicUsize]>,
}

impl Table {
    fn with_capacity(capacity: usize) -> Box<Self> {
        debug_assert!(capacity.is_power_of_two());
        let slots: Box<[AtomicUsize]> = std::iter::once(capacity - 1)
            .chain(std::iter::repeat_n(0, capacity))
            .map(AtomicUsize::new)
            .collect();
        Box::new(Self { slots })
    }

    /// The entries (every slot but the mask).
    fn entries(&self) -> &[AtomicUsize] {
        &self.slots[1..]
    }

    /// `entries().len() - 1`.
    fn mask(&self) -> usize {
        self.slots[0].load(Ordering::Relaxed)
    }

    /// What [`ChunkMap::current`] points to for this table.
    fn base(&self) -> *mut AtomicUsize {
        self.slots.as_ptr().cast_mut()
    }

    /// The index of `chunk`'s entry, or of the empty entry where it goes.
    fn slot_of(&self, chunk: usize) -> usize {
        self.slot_of_from(chunk, (chunk >> CHUNK_SHIFT) & self.mask())
    }

    /// [`slot_of`](Self::slot_of), searching from index `i` on.
    fn slot_of_from(&self, chunk: usize, mut i: usize) -> usize {
        let (entries, mask) = (self.entries(), self.mask());
        loop {
            let entry = entries[i].load(Ordering::Relaxed);
            if entry == 0 || entry & !TAG_MASK == chunk {
                return i;
            }
            i = (i + 1) & mask;
        }
    }
}

impl Default for ChunkMap {
    fn default() -> Self {
        let first = Box::into_raw(Table::with_capacity(FIRST_CAPACITY));
        // SAFETY: just made by `Box::into_raw`, freed only when the map drops.
        let base = unsafe { &*first }.base();
        Self {
            current: AtomicPtr::new(base),
            tables: Mutex::new(Tables(vec![first])),
            len: AtomicUsize::new(0),
        }
    }
}

impl Drop for ChunkMap {
    fn drop(&mut self) {
        for &table in &self
            .tables
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .0
        {
            // SAFETY: each came from `Box::into_raw` and is freed once; with
            // `&mut self` no lookup reads it any more.
            drop(unsafe { Box::from_raw(table) });
        }
    }
}

impl ChunkMap {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest table, while `tables` is locked (or borrowed mutably).
    fn newest(tables: &Tables) -> &Table {
        let table = *tables.0.last().expect("the map always has a table");
        // SAFETY: a table from `Box::into_raw`, freed only when the map
        // drops; the borrow of `tables` keeps the map alive.
        unsafe { &*table }
    }

    /// Whether the home entry of `addr`'s chunk is that chunk with `tag`:
    /// the fast path of every `free` (no probing: a chunk that collided,
    /// and any other answer, go to [`tag_of`](Self::tag_of)). Cost: the
    /// table pointer and mask, one entry load, one compare.
    #[inline(always)]
    pub(super) fn is_home_with_tag(&self, addr: usize, tag: usize) -> bool {
        let (base, mask) = self.current();
        let chunk = addr & !TAG_MASK;
        let i = (chunk >> CHUNK_SHIFT) & mask;
        // SAFETY: `i <= mask`, and the table has `mask + 1` entries after
        // its mask slot (`current`).
        let entry = unsafe { &*base.add(1 + i) }.load(Ordering::Relaxed);
        entry == chunk | tag
    }

    /// The current table's slots and its mask: one load for the pointer
    /// (`Acquire`: the table's slots as they were published), one for the
    /// mask.
    #[inline(always)]
    fn current(&self) -> (*const AtomicUsize, usize) {
        let base = self.current.load(Ordering::Acquire);
        // SAFETY: `current` always points to the slots of a table in
        // `tables`, which are kept until the map drops (`&self` outlives
        // this call); slot 0 is the mask.
        let mask = unsafe { &*base }.load(Ordering::Relaxed);
        (base, mask)
    }

    /// The tag of the chunk holding address `addr`: the class plus one, or 0
    /// when it is not a chunk of this slab (or a spare one). Any address
    /// will do: only the map is read, never the memory at `addr`.
    #[inline(always)]
    pub(super) fn tag_of(&self, addr: usize) -> usize {
        let (base, mask) = self.current();
        let chunk = addr & !TAG_MASK;
        let i = (chunk >> CHUNK_SHIFT) & mask;
        // SAFETY: `i <= mask`, and the table has `mask + 1` entries after
        // its mask slot (`current`).
        let entry = unsafe { &*base.add(1 + i) }.load(Ordering::Relaxed);
        // Also right for `chunk == 0` (an address below 64 KiB, never a
        // chunk): it meets an empty entry, whose tag is 0.
        if entry & !TAG_MASK == chunk {
            return entry & TAG_MASK;
        }
        if entry == 0 {
            return 0;
        }
        // SAFETY: `base` and `mask` are the table's, from `current`.
        unsafe { Self::probe(base, mask, chunk, i) }
    }

    /// The tag of `chunk`, searched past its home entry `home` (taken by
    /// another chunk): linear probing, off the fast path, in the table the
    /// lookup loaded.
    ///
    /// # Safety
    ///
    /// `base` and `mask` come from one [`current`](Self::current) call on
    /// this map, which is still borrowed; `home <= mask`.
    #[cold]
    #[inline(never)]
    unsafe fn probe(base: *const AtomicUsize, mask: usize, chunk: usize, mut i: usize) -> usize {
        loop {
            // SAFETY: `i <= mask`, and the table (kept until the map drops)
            // has `mask + 1` entries after its mask slot.
            let entry = unsafe { &*base.add(1 + i) }.load(Ordering::Relaxed);
            if entry == 0 || entry & !TAG_MASK == chunk {
                return entry & TAG_MASK;
            }
            i = (i + 1) & mask;
        }
    }

    /// Maps `chunk` (a new chunk's address) with `tag`, or sets the tag of a
    /// chunk already mapped. Only under the registry's lock.
    pub(super) fn set(&self, chunk: usize, tag: usize) {
        debug_assert!(chunk & TAG_MASK == 0 && chunk != 0 && tag <= TAG_MASK);
        let mut tables = self.lock();
        let table = Self::newest(&tables);
        let i = table.slot_of(chunk);
        if table.entries()[i].load(Ordering::Relaxed) != 0 {
            table.entries()[i].store(chunk | tag, Ordering::Relaxed);
            return;
        }
        let len = self.len.load(Ordering::Relaxed) + 1;
        if len * 2 > table.entries().len() {
            let mut bigger = Table::with_capacity(table.entries().len() * 2);
            for entry in table.entries() {
                let entry = entry.load(Ordering::Relaxed);
                if entry != 0 {
                    let j = bigger.slot_of(entry & !TAG_MASK);
                    *bigger.slots[1 + j].get_mut() = entry;
                }
            }
            let j = bigger.slot_of(chunk);
            *bigger.slots[1 + j].get_mut() = chunk | tag;
            let base = bigger.base();
            tables.0.push(Box::into_raw(bigger));
            // Release: a lookup that loads this table sees its slots.
            self.current.store(base, Ordering::Release);
        } else {
            table.entries()[i].store(chunk | tag, Ordering::Relaxed);
        }
        self.len.store(len, Ordering::Relaxed);
    }

    /// Marks every chunk spare (a reset), with exclusive access.
    pub(super) fn make_all_spare(&mut self) {
        let tables = self
            .tables
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for entry in Self::newest(tables).entries() {
            let chunk = entry.load(Ordering::Relaxed) & !TAG_MASK;
            entry.store(chunk, Ordering::Relaxed);
        }
    }

    /// Unmaps every chunk `gone` says goes back to the system (a trim),
    /// with exclusive access: the newest table is refilled with the rest,
    /// so probe chains stay unbroken.
    pub(super) fn remove(&mut self, gone: impl Fn(usize) -> bool) {
        let tables = self
            .tables
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let table = Self::newest(tables);
        let kept: Vec<usize> = table
            .entries()
            .iter()
            .map(|entry| entry.load(Ordering::Relaxed))
            .filter(|&entry| entry != 0 && !gone(entry & !TAG_MASK))
            .collect();
        for entry in table.entries() {
            entry.store(0, Ordering::Relaxed);
        }
        for &entry in &kept {
            let i = table.slot_of(entry & !TAG_MASK);
            table.entries()[i].store(entry, Ordering::Relaxed);
        }
        *self.len.get_mut() = kept.len();
    }

    /// The map's invariants against `chunks`, the registry's chunk
    /// addresses; panics naming the values when one is broken.
    pub(super) fn check_invariants(&self, chunks: impl Iterator<Item = usize>) {
        let tables = self.lock();
        let table = Self::newest(&tables);
        let current = self.current.load(Ordering::Relaxed);
        assert!(
            std::ptr::eq(current, table.base()),
            "slab chunk map: the current table is not the newest"
        );
        let mut n = 0;
        for chunk in chunks {
            let entry = table.entries()[table.slot_of(chunk)].load(Ordering::Relaxed);
            assert!(
                entry & !TAG_MASK == chunk && entry != 0,
                "slab chunk map: chunk {chunk:#x} is not mapped"
            );
            n += 1;
        }
        let (len, capacity) = (self.len.load(Ordering::Relaxed), table.entries().len());
        let mapped = table
            .entries()
            .iter()
            .filter(|e| e.load(Ordering::Relaxed) != 0)
            .count();
        assert!(
            len == n && mapped == n && len * 2 <= capacity,
            "slab chunk map: {mapped} entries ({len} counted) for {n} chunks in a table of \
             {capacity}"
        );
    }
}

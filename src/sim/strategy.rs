//! [`Strategy`]: the names of the allocation strategies the simulation can
//! route its per-frame memory through. What each one does is in `memory/`.

use std::fmt;

/// An allocation strategy for the per-frame memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The frame arena: everything released by one reset.
    Arena,
    /// The size-class slab: freed one by one.
    Slab,
    /// Object pools: recycled.
    Pool,
    /// The global allocator: the baseline.
    Heap,
    /// mimalloc, called directly (not as the global allocator): what
    /// swapping `malloc` buys.
    Mimalloc,
    /// The hand-rolled floor: frame-wide typed buffers, indices in the
    /// components, cleared at the end of the frame; no allocator crate.
    Framevec,
}

impl Strategy {
    /// Every strategy, in the order reports list them: framemem's three,
    /// then the references they are held against (`malloc`, mimalloc, the
    /// hand-written frame `Vec`).
    pub const ALL: [Strategy; 6] = [
        Strategy::Arena,
        Strategy::Slab,
        Strategy::Pool,
        Strategy::Heap,
        Strategy::Mimalloc,
        Strategy::Framevec,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Arena => "arena",
            Strategy::Slab => "slab",
            Strategy::Pool => "pool",
            Strategy::Heap => "heap",
            Strategy::Mimalloc => "mimalloc",
            Strategy::Framevec => "framevec",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

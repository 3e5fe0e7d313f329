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

    /// The longest lifetime, in frames, this strategy's payloads can have:
    /// 1 for the ones that release everything at the end of every frame.
    /// A scenario whose entities live longer does not apply to them
    /// ([`Strategy::applies_to`]).
    pub fn max_lifetime_frames(self) -> u32 {
        match self {
            // Everything goes at the end of the frame: a frame-wide buffer
            // is one-frame data by construction.
            Strategy::Framevec => 1,
            // The frame arena resets every frame; with longer lifetimes the
            // arena strategy puts trails in a ring of arenas keyed by expiry.
            Strategy::Arena
            | Strategy::Slab
            | Strategy::Pool
            | Strategy::Heap
            | Strategy::Mimalloc => u32::MAX,
        }
    }

    /// Whether this strategy can run a scenario whose entities live up to
    /// `lifetime_frames` frames; `Err` says why not.
    ///
    /// # Errors
    ///
    /// The reason, for reports: "one-frame data only; entities live up to N
    /// frames here".
    pub fn applies_to(self, lifetime_frames: u32) -> Result<(), String> {
        let max = self.max_lifetime_frames();
        if lifetime_frames <= max {
            Ok(())
        } else {
            Err(format!(
                "not applicable: it holds one-frame data only; entities live up to \
                 {lifetime_frames} frames here"
            ))
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

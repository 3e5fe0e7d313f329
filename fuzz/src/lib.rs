//! What the raw-memory fuzz targets (arena, slab) share: the model of the
//! live blocks, each filled with its own byte pattern, so that a lost or
//! overwritten byte, a misaligned block or two live blocks that overlap are
//! caught at once; and the raw-block operations they decode ([`AllocArgs`],
//! [`GrowArgs`], [`ShrinkArgs`]), turned into layouts here.
//!
//! The argument structs decode the same bytes as the struct variants they
//! replaced (`Alloc { size, align_log }` and `Alloc(AllocArgs)` read the same
//! fields in the same order), so a saved corpus means what it meant.

use std::alloc::Layout;
use std::ptr::NonNull;

use arbitrary::Arbitrary;

/// Live blocks kept at most, so that each check stays cheap.
pub const MAX_LIVE: usize = 256;

/// One live block and the pattern it holds.
#[derive(Debug)]
pub struct Block {
    pub ptr: NonNull<u8>,
    pub layout: Layout,
    pub tag: u8,
}

/// Byte `i` of a block tagged `tag`.
fn byte(tag: u8, i: usize) -> u8 {
    tag ^ (i as u8).wrapping_mul(31)
}

/// A layout from fuzz input: `size` bytes, alignment `2^(align_log % max_log)`.
pub fn layout(size: usize, align_log: u8, max_log: u8) -> Layout {
    Layout::from_size_align(size, 1 << (align_log % (max_log + 1))).unwrap()
}

/// An `Alloc` operation: a new block of `size` bytes.
#[derive(Arbitrary, Debug)]
pub struct AllocArgs {
    pub size: u16,
    pub align_log: u8,
}

impl AllocArgs {
    /// The layout to allocate, with alignments up to `2^max_log`; `None`
    /// when `live` holds as many blocks as it keeps.
    pub fn layout(&self, live: &Live, max_log: u8) -> Option<Layout> {
        live.has_room()
            .then(|| layout(self.size.into(), self.align_log, max_log))
    }
}

/// A `Grow` operation: live block `which` grown by `extra` bytes.
#[derive(Arbitrary, Debug)]
pub struct GrowArgs {
    pub which: u8,
    pub extra: u16,
    pub align_log: u8,
}

impl GrowArgs {
    /// The grow to make, with alignments up to `2^max_log`; `None` when no
    /// block is live.
    pub fn pick(&self, live: &Live, max_log: u8) -> Option<Resize> {
        let index = live.pick(self.which)?;
        let Block {
            ptr, layout: old, ..
        } = live.blocks[index];
        let new = layout(
            old.size() + usize::from(self.extra),
            self.align_log,
            max_log,
        );
        Some(Resize {
            index,
            ptr,
            old,
            new,
            kept: old.size(),
        })
    }
}

/// A `Shrink` operation: live block `which` shrunk to `keep` bytes (or
/// kept at its size when smaller).
#[derive(Arbitrary, Debug)]
pub struct ShrinkArgs {
    pub which: u8,
    pub keep: u16,
    pub align_log: u8,
}

impl ShrinkArgs {
    /// The shrink to make, with alignments up to `2^max_log`; `None` when
    /// no block is live.
    pub fn pick(&self, live: &Live, max_log: u8) -> Option<Resize> {
        let index = live.pick(self.which)?;
        let Block {
            ptr, layout: old, ..
        } = live.blocks[index];
        let size = usize::from(self.keep).min(old.size());
        Some(Resize {
            index,
            ptr,
            old,
            new: layout(size, self.align_log, max_log),
            kept: size,
        })
    }
}

/// A grow or shrink of live block `index`, at `ptr`, from `old` to `new`:
/// its first `kept` bytes must survive it ([`Live::replace`]).
#[derive(Debug)]
pub struct Resize {
    pub index: usize,
    pub ptr: NonNull<u8>,
    pub old: Layout,
    pub new: Layout,
    pub kept: usize,
}

/// Every live block of one allocator.
#[derive(Debug, Default)]
pub struct Live {
    pub blocks: Vec<Block>,
    next_tag: u8,
}

impl Live {
    /// Checks that a block just handed out is aligned and overlaps no live
    /// block, then fills it with a new pattern and records it.
    pub fn add(&mut self, ptr: NonNull<u8>, layout: Layout) {
        self.check_fresh(ptr, layout, None);
        self.next_tag = self.next_tag.wrapping_add(1);
        let block = Block {
            ptr,
            layout,
            tag: self.next_tag,
        };
        fill(&block, 0);
        self.blocks.push(block);
    }

    /// Checks `ptr` for `layout`: aligned, and disjoint from every live block
    /// but `except` (the block it replaces, in a grow or shrink).
    pub fn check_fresh(&self, ptr: NonNull<u8>, layout: Layout, except: Option<usize>) {
        let addr = ptr.as_ptr().addr();
        assert_eq!(
            addr % layout.align(),
            0,
            "{ptr:p} is not aligned for {layout:?}"
        );
        if layout.size() == 0 {
            return;
        }
        for (i, b) in self.blocks.iter().enumerate() {
            if Some(i) == except || b.layout.size() == 0 {
                continue;
            }
            let other = b.ptr.as_ptr().addr();
            assert!(
                addr + layout.size() <= other || other + b.layout.size() <= addr,
                "{ptr:p} ({layout:?}) overlaps the live block {:p} ({:?})",
                b.ptr,
                b.layout
            );
        }
    }

    /// The index of a live block picked by fuzz input, if any is live.
    pub fn pick(&self, i: u8) -> Option<usize> {
        (!self.blocks.is_empty()).then(|| i as usize % self.blocks.len())
    }

    /// Checks and removes block `i`.
    pub fn take(&mut self, i: usize) -> Block {
        let block = self.blocks.swap_remove(i);
        check(&block, block.layout.size());
        block
    }

    /// Checks every live block.
    pub fn check_all(&self) {
        for b in &self.blocks {
            check(b, b.layout.size());
        }
    }

    /// Requested bytes of the live blocks.
    pub fn bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.layout.size()).sum()
    }

    /// Whether another block may be added.
    pub fn has_room(&self) -> bool {
        self.blocks.len() < MAX_LIVE
    }

    /// Replaces block `i` after a grow or shrink: checks that the first
    /// `kept` bytes moved with it, then fills the rest of the new layout.
    pub fn replace(&mut self, i: usize, ptr: NonNull<u8>, layout: Layout, kept: usize) {
        self.check_fresh(ptr, layout, Some(i));
        let b = &mut self.blocks[i];
        b.ptr = ptr;
        b.layout = layout;
        check(b, kept);
        fill(b, kept);
    }
}

/// Writes block `b`'s pattern from byte `from` on.
pub fn fill(b: &Block, from: usize) {
    for i in from..b.layout.size() {
        // SAFETY: `i` is inside the live block.
        unsafe { b.ptr.as_ptr().add(i).write(byte(b.tag, i)) };
    }
}

/// Checks the first `len` bytes of block `b`.
pub fn check(b: &Block, len: usize) {
    // SAFETY: the first `len <= size` bytes of a live, filled block.
    let bytes = unsafe { std::slice::from_raw_parts(b.ptr.as_ptr(), len) };
    for (i, &x) in bytes.iter().enumerate() {
        assert_eq!(
            x,
            byte(b.tag, i),
            "byte {i} of {:p} ({:?}, tag {}) was overwritten",
            b.ptr,
            b.layout,
            b.tag
        );
    }
}

/// Runs `f`, which may panic, with the panic hook silenced (libfuzzer-sys's
/// hook aborts the process on any panic, caught or not), and returns what
/// `catch_unwind` returns. The targets are single-threaded around the call.
pub fn catch_silently<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result
}

/// Runs `f`, which must panic with a message that contains `needle`.
pub fn expect_panic(needle: &str, f: impl FnOnce()) {
    let Err(payload) = catch_silently(f) else {
        panic!("expected a panic mentioning {needle:?}, got none");
    };
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(
        message.contains(needle),
        "expected a panic mentioning {needle:?}, got {message:?}"
    );
}

/// A block's address, sent to another thread that uses it (the block is
/// owned by whoever holds it; the allocators are `Sync`).
pub struct SendPtr(pub NonNull<u8>);
// SAFETY: an address; the threads that use it do so one after the other
// (a scoped thread, joined before the block is used again).
unsafe impl Send for SendPtr {}

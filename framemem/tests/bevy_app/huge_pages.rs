//! `FrameArenaPlugin::with_huge_pages` in a bevy App, on the child's
//! compute threads: the steady-load promises hold with 2 MiB chunks, and
//! the arena holds whole 2 MiB chunks.

use bevy_app::Update;
use framemem::bevy::{FrameArena, FrameArenaPlugin};

use super::{ByLocal, STEADY_ENTITIES, ThreadsSeen, alloc_by_local, app_with, steady_load_with};

/// `steady_load` with the arena's chunks 2 MiB on huge pages: the same
/// promises (exact bytes, no new chunk and a constant `bytes_reserved` once
/// warm), and every chunk a whole 2 MiB.
pub(super) fn steady_load_huge_pages(_threads: usize) -> Result<String, String> {
    let note = steady_load_with(FrameArenaPlugin::default().with_huge_pages())?;
    // A fresh app: the one above is gone; this one checks the chunk size.
    let mut app = app_with(FrameArenaPlugin::default().with_huge_pages());
    app.init_resource::<ThreadsSeen>()
        .add_systems(Update, alloc_by_local);
    app.world_mut()
        .spawn_batch((0..STEADY_ENTITIES as u64 / 2).map(ByLocal));
    app.update();
    let arena = app.world().resource::<FrameArena>();
    let reserved = arena.stats().bytes_reserved;
    if !arena.arena().huge_pages() || reserved == 0 || !reserved.is_multiple_of(2 << 20) {
        return Err(format!(
            "huge pages asked for, but the arena holds {reserved} B \
             (huge_pages() = {}): not whole 2 MiB chunks",
            arena.arena().huge_pages()
        ));
    }
    Ok(format!("{note}; {reserved} B in 2 MiB chunks"))
}

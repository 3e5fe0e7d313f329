//! [`Recording`]: keeps the run's puffin frames and writes them as a
//! `.puffin` file, which `puffin_viewer FILE.puffin` opens.
//!
//! The file is created when the recording starts, so a path that cannot be
//! written fails before a long run rather than after it.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use puffin::GlobalFrameView;

/// Frames a recording keeps: the most recent ones, plus the 256 slowest of
/// the whole run (puffin's `FrameView` keeps both). A frame of the default
/// scenario packs to about 1 KiB (lz4), so this bounds a `--forever` run's
/// recording to some 100 MiB and a file `puffin_viewer` opens in seconds.
pub const RECORDING_MAX_FRAMES: usize = 100_000;

/// The puffin frames of a run, kept for writing to a file.
pub struct Recording {
    path: PathBuf,
    /// Created (truncated) when the recording starts.
    file: File,
    /// A sink of puffin's global profiler: every frame boundary adds the
    /// finished frame.
    view: GlobalFrameView,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .field("frames", &self.frames())
            .finish_non_exhaustive()
    }
}

/// A recording written to its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The file.
    pub path: PathBuf,
    /// Frames written.
    pub frames: usize,
}

impl Recording {
    /// Creates (or truncates) the file at `path` and starts keeping frames.
    ///
    /// # Errors
    ///
    /// When the file cannot be created.
    pub fn create(path: &Path) -> io::Result<Recording> {
        let file = File::create(path)?;
        let view = GlobalFrameView::default();
        view.lock().set_max_recent(RECORDING_MAX_FRAMES);
        Ok(Recording {
            path: path.to_owned(),
            file,
            view,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames kept so far.
    pub fn frames(&self) -> usize {
        self.view.lock().all_uniq().count()
    }

    /// Writes the frames kept, oldest first, and closes the file.
    ///
    /// The format is `FrameView::write`'s (`PUF0`, then the frames), except
    /// that the first frame carries the details (names, locations) of every
    /// scope seen: puffin sends a scope's details once, with the frame it
    /// first appears in, and that frame may no longer be among those kept.
    ///
    /// # Errors
    ///
    /// When writing fails (a full disk, say).
    pub fn write(self) -> io::Result<Recorded> {
        let Recording { path, file, view } = self;
        let frames = {
            let view = view.lock();
            let mut out = BufWriter::new(file);
            out.write_all(b"PUF0")?;
            let mut frames = 0;
            for frame in view.all_uniq() {
                let scopes = (frames == 0).then(|| view.scope_collection());
                frame.write_into(scopes, &mut out).map_err(|e| {
                    e.downcast::<io::Error>()
                        .unwrap_or_else(|e| io::Error::other(format!("{e:#}")))
                })?;
                frames += 1;
            }
            // Flushes, and reports what flushing met (a full disk, say).
            out.into_inner().map_err(|e| e.into_error())?;
            frames
        };
        Ok(Recorded { path, frames })
    }
}

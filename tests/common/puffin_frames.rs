//! Reading puffin frames back: the scopes they hold, by name, data and
//! thread.

use std::collections::BTreeSet;
use std::sync::Arc;

use puffin::{FrameData, FrameView, Reader, Stream};

/// What a set of frames holds.
#[derive(Debug, Default)]
pub struct Seen {
    /// Frames looked at.
    pub frames: usize,
    /// Scope names (named scopes' names, function scopes' function names).
    pub names: BTreeSet<String>,
    /// Names of the threads that reported scopes.
    pub threads: BTreeSet<String>,
    /// The data strings of the scopes named `frame`.
    pub frame_data: BTreeSet<String>,
}

impl Seen {
    /// Whether some scope's name ends with `name` (function scopes may carry
    /// a module path).
    pub fn has_scope(&self, name: &str) -> bool {
        self.names
            .iter()
            .any(|n| n == name || n.ends_with(&format!("::{name}")))
    }

    /// The names in `expected` that no scope has.
    pub fn missing<'a>(&self, expected: &[&'a str]) -> Vec<&'a str> {
        expected
            .iter()
            .copied()
            .filter(|n| !self.has_scope(n))
            .collect()
    }
}

/// Every scope of every frame in `view`, at every depth.
pub fn seen(view: &FrameView) -> Seen {
    seen_in(view, view.all_uniq())
}

/// Every scope of the latest `n` frames in `view`.
pub fn seen_latest(view: &FrameView, n: usize) -> Seen {
    seen_in(view, view.latest_frames(n))
}

fn seen_in<'a>(view: &FrameView, frames: impl Iterator<Item = &'a Arc<FrameData>>) -> Seen {
    let mut seen = Seen::default();
    for frame in frames {
        seen.frames += 1;
        let unpacked = frame.unpacked().expect("a frame unpacks");
        for (thread, stream_info) in &unpacked.thread_streams {
            seen.threads.insert(thread.name.clone());
            walk(
                view,
                &stream_info.stream,
                Reader::from_start(&stream_info.stream),
                &mut seen,
            );
        }
    }
    seen
}

fn walk(view: &FrameView, stream: &Stream, reader: Reader<'_>, seen: &mut Seen) {
    for scope in reader {
        let scope = scope.expect("a well-formed stream");
        let name = view.scope_collection().fetch_by_id(&scope.id).map_or_else(
            || format!("<unknown scope {:?}>", scope.id),
            |d| d.name().to_string(),
        );
        if name == "frame" {
            seen.frame_data.insert(scope.record.data.to_owned());
        }
        seen.names.insert(name);
        let children = Reader::with_offset(stream, scope.child_begin_position)
            .expect("child offsets are inside the stream");
        walk(view, stream, children, seen);
    }
}

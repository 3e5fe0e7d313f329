//! [`Json`]: summaries as JSON: an object for one run, an array for
//! `--compare`.

use std::io;

use super::{Summary, SummaryFormat};

/// Pretty-printed JSON, one object per strategy.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json {
    /// Write an array even for a single summary (`--compare`).
    pub array: bool,
}

impl SummaryFormat for Json {
    fn write(&self, summaries: &[Summary], out: &mut dyn io::Write) -> io::Result<()> {
        match summaries {
            [one] if !self.array => serde_json::to_writer_pretty(&mut *out, one)?,
            all => serde_json::to_writer_pretty(&mut *out, all)?,
        }
        writeln!(out)
    }
}

//! [`Json`]: summaries as JSON: an object for one run, an array for
//! `--compare`.

use std::io;

use super::{Output, Report, Summary};

/// Pretty-printed JSON, one object per strategy, written to `out` (stdout
/// for the binary) at the end.
#[derive(Debug)]
pub struct Json<W> {
    out: W,
    /// Write an array even for a single summary (`--compare`).
    array: bool,
}

impl<W: io::Write> Json<W> {
    /// JSON to `out`; an array even for one summary when `array`.
    pub fn new(out: W, array: bool) -> Self {
        Json { out, array }
    }

    /// Writes `summaries`.
    ///
    /// # Errors
    ///
    /// When writing fails.
    pub fn write(&mut self, summaries: &[Summary]) -> io::Result<()> {
        match summaries {
            [one] if !self.array => serde_json::to_writer_pretty(&mut self.out, one)?,
            all => serde_json::to_writer_pretty(&mut self.out, all)?,
        }
        writeln!(self.out)?;
        self.out.flush()
    }
}

impl<W: io::Write> Output for Json<W> {
    fn finish(&mut self, report: &Report) -> io::Result<()> {
        if report.not_applicable.is_empty() {
            return self.write(&report.summaries);
        }
        // The strategies that did not run stay in the array, as objects
        // that say why instead of giving figures.
        let mut all = Vec::new();
        for s in &report.summaries {
            all.push(serde_json::to_value(s)?);
        }
        for n in &report.not_applicable {
            all.push(serde_json::to_value(n)?);
        }
        serde_json::to_writer_pretty(&mut self.out, &all)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}

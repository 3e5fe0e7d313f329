//! Reports: frame statistics and the formats they are written in.
//!
//! - `summary.rs`: [`Summary`], the statistics of one strategy's run
//!   (percentiles from an HDR histogram, not hand-rolled);
//! - `table.rs`: the human-readable text ([`Table`]);
//! - `json.rs`: JSON on stdout ([`Json`]);
//! - `csv.rs`: one row per frame ([`FrameCsv`]);
//! - `plot.rs`: frame times per frame and their distribution as an SVG
//!   picture ([`FramePlot`]).
//!
//! Summary formats share the small [`SummaryFormat`] trait, one file each.

mod csv;
mod json;
mod plot;
mod summary;
mod table;

use std::io;

pub use csv::FrameCsv;
pub use json::Json;
pub use plot::{FramePlot, PlotError, render_svg};
pub use summary::{FrameMs, RunInfo, Summary};
pub use table::{Table, format_bytes};

/// A way to write summaries: one for a single run, several for `--compare`.
pub trait SummaryFormat {
    /// Writes `summaries` (one per strategy) to `out`.
    ///
    /// # Errors
    ///
    /// When writing to `out` fails.
    fn write(&self, summaries: &[Summary], out: &mut dyn io::Write) -> io::Result<()>;
}

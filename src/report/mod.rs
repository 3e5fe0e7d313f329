//! Reports: what a run's frames amount to, and the formats it is written in.
//!
//! - `measured.rs`: [`Measured`], the frames the driver measured for one
//!   simulation;
//! - `run.rs`: [`Report`], every strategy's [`Summary`] assembled from
//!   them, with the checksum check;
//! - `summary.rs`: [`Summary`], the statistics of one strategy's run
//!   (percentiles from an HDR histogram, not hand-rolled);
//! - one file per format, each an [`Output`]: `table.rs` ([`Table`], text
//!   for a terminal), `json.rs` ([`Json`]), `csv.rs` ([`FrameCsv`], one row
//!   per frame), `plot.rs` ([`FramePlot`], an SVG picture).
//!
//! Files (CSV, SVG) are created when their output is, before the run, so a
//! path that cannot be written is refused before any frame runs. Errors are
//! plain [`io::Error`]s: the caller named the file and says which it was.

mod by_system;
mod csv;
mod json;
mod measured;
mod plot;
mod run;
mod summary;
mod table;

use std::io;

use crate::sim::{FrameRecord, Strategy};

pub use by_system::{ArenaBytes, OUTSIDE_SYSTEMS, SystemShare};
pub use csv::FrameCsv;
pub use json::Json;
pub use measured::Measured;
pub use plot::{FramePlot, render_svg};
pub use run::{NotApplicable, Report};
pub use summary::{FrameMs, ReservedBytes, RunInfo, Summary};
pub use table::{Table, format_bytes};

/// A format a run is written in: fed each measured frame as it is
/// measured, then the whole [`Report`] once at the end.
pub trait Output {
    /// One measured frame of `alloc`'s simulation. Formats written at the
    /// end keep nothing.
    ///
    /// # Errors
    ///
    /// When writing fails.
    fn frame(&mut self, alloc: Strategy, record: &FrameRecord) -> io::Result<()> {
        let _ = (alloc, record);
        Ok(())
    }

    /// The end of the run: writes what is left and flushes.
    ///
    /// # Errors
    ///
    /// When writing fails.
    fn finish(&mut self, report: &Report) -> io::Result<()>;
}

/// Nanoseconds as milliseconds, the unit every report shows.
pub(crate) fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

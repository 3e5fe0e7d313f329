//! [`Table`]: summaries as text for a terminal: a block for one run; for
//! `--compare`, one table with ratios to `heap` and the overhead over
//! `framevec`, and one with the median time of each phase of the frame.

use std::io;

use super::{Output, Report, Summary};
use crate::sim::{PhaseTimes, Strategy};

/// What stands for the memory a strategy holds where it is not measured.
const NOT_MEASURED: &str = "reserved from the system not measured (malloc is shared with bevy and \
                            the rest of the process)";

/// Human-readable text, written to `out` (stdout for the binary) at the end.
#[derive(Debug)]
pub struct Table<W> {
    out: W,
}

impl<W: io::Write> Table<W> {
    /// Text to `out`.
    pub fn new(out: W) -> Self {
        Table { out }
    }

    /// Writes `summaries`: a block for one, a table for several.
    ///
    /// # Errors
    ///
    /// When writing fails.
    pub fn write(&mut self, summaries: &[Summary]) -> io::Result<()> {
        match summaries {
            [] => Ok(()),
            [one] => write_single(one, &mut self.out),
            all => write_compare(all, &mut self.out),
        }?;
        self.out.flush()
    }
}

impl<W: io::Write> Output for Table<W> {
    fn finish(&mut self, report: &Report) -> io::Result<()> {
        self.write(&report.summaries)?;
        for n in &report.not_applicable {
            writeln!(self.out, "{}: {}", n.alloc, n.not_applicable)?;
        }
        self.out.flush()
    }
}

/// The header's note when the frame arena ran on huge pages.
fn huge_pages_note(s: &Summary) -> &'static str {
    if s.arena_huge_pages {
        ", arena on huge pages"
    } else {
        ""
    }
}

fn write_single(s: &Summary, out: &mut dyn io::Write) -> io::Result<()> {
    writeln!(
        out,
        "framemem: scenario {}, alloc {}, {} entities/frame, {} frames (+{} warm-up), {} threads, global allocator {}{}, seed {:#x}{}",
        s.scenario,
        s.alloc,
        s.entities,
        s.frames,
        s.unmeasured_frames,
        s.threads,
        s.global_allocator,
        huge_pages_note(s),
        s.seed,
        if s.interrupted { " (interrupted)" } else { "" }
    )?;
    let ms = &s.frame_ms;
    writeln!(
        out,
        "  frame time    mean {:.3} ms  p50 {:.3} ms  p95 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms.mean, ms.p50, ms.p95, ms.p99, ms.max
    )?;
    writeln!(
        out,
        "  heap traffic  {:.1} allocations/frame (max {}), {:.1} frees/frame, {}/frame",
        s.allocs_per_frame,
        s.allocs_max,
        s.frees_per_frame,
        format_bytes(s.bytes_per_frame)
    )?;
    let reserved = match s.reserved_bytes {
        Some(r) => format!(
            "reserved from the system {} (p50), {} (max), {} (final)",
            format_bytes(r.p50 as f64),
            format_bytes(r.max as f64),
            format_bytes(r.last as f64)
        ),
        None => NOT_MEASURED.to_owned(),
    };
    writeln!(
        out,
        "  memory        high-water {} in use; {reserved}",
        format_bytes(s.memory.peak_bytes_in_use as f64),
    )?;
    let phases: Vec<String> = PhaseTimes::<f64>::NAMES
        .iter()
        .zip(s.phase_ms.into_array())
        .map(|(name, ms)| format!("{name} {ms:.3}"))
        .collect();
    writeln!(out, "  phases (p50)  {} ms", phases.join(", "))?;
    write_by_system(s, "  by system     ", out)?;
    writeln!(out, "  contacts      {:.1}/frame", s.contacts_per_frame)?;
    writeln!(out, "  checksum      {}", s.checksum)
}

/// The arena's bytes per system (mean per frame), where the strategy
/// attributes them: one line after `lead`.
fn write_by_system(s: &Summary, lead: &str, out: &mut dyn io::Write) -> io::Result<()> {
    let Some(arena) = s.arena_bytes else {
        return Ok(());
    };
    let systems: Vec<String> = s
        .by_system
        .iter()
        .map(|system| format!("{} {}", system.name, format_bytes(system.mean_bytes)))
        .collect();
    writeln!(
        out,
        "{lead}{} of {} arena bytes/frame (mean)",
        systems.join(", "),
        format_bytes(arena.mean)
    )
}

fn write_compare(all: &[Summary], out: &mut dyn io::Write) -> io::Result<()> {
    let first = &all[0];
    let interrupted = all.iter().any(|s| s.interrupted);
    writeln!(
        out,
        "framemem --compare: scenario {}, {} entities/frame, {} frames each (+{} unmeasured), {} threads, global allocator {}{}, seed {:#x}{}",
        first.scenario,
        first.entities,
        first.frames,
        first.unmeasured_frames,
        first.threads,
        first.global_allocator,
        huge_pages_note(first),
        first.seed,
        if interrupted { " (interrupted)" } else { "" }
    )?;
    let heap = all.iter().find(|s| s.alloc == Strategy::Heap);
    let ratio = |value: f64, base: Option<f64>| match base {
        Some(base) if base > 0.0 => format!("{:.2}x", value / base),
        _ => "-".to_owned(),
    };
    let header = [
        "alloc",
        "mean ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "p50/heap",
        "overhead ms",
        "allocs/frame",
        "allocs/heap",
        "bytes/frame",
        "high-water",
        "checksum",
    ];
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            let ms = &s.frame_ms;
            vec![
                s.alloc.to_string(),
                format!("{:.3}", ms.mean),
                format!("{:.3}", ms.p50),
                format!("{:.3}", ms.p95),
                format!("{:.3}", ms.p99),
                format!("{:.3}", ms.max),
                ratio(ms.p50, heap.map(|h| h.frame_ms.p50)),
                s.overhead_ms.map_or("-".to_owned(), |o| format!("{o:+.3}")),
                format!("{:.1}", s.allocs_per_frame),
                ratio(s.allocs_per_frame, heap.map(|h| h.allocs_per_frame)),
                format_bytes(s.bytes_per_frame),
                format_bytes(s.memory.peak_bytes_in_use as f64),
                s.checksum.clone(),
            ]
        })
        .collect();
    write_columns(out, &header, &rows)?;
    writeln!(
        out,
        "overhead: the median frame minus framevec's (a frame-wide Vec, indices in components)"
    )?;
    for s in all {
        write_by_system(s, &format!("{} by system: ", s.alloc), out)?;
    }
    let mut header = vec!["p50 ms per phase"];
    header.extend(PhaseTimes::<f64>::NAMES);
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            let mut row = vec![s.alloc.to_string()];
            row.extend(s.phase_ms.into_array().map(|ms| format!("{ms:.3}")));
            row
        })
        .collect();
    write_columns(out, &header, &rows)?;
    let header = ["reserved bytes", "p50", "max", "final"];
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|s| {
            let cells = match s.reserved_bytes {
                Some(r) => [r.p50, r.max, r.last].map(|b| format_bytes(b as f64)),
                None => ["-", "-", "-"].map(str::to_owned),
            };
            [s.alloc.to_string()].into_iter().chain(cells).collect()
        })
        .collect();
    write_columns(out, &header, &rows)?;
    if all.iter().any(|s| s.reserved_bytes.is_none()) {
        writeln!(out, "-: {NOT_MEASURED}")?;
    }
    if let Some(block) = first.block_frames {
        writeln!(
            out,
            "strategies took turns in blocks of {block} frames, in rotating order, each block \
             after one unmeasured frame (the first frame after another world ran is cold)"
        )?;
    }
    Ok(())
}

/// Writes `header` and `rows` in aligned columns: the first to the left,
/// the others to the right.
fn write_columns(out: &mut dyn io::Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i == 0 {
                text.push_str(&format!("{cell:<w$}"));
            } else {
                text.push_str(&format!("  {cell:>w$}"));
            }
        }
        text
    };
    writeln!(out, "{}", line(&mut header.iter().copied()))?;
    for row in rows {
        writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

/// Bytes with a binary unit: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_get_binary_units() {
        assert_eq!(format_bytes(0.0), "0 B");
        assert_eq!(format_bytes(1023.0), "1023 B");
        assert_eq!(format_bytes(1536.0), "1.5 KiB");
        assert_eq!(format_bytes(12.0 * 1024.0 * 1024.0), "12.0 MiB");
    }
}

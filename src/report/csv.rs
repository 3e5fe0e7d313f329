//! [`FrameCsv`]: one row per measured frame, for plotting.

use std::fs::File;
use std::io;
use std::path::Path;

use super::{Output, Report, ms};
use crate::sim::{ALLOCATING_SYSTEMS, FrameRecord, PhaseTimes, Strategy};

/// A CSV file with a header and one row per frame:
/// `alloc,frame,time_ms,heap_allocs,heap_frees,heap_bytes,contacts`, then
/// each phase's time: `spawn_ms,simulate_ms,collide_ms,despawn_ms,end_frame_ms`,
/// then `reserved_bytes` (what the strategy holds at the end of the frame;
/// empty where not measured: the heap strategy), then the frame arena's
/// bytes per lab system, `spawn_bytes,collide_bytes,outside_systems_bytes`
/// (empty where the strategy does not attribute them: all but the arena
/// with one-frame lifetimes).
#[derive(Debug)]
pub struct FrameCsv {
    writer: csv::Writer<io::BufWriter<File>>,
}

impl FrameCsv {
    /// Creates (or truncates) `path` and writes the header.
    ///
    /// # Errors
    ///
    /// When the file cannot be created or written.
    pub fn create(path: &Path) -> io::Result<FrameCsv> {
        let file = File::create(path)?;
        let mut writer = csv::Writer::from_writer(io::BufWriter::new(file));
        let phases = PhaseTimes::<u64>::NAMES.map(|name| format!("{name}_ms"));
        let systems = ALLOCATING_SYSTEMS.map(|name| format!("{name}_bytes"));
        let columns = [
            "alloc",
            "frame",
            "time_ms",
            "heap_allocs",
            "heap_frees",
            "heap_bytes",
            "contacts",
        ];
        writer.write_record(
            columns
                .iter()
                .copied()
                .chain(phases.iter().map(String::as_str))
                .chain(["reserved_bytes"])
                .chain(systems.iter().map(String::as_str))
                .chain(["outside_systems_bytes"]),
        )?;
        Ok(FrameCsv { writer })
    }

    /// Writes one frame's row.
    ///
    /// # Errors
    ///
    /// When writing fails.
    pub fn write_frame(&mut self, alloc: Strategy, r: &FrameRecord) -> io::Result<()> {
        let columns = [
            alloc.name().to_owned(),
            r.frame.to_string(),
            format!("{:.6}", ms(r.time_ns)),
            r.heap.heap_calls().to_string(),
            r.heap.frees.to_string(),
            r.heap.bytes_allocated.to_string(),
            r.contacts.to_string(),
        ];
        let phases = r.phase_ns.into_array().map(|ns| format!("{:.6}", ms(ns)));
        let reserved = r.reserved_bytes.map_or_else(String::new, |b| b.to_string());
        let systems: [String; ALLOCATING_SYSTEMS.len() + 1] = std::array::from_fn(|i| {
            r.by_system.map_or_else(String::new, |b| {
                b.bytes.get(i).copied().unwrap_or(b.outside).to_string()
            })
        });
        self.writer.write_record(
            columns
                .iter()
                .chain(&phases)
                .chain([&reserved])
                .chain(&systems),
        )?;
        Ok(())
    }

    /// Flushes the file.
    ///
    /// # Errors
    ///
    /// When flushing fails.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Output for FrameCsv {
    fn frame(&mut self, alloc: Strategy, record: &FrameRecord) -> io::Result<()> {
        self.write_frame(alloc, record)
    }

    fn finish(&mut self, _report: &Report) -> io::Result<()> {
        self.flush()
    }
}

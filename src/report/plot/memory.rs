//! The lower panel: the memory each strategy holds from the system at the
//! end of each measured frame (`reserved_bytes`), a line per strategy, with
//! its p50, most and final figures in the legend. Shows a spike's memory
//! coming back (or not) a window after it.

use plotters::prelude::*;

use super::{
    AXIS_DESC_PX, Area, CAPTION_PX, DrawResult, FONT, Frames, LEGEND_PX, MAX_POINTS, TICK_LABEL_PX,
    colour, frame_line,
};
use crate::report::table::format_bytes;

const MIB: f64 = 1024.0 * 1024.0;

/// Draws the memory panel.
pub(super) fn draw_reserved(area: &Area<'_>, f: &Frames<'_>) -> DrawResult {
    let mib: Vec<Vec<f64>> = f
        .runs
        .iter()
        .map(|(_, records)| {
            records
                .iter()
                .map(|r| r.reserved_bytes.map_or(0.0, |b| b as f64 / MIB))
                .collect()
        })
        .collect();
    let frames = mib.iter().map(Vec::len).max().unwrap_or(0);
    let group = frames.div_ceil(MAX_POINTS).max(1);
    let most = mib.iter().flatten().copied().fold(0.0, f64::max);
    let top = (most * 1.05).max(1.0);
    let mut chart = ChartBuilder::on(area)
        .caption(
            "Memory held from the system at the end of each measured frame",
            (FONT, CAPTION_PX),
        )
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..(frames.max(2) - 1) as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .label_style((FONT, TICK_LABEL_PX))
        .x_desc("measured frame")
        .y_desc("reserved (MiB)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()?;
    for ((s, _), values) in f.runs.iter().zip(&mib) {
        let c = colour(s.alloc);
        let Some(r) = s.reserved_bytes else {
            // The heap strategy: what `malloc` keeps is shared with bevy's
            // tables and the rest of the process. No line, rather than a
            // line at 0 that would read as "holds nothing".
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())?
                .label(format!("{}: not measured (malloc is shared)", s.alloc))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)));
            continue;
        };
        let label = format!(
            "{}: p50 {}, max {}, final {}",
            s.alloc,
            format_bytes(r.p50 as f64),
            format_bytes(r.max as f64),
            format_bytes(r.last as f64)
        );
        chart
            .draw_series(LineSeries::new(
                frame_line(values, group, top),
                c.stroke_width(1),
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FONT, LEGEND_PX))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::report::plot::render_svg;
    use crate::report::{Measured, RunInfo, Summary};
    use crate::sim::{FrameRecord, MemoryFigures, Strategy};

    /// A run of `alloc` holding `reserved_mib` at the end of each frame
    /// (`None`: not measured).
    fn run(alloc: Strategy, reserved_mib: &[Option<u64>]) -> (Summary, Vec<FrameRecord>) {
        let records: Vec<FrameRecord> = reserved_mib
            .iter()
            .enumerate()
            .map(|(i, &mib)| FrameRecord {
                frame: i as u64,
                time_ns: 1_000_000,
                reserved_bytes: mib.map(|mib| mib << 20),
                ..FrameRecord::default()
            })
            .collect();
        let info = RunInfo {
            scenario: "waves".into(),
            entities: 300,
            threads: 2,
            seed: 1,
            block_frames: Some(25),
            global_allocator: "system".into(),
            arena_huge_pages: false,
        };
        let measured = Measured {
            records: records.clone(),
            unmeasured_frames: 0,
        };
        let summary = Summary::new(alloc, &info, &measured, MemoryFigures::default(), 0, false);
        (summary, records)
    }

    #[test]
    fn each_strategy_s_memory_is_drawn_with_its_figures() {
        let slab = run(Strategy::Slab, &[4, 4, 24, 24, 5].map(Some));
        let heap = run(Strategy::Heap, &[None; 5]);
        let svg = render_svg(&[(&slab.0, &slab.1), (&heap.0, &heap.1)]).unwrap();
        assert!(svg.contains("reserved (MiB)"));
        assert!(
            svg.contains("slab: p50 5.0 MiB, max 24.0 MiB, final 5.0 MiB"),
            "no slab legend with its figures"
        );
        assert!(
            svg.contains("heap: not measured (malloc is shared)"),
            "no heap legend"
        );
    }
}

//! [`FramePlot`]: a run as one SVG picture, three panels: every measured
//! frame's time per strategy (a line each), their distributions (the share
//! of frames at or below each time, a CDF each), and the memory each
//! strategy holds from the system frame by frame (`memory.rs`).
//!
//! The file is created when the plot is, before the run, so a path that
//! cannot be written is refused before any frame runs; the picture is drawn
//! into memory after the run and written in one go.
//!
//! Drawn with plotters' SVG backend and its naive text layout (no font
//! files: the viewer renders the text, plotters only estimates its size).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod memory;

use plotters::prelude::*;

use super::{Output, Report, Summary, ms};
use crate::sim::{FrameRecord, Strategy};

/// Picture size in pixels: wide enough for a 500-frame line to show single
/// frames, tall enough for three panels with their axis labels.
const SIZE_PX: (u32, u32) = (1200, 1300);
/// Points drawn per strategy and panel at most. Longer runs (`--forever`)
/// are thinned: the per-frame panel draws the slowest frame of each group
/// of frames (spikes stay visible), the distribution panel draws evenly
/// spaced ranks. Keeps the file under a few MiB whatever the run's length.
const MAX_POINTS: usize = 2000;
/// The time axes stop at this multiple of the slowest strategy's p99 when
/// the slowest frame lies beyond it: one stall would otherwise flatten every
/// line into the bottom of the panel. Frames above are drawn at the top
/// edge, and the axis says so.
const CLIP_OVER_P99: f64 = 2.0;
const FONT: &str = "sans-serif";
// Text sizes as plotters takes them (it draws them about 20% smaller).
const TITLE_PX: u32 = 24;
const CAPTION_PX: u32 = 20;
const AXIS_DESC_PX: u32 = 18;
const TICK_LABEL_PX: u32 = 15;
const LEGEND_PX: u32 = 17;

/// An SVG picture of a run's frame times: its file created up front, the
/// picture drawn and written at the end ([`Output::finish`]).
#[derive(Debug)]
pub struct FramePlot {
    path: PathBuf,
    file: File,
}

impl FramePlot {
    /// Checks that `path` ends in `.svg` and creates (or truncates) the file.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when the name does not end in `.svg`;
    /// otherwise why the file cannot be created.
    pub fn create(path: &Path) -> io::Result<FramePlot> {
        let is_svg = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
        if !is_svg {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the name does not end in .svg; the plot is an SVG file",
            ));
        }
        Ok(FramePlot {
            path: path.to_owned(),
            file: File::create(path)?,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Draws `runs` (each strategy's summary and measured frames, in the
    /// order of the legend) and writes the file.
    ///
    /// # Errors
    ///
    /// When plotters cannot draw the picture, or writing fails.
    pub fn write(&mut self, runs: &[(&Summary, &[FrameRecord])]) -> io::Result<()> {
        let svg = render_svg(runs).map_err(io::Error::other)?;
        self.file.write_all(svg.as_bytes())?;
        self.file.flush()
    }
}

impl Output for FramePlot {
    fn finish(&mut self, report: &Report) -> io::Result<()> {
        self.write(&report.runs())
    }
}

/// The fixed colour of each strategy, so pictures of different runs read
/// alike (Tableau 10: distinct, and readable by most colour-blind readers).
fn colour(strategy: Strategy) -> RGBColor {
    match strategy {
        Strategy::Arena => RGBColor(31, 119, 180),     // blue
        Strategy::Slab => RGBColor(255, 127, 14),      // orange
        Strategy::Pool => RGBColor(44, 160, 44),       // green
        Strategy::Heap => RGBColor(214, 39, 40),       // red
        Strategy::Mimalloc => RGBColor(148, 103, 189), // purple
        Strategy::Framevec => RGBColor(127, 127, 127), // grey: the floor
    }
}

/// The picture's title: what was run, where, with which global allocator.
fn title(runs: &[(&Summary, &[FrameRecord])]) -> String {
    let Some((first, _)) = runs.first() else {
        return "framemem: no frames".to_owned();
    };
    let what = if first.block_frames.is_some() {
        "framemem --compare".to_owned()
    } else {
        format!("framemem, alloc {}", first.alloc)
    };
    format!(
        "{what}: scenario {}, {} entities/frame, {} threads, global allocator {}{}",
        first.scenario,
        first.entities,
        first.threads,
        first.global_allocator,
        if runs.iter().any(|(s, _)| s.interrupted) {
            " (interrupted)"
        } else {
            ""
        }
    )
}

/// Each run's frame times in milliseconds.
fn times_ms(records: &[FrameRecord]) -> Vec<f64> {
    records.iter().map(|r| ms(r.time_ns)).collect()
}

/// A per-frame line: `(measured frame, value)`, thinned to the largest value
/// (the slowest frame, the most memory) of each group of `group` frames,
/// drawn no higher than `top`.
fn frame_line(values: &[f64], group: usize, top: f64) -> Vec<(f64, f64)> {
    values
        .chunks(group.max(1))
        .enumerate()
        .map(|(i, chunk)| {
            let slowest = chunk.iter().copied().fold(0.0, f64::max);
            ((i * group.max(1)) as f64, slowest.min(top))
        })
        .collect()
}

/// The empirical CDF as a staircase, `(ms, % of frames at or below)`, over
/// at most [`MAX_POINTS`] evenly spaced ranks of the sorted times.
fn cdf_steps(times: &[f64], top: f64) -> Vec<(f64, f64)> {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let ranks = n.min(MAX_POINTS);
    let mut steps = Vec::with_capacity(2 * ranks + 1);
    let mut below = 0.0;
    steps.push((sorted[0].min(top), 0.0));
    for k in 1..=ranks {
        // The k-th of `ranks` evenly spaced ranks, 1-based: n when k == ranks.
        let rank = (k * n).div_ceil(ranks);
        let ms = sorted[rank - 1].min(top);
        let share = 100.0 * rank as f64 / n as f64;
        steps.push((ms, below));
        steps.push((ms, share));
        below = share;
    }
    steps
}

/// Where the time axes end: just above the slowest frame, or at
/// [`CLIP_OVER_P99`] times the highest p99 when a stall lies beyond that.
/// Returns the end and whether frames were clipped.
fn time_axis_end(runs: &[(&Summary, &[FrameRecord])]) -> (f64, bool) {
    let slowest = runs.iter().map(|(s, _)| s.frame_ms.max).fold(0.0, f64::max);
    let p99 = runs.iter().map(|(s, _)| s.frame_ms.p99).fold(0.0, f64::max);
    let clip = CLIP_OVER_P99 * p99;
    if p99 > 0.0 && slowest > clip {
        (clip, true)
    } else {
        ((slowest * 1.05).max(1e-3), false)
    }
}

/// Draws the picture as SVG text.
///
/// # Errors
///
/// plotters' message when it cannot lay out or draw the picture.
pub fn render_svg(runs: &[(&Summary, &[FrameRecord])]) -> Result<String, String> {
    let mut svg = String::new();
    draw(&mut svg, runs).map_err(|e| e.to_string())?;
    Ok(svg)
}

/// The time axes' ticks: as many decimals as a span of `span` ms needs.
fn ms_tick(ms: f64, span: f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else {
        2
    };
    format!("{ms:.decimals$}")
}

/// What both panels share.
struct Frames<'a> {
    runs: &'a [(&'a Summary, &'a [FrameRecord])],
    /// Each run's frame times, ms.
    times: Vec<Vec<f64>>,
    /// Where the time axes end.
    top_ms: f64,
    /// Said in the captions when frames lie above `top_ms`.
    clip_note: String,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw(svg: &mut String, runs: &[(&Summary, &[FrameRecord])]) -> DrawResult {
    let root = SVGBackend::with_string(svg, SIZE_PX).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&title(runs), (FONT, TITLE_PX))?;
    let panels = root.split_evenly((3, 1));
    let (top_ms, clipped) = time_axis_end(runs);
    let frames = Frames {
        runs,
        times: runs.iter().map(|(_, r)| times_ms(r)).collect(),
        top_ms,
        clip_note: if clipped {
            format!(" (slower frames drawn at {top_ms:.1} ms)")
        } else {
            String::new()
        },
    };
    draw_per_frame(&panels[0], &frames)?;
    draw_distribution(&panels[1], &frames)?;
    memory::draw_reserved(&panels[2], &frames)?;
    root.present()?;
    Ok(())
}

/// The upper panel: frame time per measured frame, a line per strategy.
fn draw_per_frame(area: &Area<'_>, f: &Frames<'_>) -> DrawResult {
    let frames = f.times.iter().map(Vec::len).max().unwrap_or(0);
    let group = frames.div_ceil(MAX_POINTS).max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Frame time of each measured frame{}", f.clip_note),
            (FONT, CAPTION_PX),
        )
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..(frames.max(2) - 1) as f64, 0.0..f.top_ms)?;
    let x_desc = if group > 1 {
        format!("measured frame (each point: the slowest of {group} frames)")
    } else {
        "measured frame".to_owned()
    };
    let span = f.top_ms;
    chart
        .configure_mesh()
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .label_style((FONT, TICK_LABEL_PX))
        .x_desc(x_desc)
        .y_desc("frame time (ms)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| ms_tick(*y, span))
        .draw()?;
    for ((summary, _), times) in f.runs.iter().zip(&f.times) {
        let c = colour(summary.alloc);
        chart
            .draw_series(LineSeries::new(
                frame_line(times, group, f.top_ms),
                c.stroke_width(1),
            ))?
            .label(summary.alloc.name())
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

/// The lower panel: each strategy's CDF, with its statistics in the legend
/// (the lower right of a CDF is empty).
fn draw_distribution(area: &Area<'_>, f: &Frames<'_>) -> DrawResult {
    let fastest = f
        .times
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let left = if fastest.is_finite() {
        (fastest * 0.95).min(f.top_ms * 0.99)
    } else {
        0.0
    };
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "Distribution: share of measured frames at or below a frame time{}",
                f.clip_note
            ),
            (FONT, CAPTION_PX),
        )
        .margin(12)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(left..f.top_ms, 0.0..100.0)?;
    let span = f.top_ms - left;
    chart
        .configure_mesh()
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .label_style((FONT, TICK_LABEL_PX))
        .x_desc("frame time (ms)")
        .y_desc("frames at or below (%)")
        .x_label_formatter(&|x| ms_tick(*x, span))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for ((s, _), times) in f.runs.iter().zip(&f.times) {
        let c = colour(s.alloc);
        let ms = &s.frame_ms;
        chart
            .draw_series(LineSeries::new(
                cdf_steps(times, f.top_ms),
                c.stroke_width(2),
            ))?
            .label(format!(
                "{}: mean {:.3}, p50 {:.3}, p99 {:.3}, max {:.3} ms{}",
                s.alloc,
                ms.mean,
                ms.p50,
                ms.p99,
                ms.max,
                s.overhead_ms
                    .map_or(String::new(), |o| format!(", overhead {o:+.3} ms"))
            ))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FONT, LEGEND_PX))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Measured, RunInfo};
    use crate::sim::MemoryFigures;

    fn records(times_ms: &[u64]) -> Vec<FrameRecord> {
        times_ms
            .iter()
            .enumerate()
            .map(|(i, &ms)| FrameRecord {
                frame: i as u64,
                time_ns: ms * 1_000_000,
                ..FrameRecord::default()
            })
            .collect()
    }

    fn summary(alloc: Strategy, records: &[FrameRecord]) -> Summary {
        let info = RunInfo {
            scenario: "swarm".into(),
            entities: 300,
            threads: 2,
            seed: 1,
            block_frames: Some(25),
            global_allocator: "system".into(),
            arena_huge_pages: false,
        };
        let measured = Measured {
            records: records.to_vec(),
            unmeasured_frames: 0,
        };
        Summary::new(alloc, &info, &measured, MemoryFigures::default(), 0, false)
    }

    #[test]
    fn the_svg_names_every_strategy_and_the_run() {
        let frames: Vec<Vec<FrameRecord>> = Strategy::ALL
            .iter()
            .enumerate()
            .map(|(i, _)| records(&[2 + i as u64, 3, 4, 3, 2]))
            .collect();
        let summaries: Vec<Summary> = Strategy::ALL
            .iter()
            .zip(&frames)
            .map(|(&s, r)| summary(s, r))
            .collect();
        let runs: Vec<(&Summary, &[FrameRecord])> = summaries
            .iter()
            .zip(&frames)
            .map(|(s, r)| (s, r.as_slice()))
            .collect();
        let svg = render_svg(&runs).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for s in Strategy::ALL {
            // plotters writes each text on a line of its own.
            assert!(svg.contains(&format!("\n{}\n", s.name())), "no {s} legend");
        }
        for text in [
            "scenario swarm",
            "300 entities/frame",
            "global allocator system",
        ] {
            assert!(svg.contains(text), "no {text:?}");
        }
        assert!(svg.contains("frame time (ms)"));
    }

    #[test]
    fn no_frames_still_draws() {
        let none = records(&[]);
        let s = summary(Strategy::Heap, &none);
        let svg = render_svg(&[(&s, &none)]).unwrap();
        assert!(svg.contains("</svg>"));
    }

    #[test]
    fn long_runs_are_thinned_to_their_slowest_frames() {
        let mut times = vec![1.0; 10 * MAX_POINTS];
        times[12_345] = 9.0;
        let line = frame_line(&times, 10, f64::INFINITY);
        assert_eq!(line.len(), MAX_POINTS);
        assert_eq!(line[1234], (12_340.0, 9.0));
        assert_eq!(line[1235].1, 1.0);
    }

    #[test]
    fn the_cdf_climbs_from_zero_to_all_frames() {
        let steps = cdf_steps(&[3.0, 1.0, 2.0, 2.0], f64::INFINITY);
        assert_eq!(steps.first(), Some(&(1.0, 0.0)));
        assert_eq!(steps.last(), Some(&(3.0, 100.0)));
        assert!(
            steps
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
        );
        assert!(steps.contains(&(2.0, 75.0)));
        let many: Vec<f64> = (0..10 * MAX_POINTS).map(|i| i as f64).collect();
        let steps = cdf_steps(&many, f64::INFINITY);
        assert_eq!(steps.len(), 2 * MAX_POINTS + 1);
        assert_eq!(steps.last(), Some(&((10 * MAX_POINTS - 1) as f64, 100.0)));
    }

    #[test]
    fn a_stall_is_clipped_not_allowed_to_flatten_the_panel() {
        let mut times = vec![2; 200];
        times[7] = 100;
        let r = records(&times);
        let s = summary(Strategy::Arena, &r);
        let (top, clipped) = time_axis_end(&[(&s, &r)]);
        assert!(clipped);
        assert!((top - 4.0).abs() < 0.01, "{top}");
        let r = records(&[2, 3, 2]);
        let s = summary(Strategy::Arena, &r);
        let (top, clipped) = time_axis_end(&[(&s, &r)]);
        assert!(!clipped && top > 3.0, "{top}");
    }

    #[test]
    fn only_svg_paths_are_taken() {
        let e = FramePlot::create(Path::new("frames.png")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains(".svg"), "{e}");
        assert!(!Path::new("frames.png").exists(), "nothing is created");
        let e = FramePlot::create(Path::new("/no/such/dir/frames.svg")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }
}

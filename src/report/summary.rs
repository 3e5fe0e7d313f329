//! [`Summary`]: what one strategy's run amounts to.

use hdrhistogram::Histogram;

use super::by_system::{self, ArenaBytes, SystemShare};
use super::measured::Measured;
use super::ms;
use crate::sim::{FrameRecord, MemoryFigures, PhaseTimes, Strategy};

/// Longest frame the histogram tracks exactly: one minute, in nanoseconds
/// (longer frames are recorded as one minute; the exact maximum is kept
/// separately).
const HISTOGRAM_MAX_NS: u64 = 60_000_000_000;
/// Three significant figures: 0.1% resolution, plenty for frame times.
const HISTOGRAM_SIGFIG: u8 = 3;

/// The settings of a run, shared by every strategy in it.
#[derive(Clone, Debug)]
pub struct RunInfo {
    /// The scenario's name.
    pub scenario: String,
    /// Transient entities per frame.
    pub entities: u32,
    /// Compute threads.
    pub threads: usize,
    /// The spawn seed.
    pub seed: u64,
    /// With `--compare`: frames per block of the interleaving.
    pub block_frames: Option<u64>,
    /// The process's global allocator (under the allocation counter), the
    /// one the `heap` strategy and bevy use: `system` or `mimalloc` (`dhat`
    /// in a heap-profiling build).
    pub global_allocator: String,
    /// Whether the frame arena's chunks are 2 MiB on huge pages
    /// (`--huge-pages on`).
    pub arena_huge_pages: bool,
}

/// Frame time statistics, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct FrameMs {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest frame.
    pub max: f64,
}

/// The statistics of one strategy's measured frames.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    /// The strategy.
    pub alloc: Strategy,
    /// The scenario's name.
    pub scenario: String,
    /// Transient entities per frame.
    pub entities: u32,
    /// Frames measured.
    pub frames: u64,
    /// Frames run but not measured: the warm-up, and with `--compare` one
    /// frame before each block. (Its JSON key is `warmup_frames`, the name
    /// it had when the warm-up was all of them.)
    #[serde(rename = "warmup_frames")]
    pub unmeasured_frames: u64,
    /// With `--compare`: frames per block of the interleaving.
    pub block_frames: Option<u64>,
    /// Compute threads.
    pub threads: usize,
    /// The process's global allocator: `system` or `mimalloc` (`dhat` in
    /// a heap-profiling build).
    pub global_allocator: String,
    /// Whether the frame arena's chunks were 2 MiB on huge pages
    /// (`--huge-pages on`).
    pub arena_huge_pages: bool,
    /// The spawn seed, as `0x` and hex digits (a JSON number would lose
    /// precision above 2^53 in most readers).
    #[serde(serialize_with = "hex")]
    pub seed: u64,
    /// Frame times.
    pub frame_ms: FrameMs,
    /// The median time of each phase of the frame (spawn, simulate,
    /// collide, despawn, end of frame), ms. Medians of each phase apart, so
    /// they need not add up to the median frame.
    pub phase_ms: PhaseTimes<f64>,
    /// Bytes the strategy held from the system at the end of each measured
    /// frame: median, most, and at the last frame. `None` (JSON `null`)
    /// where not measured: the heap strategy, whose `malloc` is shared with
    /// the rest of the process.
    pub reserved_bytes: Option<ReservedBytes>,
    /// The median frame minus `framevec`'s, ms: what allocating per-frame
    /// memory this way costs over the hand-written frame `Vec`. `None`
    /// (JSON `null`) when `framevec` did not run; set by the
    /// [`Report`](super::Report), which has every strategy.
    pub overhead_ms: Option<f64>,
    /// Heap allocations per frame through the global allocator (`alloc`,
    /// `alloc_zeroed` and `realloc` calls), mean over the measured frames.
    pub allocs_per_frame: f64,
    /// Heap frees per frame, mean.
    pub frees_per_frame: f64,
    /// Heap bytes allocated per frame, mean.
    pub bytes_per_frame: f64,
    /// The most heap allocations in one measured frame.
    pub allocs_max: u64,
    /// Contacts per frame, mean.
    pub contacts_per_frame: f64,
    /// The strategy's memory figures at the end.
    pub memory: MemoryFigures,
    /// The frame arena's bytes per lab system (and `(outside systems)`),
    /// from the arena's per-system attribution: they add up to
    /// `arena_bytes`. Empty where the strategy does not attribute (all but
    /// the arena with one-frame lifetimes).
    pub by_system: Vec<SystemShare>,
    /// The frame arena's bytes per frame, all systems together; `None`
    /// (JSON `null`) where `by_system` is empty.
    pub arena_bytes: Option<ArenaBytes>,
    /// Hash of the persistent state at the end, as `0x` and 16 hex digits.
    pub checksum: String,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
}

impl Summary {
    /// Summarises `measured`; `figures` are the strategy's memory figures
    /// at the end.
    pub fn new(
        alloc: Strategy,
        info: &RunInfo,
        measured: &Measured,
        figures: MemoryFigures,
        checksum: u64,
        interrupted: bool,
    ) -> Summary {
        let records = &measured.records;
        let frames = records.len() as u64;
        let per_frame = |total: u64| {
            if frames == 0 {
                0.0
            } else {
                total as f64 / frames as f64
            }
        };
        let sum = |f: fn(&FrameRecord) -> u64| records.iter().map(f).sum::<u64>();
        let (by_system, arena_bytes) = by_system::of(records);
        Summary {
            alloc,
            scenario: info.scenario.clone(),
            entities: info.entities,
            frames,
            unmeasured_frames: measured.unmeasured_frames,
            block_frames: info.block_frames,
            threads: info.threads,
            global_allocator: info.global_allocator.clone(),
            arena_huge_pages: info.arena_huge_pages,
            seed: info.seed,
            frame_ms: frame_ms(records),
            phase_ms: phase_ms(records),
            reserved_bytes: ReservedBytes::of(records),
            overhead_ms: None,
            allocs_per_frame: per_frame(sum(|r| r.heap.heap_calls())),
            frees_per_frame: per_frame(sum(|r| r.heap.frees)),
            bytes_per_frame: per_frame(sum(|r| r.heap.bytes_allocated)),
            allocs_max: records
                .iter()
                .map(|r| r.heap.heap_calls())
                .max()
                .unwrap_or(0),
            contacts_per_frame: per_frame(sum(|r| u64::from(r.contacts))),
            memory: figures,
            by_system,
            arena_bytes,
            checksum: format!("{checksum:#018x}"),
            interrupted,
        }
    }
}

fn hex<S: serde::Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{value:#x}"))
}

/// An HDR histogram of `times_ns`, and their exact maximum.
fn histogram(times_ns: impl Iterator<Item = u64>) -> (Histogram<u64>, u64) {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, HISTOGRAM_MAX_NS, HISTOGRAM_SIGFIG)
        .expect("constant bounds are valid");
    let mut max_ns = 0;
    for ns in times_ns {
        histogram.saturating_record(ns.clamp(1, HISTOGRAM_MAX_NS));
        max_ns = max_ns.max(ns);
    }
    (histogram, max_ns)
}

/// The quantile `q` of a histogram in ms. The histogram reports a bucket's
/// upper bound, which can lie just above the slowest value; no quantile is
/// above the exact maximum.
fn quantile_ms(histogram: &Histogram<u64>, max_ns: u64, q: f64) -> f64 {
    ms(histogram.value_at_quantile(q).min(max_ns))
}

fn frame_ms(records: &[FrameRecord]) -> FrameMs {
    if records.is_empty() {
        return FrameMs::default();
    }
    let (histogram, max_ns) = histogram(records.iter().map(|r| r.time_ns));
    let total: u64 = records.iter().map(|r| r.time_ns).sum();
    let quantile = |q: f64| quantile_ms(&histogram, max_ns, q);
    FrameMs {
        mean: ms(total) / records.len() as f64,
        p50: quantile(0.50),
        p95: quantile(0.95),
        p99: quantile(0.99),
        max: ms(max_ns),
    }
}

/// What a strategy held from the system over the measured frames, bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReservedBytes {
    /// Median over the frames.
    pub p50: u64,
    /// The most at the end of any frame.
    pub max: u64,
    /// At the end of the last frame (JSON key `final`, a Rust keyword).
    #[serde(rename = "final")]
    pub last: u64,
}

impl ReservedBytes {
    /// The figures of `records`, or `None` when their strategy's holding is
    /// not measured.
    fn of(records: &[FrameRecord]) -> Option<ReservedBytes> {
        let mut sorted: Vec<u64> = records
            .iter()
            .map(|r| r.reserved_bytes)
            .collect::<Option<_>>()?;
        let Some(&last) = sorted.last() else {
            return Some(ReservedBytes::default());
        };
        sorted.sort_unstable();
        Some(ReservedBytes {
            // Exact (bytes are not times: no histogram rounding wanted).
            p50: sorted[(sorted.len() - 1) / 2],
            max: sorted[sorted.len() - 1],
            last,
        })
    }
}

/// Each phase's median, ms (0 with no frames).
fn phase_ms(records: &[FrameRecord]) -> PhaseTimes<f64> {
    if records.is_empty() {
        return PhaseTimes::default();
    }
    PhaseTimes::from_array(std::array::from_fn(|phase| {
        let (histogram, max_ns) = histogram(records.iter().map(|r| r.phase_ns.into_array()[phase]));
        quantile_ms(&histogram, max_ns, 0.5)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time_ms: u64, allocations: u64) -> FrameRecord {
        let time_ns = time_ms * 1_000_000;
        let mut r = FrameRecord {
            time_ns,
            // Spawn takes 40% of the frame, each other phase 15%.
            phase_ns: PhaseTimes::from_array([40, 15, 15, 15, 15].map(|p| time_ns * p / 100)),
            ..FrameRecord::default()
        };
        r.heap.allocations = allocations;
        r
    }

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        let measured = Measured {
            records: (1..=100).map(|ms| record(ms, 2)).collect(),
            unmeasured_frames: 3,
        };
        let info = RunInfo {
            scenario: "t".into(),
            entities: 1,
            threads: 1,
            seed: 0,
            block_frames: None,
            global_allocator: "system".into(),
            arena_huge_pages: false,
        };
        let s = Summary::new(
            Strategy::Heap,
            &info,
            &measured,
            MemoryFigures::default(),
            0xab,
            false,
        );
        let close = |a: f64, b: f64| (a - b).abs() < b * 0.002;
        assert!(close(s.frame_ms.mean, 50.5), "{:?}", s.frame_ms);
        assert!(close(s.frame_ms.p50, 50.0), "{:?}", s.frame_ms);
        assert!(close(s.frame_ms.p95, 95.0), "{:?}", s.frame_ms);
        assert!(close(s.frame_ms.p99, 99.0), "{:?}", s.frame_ms);
        assert_eq!(s.frame_ms.max, 100.0);
        assert!(close(s.phase_ms.spawn, 20.0), "{:?}", s.phase_ms);
        assert!(close(s.phase_ms.end_frame, 7.5), "{:?}", s.phase_ms);
        assert_eq!(s.overhead_ms, None, "set by the report, with framevec");
        assert_eq!(s.allocs_per_frame, 2.0);
        assert_eq!(s.checksum, "0x00000000000000ab");
        assert_eq!((s.frames, s.unmeasured_frames), (100, 3));
    }

    #[test]
    fn no_frames_is_all_zero() {
        assert_eq!(frame_ms(&[]), FrameMs::default());
        assert_eq!(phase_ms(&[]), PhaseTimes::default());
    }

    #[test]
    fn reserved_bytes_are_the_median_the_most_and_the_last() {
        let records: Vec<FrameRecord> = [5u64, 100, 7, 6, 8]
            .iter()
            .map(|&b| FrameRecord {
                reserved_bytes: Some(b),
                ..FrameRecord::default()
            })
            .collect();
        let r = ReservedBytes::of(&records).expect("measured");
        assert_eq!((r.p50, r.max, r.last), (7, 100, 8));
        assert_eq!(ReservedBytes::of(&[]), Some(ReservedBytes::default()));
        let json = serde_json::to_value(r).unwrap();
        assert_eq!(json["final"], 8, "{json}");
    }

    #[test]
    fn reserved_bytes_not_measured_are_none_not_zero() {
        let records = [FrameRecord::default(); 3];
        assert_eq!(ReservedBytes::of(&records), None);
    }
}

//! `framemem`: run the frame-churn simulation and report.
//!
//! `main` only calls [`run`] and turns its error into `error: ...` on stderr
//! with exit code 2 for bad input ([`UsageError`]) and 1 otherwise.

mod cli;
mod driver;
mod global_heap;

use std::fmt;
use std::process::ExitCode;

use anyhow::Context;
use framemem::profile::{self, ProfileOptions, Profiled, Profiling, RecordError};
use framemem::report::{FrameCsv, Json, RunInfo, Summary, SummaryFormat, Table, format_bytes};
use framemem::sim::{
    self, DEFAULT_SEED, EntitiesPerFrame, MAX_ENTITIES_PER_FRAME, Scenario, SimOptions, Simulation,
    Strategy,
};
use global_heap::HeapProfile;

/// Bad input: reported in one line, exit code 2.
#[derive(Debug)]
struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.is::<UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = match cli::parse() {
        cli::Parsed::Run(cli) => cli,
        cli::Parsed::Info(text) => {
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        }
        cli::Parsed::Error(message) => return Err(usage(message)),
    };
    let scenario = match &cli.scenario {
        Some(path) => Scenario::load(path),
        None => Ok(Scenario::builtin()),
    }
    .map_err(|e| usage(e.to_string()))?;
    let entities = cli.entities.unwrap_or(scenario.entities_per_frame);
    let strategies: Vec<Strategy> = if cli.compare {
        Strategy::ALL.to_vec()
    } else {
        vec![cli.alloc.into()]
    };
    check_memory(&scenario, entities, strategies.len())?;
    if entities > MAX_ENTITIES_PER_FRAME {
        return Err(usage(format!(
            "--entities {entities} is above the maximum of {MAX_ENTITIES_PER_FRAME} per frame"
        )));
    }
    let mut csv = match &cli.csv {
        Some(path) => Some(FrameCsv::create(path).map_err(|e| {
            usage(format!(
                "cannot create --csv file `{}`: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let plot = cli.plot.as_deref().map(create_plot).transpose()?;

    let mut profiling = if cli.no_profile {
        Profiling::off()
    } else {
        Profiling::start(&ProfileOptions {
            stream: Some(cli.puffin_addr.unwrap_or(profile::DEFAULT_ADDR)),
            record: cli.profile_out.clone(),
        })
        .map_err(|e| match e {
            RecordError::Create { path, source } => usage(format!(
                "cannot create --profile-out file `{}`: {source}",
                path.display()
            )),
            other => other.into(),
        })?
    };
    if let Some(e) = profiling.stream_error()
        && !cli.quiet
    {
        eprintln!("warning: {e}; running without streaming");
    }

    // With `dhat-heap`, dhat's profiler: it writes dhat-heap.json when
    // dropped, at the end of `run`.
    let _heap_profile = HeapProfile::start();
    let threads = sim::init_task_pool(cli.threads.map(|t| t as usize));
    let seed = cli.seed.unwrap_or(DEFAULT_SEED);
    let options = SimOptions {
        entities_per_frame: EntitiesPerFrame::new(entities).map_err(|e| usage(e.to_string()))?,
        seed,
    };
    let mut sims: Vec<Simulation> = strategies
        .iter()
        .map(|&s| {
            Simulation::new(s, &scenario, options).count_allocations_with(global_heap::snapshot)
        })
        .collect();
    if !cli.quiet {
        let frames = if cli.forever {
            "frames until Ctrl-C".to_owned()
        } else {
            format!("{} frames", cli.frames)
        };
        eprintln!(
            "framemem: scenario {}, {} entities/frame, {} (+{} warm-up), alloc {}, {} threads",
            scenario.name,
            entities,
            frames,
            cli.warmup,
            strategies
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join("+"),
            threads
        );
        if let Some(addr) = profiling.streaming_addr() {
            eprintln!(
                "framemem: streaming profiles on {addr}; watch with `puffin_viewer --url {addr}`"
            );
        }
        if HeapProfile::ENABLED {
            eprintln!(
                "framemem: dhat-heap build: dhat records every allocation (dhat-heap.json at \
                 the end); frame times are not comparable with a normal build"
            );
        }
    }

    let frames = if cli.forever { u64::MAX } else { cli.frames };
    let plan = driver::Plan {
        frames,
        warmup: cli.warmup,
        block: if cli.compare {
            driver::COMPARE_BLOCK_FRAMES
        } else {
            frames
        },
        fps: cli.fps,
    };
    let stop = driver::stop_flag(cli.quiet);
    let blocks = if cli.compare {
        cli.frames.div_ceil(driver::COMPARE_BLOCK_FRAMES) * driver::REWARM_FRAMES
    } else {
        0
    };
    let bar = driver::progress(
        (!cli.forever).then(|| (cli.frames + cli.warmup + blocks) * sims.len() as u64),
        cli.quiet,
    );
    let measured = driver::run(&mut sims, plan, &stop, &bar, csv.as_mut(), &mut profiling)
        .context("cannot write the --csv file")?;
    let profiled = profiling.finish();
    if let Some(csv) = csv {
        csv.finish().context("cannot write the --csv file")?;
    }
    let stopped = stop.load(std::sync::atomic::Ordering::Relaxed);
    // Ctrl-C is how a --forever run ends, not an interruption.
    let interrupted = stopped && !cli.forever;
    if stopped && !cli.quiet {
        eprintln!(
            "{}: reporting the frames done",
            if cli.forever {
                "stopped"
            } else {
                "interrupted"
            }
        );
    }

    let info = RunInfo {
        scenario: scenario.name.clone(),
        entities: sims[0].entities_per_frame(),
        threads,
        seed,
        warmup_frames: cli.warmup,
        block_frames: cli.compare.then_some(driver::COMPARE_BLOCK_FRAMES),
        global_allocator: global_heap::NAME.to_owned(),
    };
    let summaries: Vec<Summary> = sims
        .iter_mut()
        .zip(&measured)
        .map(|(sim, m)| {
            let info = RunInfo {
                warmup_frames: m.unmeasured_frames,
                ..info.clone()
            };
            Summary::new(
                sim.strategy(),
                &info,
                &m.records,
                sim.figures(),
                sim.checksum(),
                interrupted,
            )
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    if cli.json {
        Json { array: cli.compare }.write(&summaries, &mut stdout)?;
    } else {
        Table.write(&summaries, &mut stdout)?;
    }
    drop(stdout);
    let recorded = report_profile(profiled, cli.json, cli.quiet);
    let plotted = write_plot(plot, &summaries, &measured, cli.json, cli.quiet);

    // Checksums are comparable only between runs of the same length (Ctrl-C
    // may stop strategies at different frames).
    let same_length = sims
        .iter()
        .all(|s| s.frames_done() == sims[0].frames_done());
    if let Some(odd) = summaries
        .iter()
        .find(|s| same_length && s.checksum != summaries[0].checksum)
    {
        eprintln!(
            "error: checksums differ: {} {} but {} {}; the strategies must compute the same \
             simulation",
            summaries[0].alloc, summaries[0].checksum, odd.alloc, odd.checksum
        );
        return Ok(ExitCode::FAILURE);
    }
    recorded?;
    plotted?;
    if interrupted {
        // The shell convention for "stopped by SIGINT" (128 + 2), after the
        // summary of the frames done.
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints where the profiles went, after the summary: on stdout with the
/// table, on stderr with `--json` (stdout stays pure JSON) unless `quiet`.
/// Returns the recording's write error, if any, for the exit code.
fn report_profile(profiled: Profiled, json: bool, quiet: bool) -> anyhow::Result<()> {
    let mut lines = Vec::new();
    if let Some(addr) = profiled.streamed_from {
        lines.push(format!(
            "profile: streamed on {addr}; watch a run live with `puffin_viewer --url {addr}`"
        ));
    }
    let mut failed = None;
    match profiled.recorded {
        Some(Ok(recorded)) => lines.push(format!(
            "profile: {} frames written to {}; open with `puffin_viewer {}`",
            recorded.frames,
            recorded.path.display(),
            recorded.path.display()
        )),
        Some(Err(RecordError::Write { path, source })) => {
            failed = Some(anyhow::anyhow!(
                "cannot write --profile-out file `{}`: {source}",
                path.display()
            ));
        }
        Some(Err(e)) => failed = Some(e.into()),
        None => {}
    }
    if profiled.scopes_on {
        lines.push(
            "profile: the heap counts include puffin's bookkeeping (a dozen or so allocations a \
             frame, more while a viewer is connected); --no-profile leaves it out"
                .to_owned(),
        );
    }
    for line in &lines {
        if !json {
            println!("{line}");
        } else if !quiet {
            eprintln!("{line}");
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Creates the `--plot` file before the run: a path that is not `.svg` or
/// cannot be created is bad input.
fn create_plot(path: &std::path::Path) -> anyhow::Result<framemem::report::FramePlot> {
    use framemem::report::{FramePlot, PlotError};
    FramePlot::create(path).map_err(|e| match e {
        PlotError::Create { path, source } => usage(format!(
            "cannot create --plot file `{}`: {source}",
            path.display()
        )),
        other => usage(format!("--plot {other}")),
    })
}

/// Draws the measured frames into the `--plot` file and says where, like
/// [`report_profile`]; returns the write error, if any, for the exit code.
fn write_plot(
    plot: Option<framemem::report::FramePlot>,
    summaries: &[Summary],
    measured: &[driver::Measured],
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    use framemem::report::PlotError;
    let Some(plot) = plot else {
        return Ok(());
    };
    let path = plot.path().display().to_string();
    let runs: Vec<_> = summaries
        .iter()
        .zip(measured)
        .map(|(s, m)| (s, m.records.as_slice()))
        .collect();
    plot.write(&runs).map_err(|e| match e {
        PlotError::Write { source, .. } => {
            anyhow::anyhow!("cannot write --plot file `{path}`: {source}")
        }
        other => anyhow::anyhow!("--plot {other}"),
    })?;
    let line = format!("plot: frame times drawn in {path}");
    if !json {
        println!("{line}");
    } else if !quiet {
        eprintln!("{line}");
    }
    Ok(())
}

/// Refuses entity counts whose estimated memory exceeds what the system has
/// available, with the estimate.
fn check_memory(scenario: &Scenario, entities: u64, strategies: usize) -> anyhow::Result<()> {
    let per_entity = sim::estimated_bytes_per_entity(scenario);
    let needed = per_entity
        .saturating_mul(entities)
        .saturating_mul(strategies as u64);
    let Some(available) = driver::mem_available_bytes() else {
        return Ok(()); // not Linux: nothing to compare with
    };
    if needed > available {
        let each = if strategies > 1 {
            format!(" x {strategies} strategies")
        } else {
            String::new()
        };
        return Err(usage(format!(
            "--entities {entities} needs about {} ({per_entity} B per entity{each}), but only {} \
             is available (MemAvailable); use fewer entities",
            format_bytes(needed as f64),
            format_bytes(available as f64)
        )));
    }
    Ok(())
}

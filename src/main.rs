//! `framealloc`: run the frame-churn simulation and report.
//!
//! `main` only calls [`run`] and turns its error into `error: ...` on stderr
//! with exit code 2 for bad input ([`UsageError`]) and 1 otherwise.

mod cli;
mod driver;

use std::alloc::System;
use std::fmt;
use std::process::ExitCode;

use anyhow::Context;
use framealloc::CountingAllocator;
use framealloc::report::{FrameCsv, Json, RunInfo, Summary, SummaryFormat, Table, format_bytes};
use framealloc::sim::{
    self, DEFAULT_SEED, MAX_ENTITIES_PER_FRAME, Scenario, SimOptions, Simulation, Strategy,
};

/// Every heap allocation of the process is counted; frames read the counts.
#[global_allocator]
static GLOBAL: CountingAllocator<System> = CountingAllocator::new(System);

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

    let threads = sim::init_task_pool(cli.threads.map(|t| t as usize));
    let seed = cli.seed.unwrap_or(DEFAULT_SEED);
    let options = SimOptions {
        entities_per_frame: Some(entities),
        seed,
    };
    let mut sims: Vec<Simulation> = strategies
        .iter()
        .map(|&s| {
            Simulation::new(s, &scenario, options).count_allocations_with(|| GLOBAL.snapshot())
        })
        .collect();
    if !cli.quiet {
        eprintln!(
            "framealloc: scenario {}, {} entities/frame, {} frames (+{} warm-up), alloc {}, {} threads",
            scenario.name,
            entities,
            cli.frames,
            cli.warmup,
            strategies
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join("+"),
            threads
        );
    }

    let plan = driver::Plan {
        frames: cli.frames,
        warmup: cli.warmup,
        block: if cli.compare {
            driver::COMPARE_BLOCK_FRAMES
        } else {
            cli.frames
        },
    };
    let stop = driver::stop_flag(cli.quiet);
    let bar = driver::progress((cli.frames + cli.warmup) * sims.len() as u64, cli.quiet);
    let measured = driver::run(&mut sims, plan, &stop, &bar, csv.as_mut())
        .context("cannot write the --csv file")?;
    if let Some(csv) = csv {
        csv.finish().context("cannot write the --csv file")?;
    }
    let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
    if interrupted && !cli.quiet {
        eprintln!("interrupted: reporting the frames done");
    }

    let info = RunInfo {
        scenario: scenario.name.clone(),
        entities: sims[0].entities_per_frame(),
        threads,
        seed,
        warmup_frames: cli.warmup,
    };
    let summaries: Vec<Summary> = sims
        .iter_mut()
        .zip(&measured)
        .map(|(sim, m)| {
            Summary::new(
                sim.strategy(),
                &info,
                &m.records,
                m.figures_before,
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
    Ok(ExitCode::SUCCESS)
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

//! [`RunConfig`]: the run the command line asks for, built once and checked
//! before anything starts: the scenario loaded, the entity count resolved
//! (the flag, else the scenario's) and refused when out of range or when the
//! machine lacks the memory for it.

use std::net::SocketAddr;
use std::path::PathBuf;

use framemem_lab::profile::{self, Profiling, Recording};
use framemem_lab::report::{NotApplicable, RunInfo, format_bytes};
use framemem_lab::sim::{
    self, DEFAULT_SEED, EntitiesPerFrame, Scenario, SimOptions, Simulation, Strategy,
};

use super::frame_order::{COMPARE_BLOCK_FRAMES, FrameOrder};
use super::global_heap;
use super::usage::usage;
use crate::cli::{Cli, DEFAULT_WARMUP, Switch};

/// Everything a run needs to know, from the command line.
#[derive(Debug)]
pub struct RunConfig {
    /// The scenario, loaded and validated.
    pub scenario: Scenario,
    /// The strategies to run: one, or with `--compare` all of them that can
    /// hold the scenario's data.
    pub strategies: Vec<Strategy>,
    /// With `--compare`, the strategies that cannot, and why.
    pub not_applicable: Vec<NotApplicable>,
    /// The simulation's options: the entity count, resolved once, and the
    /// seed.
    pub sim: SimOptions,
    /// Compute threads; `None` for all cores.
    pub threads: Option<usize>,
    /// Frames to measure per strategy; `None` runs until Ctrl-C
    /// (`--forever`).
    pub frames: Option<u64>,
    /// Unmeasured frames per strategy before the first measured one.
    pub warmup: u64,
    /// Most frames a second, all strategies together.
    pub fps: Option<u32>,
    /// No progress bar and no messages on stderr.
    pub quiet: bool,
    /// The summary as JSON on stdout.
    pub json: bool,
    /// `--compare`: the JSON is an array, the strategies take turns.
    pub compare: bool,
    /// `--csv FILE`.
    pub csv: Option<PathBuf>,
    /// `--plot FILE.svg`.
    pub plot: Option<PathBuf>,
    /// `--profile-out FILE`.
    pub profile_out: Option<PathBuf>,
    /// Where profiles stream; `None` with `--no-profile`.
    pub stream: Option<SocketAddr>,
}

impl RunConfig {
    /// Checks `cli` and resolves what it leaves open.
    ///
    /// # Errors
    ///
    /// A usage error (exit code 2) for a scenario file that does not load,
    /// or an entity count out of range or beyond the memory available.
    pub fn from_cli(cli: Cli) -> anyhow::Result<RunConfig> {
        let scenario = match &cli.scenario {
            Some(path) => Scenario::load(path),
            None => Ok(Scenario::builtin()),
        }
        .map_err(|e| usage(e.to_string()))?;
        let lifetime = scenario.max_lifetime_frames();
        let (strategies, not_applicable) = if cli.compare {
            let mut not_applicable = Vec::new();
            let strategies = Strategy::ALL
                .into_iter()
                .filter(|s| match s.applies_to(lifetime) {
                    Ok(()) => true,
                    Err(why) => {
                        not_applicable.push(NotApplicable {
                            alloc: *s,
                            scenario: scenario.name.clone(),
                            not_applicable: why,
                        });
                        false
                    }
                })
                .collect();
            (strategies, not_applicable)
        } else {
            let strategy: Strategy = cli.alloc.into();
            strategy.applies_to(lifetime).map_err(|why| {
                usage(format!(
                    "--alloc {strategy} with scenario {}: {why}",
                    scenario.name
                ))
            })?;
            (vec![strategy], Vec::new())
        };
        // The flag, else the scenario's; resolved here, once. The memory
        // estimate first: it says more than the range does.
        let entities = cli.entities.unwrap_or(scenario.entities_per_frame);
        check_memory(&scenario, entities, strategies.len())?;
        let entities =
            EntitiesPerFrame::new(entities).map_err(|e| usage(format!("--entities: {e}")))?;
        let sim = SimOptions {
            entities_per_frame: entities,
            seed: cli.seed.unwrap_or(DEFAULT_SEED),
            attribution: cli.attribution == Switch::On,
            huge_pages: cli.huge_pages == Switch::On,
        };
        Ok(RunConfig {
            scenario,
            strategies,
            not_applicable,
            sim,
            threads: cli.threads.map(|t| t as usize),
            frames: (!cli.forever).then_some(cli.frames),
            // Until the alive population is steady: a scenario whose
            // entities live up to 90 frames is still filling up before that.
            warmup: cli
                .warmup
                .unwrap_or_else(|| DEFAULT_WARMUP.max(u64::from(lifetime))),
            fps: cli.fps,
            quiet: cli.quiet,
            json: cli.json,
            compare: cli.compare,
            csv: cli.csv,
            plot: cli.plot,
            profile_out: cli.profile_out,
            stream: (!cli.no_profile).then(|| cli.puffin_addr.unwrap_or(profile::DEFAULT_ADDR)),
        })
    }

    /// Profiling as asked: off with `--no-profile`, else streaming and, with
    /// `--profile-out`, `recording` (its file already created).
    pub fn start_profiling(&self, recording: Option<Recording>) -> Profiling {
        match self.stream {
            None => Profiling::off(),
            Some(addr) => Profiling::start(Some(addr), recording),
        }
    }

    /// One simulation per strategy, counting the global heap's traffic.
    pub fn simulations(&self) -> Vec<Simulation> {
        self.strategies
            .iter()
            .map(|&s| {
                Simulation::new(s, &self.scenario, self.sim)
                    .count_allocations_with(global_heap::snapshot)
            })
            .collect()
    }

    /// The order `sims` simulations' frames run in.
    pub fn frame_order(&self, sims: usize) -> FrameOrder {
        FrameOrder::new(sims, self.frames, self.warmup, COMPARE_BLOCK_FRAMES)
    }

    /// The settings every summary of this run shares.
    pub fn run_info(&self, threads: usize) -> RunInfo {
        RunInfo {
            scenario: self.scenario.name.clone(),
            entities: self.sim.entities_per_frame.get(),
            threads,
            seed: self.sim.seed,
            block_frames: (self.strategies.len() > 1).then_some(COMPARE_BLOCK_FRAMES),
            global_allocator: global_heap::NAME.to_owned(),
            arena_huge_pages: self.sim.huge_pages,
        }
    }

    /// Says on stderr what is about to run (unless `--quiet`).
    pub fn announce(&self, threads: usize, profiling: &Profiling) {
        if let Some(e) = profiling.stream_error()
            && !self.quiet
        {
            eprintln!("warning: {e}; running without streaming");
        }
        if self.quiet {
            return;
        }
        let frames = match self.frames {
            None => "frames until Ctrl-C".to_owned(),
            Some(n) => format!("{n} frames"),
        };
        let names: Vec<&str> = self.strategies.iter().map(|s| s.name()).collect();
        let entities = self.sim.entities_per_frame.get();
        eprintln!(
            "framemem: scenario {}, {entities} entities/frame, {frames} (+{} warm-up), alloc {}, \
             {threads} threads",
            self.scenario.name,
            self.warmup,
            names.join("+"),
        );
        if let Some(addr) = profiling.streaming_addr() {
            eprintln!(
                "framemem: streaming profiles on {addr}; watch with `puffin_viewer --url {addr}`"
            );
        }
        if global_heap::HeapProfile::ENABLED {
            eprintln!(
                "framemem: dhat-heap build: dhat records every allocation (dhat-heap.json at \
                 the end); frame times are not comparable with a normal build"
            );
        }
    }
}

/// Refuses entity counts whose estimated memory exceeds what the system has
/// available, with the estimate.
fn check_memory(scenario: &Scenario, entities: u64, strategies: usize) -> anyhow::Result<()> {
    let per_entity = sim::estimated_bytes_per_entity(scenario);
    // With lifetimes and waves, more entities are alive than are born.
    let needed = per_entity
        .saturating_mul(scenario.max_alive(entities))
        .saturating_mul(strategies as u64);
    let Some(available) = mem_available_bytes() else {
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

/// Bytes the system can still give us (`MemAvailable`), if known.
fn mem_available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

//! `framemem`: run the frame-churn simulation and report.
//!
//! `main` parses the command line, calls [`run`], and turns its error into
//! `error: ...` on stderr: exit code 2 for bad input ([`UsageError`]), 1
//! otherwise. The parts of a run live in `runner/`.

#![forbid(unsafe_code)]

mod cli;
mod runner;

use std::process::ExitCode;
use std::sync::atomic::Ordering;

use framemem_lab::report::Report;
use framemem_lab::sim;
use runner::driver::{self, Pace};
use runner::global_heap::HeapProfile;
use runner::{Outputs, RunConfig, UsageError};

fn main() -> ExitCode {
    let cli = match cli::parse() {
        cli::Parsed::Run(cli) => cli,
        cli::Parsed::Info(text) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        cli::Parsed::Error(message) => return fail(&runner::usage(message)),
    };
    run(cli).unwrap_or_else(|e| fail(&e))
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(if e.is::<UsageError>() { 2 } else { 1 })
}

/// One run: check the command line, create the output files, run the
/// frames, report them.
fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let config = RunConfig::from_cli(cli)?;
    let (mut outputs, recording) = Outputs::create(&config)?;
    let mut profiling = config.start_profiling(recording);
    // With `dhat-heap`, dhat writes dhat-heap.json when this drops, at the
    // end of `run`.
    let _heap_profile = HeapProfile::start();
    let threads = sim::init_task_pool(config.threads);
    let mut sims = config.simulations();
    config.announce(threads, &profiling);

    let stop = driver::stop_flag(config.quiet);
    let pace = Pace {
        fps: config.fps,
        quiet: config.quiet,
    };
    let order = config.frame_order(sims.len());
    let measured = driver::run(&mut sims, &order, pace, &stop, &mut outputs, &mut profiling)?;
    // Ctrl-C is how a --forever run ends, not an interruption.
    let stopped = stop.load(Ordering::Relaxed);
    let interrupted = stopped && config.frames.is_some();
    if stopped && !config.quiet {
        let how = if interrupted {
            "interrupted"
        } else {
            "stopped"
        };
        eprintln!("{how}: reporting the frames done");
    }

    let report = Report::new(&mut sims, measured, &config.run_info(threads), interrupted)
        .with_not_applicable(config.not_applicable.clone());
    let written = outputs.finish(&report, profiling.finish());
    if let Some(mismatch) = report.checksum_mismatch() {
        return Err(anyhow::anyhow!(mismatch));
    }
    written?;
    // 130: the shell's "stopped by SIGINT" (128 + 2), after the summary.
    Ok(ExitCode::from(if interrupted { 130 } else { 0 }))
}

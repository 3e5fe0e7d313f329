//! The command line: clap's derive, and errors folded onto one line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use framemem_lab::sim::Strategy;

/// Default `--frames`: a 50k-entity run takes a few seconds.
pub const DEFAULT_FRAMES: u64 = 500;
/// Default `--warmup`: enough for pools to fill and arena chunks to settle
/// (scenarios whose entities live longer warm up for their longest
/// lifetime: see `RunConfig`).
pub const DEFAULT_WARMUP: u64 = 10;

/// Frame churn in a headless bevy_ecs game loop: spawn and despawn N entities
/// every frame, with all per-frame memory from the allocation strategy chosen
/// here, and report frame times and heap traffic.
#[derive(Parser, Debug)]
#[command(
    name = "framemem",
    version,
    after_help = "Profiles stream to puffin_viewer while the simulation runs (connect with \
                  `puffin_viewer --url 127.0.0.1:8585`); --no-profile turns that off.\n\n\
                  Ctrl-C stops after the current frame and prints the summary of the frames \
                  done (exit code 130; 0 with --forever, which runs until then). Bad input \
                  exits with code 2, differing checksums under --compare or a --profile-out \
                  file that cannot be written with code 1."
)]
pub struct Cli {
    /// Transient entities spawned and despawned every frame (overrides the
    /// scenario's `entities_per_frame`)
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count)]
    pub entities: Option<u64>,

    /// Where per-frame memory comes from
    #[arg(long, value_enum, default_value_t = AllocArg::Arena, conflicts_with = "compare")]
    pub alloc: AllocArg,

    /// Frames to measure
    #[arg(long, value_name = "N", default_value_t = DEFAULT_FRAMES, allow_negative_numbers = true,
          value_parser = parse_count)]
    pub frames: u64,

    /// Run until Ctrl-C instead of for --frames frames (the statistics cover
    /// the last million frames at most)
    #[arg(long, conflicts_with = "frames")]
    pub forever: bool,

    /// Run at most N frames a second, sleeping between frames (frame times
    /// still measure the frames alone); e.g. 60 to watch in puffin_viewer
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u32).range(1..=MAX_FPS))]
    pub fps: Option<u32>,

    /// Frames to run first without measuring them [default: 10, or the
    /// scenario's longest entity lifetime if longer, so that measuring starts
    /// once as many entities die as are born]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub warmup: Option<u64>,

    /// Seed of the spawn generator, decimal or 0x-prefixed hex [default: 0x5eedf4a3e0000001]
    #[arg(long, value_name = "SEED", allow_negative_numbers = true, value_parser = parse_seed)]
    pub seed: Option<u64>,

    /// Compute threads, 1 to 64 [default: all cores]
    // 64: the allocators give that many threads a lock-free lane each; more
    // would measure their locked fallback instead.
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub threads: Option<u64>,

    /// Scenario file (RON) [default: the built-in assets/scenarios/swarm.ron]
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,

    /// No progress bar and no messages on stderr
    #[arg(long, short)]
    pub quiet: bool,

    /// Print the summary as JSON on stdout (an array with --compare)
    #[arg(long)]
    pub json: bool,

    /// Write one row per measured frame to FILE
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,

    /// Draw each measured frame's time, the distribution of frame times and
    /// the memory held from the system frame by frame, per strategy, into
    /// FILE.svg (an SVG picture)
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Run every strategy on the same scenario and seed, interleaved, and
    /// compare them with heap and with framevec (the overhead)
    #[arg(long)]
    pub compare: bool,

    /// Stream puffin profiles on ADDR (IP:PORT; port 0 picks a free one)
    /// [default: 127.0.0.1:8585]
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub puffin_addr: Option<SocketAddr>,

    /// Write the run's puffin frames to FILE (open it with `puffin_viewer
    /// FILE`)
    #[arg(long, value_name = "FILE")]
    pub profile_out: Option<PathBuf>,

    /// No puffin scopes and no profile server
    #[arg(long, conflicts_with_all = ["puffin_addr", "profile_out"])]
    pub no_profile: bool,

    /// Count the frame arena's bytes per system (the report's "by system"):
    /// `off` runs the arena without it, to measure what it costs (only the
    /// arena with one-frame lifetimes keeps this count)
    #[arg(long, value_enum, value_name = "on|off", default_value_t = Switch::On)]
    pub attribution: Switch,

    /// Give the frame arena 2 MiB chunks backed by huge pages where the
    /// system gives them (`Arena::with_huge_pages`): for frames of tens of
    /// megabytes. The other strategies are unchanged
    #[arg(long, value_enum, value_name = "on|off", default_value_t = Switch::Off)]
    pub huge_pages: Switch,
}

/// A switch given as `on` or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Turned on
    On,
    /// Turned off
    Off,
}

/// Most `--fps`: past this, sleeping between frames is finer than the OS
/// timer's grain and pacing means nothing.
pub const MAX_FPS: i64 = 10_000;

/// `--alloc` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AllocArg {
    /// Frame arena: payloads and scratch released by one reset per frame (payloads that
    /// outlive their frame: a ring of arenas, one reset per frame)
    Arena,
    /// Size-class slab: payloads and scratch freed one by one
    Slab,
    /// Object pools: payload and scratch vectors recycled
    Pool,
    /// Global allocator: plain Vec per entity, the baseline
    Heap,
    /// mimalloc, called directly: a Vec on mimalloc per entity, as heap
    Mimalloc,
    /// The hand-written floor: one frame-wide Vec, indices in components,
    /// cleared every frame
    Framevec,
}

impl From<AllocArg> for Strategy {
    fn from(arg: AllocArg) -> Strategy {
        match arg {
            AllocArg::Arena => Strategy::Arena,
            AllocArg::Slab => Strategy::Slab,
            AllocArg::Pool => Strategy::Pool,
            AllocArg::Heap => Strategy::Heap,
            AllocArg::Mimalloc => Strategy::Mimalloc,
            AllocArg::Framevec => Strategy::Framevec,
        }
    }
}

/// A count of at least 1, with a message that says what is allowed (clap's
/// own range check would print `1..18446744073709551615`).
fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) if text.trim().starts_with('-') => {
            Err("must be a positive whole number (1 or more)".to_string())
        }
        Err(_) => Err("expected a whole number, 1 or more".to_string()),
    }
}

fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("{e} (expected 0..=18446744073709551615, decimal or 0x hex)"))
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:8585".to_owned())
}

/// What parsing the command line came to.
#[derive(Debug)]
pub enum Parsed {
    /// Run with these arguments.
    Run(Cli),
    /// `--help` or `--version`: print this on stdout and exit 0.
    Info(String),
    /// Bad input: print this one line and exit 2.
    Error(String),
}

/// Parses `std::env::args`.
pub fn parse() -> Parsed {
    match Cli::try_parse() {
        Ok(cli) => Parsed::Run(cli),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                Parsed::Info(e.to_string())
            }
            _ => Parsed::Error(one_line(&e.to_string())),
        },
    }
}

/// Folds clap's multi-line message (message, possible values, tip, usage)
/// into one line, without the usage and the `--help` hint.
fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .collect();
    let joined = parts.join(" ");
    joined.strip_prefix("error: ").unwrap_or(&joined).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(args: &[&str]) -> String {
        let mut argv = vec!["framemem"];
        argv.extend_from_slice(args);
        one_line(&Cli::try_parse_from(argv).unwrap_err().to_string())
    }

    #[test]
    fn zero_and_negative_entities_are_named() {
        let e = error_of(&["--entities", "0"]);
        assert!(e.contains("--entities") && e.contains('0'), "{e}");
        let e = error_of(&["--entities", "-5"]);
        assert!(e.contains("--entities") && e.contains("-5"), "{e}");
        let e = error_of(&["--frames", "lots"]);
        assert!(e.contains("--frames") && e.contains("lots"), "{e}");
    }

    #[test]
    fn unknown_strategy_lists_the_allowed_ones() {
        let e = error_of(&["--alloc", "bump"]);
        assert!(e.contains("bump"), "{e}");
        assert!(
            e.contains("arena, slab, pool, heap, mimalloc, framevec"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn puffin_addresses_are_ip_and_port() {
        assert_eq!(
            parse_addr("127.0.0.1:8585"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8585)))
        );
        assert!(parse_addr("[::1]:0").is_ok());
        let e = error_of(&["--puffin-addr", "localhost"]);
        assert!(e.contains("--puffin-addr") && e.contains("IP:PORT"), "{e}");
        let e = error_of(&["--puffin-addr", "127.0.0.1:99999"]);
        assert!(e.contains("99999"), "{e}");
    }

    #[test]
    fn no_profile_excludes_the_profile_options() {
        let e = error_of(&["--no-profile", "--profile-out", "x.puffin"]);
        assert!(
            e.contains("--no-profile") && e.contains("--profile-out"),
            "{e}"
        );
        let e = error_of(&["--forever", "--frames", "9"]);
        assert!(e.contains("--forever") && e.contains("--frames"), "{e}");
        let e = error_of(&["--fps", "0"]);
        assert!(e.contains("--fps"), "{e}");
    }

    #[test]
    fn attribution_is_on_or_off_and_on_by_default() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["framemem"];
            argv.extend_from_slice(args);
            Cli::try_parse_from(argv).map(|cli| cli.attribution)
        };
        assert_eq!(parse(&[]).unwrap(), Switch::On);
        assert_eq!(parse(&["--attribution", "off"]).unwrap(), Switch::Off);
        assert_eq!(parse(&["--attribution", "on"]).unwrap(), Switch::On);
        let e = error_of(&["--attribution", "yes"]);
        assert!(
            e.contains("--attribution") && e.contains("yes") && e.contains("on, off"),
            "{e}"
        );
    }

    #[test]
    fn seeds_are_decimal_or_hex() {
        assert_eq!(parse_seed("42"), Ok(42));
        assert_eq!(parse_seed("0xff"), Ok(255));
        assert!(parse_seed("-1").is_err());
    }
}

//! Structured log entries (a message and key-value fields) recycled through a
//! [`Pool`], measured against building a fresh entry for every record.
//!
//! ```text
//! cargo run --release --example log_pool
//! ```
//!
//! The pipeline is the usual one for a game server's logs: the game thread
//! fills an entry and sends it through a bounded channel to a writer thread,
//! which formats it as a logfmt line into a reused output buffer. Pooled
//! entries go back to the pool when the writer drops them, on the writer's
//! thread; the pool moves them back to the producer in batches.
//!
//! Three ways to get an entry, same code otherwise:
//!
//! - **fresh**: `LogEntry::default()` each time; every `String` and the field
//!   `Vec` grow from nothing and are freed by the writer.
//! - **pool, clear**: a pool whose reset hook is a closure that clears the
//!   message and the field `Vec`. Clearing a `Vec<(&str, String)>` drops its
//!   `String`s, so every field value is allocated again next time.
//! - **pool, recycle**: a pool whose reset hook is `LogEntry`'s [`Recycle`]
//!   impl, which keeps the field `String`s (and their capacity) for the next
//!   entry. This is the one to copy.
//!
//! Heap allocations come from [`CountingAllocator`] snapshots around each
//! phase (both threads, all of it). Threads, channel and output buffer are
//! made before the first snapshot.

use std::alloc::System;
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::ops::{Deref, DerefMut};
use std::sync::Barrier;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use framemem::{AllocCounts, CountingAllocator, Pool, Recycle};

#[global_allocator]
static GLOBAL: CountingAllocator<System> = CountingAllocator::new(System);

/// Entries per phase.
const ENTRIES: u64 = 500_000;
/// Phases per way of getting entries, alternating; entries per second varies
/// from phase to phase on a busy machine, so the median is reported.
const ROUNDS: usize = 3;
/// A phase stops producing at this point, whatever the machine's speed.
const PHASE_TIME_LIMIT: Duration = Duration::from_secs(10);
/// Entries in flight between the game thread and the writer. A bounded
/// channel is preallocated, so sending allocates nothing, and a writer that
/// falls behind slows the producer instead of eating memory.
const CHANNEL_BOUND: usize = 256;
/// Idle entries a pool keeps. It must cover what circulates: the channel,
/// plus what the writer's lane caches before handing a batch back (up to
/// 1024 in `framemem`'s pool). Entries beyond it are dropped, not kept.
const POOL_CAPACITY: usize = 4096;
/// The writer hands its buffer to the sink when it holds this many bytes.
const FLUSH_BYTES: usize = 64 * 1024;
/// A message or field value whose buffer grew past this is shrunk when
/// recycled, so one huge record does not pin memory in every pooled entry.
const MAX_KEPT_BYTES: usize = 1024;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    println!(
        "log_pool: 1 producer thread -> bounded channel ({CHANNEL_BOUND}) -> 1 writer thread \
         (logfmt); {ENTRIES} entries per phase, 5 fields each, {ROUNDS} rounds"
    );

    // The closure hook: clears what it sees. Simple, and half the job.
    let clearing = Pool::with(POOL_CAPACITY, LogEntry::default, |entry: &mut LogEntry| {
        entry.message.clear();
        entry.fields.slots.clear(); // drops every field `String`
        entry.fields.len = 0;
    });
    // The `Recycle` hook: `Pool::new` uses `LogEntry`'s impl below.
    let recycling: Pool<LogEntry> = Pool::new(POOL_CAPACITY);

    // An unreported warm-up, so no measured phase pays for first page faults.
    run_phase(|| Fresh(LogEntry::default()), ENTRIES / 10)?;

    let (mut fresh, mut cleared, mut recycled) = (Vec::new(), Vec::new(), Vec::new());
    let mut later_misses = 0;
    for round in 0..ROUNDS {
        fresh.push(run_phase(|| Fresh(LogEntry::default()), ENTRIES)?);
        cleared.push(run_phase(|| clearing.get(), ENTRIES)?);
        let misses_before = recycling.stats().misses;
        recycled.push(run_phase(|| recycling.get(), ENTRIES)?);
        if round > 0 {
            later_misses += recycling.stats().misses - misses_before;
        }
    }
    // Most of the pools' misses fall in their first phase; after that, a
    // recycled entry should cost no heap allocation at all.
    let later = &recycled[1..];
    let later_allocs: u64 = later.iter().map(PhaseResult::heap_allocs).sum();
    let later_entries: u64 = later.iter().map(|p| p.entries).sum();

    let rows = [
        ("fresh", Summary::of(&fresh)),
        ("pool, clear", Summary::of(&cleared)),
        ("pool, recycle", Summary::of(&recycled)),
    ];
    println!();
    println!(
        "{:<14} {:>8} {:>12} {:>12} {:>12} {:>28}",
        "entries",
        "count",
        "heap allocs",
        "allocs/entry",
        "bytes/entry",
        "entries/s median (range)"
    );
    for (name, row) in &rows {
        row.print(name);
    }
    for (name, pool) in [
        ("pool, clear", clearing.stats()),
        ("pool, recycle", recycling.stats()),
    ] {
        println!(
            "{name}: {} hits, {} misses (new entries), {} dropped (pool full), {} idle at the end",
            pool.hits, pool.misses, pool.dropped, pool.held
        );
    }
    // What remains after the first phase: std's channel allocates a little
    // the first time each side blocks (a few allocations a phase), and the
    // producer misses (about 10 allocations each) when a phase starts with
    // the entries parked in the writer's lane: a lane keeps up to 1024 idle
    // entries before handing a batch to other threads.
    println!(
        "pool, recycle, phases after the first: {later_allocs} heap allocations in \
         {later_entries} entries ({later_misses} pool misses; the rest is std's channel)"
    );

    println!();
    let fresh = &rows[0].1;
    for (name, row) in &rows[1..] {
        let allocs = if row.heap_allocs == 0 {
            "no heap allocation at all".to_owned()
        } else {
            format!(
                "{:.0}x fewer heap allocations per entry",
                fresh.allocs_per_entry() / row.allocs_per_entry()
            )
        };
        println!(
            "{name}: {allocs} than fresh, {:.2}x the entries/s (medians; {:+.0} ns per entry)",
            row.median_entries_per_s / fresh.median_entries_per_s,
            1e9 / row.median_entries_per_s - 1e9 / fresh.median_entries_per_s,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The log entry

#[derive(Clone, Copy, Debug, Default)]
enum Level {
    #[default]
    Info,
    Warn,
}

/// One structured record: what `info!(player_id = id, zone, "player moved")`
/// becomes before a writer thread formats it.
#[derive(Debug, Default)]
struct LogEntry {
    level: Level,
    timestamp_us: u64,
    message: String,
    fields: Fields,
}

/// Key-value fields whose value `String`s outlive the entry's use of them.
#[derive(Debug, Default)]
struct Fields {
    /// `slots[..len]` are this entry's fields; the rest are spare `String`s,
    /// cleared, kept with their capacity for the next record.
    slots: Vec<(&'static str, String)>,
    len: usize,
}

impl Fields {
    /// Adds `key=value`, formatting `value` into a kept `String` when there is
    /// one, so a recycled entry formats without allocating.
    fn push(&mut self, key: &'static str, value: impl fmt::Display) {
        if self.len == self.slots.len() {
            self.slots.push((key, String::new()));
        }
        let (slot_key, slot_value) = &mut self.slots[self.len];
        *slot_key = key;
        slot_value.clear();
        write!(slot_value, "{value}").expect("formatting into a String cannot fail");
        self.len += 1;
    }

    fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.slots[..self.len].iter().map(|(k, v)| (*k, v.as_str()))
    }
}

/// The reset hook of `Pool<LogEntry>`: empty the entry, keep its memory.
///
/// A derived-looking `self.fields.slots.clear()` would drop every field
/// `String`; marking them unused keeps their buffers, which is where most of
/// an entry's allocations were.
impl Recycle for LogEntry {
    fn recycle(&mut self) {
        self.level = Level::Info;
        self.timestamp_us = 0;
        self.message.clear();
        self.message.shrink_to(MAX_KEPT_BYTES);
        for (_, value) in &mut self.fields.slots {
            value.clear();
            value.shrink_to(MAX_KEPT_BYTES);
        }
        self.fields.len = 0;
    }
}

/// A fresh entry, owned outright: the baseline. (A newtype only so that both
/// kinds of entry deref to `LogEntry`, like `Pooled` does.)
struct Fresh(LogEntry);

impl Deref for Fresh {
    type Target = LogEntry;
    fn deref(&self) -> &LogEntry {
        &self.0
    }
}

impl DerefMut for Fresh {
    fn deref_mut(&mut self) -> &mut LogEntry {
        &mut self.0
    }
}

// ---------------------------------------------------------------------------
// Producer and writer

const ZONES: [&str; 4] = ["harbor", "old town", "north gate", "catacombs"];

/// What the game thread logs: a player moved. Same work for every kind of
/// entry; only where `entry` came from differs.
fn record_move(entry: &mut LogEntry, i: u64) {
    let player = 10_000 + i % 997;
    let zone = ZONES[(i % ZONES.len() as u64) as usize];
    let x = (i % 4096) as f32 * 0.25;
    entry.level = if i.is_multiple_of(64) {
        Level::Warn
    } else {
        Level::Info
    };
    entry.timestamp_us = 1_700_000_000_000_000 + i * 16_667;
    write!(entry.message, "player {player} moved to {zone}").expect("formatting into a String");
    entry.fields.push("player_id", player);
    entry.fields.push("zone", zone);
    entry.fields.push("x", format_args!("{x:.2}"));
    entry
        .fields
        .push("latency_ms", format_args!("{:.1}", (i % 200) as f32 * 0.5));
    entry.fields.push(
        "session",
        format_args!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
    );
}

/// The writer thread: formats every entry as one logfmt line into `out`,
/// and hands full buffers to the sink. Dropping an entry here returns a
/// pooled one to its pool. Returns the bytes written.
fn write_entries<E: Deref<Target = LogEntry>>(
    entries: mpsc::Receiver<E>,
    out: &mut Vec<u8>,
) -> io::Result<u64> {
    // A stand-in for a `BufWriter<File>`: the point here is the entries, not
    // the disk.
    let mut sink = io::sink();
    let mut written = 0;
    for entry in entries {
        let level = match entry.level {
            Level::Info => "info",
            Level::Warn => "warn",
        };
        // `write!` on a `Vec<u8>` formats in place: no `String` per line.
        write!(
            out,
            "ts={} level={level} msg=\"{}\"",
            entry.timestamp_us, entry.message
        )?;
        for (key, value) in entry.fields.iter() {
            write!(out, " {key}=\"{value}\"")?;
        }
        out.push(b'\n');
        if out.len() >= FLUSH_BYTES {
            sink.write_all(std::hint::black_box(&out[..]))?;
            written += out.len() as u64;
            out.clear();
        }
    }
    sink.write_all(std::hint::black_box(&out[..]))?;
    written += out.len() as u64;
    out.clear();
    Ok(written)
}

// ---------------------------------------------------------------------------
// One measured phase

struct PhaseResult {
    entries: u64,
    elapsed: Duration,
    heap: AllocCounts,
}

impl PhaseResult {
    /// Calls that went to the system allocator: `alloc` plus `realloc`.
    fn heap_allocs(&self) -> u64 {
        self.heap.heap_calls()
    }
}

/// Sends up to `entries` records made from `new_entry` through the writer
/// and measures it.
fn run_phase<E, F>(new_entry: F, entries: u64) -> io::Result<PhaseResult>
where
    E: DerefMut<Target = LogEntry> + Send,
    F: Fn() -> E,
{
    let (tx, rx) = mpsc::sync_channel::<E>(CHANNEL_BOUND);
    let mut out = Vec::with_capacity(FLUSH_BYTES + 1024);
    // The writer is spawned before the first snapshot and waits here, so
    // the phase counts log records, not thread start-up.
    let start = Barrier::new(2);
    thread::scope(|s| {
        let writer = s.spawn(|| {
            start.wait();
            write_entries(rx, &mut out)
        });
        let before = GLOBAL.snapshot();
        start.wait();
        let t0 = Instant::now();
        let deadline = t0 + PHASE_TIME_LIMIT;
        let mut sent = 0;
        while sent < entries && (!sent.is_multiple_of(1024) || Instant::now() < deadline) {
            let mut entry = new_entry();
            record_move(&mut entry, sent);
            if tx.send(entry).is_err() {
                break; // the writer stopped; its error comes out of `join`
            }
            sent += 1;
        }
        drop(tx); // ends the writer's loop
        let written = writer.join().expect("the writer thread panicked")?;
        let elapsed = t0.elapsed();
        let heap = GLOBAL.snapshot().since(&before);
        std::hint::black_box(written);
        Ok(PhaseResult {
            entries: sent,
            elapsed,
            heap,
        })
    })
}

/// The phases of one way of getting entries, together.
struct Summary {
    entries: u64,
    heap_allocs: u64,
    bytes_allocated: u64,
    median_entries_per_s: f64,
    min_entries_per_s: f64,
    max_entries_per_s: f64,
}

impl Summary {
    fn of(phases: &[PhaseResult]) -> Summary {
        let mut rates: Vec<f64> = phases
            .iter()
            .map(|p| p.entries as f64 / p.elapsed.as_secs_f64())
            .collect();
        rates.sort_by(f64::total_cmp);
        Summary {
            entries: phases.iter().map(|p| p.entries).sum(),
            heap_allocs: phases.iter().map(PhaseResult::heap_allocs).sum(),
            bytes_allocated: phases.iter().map(|p| p.heap.bytes_allocated).sum(),
            median_entries_per_s: rates[rates.len() / 2],
            min_entries_per_s: rates[0],
            max_entries_per_s: rates[rates.len() - 1],
        }
    }

    fn allocs_per_entry(&self) -> f64 {
        self.heap_allocs as f64 / self.entries.max(1) as f64
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<14} {:>8} {:>12} {:>12.3} {:>12.1} {:>28}",
            self.entries,
            self.heap_allocs,
            self.allocs_per_entry(),
            self.bytes_allocated as f64 / self.entries.max(1) as f64,
            format!(
                "{:.0} ({:.0}-{:.0})",
                self.median_entries_per_s, self.min_entries_per_s, self.max_entries_per_s
            ),
        );
    }
}

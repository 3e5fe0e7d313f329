//! Live profiling: a run streams frames with the systems' scopes from
//! several threads to viewers that come and go, and a recording reads back
//! with the frames and scopes it was given.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::puffin_frames::{Seen, seen, seen_latest};
use common::scratch_dir;
use framemem_lab::profile::{Profiling, Recording};
use framemem_lab::sim::{self, EntitiesPerFrame, Scenario, SimOptions, Simulation, Strategy};

/// Scopes every frame has: the top scope, the frame's phases, the systems,
/// the phases of `collide` and the parallel batches.
const FRAME_SCOPES: &[&str] = &[
    "frame",
    "new_frame",
    "clear_trackers",
    "spawn_transients",
    "integrate",
    "integrate_batch",
    "update_payloads",
    "update_payloads_batch",
    "collide",
    "broadphase",
    "contacts",
    "resolve",
    "despawn_transients",
    "end_frame",
];

/// Generous for a loaded two-core machine; the tests finish as soon as they
/// have seen what they look for.
const DEADLINE: Duration = Duration::from_secs(30);

/// Kills the child on drop, so a failing test leaves no process behind.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts `framemem --forever` streaming on a free loopback port and
/// returns it with the address it streams on (read from its stderr).
fn start_streaming_run() -> (Running, String, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_framemem"))
        .args([
            "--forever",
            "--entities",
            "2000",
            "--warmup",
            "0",
            "--threads",
            "2",
            "--fps",
            "200",
            "--json",
            "--puffin-addr",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the framemem binary runs");
    let stderr = child.stderr.take().unwrap();
    let running = Running(Some(child));
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    loop {
        let line = lines
            .recv_timeout(DEADLINE.saturating_sub(start.elapsed()))
            .expect("framemem says where it streams within the deadline");
        assert!(!line.starts_with("warning"), "{line}");
        if let Some(rest) = line.split("streaming profiles on ").nth(1) {
            let addr = rest.split(';').next().unwrap().to_owned();
            return (running, addr, lines);
        }
    }
}

/// Connects a viewer to `addr` and polls what it receives until it has the
/// frame scopes from more than one thread and a frame after the first, or
/// the deadline passes.
fn watch(addr: &str) -> Seen {
    let client = puffin_http::Client::new(addr.to_owned());
    let start = Instant::now();
    loop {
        let view_seen = seen_latest(&client.frame_view(), 30);
        let done = view_seen.missing(FRAME_SCOPES).is_empty()
            && simulation_threads(&view_seen) > 1
            && view_seen
                .frame_data
                .iter()
                .any(|d| d.contains("previous frame"));
        if done || start.elapsed() > DEADLINE {
            return view_seen;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Threads that ran the simulation's scopes (not the server's own).
fn simulation_threads(seen: &Seen) -> usize {
    seen.threads
        .iter()
        .filter(|t| !t.starts_with("puffin"))
        .count()
}

#[test]
fn viewers_that_come_and_go_see_the_systems_on_several_threads() {
    let (mut running, addr, lines) = start_streaming_run();
    for viewer in 0..3 {
        let seen = watch(&addr);
        assert!(
            seen.missing(FRAME_SCOPES).is_empty(),
            "viewer {viewer}: no {:?} in {} frames; scopes {:?}",
            seen.missing(FRAME_SCOPES),
            seen.frames,
            seen.names
        );
        assert!(
            simulation_threads(&seen) > 1,
            "viewer {viewer}: scopes from {:?} only",
            seen.threads
        );
        assert!(
            seen.threads
                .iter()
                .any(|t| t.starts_with("framemem compute")),
            "viewer {viewer}: no worker thread in {:?}",
            seen.threads
        );
        assert!(
            seen.frame_data
                .iter()
                .any(|d| d.starts_with("arena, 2000 entities, previous frame ")
                    && d.contains("heap allocs")),
            "viewer {viewer}: frame data {:?}",
            seen.frame_data
        );
    }
    // Ctrl-C ends a --forever run with its summary and exit code 0.
    let mut child = running.0.take().unwrap();
    #[cfg(unix)]
    {
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        let mut stdout = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let stderr: Vec<String> = lines.try_iter().collect();
        assert_eq!(status.code(), Some(0), "{stderr:?}");
        let v: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON summary");
        assert_eq!(v["interrupted"], false, "{v}");
        assert!(v["frames"].as_u64().unwrap() >= 1, "{v}");
    }
    #[cfg(not(unix))]
    {
        let _ = (child.kill(), child.wait(), lines);
    }
}

#[test]
fn a_recording_reads_back_with_its_frames_and_scopes() {
    sim::init_task_pool(Some(2));
    let path = scratch_dir("profile").join("run.puffin");
    let recording = Recording::create(&path).expect("the recording's file can be created");
    let mut profiling = Profiling::start(None, Some(recording));
    let scenario = Scenario::builtin();
    let options = SimOptions {
        entities_per_frame: EntitiesPerFrame::new(500).unwrap(),
        seed: sim::DEFAULT_SEED,
        attribution: true,
        huge_pages: false,
    };
    let mut sims = [
        Simulation::new(Strategy::Arena, &scenario, options),
        Simulation::new(Strategy::Pool, &scenario, options),
    ];
    const FRAMES: usize = 7;
    for sim in &mut sims {
        for _ in 0..FRAMES {
            profiling.step(sim);
        }
    }
    let recorded = profiling
        .finish()
        .recorded
        .expect("a recording was asked for")
        .expect("the recording is written");
    assert_eq!(recorded.frames, 2 * FRAMES);
    assert_eq!(recorded.path, path);

    let mut file = std::fs::File::open(&path).unwrap();
    let view = puffin::FrameView::read(&mut file).expect("puffin reads the file");
    let seen = seen(&view);
    assert_eq!(seen.frames, 2 * FRAMES);
    assert!(
        seen.missing(FRAME_SCOPES).is_empty(),
        "no {:?} in {:?}",
        seen.missing(FRAME_SCOPES),
        seen.names
    );
    for strategy in ["arena", "pool"] {
        let data = format!("{strategy}, 500 entities, heap not counted");
        assert!(seen.frame_data.contains(&data), "{:?}", seen.frame_data);
    }
}

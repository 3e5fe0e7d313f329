//! The binary: bad input exits 2 with one line naming the problem, JSON has
//! its keys, checksums agree across strategies and thread counts.

mod common;
#[path = "cli/outputs.rs"]
mod outputs;
#[path = "cli/switches.rs"]
mod switches;

use common::{SMALL, framemem, scratch_dir, stderr, stdout};

/// Runs with `args` and checks exit code 2 and a one-line error containing
/// every string in `mentions`.
fn rejected(args: &[&str], mentions: &[&str]) {
    let out = framemem(args);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{args:?} gave {:?}: {err}",
        out.status
    );
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    for m in mentions {
        assert!(err.contains(m), "{args:?}: {err:?} does not mention {m:?}");
    }
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn bad_numbers_are_rejected() {
    rejected(&["--entities", "0"], &["--entities", "0"]);
    rejected(&["--entities", "-5"], &["--entities", "-5"]);
    rejected(&["--entities", "many"], &["--entities", "many"]);
    rejected(&["--frames", "0"], &["--frames"]);
    rejected(&["--threads", "0"], &["--threads"]);
    rejected(&["--seed", "x1"], &["--seed"]);
}

#[test]
fn unknown_strategy_lists_the_allowed_ones() {
    rejected(
        &["--alloc", "bump"],
        &["bump", "arena, slab, pool, heap, mimalloc, framevec"],
    );
}

#[test]
fn too_many_entities_are_refused_with_an_estimate() {
    rejected(
        &["--entities", "1000000000000"],
        &["1000000000000", "needs about", "per entity", "available"],
    );
}

#[test]
fn bad_scenario_files_are_rejected() {
    let dir = scratch_dir("scenarios");
    let missing = dir.join("missing.ron");
    rejected(
        &["--scenario", missing.to_str().unwrap()],
        &["missing.ron", "cannot read"],
    );
    let empty = dir.join("empty.ron");
    std::fs::write(&empty, "\n  \n").unwrap();
    rejected(&["--scenario", empty.to_str().unwrap()], &["empty"]);
    let binary = dir.join("binary.ron");
    std::fs::write(&binary, [0x7f, b'E', b'L', b'F', 0, 1, 2]).unwrap();
    rejected(
        &["--scenario", binary.to_str().unwrap()],
        &["not a RON text file"],
    );
    let malformed = dir.join("malformed.ron");
    std::fs::write(
        &malformed,
        "Scenario(\n  name: \"x\",\n  entities_per_frame: ,\n)",
    )
    .unwrap();
    rejected(
        &["--scenario", malformed.to_str().unwrap()],
        &["malformed.ron:3:"],
    );
    rejected(&["--scenario", dir.to_str().unwrap()], &["cannot read"]);
}

#[test]
fn scenario_fields_are_named() {
    let dir = scratch_dir("fields");
    let swarm = framemem_lab::sim::DEFAULT_SCENARIO_RON;
    let cases = [
        ("cell_size: 4.0", "cell_size: -1.0", "`cell_size`"),
        ("weight: 3", "weight: 0", "`emitters[0].weight`"),
        ("max: 12", "max: 5000", "`trail.lengths.max`"),
        ("spacing: 0.02", "spacing: 0.02, color: 3", "color"),
    ];
    for (i, (from, to, field)) in cases.iter().enumerate() {
        let path = dir.join(format!("case{i}.ron"));
        std::fs::write(&path, swarm.replacen(from, to, 1)).unwrap();
        rejected(&["--scenario", path.to_str().unwrap()], &[field]);
    }
}

/// The heap strategy's memory from the system is `malloc`'s, shared with
/// bevy and the rest of the process: `null` in the JSON and `-` in the
/// table, never a 0 that would read as "holds nothing".
#[test]
fn the_heap_s_reserved_bytes_are_not_measured_rather_than_zero() {
    let mut args = SMALL.to_vec();
    args.extend(["--json", "--alloc", "heap"]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    assert!(v["reserved_bytes"].is_null(), "{v}");
    let out = framemem(&[SMALL, &["--alloc", "heap"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("reserved from the system not measured"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn json_has_the_documented_keys() {
    let mut args = SMALL.to_vec();
    args.extend(["--json", "--alloc", "slab"]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    for key in [
        "alloc",
        "entities",
        "frames",
        "threads",
        "scenario",
        "frame_ms",
        "allocs_per_frame",
        "bytes_per_frame",
        "checksum",
        "global_allocator",
        "phase_ms",
        "overhead_ms",
        "reserved_bytes",
    ] {
        assert!(v.get(key).is_some(), "no key {key} in {v}");
    }
    for key in ["p50", "max", "final"] {
        assert!(
            v["reserved_bytes"][key].as_u64().is_some_and(|b| b > 0),
            "no reserved_bytes.{key} in {v}: the slab holds chunks"
        );
    }
    for key in ["mean", "p50", "p95", "p99", "max"] {
        assert!(v["frame_ms"][key].is_number(), "no frame_ms.{key} in {v}");
    }
    for key in ["spawn", "simulate", "collide", "despawn", "end_frame"] {
        assert!(v["phase_ms"][key].is_number(), "no phase_ms.{key} in {v}");
    }
    assert!(
        v["overhead_ms"].is_null(),
        "one strategy has no framevec to subtract: {v}"
    );
    assert_eq!(v["alloc"], "slab");
    assert_eq!(v["entities"], 300);
    assert_eq!(v["frames"], 6);
    let global = if cfg!(feature = "mimalloc") {
        "mimalloc"
    } else {
        "system"
    };
    assert_eq!(v["global_allocator"], global);
}

#[test]
fn compare_agrees_across_strategies_and_thread_counts() {
    let mut checksums = Vec::new();
    for threads in ["1", "2"] {
        let mut args = SMALL.to_vec();
        args.extend(["--json", "--compare", "--threads", threads]);
        let out = framemem(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let runs = v.as_array().expect("--compare --json prints an array");
        let names: Vec<&str> = runs.iter().map(|r| r["alloc"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["arena", "slab", "pool", "heap", "mimalloc", "framevec"]
        );
        for r in runs {
            assert_eq!(r["threads"].as_u64(), Some(threads.parse().unwrap()));
            assert!(r["overhead_ms"].is_number(), "no overhead_ms in {r}");
            assert!(r["phase_ms"]["despawn"].is_number(), "no phase_ms in {r}");
            if r["alloc"] == "framevec" {
                assert_eq!(r["overhead_ms"].as_f64(), Some(0.0));
            }
            checksums.push(r["checksum"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        checksums.windows(2).all(|w| w[0] == w[1]),
        "checksums differ: {checksums:?}"
    );
}

#[test]
fn compare_table_shows_the_overhead_and_the_phases() {
    let mut args = SMALL.to_vec();
    args.push("--compare");
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("overhead ms"), "{text}");
    let phases = text
        .lines()
        .find(|l| l.starts_with("p50 ms per phase"))
        .unwrap_or_else(|| panic!("no phase table in {text}"));
    for phase in ["spawn", "simulate", "collide", "despawn", "end_frame"] {
        assert!(phases.contains(phase), "no {phase} column: {phases}");
    }
    let framevec = text
        .lines()
        .find(|l| l.starts_with("framevec") && l.contains("+0.000"))
        .unwrap_or_else(|| panic!("framevec's overhead is not +0.000 in {text}"));
    assert!(framevec.contains("0x"), "{framevec}");
}

#[test]
fn csv_has_one_row_per_frame() {
    let path = scratch_dir("csv").join("frames.csv");
    let mut args = SMALL.to_vec();
    args.extend(["--csv", path.to_str().unwrap(), "--alloc", "pool"]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 6, "{text}");
    assert!(lines[0].starts_with("alloc,frame,time_ms,heap_allocs"));
    assert!(
        lines[0].ends_with(
            ",contacts,spawn_ms,simulate_ms,collide_ms,despawn_ms,end_frame_ms,reserved_bytes,\
             spawn_bytes,collide_bytes,outside_systems_bytes"
        ),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1].split(',').count(), 16, "{}", lines[1]);
    assert!(lines[1].starts_with("pool,2,"), "{}", lines[1]);
    assert!(
        lines[1].ends_with(",,,"),
        "the pool attributes nothing: {}",
        lines[1]
    );
}

/// The arena's per-system attribution: `by_system` in the JSON names the
/// lab's systems and adds up to the frame's arena bytes; the CSV has each
/// system's bytes per frame, adding up the same way; the table prints them.
#[test]
fn the_arena_s_bytes_by_system_add_up_to_its_total() {
    let path = scratch_dir("by_system").join("frames.csv");
    let mut args = SMALL.to_vec();
    args.extend([
        "--json",
        "--alloc",
        "arena",
        "--csv",
        path.to_str().unwrap(),
    ]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON");
    let systems = v["by_system"].as_array().expect("by_system is a list");
    let names: Vec<&str> = systems
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"spawn") && names.contains(&"collide"),
        "{v}"
    );
    let bytes = |s: &serde_json::Value| s["bytes"].as_u64().unwrap();
    assert!(bytes(&systems[0]) > 0, "spawn allocated nothing: {v}");
    let sum: u64 = systems.iter().map(bytes).sum();
    assert_eq!(sum, v["arena_bytes"]["last"].as_u64().unwrap(), "{v}");
    let text = std::fs::read_to_string(&path).unwrap();
    for row in text.lines().skip(1) {
        let cells: Vec<u64> = row
            .split(',')
            .rev()
            .take(3)
            .map(|c| c.parse().unwrap())
            .collect();
        assert!(cells.iter().sum::<u64>() > 0, "{row}");
    }
    let out = framemem(&[SMALL, &["--alloc", "arena"]].concat());
    let table = stdout(&out);
    let line = table
        .lines()
        .find(|l| l.contains("by system"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("spawn ") && line.contains("collide "),
        "{line}"
    );
}

#[test]
fn summary_names_strategy_and_checksum() {
    let out = framemem(SMALL);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("alloc arena"), "{text}");
    assert!(text.contains("global allocator"), "{text}");
    assert!(text.contains("checksum"), "{text}");
    assert!(text.contains("phases (p50)  spawn "), "{text}");
    assert!(stderr(&out).is_empty(), "--quiet printed: {}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_after_the_current_frame_and_reports() {
    use std::process::{Command, Stdio};
    let child = Command::new(env!("CARGO_BIN_EXE_framemem"))
        .args([
            "--entities",
            "300",
            "--frames",
            "100000000",
            "--warmup",
            "0",
            "--json",
            "-q",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("a summary");
    assert_eq!(v["interrupted"], true);
    assert!(v["frames"].as_u64().unwrap() >= 1, "{v}");
}

#[test]
fn strategies_that_cannot_hold_multi_frame_data_say_so() {
    let bullets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenarios/bullets.ron");
    rejected(
        &["--scenario", bullets, "--alloc", "framevec"],
        &["--alloc framevec", "bullets", "one-frame", "90 frames"],
    );
    let mut args = SMALL.to_vec();
    args.extend(["--scenario", bullets, "--compare", "--json"]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 6, "every strategy has a row: {v:#}");
    let framevec = rows.iter().find(|r| r["alloc"] == "framevec").unwrap();
    assert!(
        framevec["not_applicable"]
            .as_str()
            .unwrap()
            .contains("one-frame"),
        "{framevec:#}"
    );
    let mut args = SMALL.to_vec();
    args.extend(["--scenario", bullets, "--compare"]);
    let out = framemem(&args);
    assert!(
        stdout(&out).contains("framevec: not applicable"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_warm_up_covers_the_scenario_s_longest_lifetime_unless_given() {
    let bullets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/scenarios/bullets.ron");
    let warmup = |extra: &[&str]| {
        let mut args = vec!["--entities", "50", "--frames", "2", "--no-profile", "-q"];
        args.extend(["--scenario", bullets, "--alloc", "slab", "--json"]);
        args.extend(extra);
        let out = framemem(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        v["warmup_frames"].as_u64().unwrap()
    };
    // bullets.ron's entities live up to 90 frames: measuring starts once
    // as many die as are born.
    assert_eq!(warmup(&[]), 90);
    assert_eq!(warmup(&["--warmup", "3"]), 3);
}

/// Issue 17: with more threads than cores, bevy's executor moves the spawn
/// system and the parallel batches between threads every frame. The arena's
/// chunks go back to one cache at each reset, so its heap traffic stays what
/// it is at 2 threads (about 20 KB a frame, the rest of the program's) and
/// what it holds stays flat.
#[test]
fn the_arena_takes_no_heap_per_frame_when_work_moves_between_threads() {
    for threads in ["8", "32"] {
        let args = [
            "--alloc",
            "arena",
            "--entities",
            "20000",
            "--frames",
            "40",
            "--warmup",
            "20",
            "--threads",
            threads,
            "--no-profile",
            "--json",
            "-q",
        ];
        let out = framemem(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let per_frame = v["bytes_per_frame"].as_f64().unwrap();
        assert!(
            per_frame <= 64.0 * 1024.0,
            "--threads {threads}: {per_frame} heap bytes a frame (more than 64 KiB)"
        );
        let reserved = &v["reserved_bytes"];
        assert_eq!(
            reserved["p50"], reserved["max"],
            "--threads {threads}: the arena's holding moved at a steady load: {reserved}"
        );
    }
}

//! The binary: bad input exits 2 with one line naming the problem, JSON has
//! its keys, checksums agree across strategies and thread counts.

#![cfg(feature = "sim")]

mod common;

use common::{SMALL, framealloc, scratch_dir, stderr, stdout};

/// Runs with `args` and checks exit code 2 and a one-line error containing
/// every string in `mentions`.
fn rejected(args: &[&str], mentions: &[&str]) {
    let out = framealloc(args);
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
        &["bump", "arena", "slab", "pool", "heap"],
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
    let swarm = framealloc::sim::DEFAULT_SCENARIO_RON;
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

#[test]
fn json_has_the_documented_keys() {
    let mut args = SMALL.to_vec();
    args.extend(["--json", "--alloc", "slab"]);
    let out = framealloc(&args);
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
    ] {
        assert!(v.get(key).is_some(), "no key {key} in {v}");
    }
    for key in ["mean", "p50", "p95", "p99", "max"] {
        assert!(v["frame_ms"][key].is_number(), "no frame_ms.{key} in {v}");
    }
    assert_eq!(v["alloc"], "slab");
    assert_eq!(v["entities"], 300);
    assert_eq!(v["frames"], 6);
}

#[test]
fn compare_agrees_across_strategies_and_thread_counts() {
    let mut checksums = Vec::new();
    for threads in ["1", "2"] {
        let mut args = SMALL.to_vec();
        args.extend(["--json", "--compare", "--threads", threads]);
        let out = framealloc(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        let runs = v.as_array().expect("--compare --json prints an array");
        let names: Vec<&str> = runs.iter().map(|r| r["alloc"].as_str().unwrap()).collect();
        assert_eq!(names, ["arena", "slab", "pool", "heap"]);
        for r in runs {
            assert_eq!(r["threads"].as_u64(), Some(threads.parse().unwrap()));
            checksums.push(r["checksum"].as_str().unwrap().to_owned());
        }
    }
    assert!(
        checksums.windows(2).all(|w| w[0] == w[1]),
        "checksums differ: {checksums:?}"
    );
}

#[test]
fn csv_has_one_row_per_frame() {
    let path = scratch_dir("csv").join("frames.csv");
    let mut args = SMALL.to_vec();
    args.extend(["--csv", path.to_str().unwrap(), "--alloc", "pool"]);
    let out = framealloc(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 6, "{text}");
    assert!(lines[0].starts_with("alloc,frame,time_ms,heap_allocs"));
    assert!(lines[1].starts_with("pool,2,"), "{}", lines[1]);
}

#[test]
fn summary_names_strategy_and_checksum() {
    let out = framealloc(SMALL);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("alloc arena"), "{text}");
    assert!(text.contains("checksum"), "{text}");
    assert!(stderr(&out).is_empty(), "--quiet printed: {}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_after_the_current_frame_and_reports() {
    use std::process::{Command, Stdio};
    let child = Command::new(env!("CARGO_BIN_EXE_framealloc"))
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

//! The binary's outputs besides the summary: the live profile's options
//! and its connection hint, recordings, `--fps` pacing, and `--plot`
//! pictures, with the errors each names.

use super::common::{SMALL, framemem, scratch_dir, stderr, stdout};
use super::rejected;

/// SMALL without `--quiet`, so warnings show.
const SMALL_LOUD: &[&str] = &["--entities", "300", "--frames", "6", "--warmup", "2"];

#[test]
fn bad_profile_options_are_rejected() {
    rejected(
        &["--puffin-addr", "localhost"],
        &["--puffin-addr", "localhost", "IP:PORT"],
    );
    rejected(&["--puffin-addr", "127.0.0.1:70000"], &["--puffin-addr"]);
    rejected(
        &["--no-profile", "--puffin-addr", "127.0.0.1:1"],
        &["--no-profile"],
    );
    rejected(&["--forever", "--frames", "10"], &["--forever", "--frames"]);
    rejected(&["--fps", "0"], &["--fps"]);
    let dir = scratch_dir("profile-out").join("missing-dir");
    let path = dir.join("run.puffin");
    rejected(
        &["--profile-out", path.to_str().unwrap()],
        &["--profile-out", "run.puffin", "cannot create"],
    );
}

#[test]
fn a_taken_address_warns_once_and_runs_without_streaming() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut args = SMALL_LOUD.to_vec();
    args.extend(["--puffin-addr", &addr]);
    let out = framemem(&args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains(&addr), "{err}");
    assert!(warnings[0].contains("without streaming"), "{err}");
    assert!(!err.contains("streaming profiles on"), "{err}");
    assert!(stdout(&out).contains("checksum"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("streamed on"), "{}", stdout(&out));
}

#[test]
fn the_summary_says_how_to_connect_on_stderr_with_json() {
    let mut args = SMALL_LOUD.to_vec();
    args.extend(["--json", "--puffin-addr", "127.0.0.1:0"]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let _: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON only");
    assert!(
        stderr(&out).contains("puffin_viewer --url 127.0.0.1:"),
        "{}",
        stderr(&out)
    );

    let mut args = SMALL.to_vec();
    args.extend(["--puffin-addr", "127.0.0.1:0"]);
    let out = framemem(&args);
    assert!(
        stdout(&out).contains("puffin_viewer --url 127.0.0.1:"),
        "{}",
        stdout(&out)
    );

    let mut args = SMALL.to_vec();
    args.push("--no-profile");
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("puffin"), "{}", stdout(&out));
}

#[test]
fn a_recording_is_written_and_its_write_errors_name_the_file() {
    let path = scratch_dir("record").join("run.puffin");
    let mut args = SMALL.to_vec();
    args.extend([
        "--profile-out",
        path.to_str().unwrap(),
        "--puffin-addr",
        "127.0.0.1:0",
    ]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("8 frames written to"),
        "{}",
        stdout(&out)
    );
    let view = puffin::FrameView::read(&mut std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(view.all_uniq().count(), 8);

    #[cfg(target_os = "linux")]
    {
        // Opens fine, fails on write: the summary, then one error line.
        let mut args = SMALL.to_vec();
        args.extend(["--profile-out", "/dev/full", "--puffin-addr", "127.0.0.1:0"]);
        let out = framemem(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("error: ") && err.contains("/dev/full"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(stdout(&out).contains("checksum"), "{}", stdout(&out));
    }
}

#[test]
fn fps_paces_the_frames() {
    let start = std::time::Instant::now();
    let out = framemem(&[
        "--entities",
        "300",
        "--frames",
        "5",
        "--warmup",
        "0",
        "--fps",
        "50",
        "--quiet",
        "--no-profile",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Five frames at 50 a second start at least four periods (80 ms) apart
    // from first to last; a lower bound only, so a slow machine passes.
    assert!(start.elapsed() >= std::time::Duration::from_millis(80));
}

/// Parses `path` as XML and returns the SVG's text, every `<text>` element's
/// content joined by newlines.
fn svg_texts(path: &std::path::Path) -> String {
    let svg = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert!(root.attribute("width").is_some() && root.attribute("height").is_some());
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn plot_draws_every_strategy_of_a_compare_run() {
    let path = scratch_dir("plot").join("compare.svg");
    let mut args = SMALL.to_vec();
    args.extend(["--compare", "--plot", path.to_str().unwrap()]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("compare.svg"), "{}", stdout(&out));
    let texts = svg_texts(&path);
    for strategy in ["arena", "slab", "pool", "heap", "mimalloc", "framevec"] {
        assert!(
            texts.lines().any(|l| l == strategy),
            "no legend entry {strategy} in {texts}"
        );
    }
    assert!(
        texts.contains("framevec: mean") && texts.contains("overhead +0.000 ms"),
        "no overhead in the legend: {texts}"
    );
    for label in [
        "scenario swarm",
        "300 entities/frame",
        "global allocator",
        "frame time (ms)",
        "measured frame",
        "frames at or below (%)",
    ] {
        assert!(texts.contains(label), "no {label:?} in {texts}");
    }
}

#[test]
fn plot_of_one_strategy() {
    let path = scratch_dir("plot-one").join("slab.svg");
    let mut args = SMALL.to_vec();
    args.extend([
        "--alloc",
        "slab",
        "--plot",
        path.to_str().unwrap(),
        "--json",
    ]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let _: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("stdout is JSON only");
    let texts = svg_texts(&path);
    assert!(texts.contains("alloc slab"), "{texts}");
    assert!(!texts.lines().any(|l| l == "heap"), "{texts}");
}

#[test]
fn plot_paths_are_checked_before_the_run() {
    let dir = scratch_dir("plot-bad").join("missing-dir");
    let path = dir.join("frames.svg");
    rejected(
        &["--plot", path.to_str().unwrap()],
        &["--plot", "missing-dir/frames.svg", "cannot create"],
    );
    rejected(&["--plot", "frames.png"], &["--plot", "frames.png", ".svg"]);
}

#[cfg(target_os = "linux")]
#[test]
fn plot_write_errors_name_the_file_after_the_summary() {
    // /dev/full opens but every write fails. Its name has no .svg, so a
    // symlink gives it one.
    let link = scratch_dir("plot-full").join("full.svg");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    let mut args = SMALL.to_vec();
    args.extend(["--plot", link.to_str().unwrap()]);
    let out = framemem(&args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("full.svg") && err.contains("--plot"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout(&out).contains("checksum"), "{}", stdout(&out));
}

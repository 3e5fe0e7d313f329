//! The switches that change how a strategy runs but not what it computes:
//! `--attribution` and `--huge-pages`, each with the same checksum on and
//! off.

use super::common::{SMALL, framemem, stderr, stdout};
use super::rejected;

/// The arena's JSON summary of a small run with `--{switch} {value}`.
fn arena_json(switch: &str, value: &str) -> serde_json::Value {
    let flag = format!("--{switch}");
    let mut args = SMALL.to_vec();
    args.extend(["--json", "--alloc", "arena", &flag, value]);
    let out = framemem(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("stdout is JSON")
}

/// `--attribution off` runs the arena without per-system counts (an A/B
/// of their cost): no `by_system` and no arena total in the JSON, no line
/// in the table, and the same simulation (checksum) as with them; a value
/// other than on or off is refused.
#[test]
fn attribution_off_runs_the_same_simulation_without_the_counts() {
    let (on, off) = (
        arena_json("attribution", "on"),
        arena_json("attribution", "off"),
    );
    assert!(
        !on["by_system"].as_array().expect("a list").is_empty(),
        "{on}"
    );
    assert_eq!(off["by_system"], serde_json::json!([]), "{off}");
    assert!(off["arena_bytes"].is_null(), "{off}");
    assert_eq!(on["checksum"], off["checksum"]);
    let out = framemem(&[SMALL, &["--alloc", "arena", "--attribution", "off"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("by system"), "{}", stdout(&out));
    rejected(
        &["--attribution", "maybe"],
        &["--attribution", "maybe", "on, off"],
    );
}

/// `--huge-pages on` gives the arena 2 MiB chunks on huge pages: the same
/// simulation (checksum), whole 2 MiB chunks held, said in the JSON and
/// the header; a value other than on or off is refused.
#[test]
fn huge_pages_runs_the_same_simulation_in_2_mib_chunks() {
    let (on, off) = (
        arena_json("huge-pages", "on"),
        arena_json("huge-pages", "off"),
    );
    assert_eq!(on["checksum"], off["checksum"]);
    assert_eq!(on["arena_huge_pages"], true, "{on}");
    assert_eq!(off["arena_huge_pages"], false, "{off}");
    let held = on["reserved_bytes"]["max"]
        .as_u64()
        .expect("the arena's bytes");
    assert!(
        held > 0 && held.is_multiple_of(2 << 20),
        "{held} B: not 2 MiB chunks"
    );
    let out = framemem(&[SMALL, &["--compare", "--huge-pages", "on"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("arena on huge pages"),
        "{}",
        stdout(&out)
    );
    rejected(
        &["--huge-pages", "always"],
        &["--huge-pages", "always", "on, off"],
    );
}

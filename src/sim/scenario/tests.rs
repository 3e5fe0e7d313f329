//! Loading and validating scenarios: every shipped file loads, and each
//! kind of bad input is refused with a one-line message that names it.

use std::path::Path;

use super::*;

fn swarm() -> Scenario {
    Scenario::from_ron(DEFAULT_SCENARIO_RON, "swarm.ron").unwrap()
}

/// Replaces the first `from` in the built-in text and parses the result.
fn edited(from: &str, to: &str) -> ScenarioError {
    assert!(
        DEFAULT_SCENARIO_RON.contains(from),
        "swarm.ron has no {from:?}"
    );
    let text = DEFAULT_SCENARIO_RON.replacen(from, to, 1);
    Scenario::from_ron(&text, "test.ron").unwrap_err()
}

fn invalid_field(error: &ScenarioError) -> &str {
    match error {
        ScenarioError::Invalid { field, .. } => field,
        other => panic!("expected an invalid field, got {other}"),
    }
}

#[test]
fn builtin_scenario_is_valid() {
    let s = Scenario::builtin();
    assert_eq!(s.name, "swarm");
    assert!(s.max_trail_len() <= 32);
}

#[test]
fn every_shipped_scenario_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} scenarios shipped");
}

#[test]
fn out_of_range_names_the_field_and_range() {
    let e = edited("entities_per_frame: 50000", "entities_per_frame: 0");
    assert_eq!(invalid_field(&e), "entities_per_frame");
    let text = e.to_string();
    assert!(
        text.contains("= 0") && text.contains("1..=50000000"),
        "{text}"
    );
    assert!(!text.contains('\n'));
}

#[test]
fn nested_fields_are_named_with_their_path() {
    let e = edited("weight: 3", "weight: 0");
    assert_eq!(invalid_field(&e), "emitters[0].weight");
    let e = edited("max: 12", "max: 999");
    assert_eq!(invalid_field(&e), "trail.lengths.max");
    assert!(e.to_string().contains("allowed 4..=320"), "{e}");
    let e = edited("spread_deg: 25.0", "spread_deg: 120.0");
    assert_eq!(invalid_field(&e), "spread_deg");
}

#[test]
fn nan_and_inverted_ranges_are_rejected() {
    let mut s = swarm();
    s.timestep_s = f32::NAN;
    assert_eq!(s.validate().unwrap_err().field, "timestep_s");
    let mut s = swarm();
    s.speed = SpeedRange {
        min: 10.0,
        max: 5.0,
    };
    assert_eq!(s.validate().unwrap_err().field, "speed.max");
    let mut s = swarm();
    s.emitters[0].position[1] = s.world_extent * 2.0;
    assert_eq!(s.validate().unwrap_err().field, "emitters[0].position.y");
}

#[test]
fn empty_lists_are_rejected() {
    let mut s = swarm();
    s.emitters.clear();
    let e = s.validate().unwrap_err();
    assert_eq!(e.field, "emitters");
    assert!(e.message.contains("0 entries"), "{e}");
    let mut s = swarm();
    s.trail.lengths = Distribution::Weighted(vec![]);
    assert_eq!(s.validate().unwrap_err().field, "trail.lengths");
    let mut s = swarm();
    s.targets = Targets::List(vec![]);
    assert_eq!(s.validate().unwrap_err().field, "targets");
}

#[test]
fn unknown_field_is_named_with_its_position() {
    let e = edited("cell_size:", "cel_size:");
    match &e {
        ScenarioError::Syntax {
            line, col, message, ..
        } => {
            assert!(*line > 1 && *col >= 1);
            assert!(message.contains("cel_size"), "{message}");
        }
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = Scenario::from_ron(
        "Scenario(\n  name: \"x\",\n  entities_per_frame: ,\n)",
        "t.ron",
    )
    .unwrap_err();
    match e {
        // RON points at the gap before the missing value.
        ScenarioError::Syntax { line, col, .. } => assert_eq!((line, col), (3, 22)),
        other => panic!("expected a syntax error, got {other}"),
    }
    assert!(
        Scenario::from_ron("(", "t.ron")
            .unwrap_err()
            .to_string()
            .starts_with("scenario t.ron:1:")
    );
}

#[test]
fn empty_and_binary_input_are_rejected() {
    assert!(matches!(
        Scenario::from_bytes(b"  \n\t", "e.ron"),
        Err(ScenarioError::Empty { .. })
    ));
    assert!(matches!(
        Scenario::from_bytes(b"Scenario(\0\x01\x02", "b.ron"),
        Err(ScenarioError::Binary { .. })
    ));
    assert!(matches!(
        Scenario::from_bytes(&[0xff, 0xfe, b'(', b')'], "b.ron"),
        Err(ScenarioError::Binary { .. })
    ));
}

#[test]
fn missing_file_is_unreadable() {
    let e = Scenario::load(Path::new("/nonexistent/x.ron")).unwrap_err();
    assert!(matches!(e, ScenarioError::Unreadable { .. }));
    assert!(e.to_string().contains("/nonexistent/x.ron"), "{e}");
}

#[test]
fn weighted_lengths_parse_and_average() {
    let text =
        DEFAULT_SCENARIO_RON.replacen("Uniform(min: 4, max: 12)", "Weighted([(4, 3), (32, 1)])", 1);
    let s = Scenario::from_ron(&text, "t.ron").unwrap();
    assert_eq!(s.max_trail_len(), 32);
    assert!((s.mean_trail_len() - 11.0).abs() < 1e-9);
}

/// The built-in text with `extra` added as the last fields.
fn with_fields(extra: &str) -> Result<Scenario, ScenarioError> {
    let end = DEFAULT_SCENARIO_RON.rfind(')').unwrap();
    let text = format!("{}    {extra}\n)", &DEFAULT_SCENARIO_RON[..end]);
    Scenario::from_ron(&text, "test.ron")
}

#[test]
fn lifetimes_and_waves_are_optional_and_default_to_one_frame() {
    let s = swarm();
    assert_eq!((s.lifetime_frames.clone(), s.waves), (None, None));
    assert_eq!(s.max_lifetime_frames(), 1);
    assert_eq!(s.max_alive(50_000), 50_000);
    let s = with_fields("lifetime_frames: Some(Weighted([(1, 3), (30, 1)])),").unwrap();
    assert_eq!(s.max_lifetime_frames(), 30);
    assert_eq!(s.max_alive(10), 300);
}

#[test]
fn bad_lifetimes_and_waves_name_their_field() {
    let cases = [
        (
            "lifetime_frames: Some(Uniform(min: 0, max: 5)),",
            "lifetime_frames.min",
        ),
        (
            "lifetime_frames: Some(Uniform(min: 5, max: 4)),",
            "lifetime_frames.max",
        ),
        (
            "lifetime_frames: Some(Uniform(min: 1, max: 3601)),",
            "lifetime_frames.max",
        ),
        ("lifetime_frames: Some(Weighted([])),", "lifetime_frames"),
        (
            "lifetime_frames: Some(Weighted([(2, 0)])),",
            "lifetime_frames[0].weight",
        ),
        (
            "lifetime_frames: Some(Weighted([(0, 1)])),",
            "lifetime_frames[0].frames",
        ),
        (
            "waves: Some((every_frames: 0, extra_entities: 5)),",
            "waves.every_frames",
        ),
        (
            "waves: Some((every_frames: 10, extra_entities: 0)),",
            "waves.extra_entities",
        ),
    ];
    for (fields, field) in cases {
        let e = with_fields(fields).unwrap_err();
        assert_eq!(invalid_field(&e), field, "{fields}: {e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    let e = with_fields("waves: Some((every_frames: 10)),").unwrap_err();
    assert!(e.to_string().contains("extra_entities"), "{e}");
}

#[test]
fn waves_come_every_nth_frame() {
    let w = Waves {
        every_frames: 120,
        extra_entities: 7,
    };
    let frames: Vec<u64> = (0..400).filter(|&f| w.in_frame(f)).collect();
    assert_eq!(frames, [119, 239, 359]);
}

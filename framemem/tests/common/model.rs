//! What the property tests against a model (`*_model.rs`) share: their
//! proptest configuration.

use proptest::prelude::ProptestConfig;

/// proptest's defaults with 10,000 cases in a release run, `debug_cases` in
/// a debug run and 4 under Miri, where each case is slow; and, under Miri,
/// no failure persistence (its isolation forbids the file access).
pub fn config(debug_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) {
            4
        } else if cfg!(debug_assertions) {
            debug_cases
        } else {
            10_000
        },
        failure_persistence: if cfg!(miri) {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        ..ProptestConfig::default()
    }
}

//! Loading a scenario: the compiled-in default, a file, bytes or RON text,
//! each parsed and then validated, with a one-line [`ScenarioError`] that
//! names the file when anything is wrong.

use std::fmt;
use std::path::Path;

use crate::sim::scenario::schema::Scenario;

/// The default scenario, compiled in.
pub const DEFAULT_SCENARIO_RON: &str = include_str!("../../../assets/scenarios/swarm.ron");

/// Why a scenario could not be used. Every variant displays as one line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The file could not be read.
    Unreadable {
        /// The file.
        origin: String,
        /// What the OS said.
        reason: String,
    },
    /// The file is empty (or only whitespace).
    Empty {
        /// The file.
        origin: String,
    },
    /// The file is not text.
    Binary {
        /// The file.
        origin: String,
        /// What gave it away.
        detail: String,
    },
    /// RON could not parse the file, or it has unknown or missing fields.
    Syntax {
        /// The file.
        origin: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        col: usize,
        /// RON's message.
        message: String,
    },
    /// A field has a value outside its allowed range.
    Invalid {
        /// The file.
        origin: String,
        /// The field's path, such as `emitters[1].weight`.
        field: String,
        /// What is wrong, with the value and the allowed range.
        message: String,
    },
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Unreadable { origin, reason } => {
                write!(f, "cannot read scenario {origin}: {reason}")
            }
            ScenarioError::Empty { origin } => {
                write!(
                    f,
                    "scenario {origin} is empty; expected a RON `Scenario(...)`"
                )
            }
            ScenarioError::Binary { origin, detail } => {
                write!(f, "scenario {origin} is not a RON text file ({detail})")
            }
            ScenarioError::Syntax {
                origin,
                line,
                col,
                message,
            } => write!(f, "scenario {origin}:{line}:{col}: {message}"),
            ScenarioError::Invalid {
                origin,
                field,
                message,
            } => write!(f, "scenario {origin}: field `{field}` {message}"),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// The compiled-in default scenario (`swarm.ron`).
    pub fn builtin() -> Scenario {
        Scenario::from_ron(DEFAULT_SCENARIO_RON, "swarm.ron (built in)")
            .expect("the built-in scenario is valid (tested by `builtin_scenario_is_valid`)")
    }

    /// Reads, parses and validates a scenario file.
    ///
    /// # Errors
    ///
    /// A [`ScenarioError`] naming the file: unreadable, empty, binary,
    /// malformed (with line and column), or a field out of range.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ScenarioError::Unreadable {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        Scenario::from_bytes(&bytes, &origin)
    }

    /// Parses and validates scenario text from `origin` (used in messages).
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), minus the I/O.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Scenario, ScenarioError> {
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Err(ScenarioError::Binary {
                origin: origin.to_owned(),
                detail: format!("NUL byte at offset {offset}"),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| ScenarioError::Binary {
            origin: origin.to_owned(),
            detail: format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        })?;
        Scenario::from_ron(text, origin)
    }

    /// Parses and validates RON text from `origin` (used in messages).
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), minus the I/O.
    pub fn from_ron(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
        if text.trim().is_empty() {
            return Err(ScenarioError::Empty {
                origin: origin.to_owned(),
            });
        }
        let scenario: Scenario = ron::from_str(text).map_err(|e| ScenarioError::Syntax {
            origin: origin.to_owned(),
            line: e.span.start.line,
            col: e.span.start.col,
            message: e.code.to_string(),
        })?;
        scenario
            .validate()
            .map_err(|invalid| ScenarioError::Invalid {
                origin: origin.to_owned(),
                field: invalid.field,
                message: invalid.message,
            })?;
        Ok(scenario)
    }
}

//! Recordings: the one Observation stream teed into versioned JSONL, read back for replay and for
//! the incident report. Line 1 is a [`Header`]; every other line is one [`Observation`] as the
//! console's State received it (Ticks included, so a replay's clock reads as it did live).

pub mod command;
mod reader;
pub mod replay;
pub mod report;
mod writer;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use reader::{read, Recording, Skipped};
pub use writer::{redact_query, Recorder};

/// The format of the lines after the header. Bump it when an old reader would misread new lines.
pub const SCHEMA_VERSION: u32 = 1;
/// Versions this pgdeck replays. Version 1 is the first; none older exists.
pub const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=SCHEMA_VERSION;

/// The first line of a recording: what was recorded, from where, by which pgdeck.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub schema_version: u32,
    /// The `--target` the console watched.
    pub target: String,
    /// Who pgdeck talked to: a Patroni endpoint list, a kube context.
    pub platform: String,
    pub pgdeck_version: String,
    pub started_at: DateTime<Utc>,
    /// The polling interval when recording started, for reading gaps between samples.
    #[serde(default)]
    pub refresh_ms: u64,
    /// The thresholds findings were judged by, so a replay raises the same findings.
    #[serde(default)]
    pub thresholds: crate::spec::ThresholdsSpec,
}

impl Header {
    pub fn new(
        target: &str,
        platform: &str,
        started_at: DateTime<Utc>,
        refresh_ms: u64,
        thresholds: crate::spec::ThresholdsSpec,
    ) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            target: target.to_owned(),
            platform: platform.to_owned(),
            pgdeck_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at,
            refresh_ms,
            thresholds,
        }
    }
}

/// Where `record = true` puts a recording: the state dir's `recordings/`, named by its start.
pub fn default_file(state_dir: &std::path::Path, target: &str, at: DateTime<Utc>) -> std::path::PathBuf {
    state_dir.join("recordings").join(format!("{target}-{}.jsonl", at.format("%Y%m%dT%H%M%SZ")))
}

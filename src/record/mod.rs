//! Recordings: the one Observation stream teed into versioned JSONL, read back for replay and for
//! the incident report. Line 1 is a [`Header`]; every other line is one [`Observation`] as the
//! console's State received it (Ticks included, so a replay's clock reads as it did live).
//! Since version 2, an observation equal to the last one of its kind from the same source (and
//! member) is written as a short [`Repeat`] line instead: the catalog, the pooler and the backup
//! list rarely change from one second to the next. A workload sample is written as its changes
//! from the member's previous one (see `delta.rs`).

pub mod command;
mod delta;
mod reader;
pub mod replay;
pub mod report;
mod writer;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use reader::{read, Recording, Skipped};
pub use writer::{redact_query, Recorder};

/// The format of the lines after the header. Bump it when an old reader would misread new lines.
/// 1: every line a full observation. 2: [`Repeat`] lines and workload deltas too.
pub const SCHEMA_VERSION: u32 = 2;
/// Versions this pgdeck replays: version 1 is version 2 without repeats.
pub const READABLE_VERSIONS: std::ops::RangeInclusive<u32> = 1..=SCHEMA_VERSION;

/// `{"at":…,"source":…,"repeat":{"type":"catalog_listed","member":"m1"}}`: the same kind as the
/// last one with this key, observed again at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    pub at: DateTime<Utc>,
    pub source: crate::observation::SourceId,
    pub repeat: RepeatKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RepeatKey {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

impl RepeatKey {
    /// The key of kinds worth repeating; `None` for the rare ones and for ticks and actions.
    pub fn of(kind: &crate::observation::ObservationKind) -> Option<Self> {
        use crate::observation::ObservationKind as K;
        let (kind, member) = match kind {
            K::MembersListed { .. } => ("members_listed", None),
            K::MaintenanceModeObserved { .. } => ("maintenance_mode_observed", None),
            K::MemberSampled { member, .. } => ("member_sampled", Some(member)),
            K::WorkloadSampled { member, .. } => ("workload_sampled", Some(member)),
            K::HealthSampled { member, .. } => ("health_sampled", Some(member)),
            K::CatalogListed { member, .. } => ("catalog_listed", Some(member)),
            K::VolumeSampled { member, .. } => ("volume_sampled", Some(member)),
            K::PoolerObserved { .. } => ("pooler_observed", None),
            K::BackupsListed { .. } => ("backups_listed", None),
            K::ClusterPhaseObserved { .. } => ("cluster_phase_observed", None),
            K::PlatformEventsObserved { .. } => ("platform_events_observed", None),
            K::SourceFailed { member, .. } => ("source_failed", member.as_ref()),
            K::NewConnectionAccepted { member } => ("new_connection_accepted", Some(member)),
            K::ClusterIdentified { .. }
            | K::ActionRequested { .. }
            | K::ActionFinished { .. }
            | K::ActionRefused { .. }
            | K::Tick => return None,
        };
        Some(Self { kind: kind.to_owned(), member: member.cloned() })
    }
}

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

//! Cluster facts as the console knows them. Changed only by [`State::apply`]; read by views and `status`.

mod apply;
mod events;
mod findings;
mod health;
mod health_findings;
#[cfg(test)]
mod health_tests;
mod members;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod truth_tests;
mod volumes;
mod workload;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::action::ActionRequest;
use crate::model::{BackupCatalog, ClusterPhase, MemberReport, MemberSample, PoolerReport, VolumeUsage};
use crate::observation::{FailureKind, SourceId};
use crate::spec::ThresholdsSpec;

pub use events::{Event, EventKind};
pub use findings::{next_after, Finding, Severity};
pub use health::{MemberHealth, HEALTH_STALE_AFTER_SECONDS};
pub use members::{MemberView, Unreachable};
pub use volumes::{Growth, VOLUME_FULL_SOON_HOURS};
pub use workload::{blocking_tree, Catalog, Rates, StatementRate, Workload};

/// How long a fact stays fresh before the member shows as stale.
pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(10);
/// Volume samples kept per member: an hour at one sample every 5 s.
pub const VOLUME_HISTORY_LEN: usize = 720;
/// Lag samples kept per member: two minutes at the default 1 s refresh.
pub const LAG_HISTORY_LEN: usize = 120;
/// Events kept for the timeline; older ones are dropped first.
const EVENT_CAPACITY: usize = 2000;

#[derive(Debug, Clone)]
pub struct State {
    pub cluster: String,
    pub platform: String,
    /// Members the target is configured with, so a member that vanished still has a row.
    pub configured_members: Vec<String>,
    pub members: BTreeMap<String, MemberEntry>,
    /// The HA manager is paused (Patroni maintenance mode): no automatic failover.
    pub maintenance_mode: Option<bool>,
    /// The operator's phase and conditions for the whole cluster (CNPG only).
    pub cluster_phase: Option<Timed<ClusterPhase>>,
    /// Platform events already logged, by id, with the repeat count seen.
    pub platform_events_seen: BTreeMap<String, u32>,
    /// Per member: its backends and statements.
    pub workload: BTreeMap<String, Workload>,
    /// Per member: its databases and roles.
    pub catalog: BTreeMap<String, Timed<Catalog>>,
    /// Per member: its latest health facts and the history their rates need.
    pub health: BTreeMap<String, MemberHealth>,
    pub pooler: Option<Timed<PoolerReport>>,
    pub backups: Option<Timed<BackupCatalog>>,
    /// Failures of sources that are not about one member (the HA manager, the pooler, backups).
    pub source_errors: BTreeMap<SourceId, Timed<String>>,
    pub actions_in_flight: BTreeMap<u64, ActionRequest>,
    pub events: VecDeque<Event>,
    /// Each member's volume samples, oldest first, for its growth rate.
    pub volume_history: BTreeMap<String, VecDeque<Timed<VolumeUsage>>>,
    /// Each replica's lag in bytes at its last samples, oldest first, for sparklines.
    pub lag_history: BTreeMap<String, VecDeque<u64>>,
    /// The latest time any observation carried: the console's "now".
    pub now: Option<DateTime<Utc>>,
    /// The findings in force after the last observation, to record when each is raised and cleared.
    pub active_findings: BTreeMap<(String, String), Finding>,
    pub thresholds: ThresholdsSpec,
    pub stale_after: Duration,
}

/// A fact and when it was learnt.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<T> {
    pub at: DateTime<Utc>,
    pub value: T,
}

#[derive(Debug, Clone, Default)]
pub struct MemberEntry {
    pub report: Option<Timed<MemberReport>>,
    pub sample: Option<Timed<MemberSample>>,
    pub volume: Option<Timed<VolumeUsage>>,
    /// Each source failing about this member now, cleared by that source's next success.
    pub errors: BTreeMap<SourceId, Failing>,
}

/// A source that has failed every time since `since`: `count` times in a row, the latest at `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Failing {
    pub since: DateTime<Utc>,
    pub at: DateTime<Utc>,
    pub count: u32,
    pub failure: FailureKind,
    pub error: String,
}

impl Failing {
    /// Whether it says the member cannot be reached: refused (nothing listens) at once, a timeout
    /// when it repeats (or at once for a new connection, tried only every few seconds). Other
    /// failures (a login refused, the credential store down) are pgdeck's trouble reaching in,
    /// not the member's, and never make it unreachable.
    pub fn says_unreachable(&self, new_connection: bool) -> bool {
        match self.failure {
            FailureKind::Refused => true,
            FailureKind::Timeout => new_connection || self.count >= 2,
            FailureKind::Other => false,
        }
    }
}

impl State {
    pub fn new(thresholds: ThresholdsSpec) -> Self {
        Self {
            cluster: String::new(),
            platform: String::new(),
            configured_members: Vec::new(),
            members: BTreeMap::new(),
            maintenance_mode: None,
            cluster_phase: None,
            platform_events_seen: BTreeMap::new(),
            workload: BTreeMap::new(),
            catalog: BTreeMap::new(),
            health: BTreeMap::new(),
            pooler: None,
            backups: None,
            source_errors: BTreeMap::new(),
            actions_in_flight: BTreeMap::new(),
            events: VecDeque::new(),
            lag_history: BTreeMap::new(),
            volume_history: BTreeMap::new(),
            now: None,
            active_findings: BTreeMap::new(),
            thresholds,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }

    /// An event that may be older than the last one logged (the platform's own, learnt late):
    /// placed by its time, so the log reads in order.
    fn insert_event_in_time(&mut self, at: DateTime<Utc>, kind: EventKind) {
        let position = self.events.iter().rposition(|e| e.at <= at).map_or(0, |i| i + 1);
        if self.events.len() == EVENT_CAPACITY {
            if position == 0 {
                return;
            }
            self.events.pop_front();
            self.events.insert(position - 1, Event { at, kind });
        } else {
            self.events.insert(position, Event { at, kind });
        }
    }

    fn push_event(&mut self, at: DateTime<Utc>, kind: EventKind) {
        if self.events.len() == EVENT_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(Event { at, kind });
    }
}

//! Per-member facts combined from the HA manager, SQL and volume samples.

use chrono::{DateTime, Utc};

use crate::model::{Lsn, MemberSample, ReplicationRow, Role, VolumeUsage};
use crate::observation::SourceId;
use crate::state::{MemberEntry, State};

/// One member as a view or `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberView {
    pub name: String,
    pub role: Role,
    pub state: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub timeline: Option<u32>,
    pub current_lsn: Option<Lsn>,
    pub receive_lsn: Option<Lsn>,
    pub replay_lsn: Option<Lsn>,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub replay_paused: bool,
    pub replication_state: Option<String>,
    pub sync_state: Option<String>,
    pub slot: Option<String>,
    pub volume: Option<VolumeUsage>,
    pub version: Option<String>,
    pub connections: Option<u32>,
    /// Seconds since the newest fact about this member, when older than the stale limit.
    pub stale_seconds: Option<i64>,
    /// Latest failure of any source about this member.
    pub error: Option<String>,
    /// The HA manager's own word for the member (`running`, `streaming`, …), kept when SQL
    /// contradicts it and `state` says `unreachable`.
    pub manager_state: Option<String>,
    /// SQL cannot reach the member now: a refused connection, a new connection not accepted,
    /// or a session that failed twice running.
    pub sql_unreachable: Option<Unreachable>,
    /// Bytes this member has received or replayed past the leader's last known position while
    /// the leader's own facts are not current: its lag cannot be told, and the leader may be gone.
    pub ahead_of_leader_bytes: Option<u64>,
}

/// Since when SQL has failed on a member, and its latest reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreachable {
    pub seconds: i64,
    pub error: String,
}

impl State {
    /// The member the HA manager reports as primary.
    pub fn leader_name(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, e)| e.report.as_ref().is_some_and(|r| r.value.role == Role::Primary))
            .map(|(name, _)| name.as_str())
    }

    /// What the leader's SQL said last, if it has answered at all.
    pub fn leader_sample(&self) -> Option<&crate::state::Timed<MemberSample>> {
        self.members.get(self.leader_name()?)?.sample.as_ref()
    }

    pub fn timeline(&self) -> Option<u32> {
        let leader = self.leader_name()?;
        self.members.get(leader)?.report.as_ref()?.value.timeline
    }

    /// Members in configured order, then any the manager reported beyond those.
    pub fn member_views(&self) -> Vec<MemberView> {
        let mut names: Vec<&String> = self.configured_members.iter().collect();
        names.extend(self.members.keys().filter(|n| !self.configured_members.contains(n)));
        let leader = self.leader_name().and_then(|l| self.members.get(l)).and_then(|entry| {
            let sample = entry.sample.as_ref()?;
            let current = self.sql_unreachable(entry).is_none() && self.staleness(Some(sample.at)).is_none();
            Some(LeaderFacts { sample: &sample.value, current })
        });
        names.into_iter().filter_map(|name| self.members.get(name).map(|e| self.view_of(name, e, leader))).collect()
    }

    /// Whether SQL cannot reach the member now, and since when: any SQL-side source (the sample's
    /// session, the new-connection probe) whose failure is definite. A new connection not accepted
    /// within the timeout counts at once: the probe runs every few seconds, not every refresh.
    pub fn sql_unreachable(&self, entry: &MemberEntry) -> Option<Unreachable> {
        let now = self.now?;
        entry
            .errors
            .iter()
            .filter(|(source, failing)| match source {
                SourceId::Sql { .. } => failing.is_definite(),
                SourceId::Connect { .. } => true,
                _ => false,
            })
            .min_by_key(|(_, failing)| failing.since)
            .map(|(_, failing)| Unreachable {
                seconds: now.signed_duration_since(failing.since).num_seconds(),
                error: failing.error.clone(),
            })
    }

    fn view_of(&self, name: &str, entry: &MemberEntry, leader: Option<LeaderFacts<'_>>) -> MemberView {
        let report = entry.report.as_ref().map(|r| &r.value);
        let sample = entry.sample.as_ref().map(|s| &s.value);
        let role = report.map_or(Role::Unknown, |r| r.role);
        let leader_sample = leader.map(|l| l.sample);
        // The leader's pg_stat_replication speaks for the replicas only while it is current: a
        // dead leader's last word would show them streaming from it.
        let row: Option<&ReplicationRow> = leader
            .filter(|l| l.current)
            .and_then(|l| l.sample.replication.iter().find(|row| row.application_name == name));
        let mut ahead_of_leader_bytes = None;
        let sql_unreachable = self.sql_unreachable(entry);
        let (lag_bytes, lag_seconds) = match role {
            // A leader SQL cannot reach has no position to be measured against.
            Role::Primary if sql_unreachable.is_some() => (None, None),
            Role::Primary => (Some(0), Some(0.0)),
            Role::Replica | Role::Unknown => {
                let replayed = sample.and_then(|s| s.replay_lsn);
                let furthest = sample.and_then(|s| s.receive_lsn.max(s.replay_lsn));
                let leader_at = leader_sample.and_then(|l| l.current_lsn);
                // A replica sampled a moment after the leader may be a little past that sample:
                // only a leader whose facts are not current makes "ahead" a finding.
                if let (Some(furthest), Some(leader_at), Some(false)) = (furthest, leader_at, leader.map(|l| l.current))
                {
                    ahead_of_leader_bytes = Some(leader_at.bytes_until(furthest)).filter(|b| *b > 0);
                }
                let bytes = match (replayed, leader_at) {
                    _ if ahead_of_leader_bytes.is_some() => None,
                    (Some(replayed), Some(leader_at)) => Some(replayed.bytes_until(leader_at)),
                    _ => report.and_then(|r| r.manager_lag_bytes),
                };
                (bytes, sample.and_then(|s| s.replay_delay_seconds))
            }
        };
        let error = entry.errors.values().max_by_key(|e| e.at).map(|e| e.error.clone());
        let state = match (report, &error) {
            // The HA manager lists it, SQL cannot reach it: SQL's word is the one shown. (A member
            // the manager no longer lists is `down`, below.)
            (Some(_), _) if sql_unreachable.is_some() => "unreachable".to_owned(),
            (Some(r), _) if r.role == Role::Replica && row.is_some_and(|row| row.state == "streaming") => {
                if r.state == "running" {
                    "streaming".to_owned()
                } else {
                    r.state.clone()
                }
            }
            (Some(r), _) => r.state.clone(),
            (None, Some(_)) => "down".to_owned(),
            (None, None) => "unknown".to_owned(),
        };
        MemberView {
            name: name.to_owned(),
            role,
            state,
            host: report.map(|r| r.host.clone()),
            port: report.map(|r| r.port),
            timeline: report.and_then(|r| r.timeline),
            current_lsn: sample.and_then(|s| s.current_lsn),
            receive_lsn: sample.and_then(|s| s.receive_lsn),
            replay_lsn: sample.and_then(|s| s.replay_lsn),
            lag_bytes,
            lag_seconds,
            replay_paused: sample.is_some_and(|s| s.replay_paused),
            replication_state: row.map(|r| r.state.clone()).or_else(|| sample.and_then(|s| s.receiver_status.clone())),
            sync_state: row.map(|r| r.sync_state.clone()),
            slot: row.and_then(|r| r.slot_name.clone()),
            volume: entry.volume.as_ref().map(|v| v.value),
            version: sample.map(|s| s.server_version.clone()),
            connections: sample.map(|s| s.connections),
            stale_seconds: self.staleness(newest_fact(entry)),
            error,
            manager_state: report.map(|r| r.state.clone()),
            sql_unreachable,
            ahead_of_leader_bytes,
        }
    }

    fn staleness(&self, newest: Option<DateTime<Utc>>) -> Option<i64> {
        let now = self.now?;
        let age = now.signed_duration_since(newest?).num_seconds();
        let limit = i64::try_from(self.stale_after.as_secs()).unwrap_or(i64::MAX);
        (age > limit).then_some(age)
    }
}

/// What the leader's SQL said last, and whether that is still current (its SQL answers and the
/// sample is not stale).
#[derive(Clone, Copy)]
struct LeaderFacts<'a> {
    sample: &'a MemberSample,
    current: bool,
}

fn newest_fact(entry: &MemberEntry) -> Option<DateTime<Utc>> {
    [entry.report.as_ref().map(|r| r.at), entry.sample.as_ref().map(|s| s.at)].into_iter().flatten().max()
}

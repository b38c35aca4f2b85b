//! Per-member facts combined from the HA manager, SQL and volume samples.

use chrono::{DateTime, Utc};

use crate::model::{Lsn, MemberSample, ReplicationRow, Role, VolumeUsage};
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
}

impl State {
    /// The member the HA manager reports as primary.
    pub fn leader_name(&self) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, e)| e.report.as_ref().is_some_and(|r| r.value.role == Role::Primary))
            .map(|(name, _)| name.as_str())
    }

    pub fn timeline(&self) -> Option<u32> {
        let leader = self.leader_name()?;
        self.members.get(leader)?.report.as_ref()?.value.timeline
    }

    /// Members in configured order, then any the manager reported beyond those.
    pub fn member_views(&self) -> Vec<MemberView> {
        let mut names: Vec<&String> = self.configured_members.iter().collect();
        names.extend(self.members.keys().filter(|n| !self.configured_members.contains(n)));
        let leader = self.leader_name().and_then(|l| self.members.get(l));
        let leader_sample = leader.and_then(|e| e.sample.as_ref()).map(|s| &s.value);
        names
            .into_iter()
            .filter_map(|name| self.members.get(name).map(|e| self.view_of(name, e, leader_sample)))
            .collect()
    }

    fn view_of(&self, name: &str, entry: &MemberEntry, leader_sample: Option<&MemberSample>) -> MemberView {
        let report = entry.report.as_ref().map(|r| &r.value);
        let sample = entry.sample.as_ref().map(|s| &s.value);
        let role = report.map_or(Role::Unknown, |r| r.role);
        let row: Option<&ReplicationRow> =
            leader_sample.and_then(|l| l.replication.iter().find(|row| row.application_name == name));
        let (lag_bytes, lag_seconds) = match role {
            Role::Primary => (Some(0), Some(0.0)),
            Role::Replica | Role::Unknown => {
                let replayed = sample.and_then(|s| s.replay_lsn);
                let leader_at = leader_sample.and_then(|l| l.current_lsn);
                let bytes = match (replayed, leader_at) {
                    (Some(replayed), Some(leader_at)) => Some(replayed.bytes_until(leader_at)),
                    _ => report.and_then(|r| r.manager_lag_bytes),
                };
                (bytes, sample.and_then(|s| s.replay_delay_seconds))
            }
        };
        let error = entry.errors.values().max_by_key(|e| e.at).map(|e| e.value.clone());
        let state = match (report, &error) {
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
        }
    }

    fn staleness(&self, newest: Option<DateTime<Utc>>) -> Option<i64> {
        let now = self.now?;
        let age = now.signed_duration_since(newest?).num_seconds();
        let limit = i64::try_from(self.stale_after.as_secs()).unwrap_or(i64::MAX);
        (age > limit).then_some(age)
    }
}

fn newest_fact(entry: &MemberEntry) -> Option<DateTime<Utc>> {
    [entry.report.as_ref().map(|r| r.at), entry.sample.as_ref().map(|s| s.at)].into_iter().flatten().max()
}

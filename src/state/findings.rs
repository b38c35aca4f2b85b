//! What is unhealthy, derived from the state on demand (never stored, so never out of date).

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::{BackupStatus, Role};
use crate::observation::SourceId;
use crate::state::{MemberView, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier for scripts: `no_leader`, `member_down`, `replication_lag`, …
    pub code: &'static str,
    /// What it is about: a member, `pooler`, `backups`, a source, `slot <name>`, `<member> pid <pid>`.
    pub subject: String,
    /// The member it concerns, where it concerns one.
    pub member: Option<String>,
    pub message: String,
    /// The numbers it was judged on and the view, column or API field they came from; empty
    /// where the message says it all.
    pub evidence: String,
}

impl Finding {
    pub fn new(severity: Severity, code: &'static str, subject: &str, message: String) -> Self {
        Self { severity, code, subject: subject.to_owned(), member: None, message, evidence: String::new() }
    }

    /// About `member`.
    #[must_use]
    pub fn on(mut self, member: &str) -> Self {
        self.member = Some(member.to_owned());
        self
    }

    #[must_use]
    pub fn with_evidence(mut self, evidence: String) -> Self {
        self.evidence = evidence;
        self
    }
}

/// A backup older than its schedule plus this much is overdue.
const BACKUP_GRACE_MINUTES: i64 = 60;

impl State {
    pub fn findings(&self) -> Vec<Finding> {
        let views = self.member_views();
        let mut out = Vec::new();
        let leader = views.iter().find(|m| m.role == Role::Primary);
        if leader.is_none() && !views.is_empty() {
            out.push(finding(
                Severity::Critical,
                "no_leader",
                &self.cluster,
                "no member is primary: writes are failing".into(),
            ));
        }
        self.writable_leader_findings(&views, leader, &mut out);
        if self.maintenance_mode == Some(true) {
            let message = "the HA manager is in maintenance mode (paused): no automatic failover".to_owned();
            out.push(finding(Severity::Warning, "maintenance_mode", &self.cluster, message));
        }
        if let Some(phase) = self.cluster_phase.as_ref().map(|p| &p.value).filter(|p| !p.is_healthy()) {
            let why = phase.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            let message = format!("the operator reports the cluster as `{}`{why}", phase.phase);
            out.push(finding(Severity::Warning, "cluster_phase", &self.cluster, message));
        }
        for member in &views {
            self.member_findings(member, leader.is_some(), &mut out);
        }
        self.pooler_findings(leader, &mut out);
        self.backup_findings(&mut out);
        for (source, error) in &self.source_errors {
            out.push(finding(
                Severity::Warning,
                "source_failing",
                &source.to_string(),
                format!("{source}: {}", error.value),
            ));
        }
        self.health_findings(&mut out);
        self.name_members(&mut out);
        out.sort_by(|a, b| a.severity.cmp(&b.severity).then_with(|| a.subject.cmp(&b.subject)));
        out
    }

    /// What SQL says against the HA manager: a leader SQL cannot reach, no member out of
    /// recovery, replicas past the leader's last known position. SQL's facts win: they are what
    /// the applications meet.
    fn writable_leader_findings(&self, views: &[MemberView], leader: Option<&MemberView>, out: &mut Vec<Finding>) {
        let leader_unreachable = leader.and_then(|l| l.sql_unreachable.as_ref().map(|u| (l, u)));
        if let Some((l, unreachable)) = leader_unreachable {
            let manager = l.manager_state.as_deref().unwrap_or("?");
            out.push(finding(
                Severity::Critical,
                "leader_unreachable",
                &l.name,
                format!(
                    "leader {} unreachable by SQL for {}s, though the HA manager says `{manager}`: writes are failing ({})",
                    l.name, unreachable.seconds, unreachable.error
                ),
            ));
        }
        for m in views.iter().filter(|m| m.ahead_of_leader_bytes.is_some()) {
            let leader_name = leader.map_or("?", |l| l.name.as_str());
            out.push(finding(
                Severity::Warning,
                "ahead_of_leader",
                &m.name,
                format!(
                    "{} is {} bytes past {leader_name}'s last known WAL position: the leader's facts are not current, so its lag cannot be told",
                    m.name,
                    m.ahead_of_leader_bytes.unwrap_or(0)
                ),
            ));
        }
        if leader_unreachable.is_some() {
            return;
        }
        // Members whose SQL answers now, by what they say of themselves.
        let answering: Vec<(&MemberView, bool)> = views
            .iter()
            .filter(|m| m.sql_unreachable.is_none() && m.stale_seconds.is_none())
            .filter_map(|m| self.members.get(&m.name)?.sample.as_ref().map(|s| (m, s.value.in_recovery)))
            .collect();
        if !answering.is_empty() && answering.iter().all(|(_, in_recovery)| *in_recovery) {
            let names: Vec<&str> = answering.iter().map(|(m, _)| m.name.as_str()).collect();
            let manager_says =
                leader.map(|l| format!("; the HA manager names {} its leader", l.name)).unwrap_or_default();
            out.push(finding(
                Severity::Critical,
                "no_writable_leader",
                &self.cluster,
                format!(
                    "no member accepts writes: pg_is_in_recovery() is true on every member that answers ({}){manager_says}",
                    names.join(", ")
                ),
            ));
        }
    }

    fn member_findings(&self, m: &MemberView, have_leader: bool, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        if m.role == Role::Unknown {
            let why = m.error.as_deref().unwrap_or("not reported by the HA manager");
            out.push(finding(Severity::Critical, "member_down", &m.name, format!("{} is down: {why}", m.name)));
            return;
        }
        if let Some(age) = m.stale_seconds {
            out.push(finding(
                Severity::Warning,
                "member_stale",
                &m.name,
                format!("no fresh facts from {} for {age}s", m.name),
            ));
        }
        if let Some(error) = &m.error {
            // A leader SQL cannot reach is already the leader_unreachable finding.
            if !(m.role == Role::Primary && m.sql_unreachable.is_some()) {
                out.push(finding(Severity::Warning, "member_unreachable", &m.name, format!("{}: {error}", m.name)));
            }
        }
        if m.role != Role::Replica || !have_leader {
            return;
        }
        // Before the leader's first sample, replication is unknown rather than broken.
        if self.leader_sample().is_some() && m.replication_state.as_deref() != Some("streaming") {
            let state = m.replication_state.as_deref().unwrap_or("no WAL receiver");
            out.push(finding(
                Severity::Critical,
                "replica_not_streaming",
                &m.name,
                format!("{} is not streaming ({state})", m.name),
            ));
        }
        if m.replay_paused {
            out.push(finding(
                Severity::Warning,
                "replay_paused",
                &m.name,
                format!("WAL replay is paused on {}", m.name),
            ));
        }
        let bytes_over = m.lag_bytes.is_some_and(|b| b > t.lag_warn_bytes);
        let seconds_over = m.lag_seconds.is_some_and(|s| s > t.lag_warn_seconds as f64);
        if bytes_over || seconds_over {
            let evidence = self.lag_evidence(m);
            out.push(
                finding(
                    Severity::Warning,
                    "replication_lag",
                    &m.name,
                    format!(
                        "{} lags {} bytes / {:.1}s (limits {} bytes / {}s)",
                        m.name,
                        m.lag_bytes.unwrap_or(0),
                        m.lag_seconds.unwrap_or(0.0),
                        t.lag_warn_bytes,
                        t.lag_warn_seconds
                    ),
                )
                .with_evidence(evidence),
            );
        }
        let used = |v: crate::model::VolumeUsage| {
            format!("data directory {} bytes of a {}-byte volume", v.used_bytes, v.size_bytes)
        };
        if let Some(hours) = self.volume_growth(&m.name).and_then(|g| g.hours_until_full) {
            if hours < crate::state::VOLUME_FULL_SOON_HOURS {
                out.push(
                    finding(
                        Severity::Warning,
                        "volume_filling",
                        &m.name,
                        format!("{} volume will be full in {hours:.1}h at the last hour's pace", m.name),
                    )
                    .with_evidence(m.volume.map(used).unwrap_or_default()),
                );
            }
        }
        if let Some(volume) = m.volume {
            if volume.percent_used() > f64::from(t.volume_warn_percent) {
                out.push(
                    finding(
                        Severity::Warning,
                        "volume_full",
                        &m.name,
                        format!(
                            "{} volume {:.0}% used (limit {}%)",
                            m.name,
                            volume.percent_used(),
                            t.volume_warn_percent
                        ),
                    )
                    .with_evidence(used(volume)),
                );
            }
        }
    }

    /// The LSNs and the replay delay a lag was judged on.
    fn lag_evidence(&self, m: &MemberView) -> String {
        let lsn = |l: Option<crate::model::Lsn>| l.map_or_else(|| "-".to_owned(), |l| l.to_string());
        let leader_lsn = self.leader_name().and_then(|l| self.members.get(l)?.sample.as_ref()?.value.current_lsn);
        format!(
            "leader pg_current_wal_lsn() {} - {} pg_last_wal_replay_lsn() {} = {} bytes; seconds since \
             pg_last_xact_replay_timestamp() {:.1}",
            lsn(leader_lsn),
            m.name,
            lsn(m.replay_lsn),
            m.lag_bytes.unwrap_or(0),
            m.lag_seconds.unwrap_or(0.0)
        )
    }

    fn pooler_findings(&self, leader: Option<&MemberView>, out: &mut Vec<Finding>) {
        if let Some(error) = self.source_errors.get(&SourceId::Pooler) {
            out.push(finding(
                Severity::Critical,
                "pooler_down",
                "pooler",
                format!("pooler unreachable: {}", error.value),
            ));
            return;
        }
        let (Some(pooler), Some(leader)) = (&self.pooler, leader) else { return };
        let points_at_leader = pooler.value.target_port.is_some() && pooler.value.target_port == leader.port;
        if !points_at_leader {
            out.push(finding(
                Severity::Critical,
                "pooler_not_on_leader",
                "pooler",
                format!(
                    "pooler sends clients to port {} but the leader {} listens on {}",
                    pooler.value.target_port.map_or_else(|| "?".into(), |p| p.to_string()),
                    leader.name,
                    leader.port.map_or_else(|| "?".into(), |p| p.to_string())
                ),
            ));
        }
    }

    fn backup_findings(&self, out: &mut Vec<Finding>) {
        let (Some(catalog), Some(now)) = (&self.backups, self.now) else { return };
        let catalog = &catalog.value;
        let last_good =
            catalog.backups.iter().filter(|b| b.status == BackupStatus::Completed).filter_map(|b| b.started_at).max();
        let Some(last_good) = last_good else {
            out.push(finding(
                Severity::Critical,
                "no_backup",
                "backups",
                "no completed backup in the repository".into(),
            ));
            return;
        };
        if let Some(due) = catalog.schedule.as_deref().and_then(|s| next_after(s, last_good)) {
            if now > due + Duration::minutes(BACKUP_GRACE_MINUTES) {
                out.push(finding(
                    Severity::Warning,
                    "backup_overdue",
                    "backups",
                    format!("last completed backup started {last_good}; the next was due {due}"),
                ));
            }
        }
        if let Some(failed) = catalog.backups.iter().rev().find(|b| b.status == BackupStatus::Failed) {
            if failed.started_at.is_some_and(|s| s > last_good) {
                let why = failed.error.as_deref().unwrap_or("no error recorded");
                out.push(finding(
                    Severity::Warning,
                    "backup_failed",
                    "backups",
                    format!("backup {} failed: {why}", failed.id),
                ));
            }
        }
    }
}

/// The first scheduled time strictly after `after`, in UTC.
pub fn next_after(schedule: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron::Schedule::from_str(schedule).ok()?.after(&after).next()
}

fn finding(severity: Severity, code: &'static str, subject: &str, message: String) -> Finding {
    Finding::new(severity, code, subject, message)
}

//! The incident timeline from a recording: the observations are folded through the console's own
//! State, so the report and the replay can never disagree about what happened.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::action::{Action, ActionOutcome, ActionRequest};
use crate::model::{BackupStatus, Role};
use crate::observation::ObservationKind;
use crate::record::Recording;
use crate::state::{Event, EventKind, Severity, State};

#[derive(Debug, Serialize)]
pub struct Report {
    pub file: String,
    pub target: String,
    pub platform: String,
    pub pgdeck_version: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub observations: usize,
    pub skipped_lines: Vec<String>,
    pub leader_changes: Vec<LeaderChange>,
    pub role_changes: Vec<RoleChange>,
    pub lag_peaks: Vec<LagPeak>,
    pub findings: Vec<FindingSpan>,
    pub backups: Vec<BackupEntry>,
    pub actions: Vec<ActionEntry>,
}

/// The leader moved: what moved it, from when it was asked for (or the leader was lost) to when
/// the new leader was seen.
#[derive(Debug, Serialize)]
pub struct LeaderChange {
    /// `switchover`, `failover` (asked for), `automatic failover`, or `leader change`.
    pub kind: String,
    pub from: Option<String>,
    pub to: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub duration_seconds: f64,
    /// How long no member was leader, when that was seen.
    pub leaderless_seconds: Option<f64>,
    pub request_id: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct RoleChange {
    pub at: DateTime<Utc>,
    pub member: String,
    pub before: Role,
    pub after: Role,
}

#[derive(Debug, Serialize)]
pub struct LagPeak {
    pub member: String,
    pub peak_bytes: u64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct FindingSpan {
    pub code: String,
    pub subject: String,
    pub severity: Severity,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub duration_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct BackupEntry {
    pub id: String,
    pub kind: String,
    pub status: BackupStatus,
    pub appeared_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ActionEntry {
    pub id: u64,
    pub action: Action,
    pub description: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `succeeded: …`, `failed: …`, `refused: …` (nothing was started), or `no outcome recorded`.
    pub outcome: String,
    pub duration_seconds: Option<f64>,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    #[allow(clippy::cast_precision_loss)] // milliseconds of an incident fit an f64 exactly
    let ms = to.signed_duration_since(from).num_milliseconds() as f64;
    ms / 1000.0
}

/// What the fold remembers between events to date leader changes.
#[derive(Default)]
struct LeaderTracker {
    /// Switchovers and failovers asked for and not yet matched with a leader change.
    pending: Vec<(u64, &'static str, DateTime<Utc>)>,
    leaderless_since: Option<(DateTime<Utc>, Option<String>)>,
    /// When the HA manager last listed a leader, before the current observation.
    last_leader_seen: Option<DateTime<Utc>>,
}

pub fn build(recording: &Recording, file: &str) -> Report {
    let mut state = State::new(recording.header.thresholds.clone());
    let mut report = Report {
        file: file.to_owned(),
        target: recording.header.target.clone(),
        platform: recording.header.platform.clone(),
        pgdeck_version: recording.header.pgdeck_version.clone(),
        from: recording.observations.first().map(|o| o.at),
        to: recording.observations.last().map(|o| o.at),
        observations: recording.observations.len(),
        skipped_lines: recording.skipped.iter().map(ToString::to_string).collect(),
        leader_changes: Vec::new(),
        role_changes: Vec::new(),
        lag_peaks: Vec::new(),
        findings: Vec::new(),
        backups: Vec::new(),
        actions: Vec::new(),
    };
    let mut leaders = LeaderTracker::default();
    let mut peaks: BTreeMap<String, LagPeak> = BTreeMap::new();
    for observation in &recording.observations {
        let before = state.events.back().cloned();
        state.apply(observation);
        let mut new: Vec<Event> =
            state.events.iter().rev().take_while(|e| Some(*e) != before.as_ref()).cloned().collect();
        new.reverse();
        for event in new {
            on_event(&mut report, &mut leaders, &state, event);
        }
        match &observation.kind {
            ObservationKind::MemberSampled { .. } | ObservationKind::MembersListed { .. } => {
                for member in state.member_views().into_iter().filter(|m| m.role == Role::Replica) {
                    let Some(lag) = member.lag_bytes else { continue };
                    let peak = peaks.entry(member.name.clone()).or_insert(LagPeak {
                        member: member.name.clone(),
                        peak_bytes: 0,
                        at: observation.at,
                    });
                    if lag > peak.peak_bytes {
                        (peak.peak_bytes, peak.at) = (lag, observation.at);
                    }
                }
            }
            _ => {}
        }
        if matches!(observation.kind, ObservationKind::MembersListed { .. }) && state.leader_name().is_some() {
            leaders.last_leader_seen = Some(observation.at);
        }
    }
    report.lag_peaks = peaks.into_values().collect();
    if let Some(catalog) = &state.backups {
        for entry in &mut report.backups {
            if let Some(b) = catalog.value.backups.iter().find(|b| b.id == entry.id) {
                entry.kind.clone_from(&b.kind);
                entry.status = b.status;
                (entry.started_at, entry.stopped_at, entry.size_bytes) = (b.started_at, b.stopped_at, b.size_bytes);
            }
        }
    }
    report
}

/// The span of `finding` raised and not yet cleared.
fn open_span<'a>(report: &'a mut Report, finding: &crate::state::Finding) -> Option<&'a mut FindingSpan> {
    report
        .findings
        .iter_mut()
        .rev()
        .find(|f| f.code == finding.code && f.subject == finding.subject && f.cleared_at.is_none())
}

impl ActionEntry {
    /// A request as asked for, with no end yet.
    fn asked(request: ActionRequest, outcome: String) -> Self {
        Self {
            id: request.id,
            description: request.action.to_string(),
            action: request.action,
            requested_by: request.requested_by,
            requested_at: request.requested_at,
            finished_at: None,
            outcome,
            duration_seconds: None,
        }
    }
}

fn on_event(report: &mut Report, leaders: &mut LeaderTracker, state: &State, event: Event) {
    let at = event.at;
    match event.kind {
        EventKind::LeaderChanged { from, to: None } => leaders.leaderless_since = Some((at, from)),
        EventKind::LeaderChanged { from, to: Some(to) } => {
            let leaderless = leaders.leaderless_since.take();
            if from.is_none() && leaderless.is_none() {
                return; // the first listing: nothing changed
            }
            let request = (!leaders.pending.is_empty()).then(|| leaders.pending.remove(0));
            let (kind, started_at, request_id) = match (request, &leaderless) {
                (Some((id, kind, requested_at)), _) => (kind.to_owned(), requested_at, Some(id)),
                (None, Some((since, _))) => ("automatic failover".to_owned(), *since, None),
                (None, None) => ("leader change".to_owned(), leaders.last_leader_seen.unwrap_or(at), None),
            };
            report.leader_changes.push(LeaderChange {
                kind,
                from: from.or_else(|| leaderless.as_ref().and_then(|(_, f)| f.clone())),
                to,
                started_at,
                ended_at: at,
                duration_seconds: seconds(started_at, at),
                leaderless_seconds: leaderless.map(|(since, _)| seconds(since, at)),
                request_id,
            });
        }
        EventKind::RoleObserved { member, role, before: Some(before) } => {
            report.role_changes.push(RoleChange { at, member, before, after: role });
        }
        EventKind::FindingRaised { finding } => report.findings.push(FindingSpan {
            code: finding.code.to_owned(),
            subject: finding.subject,
            severity: finding.severity,
            message: finding.message,
            raised_at: at,
            cleared_at: None,
            duration_seconds: None,
        }),
        EventKind::FindingCleared { finding } => {
            if let Some(span) = open_span(report, &finding) {
                span.cleared_at = Some(at);
                span.duration_seconds = Some(seconds(span.raised_at, at));
            }
        }
        // The span keeps the worst severity it reached (Critical sorts first).
        EventKind::FindingSeverityChanged { finding, .. } => {
            if let Some(span) = open_span(report, &finding) {
                span.severity = span.severity.min(finding.severity);
            }
        }
        EventKind::BackupAppeared { id, status } => {
            let listed = state.backups.as_ref().and_then(|b| b.value.backups.iter().find(|b| b.id == id));
            report.backups.push(BackupEntry {
                kind: listed.map(|b| b.kind.clone()).unwrap_or_default(),
                started_at: listed.and_then(|b| b.started_at),
                stopped_at: listed.and_then(|b| b.stopped_at),
                size_bytes: listed.and_then(|b| b.size_bytes),
                id,
                status,
                appeared_at: at,
            });
        }
        EventKind::ActionRequested { request } => {
            match request.action {
                Action::Switchover { .. } => leaders.pending.push((request.id, "switchover", request.requested_at)),
                Action::Failover { .. } => leaders.pending.push((request.id, "failover", request.requested_at)),
                _ => {}
            }
            report.actions.push(ActionEntry::asked(request, "no outcome recorded".into()));
        }
        EventKind::ActionFinished { request, outcome } => {
            if let ActionOutcome::Failed { .. } = outcome {
                // A switchover that failed moves no leader: do not date the next change by it.
                leaders.pending.retain(|(id, _, _)| *id != request.id);
            }
            let entry = report.actions.iter_mut().find(|a| a.id == request.id && a.finished_at.is_none());
            if let Some(entry) = entry {
                entry.finished_at = Some(at);
                entry.duration_seconds = Some(seconds(entry.requested_at, at));
                entry.outcome = match outcome {
                    ActionOutcome::Succeeded { detail } => format!("succeeded: {detail}"),
                    ActionOutcome::Failed { error } => format!("failed: {error}"),
                };
            }
        }
        EventKind::ActionRefused { request, reason } => report.actions.push(ActionEntry::asked(request, reason)),
        // An unhealthy phase is in the report as its `cluster_phase` finding, with its span.
        EventKind::RoleObserved { before: None, .. }
        | EventKind::MemberLeft { .. }
        | EventKind::MaintenanceModeChanged { .. }
        | EventKind::ClusterPhaseChanged { .. }
        | EventKind::PlatformEvent { .. } => {}
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Markdown for the walkthrough's notes: one section per kind of fact, each a table.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let span = match (report.from, report.to) {
        (Some(from), Some(to)) => format!("{} to {} ({:.0} s)", time(from), time(to), seconds(from, to)),
        _ => "no observations".to_owned(),
    };
    let _ = writeln!(out, "# Incident timeline: {}\n", report.target);
    let _ = writeln!(out, "- recording: `{}` ({} observations)", report.file, report.observations);
    let _ = writeln!(out, "- platform: {}", report.platform);
    let _ = writeln!(out, "- recorded by pgdeck {}", report.pgdeck_version);
    let _ = writeln!(out, "- span: {span}");
    for skipped in &report.skipped_lines {
        let _ = writeln!(out, "- {skipped}");
    }
    section(
        &mut out,
        "Leader changes",
        &["kind", "from", "to", "started", "new leader seen", "duration", "leaderless"],
    );
    for c in &report.leader_changes {
        let request = c.request_id.map_or_else(String::new, |id| format!(" (#{id})"));
        let leaderless = c.leaderless_seconds.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"));
        let from = c.from.as_deref().unwrap_or("(none)");
        let (started, ended, duration) = (time(c.started_at), time(c.ended_at), c.duration_seconds);
        let _ = writeln!(
            out,
            "| {}{request} | {from} | {} | {started} | {ended} | {duration:.1} s | {leaderless} |",
            c.kind, c.to
        );
    }
    section(&mut out, "Role changes", &["time", "member", "before", "after"]);
    for c in &report.role_changes {
        let _ = writeln!(out, "| {} | {} | {} | {} |", time(c.at), c.member, c.before, c.after);
    }
    section(&mut out, "Replication lag peaks", &["member", "peak", "at"]);
    for p in &report.lag_peaks {
        let _ = writeln!(out, "| {} | {} | {} |", p.member, crate::status::human_bytes(p.peak_bytes), time(p.at));
    }
    section(&mut out, "Findings", &["raised", "cleared", "for", "severity", "finding"]);
    for f in &report.findings {
        let cleared = f.cleared_at.map_or_else(|| "still open".to_owned(), time);
        let lasted = f.duration_seconds.map_or_else(|| "-".to_owned(), |s| format!("{s:.0} s"));
        let _ = writeln!(out, "| {} | {cleared} | {lasted} | {:?} | {} |", time(f.raised_at), f.severity, f.message);
    }
    section(&mut out, "Backups", &["id", "type", "status", "started", "finished", "first seen"]);
    for b in &report.backups {
        let opt = |t: Option<DateTime<Utc>>| t.map_or_else(|| "-".to_owned(), time);
        let _ = writeln!(
            out,
            "| {} | {} | {:?} | {} | {} | {} |",
            b.id,
            b.kind,
            b.status,
            opt(b.started_at),
            opt(b.stopped_at),
            time(b.appeared_at)
        );
    }
    section(&mut out, "Actions", &["#", "requested", "by", "action", "outcome", "took"]);
    for a in &report.actions {
        let took = a.duration_seconds.map_or_else(|| "-".to_owned(), |s| format!("{s:.1} s"));
        let outcome = a.outcome.replace('|', "\\|").replace('\n', " ");
        let (id, at, by, what) = (a.id, time(a.requested_at), &a.requested_by, &a.description);
        let _ = writeln!(out, "| {id} | {at} | {by} | {what} | {outcome} | {took} |");
    }
    out
}

fn section(out: &mut String, title: &str, columns: &[&str]) {
    let _ = writeln!(out, "\n## {title}\n");
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::action::BackupKind;
    use crate::observation::Observation;
    use crate::record::Header;
    use crate::spec::ThresholdsSpec;
    use crate::testing::report as member;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_093_600 + s, 0).single().unwrap()
    }

    fn listed(s: i64, leader: &str, replica: &str) -> Observation {
        let members = vec![member(leader, Role::Primary, 1), member(replica, Role::Replica, 2)];
        Observation::new(at(s), "patroni".into(), ObservationKind::MembersListed { members })
    }

    #[test]
    fn a_switchover_is_dated_from_its_request_to_the_new_leader() {
        let request = ActionRequest {
            id: 1,
            action: Action::Switchover { candidate: Some("m2".into()) },
            requested_at: at(2),
            requested_by: "alice".into(),
            confirmation: Some("m2".into()),
        };
        let backup = ActionRequest { id: 2, action: Action::Backup { kind: BackupKind::Full }, ..request.clone() };
        let done = |r: &ActionRequest, s| {
            let outcome = ActionOutcome::Succeeded { detail: "ok".into() };
            Observation::new(
                at(s),
                "dispatcher".into(),
                ObservationKind::ActionFinished { request: r.clone(), outcome },
            )
        };
        let observations = vec![
            listed(0, "m1", "m2"),
            Observation::new(at(2), "dispatcher".into(), ObservationKind::ActionRequested { request: request.clone() }),
            listed(3, "m1", "m2"),
            done(&request, 6),
            listed(7, "m2", "m1"),
            Observation::new(at(8), "dispatcher".into(), ObservationKind::ActionRequested { request: backup.clone() }),
            done(&backup, 9),
        ];
        let header = Header::new("local", "patroni x", at(0), 1000, ThresholdsSpec::default());
        let recording = Recording { header, observations, skipped: Vec::new() };
        let report = build(&recording, "r.jsonl");
        assert_eq!(report.leader_changes.len(), 1);
        let change = &report.leader_changes[0];
        assert_eq!(
            (change.kind.as_str(), change.from.as_deref(), change.to.as_str()),
            ("switchover", Some("m1"), "m2")
        );
        assert!((change.duration_seconds - 5.0).abs() < f64::EPSILON);
        assert_eq!(report.role_changes.len(), 2);
        assert_eq!(report.actions.len(), 2);
        assert_eq!(report.actions[1].outcome, "succeeded: ok");
        let text = markdown(&report);
        assert!(text.contains("| switchover (#1) | m1 | m2 |") && text.contains("| 5.0 s |"), "{text}");
        assert!(
            text.contains("| 2 | 2025-11-25 18:00:02 UTC | alice | full backup | succeeded: ok | 7.0 s |"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_request_is_listed_with_its_reason_and_no_duration() {
        let request = ActionRequest {
            id: 4,
            action: Action::Failover { candidate: "m2".into() },
            requested_at: at(3),
            requested_by: "bob".into(),
            confirmation: None,
        };
        let reason = "refused: m1 still holds the leader lock".to_owned();
        let observations = vec![
            listed(0, "m1", "m2"),
            Observation::new(at(3), "dispatcher".into(), ObservationKind::ActionRefused { request, reason }),
            listed(4, "m1", "m2"),
        ];
        let header = Header::new("local", "patroni x", at(0), 1000, ThresholdsSpec::default());
        let recording = Recording { header, observations, skipped: Vec::new() };
        let report = build(&recording, "r.jsonl");
        assert_eq!(report.actions.len(), 1);
        let refused = &report.actions[0];
        assert_eq!((refused.id, refused.requested_by.as_str()), (4, "bob"));
        assert_eq!((refused.finished_at, refused.duration_seconds), (None, None));
        let text = markdown(&report);
        assert!(
            text.contains(
                "| 4 | 2025-11-25 18:00:03 UTC | bob | failover to m2 | refused: m1 still holds the leader lock |"
            ),
            "{text}"
        );
    }
}

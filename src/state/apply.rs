//! The one place cluster facts change.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::model::{BackupCatalog, MemberReport, PlatformEvent, Role};
use crate::observation::{Observation, ObservationKind, SourceId};
use crate::state::{Catalog, EventKind, Failing, Finding, State, Timed, LAG_HISTORY_LEN, VOLUME_HISTORY_LEN};

/// How many platform event ids are remembered to tell new events from ones already logged.
const PLATFORM_EVENTS_REMEMBERED: usize = 4096;

impl State {
    /// Folds one observation into the state. Pure: no I/O, no clock.
    pub fn apply(&mut self, obs: &Observation) {
        let at = obs.at;
        self.now = Some(self.now.map_or(at, |now| now.max(at)));
        let succeeded = !matches!(
            obs.kind,
            ObservationKind::SourceFailed { .. }
                | ObservationKind::Tick
                | ObservationKind::ActionRequested { .. }
                | ObservationKind::ActionRefused { .. }
        );
        if succeeded {
            self.clear_errors_of(&obs.source);
        }
        match &obs.kind {
            ObservationKind::ClusterIdentified { cluster, platform, configured_members } => {
                self.cluster.clone_from(cluster);
                self.platform.clone_from(platform);
                self.configured_members.clone_from(configured_members);
                for name in configured_members {
                    self.members.entry(name.clone()).or_default();
                }
            }
            ObservationKind::MembersListed { members } => self.apply_members_listed(at, members),
            ObservationKind::MaintenanceModeObserved { paused } => {
                if self.maintenance_mode.is_some_and(|before| before != *paused) {
                    self.push_event(at, EventKind::MaintenanceModeChanged { paused: *paused });
                }
                self.maintenance_mode = Some(*paused);
            }
            ObservationKind::MemberSampled { member, sample } => {
                self.members.entry(member.clone()).or_default().sample = Some(Timed { at, value: sample.clone() });
                self.record_lag(member);
            }
            ObservationKind::WorkloadSampled { member, backends, statements } => {
                let workload = self.workload.entry(member.clone()).or_default();
                workload.backends = Some(Timed { at, value: backends.clone() });
                workload.previous_statements = workload.statements.take();
                workload.statements = Some(Timed { at, value: statements.clone() });
            }
            ObservationKind::HealthSampled { member, health } => self.apply_health(at, member, health),
            ObservationKind::CatalogListed { member, databases, roles } => {
                let catalog = Catalog { databases: databases.clone(), roles: roles.clone() };
                self.catalog.insert(member.clone(), Timed { at, value: catalog });
            }
            ObservationKind::VolumeSampled { member, usage } => {
                self.members.entry(member.clone()).or_default().volume = Some(Timed { at, value: *usage });
                let history = self.volume_history.entry(member.clone()).or_default();
                if history.len() == VOLUME_HISTORY_LEN {
                    history.pop_front();
                }
                history.push_back(Timed { at, value: *usage });
            }
            ObservationKind::PoolerObserved { pooler } => {
                self.pooler = Some(Timed { at, value: pooler.clone() });
            }
            ObservationKind::ClusterPhaseObserved { phase } => {
                if let Some(before) = self.cluster_phase.as_ref().filter(|b| b.value.phase != phase.phase) {
                    let from = before.value.phase.clone();
                    self.push_event(
                        at,
                        EventKind::ClusterPhaseChanged { from, to: phase.phase.clone(), reason: phase.reason.clone() },
                    );
                }
                self.cluster_phase = Some(Timed { at, value: phase.clone() });
            }
            ObservationKind::PlatformEventsObserved { events } => self.apply_platform_events(events),
            ObservationKind::BackupsListed { catalog } => self.apply_backups_listed(at, catalog),
            ObservationKind::SourceFailed { member, error, failure } => match member {
                Some(name) => {
                    let errors = &mut self.members.entry(name.clone()).or_default().errors;
                    let before = errors.get(&obs.source);
                    let failing = Failing {
                        since: before.map_or(at, |b| b.since),
                        at,
                        count: before.map_or(1, |b| b.count.saturating_add(1)),
                        failure: *failure,
                        error: error.clone(),
                    };
                    errors.insert(obs.source.clone(), failing);
                }
                None => {
                    self.source_errors.insert(obs.source.clone(), Timed { at, value: error.clone() });
                }
            },
            // Its success has cleared the source's failure above; there is nothing else to keep.
            ObservationKind::NewConnectionAccepted { .. } => {}
            ObservationKind::ActionRequested { request } => {
                self.actions_in_flight.insert(request.id, request.clone());
                self.push_event(at, EventKind::ActionRequested { request: request.clone() });
            }
            ObservationKind::ActionFinished { request, outcome } => {
                self.actions_in_flight.remove(&request.id);
                self.push_event(at, EventKind::ActionFinished { request: request.clone(), outcome: outcome.clone() });
            }
            ObservationKind::ActionRefused { request, reason } => {
                self.push_event(at, EventKind::ActionRefused { request: request.clone(), reason: reason.clone() });
            }
            // Judged once a second, on the clock: between two observations of one poll the state is
            // half new, half old, and findings drawn from that would be noise in the timeline.
            ObservationKind::Tick => self.track_findings(at),
        }
    }

    /// Findings are derived, not observed: compare them with the last set to date their changes.
    fn track_findings(&mut self, at: DateTime<Utc>) {
        // Until the HA manager has listed the members once (or failed to), there is nothing to judge.
        let listed = self.members.values().any(|e| e.report.is_some());
        if !listed && !self.source_errors.contains_key(&SourceId::HaManager) {
            return;
        }
        let now: BTreeMap<(String, String), Finding> =
            self.findings().into_iter().map(|f| ((f.code.to_owned(), f.subject.clone()), f)).collect();
        let cleared: Vec<Finding> =
            self.active_findings.iter().filter(|(k, _)| !now.contains_key(*k)).map(|(_, f)| f.clone()).collect();
        let raised: Vec<Finding> =
            now.iter().filter(|(k, _)| !self.active_findings.contains_key(*k)).map(|(_, f)| f.clone()).collect();
        let changed: Vec<(Finding, crate::state::Severity)> = now
            .iter()
            .filter_map(|(k, f)| {
                let before = self.active_findings.get(k)?.severity;
                (before != f.severity).then(|| (f.clone(), before))
            })
            .collect();
        for finding in cleared {
            self.push_event(at, EventKind::FindingCleared { finding });
        }
        for (finding, before) in changed {
            self.push_event(at, EventKind::FindingSeverityChanged { finding, before });
        }
        for finding in raised {
            self.push_event(at, EventKind::FindingRaised { finding });
        }
        self.active_findings = now;
    }

    /// The HA manager's full list: members missing from it have left; role changes are events.
    fn apply_members_listed(&mut self, at: DateTime<Utc>, members: &[MemberReport]) {
        let leader_before = self.leader_name().map(str::to_owned);
        let left: Vec<String> = self
            .members
            .iter()
            .filter(|(name, entry)| entry.report.is_some() && !members.iter().any(|m| &m.name == *name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in left {
            if let Some(entry) = self.members.get_mut(&name) {
                entry.report = None;
            }
            self.push_event(at, EventKind::MemberLeft { member: name });
        }
        for report in members {
            let entry = self.members.entry(report.name.clone()).or_default();
            let before = entry.report.as_ref().map(|r| r.value.role);
            entry.report = Some(Timed { at, value: report.clone() });
            if before != Some(report.role) {
                let event = EventKind::RoleObserved { member: report.name.clone(), role: report.role, before };
                self.push_event(at, event);
            }
        }
        let leader_after = self.leader_name().map(str::to_owned);
        if leader_after != leader_before {
            self.push_event(at, EventKind::LeaderChanged { from: leader_before, to: leader_after });
        }
    }

    /// A new listing of the backup repository; backups not seen in the previous one are events.
    /// Logs each platform event once, and again when it repeats (its count grows). The ids kept
    /// are bounded: past the limit, only those still reported are remembered.
    fn apply_platform_events(&mut self, events: &[PlatformEvent]) {
        for event in events {
            if self.platform_events_seen.get(&event.id).is_some_and(|count| *count >= event.count) {
                continue;
            }
            self.platform_events_seen.insert(event.id.clone(), event.count);
            self.insert_event_in_time(event.at, EventKind::PlatformEvent { event: event.clone() });
        }
        if self.platform_events_seen.len() > PLATFORM_EVENTS_REMEMBERED {
            let current: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
            self.platform_events_seen.retain(|id, _| current.contains(id.as_str()));
        }
    }

    fn apply_backups_listed(&mut self, at: DateTime<Utc>, catalog: &BackupCatalog) {
        if let Some(previous) = &self.backups {
            let known: BTreeSet<&str> = previous.value.backups.iter().map(|b| b.id.as_str()).collect();
            let appeared: Vec<EventKind> = catalog
                .backups
                .iter()
                .filter(|b| !known.contains(b.id.as_str()))
                .map(|b| EventKind::BackupAppeared { id: b.id.clone(), status: b.status })
                .collect();
            for event in appeared {
                self.push_event(at, event);
            }
        }
        self.backups = Some(Timed { at, value: catalog.clone() });
    }

    fn record_lag(&mut self, member: &str) {
        let lag = self.member_views().into_iter().find(|m| m.name == member && m.role == Role::Replica);
        let Some(bytes) = lag.and_then(|m| m.lag_bytes) else { return };
        let history = self.lag_history.entry(member.to_owned()).or_default();
        if history.len() == LAG_HISTORY_LEN {
            history.pop_front();
        }
        history.push_back(bytes);
    }

    fn clear_errors_of(&mut self, source: &SourceId) {
        self.source_errors.remove(source);
        for entry in self.members.values_mut() {
            entry.errors.remove(source);
        }
    }
}

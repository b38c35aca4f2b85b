//! The one place cluster facts change.

use crate::observation::{Observation, ObservationKind};
use crate::state::{EventKind, State, Timed};

impl State {
    /// Folds one observation into the state. Pure: no I/O, no clock.
    pub fn apply(&mut self, obs: &Observation) {
        let at = obs.at;
        self.now = Some(self.now.map_or(at, |now| now.max(at)));
        let succeeded = !matches!(
            obs.kind,
            ObservationKind::SourceFailed { .. } | ObservationKind::Tick | ObservationKind::ActionRequested { .. }
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
            ObservationKind::MembersListed { members } => {
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
                    let role_before = entry.report.as_ref().map(|r| r.value.role);
                    entry.report = Some(Timed { at, value: report.clone() });
                    if role_before != Some(report.role) {
                        self.push_event(
                            at,
                            EventKind::RoleObserved {
                                member: report.name.clone(),
                                role: report.role,
                                before: role_before,
                            },
                        );
                    }
                }
                let leader_after = self.leader_name().map(str::to_owned);
                if leader_after != leader_before {
                    self.push_event(at, EventKind::LeaderChanged { from: leader_before, to: leader_after });
                }
            }
            ObservationKind::MemberSampled { member, sample } => {
                self.members.entry(member.clone()).or_default().sample = Some(Timed { at, value: sample.clone() });
            }
            ObservationKind::VolumeSampled { member, usage } => {
                self.members.entry(member.clone()).or_default().volume = Some(Timed { at, value: *usage });
            }
            ObservationKind::PoolerObserved { pooler } => {
                self.pooler = Some(Timed { at, value: pooler.clone() });
            }
            ObservationKind::BackupsListed { catalog } => {
                let known: Vec<String> = self
                    .backups
                    .as_ref()
                    .map(|b| b.value.backups.iter().map(|b| b.id.clone()).collect())
                    .unwrap_or_default();
                let first_listing = self.backups.is_none();
                for backup in &catalog.backups {
                    if !first_listing && !known.contains(&backup.id) {
                        self.push_event(at, EventKind::BackupAppeared { id: backup.id.clone(), status: backup.status });
                    }
                }
                self.backups = Some(Timed { at, value: catalog.clone() });
            }
            ObservationKind::SourceFailed { member, error } => {
                let failure = Timed { at, value: error.clone() };
                match member {
                    Some(name) => {
                        let entry = self.members.entry(name.clone()).or_default();
                        entry.errors.insert(obs.source.clone(), failure);
                    }
                    None => {
                        self.source_errors.insert(obs.source.clone(), failure);
                    }
                }
            }
            ObservationKind::ActionRequested { request } => {
                self.actions_in_flight.insert(request.id, request.clone());
                self.push_event(at, EventKind::ActionRequested { request: request.clone() });
            }
            ObservationKind::ActionFinished { request, outcome } => {
                self.actions_in_flight.remove(&request.id);
                self.push_event(at, EventKind::ActionFinished { request: request.clone(), outcome: outcome.clone() });
            }
            ObservationKind::Tick => {}
        }
    }

    fn clear_errors_of(&mut self, source: &str) {
        self.source_errors.remove(source);
        for entry in self.members.values_mut() {
            entry.errors.remove(source);
        }
    }
}

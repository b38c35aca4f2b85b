//! Kubernetes Events about the cluster's objects: the Cluster, its instance pods and volumes (and
//! their jobs), its Backups, ScheduledBackups and Poolers (and the Poolers' Deployments). The
//! namespace may hold other clusters (a restored copy named `<cluster>-copy`, say), so an object
//! belongs to this cluster by name only where CNPG's naming is exact, and otherwise by its
//! `spec.cluster.name`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event as KubeEvent;

use super::sources::Shared;
use super::watch::{Kind, Watches};
use crate::model::PlatformEvent;
use crate::observation::ObservationKind;
use crate::observation::SourceId;
use crate::source::Source;

/// The newest events sent each round: enough for an incident, bounded for a busy namespace.
const EVENTS_PER_ROUND: usize = 50;

/// `<cluster>-<n>` or `<cluster>-<n>-<job>`: an instance's pod, PVC, or a job of that instance.
fn is_instance_object(cluster: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(cluster).and_then(|r| r.strip_prefix('-')) else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && (rest.len() == digits || rest.as_bytes()[digits] == b'-')
}

/// This cluster's Backups, ScheduledBackups and Poolers, by kind and name: the objects whose
/// names alone do not say which cluster they are for. Read once a round, not once per event.
fn owned_by(watches: &Watches) -> BTreeSet<(&'static str, String)> {
    let cluster = watches.cluster_name.as_str();
    let mut owned = BTreeSet::new();
    for b in watches.backups.state().iter().filter(|b| b.spec.cluster.name == cluster) {
        owned.extend(b.metadata.name.clone().map(|n| ("Backup", n)));
    }
    for s in watches.scheduled.state().iter().filter(|s| s.spec.cluster.name == cluster) {
        owned.extend(s.metadata.name.clone().map(|n| ("ScheduledBackup", n)));
    }
    for p in watches.poolers.state().iter().filter(|p| p.spec.cluster.name == cluster) {
        owned.extend(p.metadata.name.clone().map(|n| ("Pooler", n)));
    }
    owned
}

fn belongs(cluster: &str, owned: &BTreeSet<(&'static str, String)>, kind: &str, name: &str) -> bool {
    match kind {
        "Cluster" => name == cluster,
        "Pod" | "PersistentVolumeClaim" | "Job" => is_instance_object(cluster, name),
        "Backup" | "ScheduledBackup" | "Pooler" => owned.iter().any(|(k, n)| *k == kind && n == name),
        // A Pooler's PgBouncer Deployment carries the Pooler's name (its scaling, its rollouts).
        "Deployment" => owned.iter().any(|(k, n)| *k == "Pooler" && n == name),
        _ => false,
    }
}

/// When it last happened: the last timestamp, else the event time, else when it was recorded.
fn happened_at(event: &KubeEvent) -> Option<DateTime<Utc>> {
    let at = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
    DateTime::from_timestamp(at.as_second(), u32::try_from(at.subsec_nanosecond()).unwrap_or(0))
}

pub fn report(event: &KubeEvent) -> Option<PlatformEvent> {
    let object = &event.involved_object;
    let count = event.series.as_ref().and_then(|s| s.count).or(event.count).unwrap_or(1);
    Some(PlatformEvent {
        id: event.metadata.uid.clone().or_else(|| event.metadata.name.clone())?,
        count: u32::try_from(count).unwrap_or(1),
        at: happened_at(event)?,
        warning: event.type_.as_deref() == Some("Warning"),
        reason: event.reason.clone().unwrap_or_default(),
        object: format!("{}/{}", object.kind.as_deref().unwrap_or("?"), object.name.as_deref().unwrap_or("?")),
        message: event.message.clone().unwrap_or_default().trim().to_owned(),
    })
}

/// The namespace's Events about this cluster's objects → `PlatformEventsObserved`.
pub struct ClusterEvents {
    pub shared: Shared,
}

#[async_trait]
impl Source for ClusterEvents {
    fn id(&self) -> SourceId {
        SourceId::KubeEvents
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let watches = &self.shared.watches;
        let kinds = [Kind::Events, Kind::Backups, Kind::ScheduledBackups, Kind::Poolers];
        if let Err(error) = watches.ready(&kinds).await {
            return vec![ObservationKind::failed(None, error)];
        }
        let all = watches.events.state();
        let owned = owned_by(watches);
        let cluster = watches.cluster_name.as_str();
        let mut events: Vec<PlatformEvent> = all
            .iter()
            .filter(|e| {
                let object = &e.involved_object;
                let (kind, name) =
                    (object.kind.as_deref().unwrap_or_default(), object.name.as_deref().unwrap_or_default());
                belongs(cluster, &owned, kind, name)
            })
            .filter_map(|e| report(e))
            .collect();
        events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        let newest = events.split_off(events.len().saturating_sub(EVENTS_PER_ROUND));
        let mut out = vec![ObservationKind::PlatformEventsObserved { events: newest }];
        out.extend(watches.errors(&kinds).into_iter().map(|error| ObservationKind::failed(None, error)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_objects_are_told_from_another_clusters() {
        for name in ["pg-1", "pg-12", "pg-3-initdb", "pg-2-join-x7k"] {
            assert!(is_instance_object("pg", name), "{name}");
        }
        for name in ["pg", "pg-copy-1", "pg-pooler-rw-abc", "pg-", "pgx-1", "pg-1x"] {
            assert!(!is_instance_object("pg", name), "{name}");
        }
    }

    #[test]
    fn a_poolers_deployment_is_this_clusters_by_the_poolers_name() {
        let owned = BTreeSet::from([("Pooler", "pg-pooler-rw".to_owned()), ("Backup", "pg-b1".to_owned())]);
        assert!(belongs("pg", &owned, "Deployment", "pg-pooler-rw"));
        assert!(!belongs("pg", &owned, "Deployment", "pg-copy-pooler-rw"));
        assert!(!belongs("pg", &owned, "Deployment", "pg-b1"));
        assert!(belongs("pg", &owned, "Backup", "pg-b1") && !belongs("pg", &owned, "Pooler", "pg-b1"));
    }

    #[test]
    fn an_event_reports_its_object_count_and_latest_time() {
        let event: KubeEvent = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pg.1", "namespace": "postgres", "uid": "u1",
                         "creationTimestamp": "2026-11-25T01:00:00Z"},
            "involvedObject": {"kind": "Cluster", "name": "pg"},
            "type": "Warning", "reason": "FailingOver", "message": "Current primary isn't healthy\n",
            "count": 3, "firstTimestamp": "2026-11-25T01:00:00Z", "lastTimestamp": "2026-11-25T01:05:00Z"
        }))
        .unwrap();
        let report = report(&event).unwrap();
        assert_eq!((report.id.as_str(), report.count, report.warning), ("u1", 3, true));
        assert_eq!(report.object, "Cluster/pg");
        assert_eq!(report.message, "Current primary isn't healthy");
        assert_eq!(report.at.to_rfc3339(), "2026-11-25T01:05:00+00:00");
    }
}

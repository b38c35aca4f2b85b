//! Backup and ScheduledBackup objects → the backup catalog every view reads. Pure.

use chrono::{DateTime, Utc};

use super::crd::{Backup, Cluster, ScheduledBackup};
use crate::model::{BackupCatalog, BackupReport, BackupStatus};

fn time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?).ok().map(|t| t.with_timezone(&Utc))
}

/// CNPG's phase in pgdeck's three states: anything not finished counts as running (a pending
/// backup blocks another as a running one does).
pub fn status_of(phase: Option<&str>) -> BackupStatus {
    match phase {
        Some("completed") => BackupStatus::Completed,
        Some("failed" | "walArchivingFailing" | "invalid backup definition") => BackupStatus::Failed,
        _ => BackupStatus::Running,
    }
}

/// The reason a backup failed: CNPG's error, and the command's own output when it has one.
pub fn error_of(backup: &Backup) -> Option<String> {
    let status = backup.status.as_ref()?;
    match (status.error.as_deref(), status.command_error.as_deref()) {
        (Some(e), Some(c)) if !c.is_empty() => Some(format!("{e}: {c}")),
        (Some(e), _) => Some(e.to_owned()),
        (None, Some(c)) => Some(c.to_owned()),
        (None, None) => None,
    }
}

pub fn report(backup: &Backup) -> BackupReport {
    let status = backup.status.clone().unwrap_or_default();
    let method =
        status.method.clone().or_else(|| backup.spec.method.clone()).unwrap_or_else(|| "barmanObjectStore".into());
    let failed = status_of(status.phase.as_deref()) == BackupStatus::Failed;
    BackupReport {
        id: backup.metadata.name.clone().unwrap_or_default(),
        // Every CNPG backup is a full physical base backup; how it was taken is the method.
        kind: "full".into(),
        method,
        status: status_of(status.phase.as_deref()),
        started_at: time(status.started_at.as_deref()),
        stopped_at: time(status.stopped_at.as_deref()),
        size_bytes: None,
        repository_bytes: None,
        wal_start: status.begin_wal.clone(),
        wal_stop: status.end_wal.clone(),
        error: if failed { error_of(backup).or_else(|| status.phase.clone()) } else { None },
    }
}

/// The cluster's backups (matched on `spec.cluster.name`; hand-made ones may have no labels),
/// oldest first, with the schedule of its first active ScheduledBackup.
pub fn catalog(
    cluster_name: &str,
    cluster: Option<&Cluster>,
    backups: &[&Backup],
    scheduled: &[&ScheduledBackup],
) -> BackupCatalog {
    let mut reports: Vec<BackupReport> =
        backups.iter().filter(|b| b.spec.cluster.name == cluster_name).map(|b| report(b)).collect();
    reports.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.id.cmp(&b.id)));
    let mut active: Vec<&&ScheduledBackup> =
        scheduled.iter().filter(|s| s.spec.cluster.name == cluster_name && s.spec.suspend != Some(true)).collect();
    active.sort_by_key(|s| s.metadata.name.clone());
    let schedule = active.first();
    let archive_min_wal =
        reports.iter().find(|b| b.status == BackupStatus::Completed).and_then(|b| b.wal_start.clone());
    BackupCatalog {
        schedule: schedule.map(|s| s.spec.schedule.clone()),
        next_scheduled_at: schedule.and_then(|s| time(s.status.next_schedule_time.as_deref())),
        retention: cluster.and_then(|c| c.spec.backup.as_ref()).and_then(|b| b.retention_policy.clone()),
        archive_max_wal: reports.iter().rev().find_map(|b| b.wal_stop.clone()),
        archive_min_wal,
        backups: reports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_backups_become_the_catalog() {
        let backups: Vec<Backup> =
            serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/backups.json")).unwrap();
        let mut other = backups[0].clone();
        other.spec.cluster.name = "another".into();
        let scheduled: ScheduledBackup = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "postgres-cluster-daily"},
            "spec": {"schedule": "0 0 2 * * *", "cluster": {"name": "postgres-cluster"}},
            "status": {"nextScheduleTime": "2026-11-26T02:00:00Z"}
        }))
        .unwrap();
        let cluster: Cluster = serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/cluster.json")).unwrap();
        let refs: Vec<&Backup> = backups.iter().chain([&other]).collect();
        let c = catalog("postgres-cluster", Some(&cluster), &refs, &[&scheduled]);
        assert_eq!(c.backups.len(), 3);
        assert_eq!(c.schedule.as_deref(), Some("0 0 2 * * *"));
        assert_eq!(c.retention.as_deref(), Some("30d"));
        assert_eq!(c.next_scheduled_at.unwrap().to_rfc3339(), "2026-11-26T02:00:00+00:00");
        let failed = &c.backups[2];
        assert_eq!((failed.id.as_str(), failed.status), ("postgres-cluster-20261125103000", BackupStatus::Failed));
        assert!(failed.error.as_deref().unwrap().contains("AccessDenied"), "{:?}", failed.error);
        assert_eq!(c.backups[0].wal_start.as_deref(), Some("000000010000000000000002"));
        assert_eq!(status_of(Some("pending")), BackupStatus::Running);
    }
}

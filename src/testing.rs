//! Builders of observed facts for unit tests across the crate.

use chrono::{DateTime, Utc};

use crate::model::{
    Backend, BackupCatalog, BackupReport, BackupStatus, DatabaseRow, Lsn, MemberReport, MemberSample, ReplicationRow,
    Role, RoleRow,
};

/// A member as the HA manager reports it, running on loopback.
pub fn report(name: &str, role: Role, port: u16) -> MemberReport {
    MemberReport {
        name: name.into(),
        role,
        state: "running".into(),
        host: "127.0.0.1".into(),
        port,
        api_url: None,
        timeline: Some(1),
        manager_lag_bytes: None,
        sync_standby: false,
        pending_restart: false,
    }
}

/// A member's SQL sample: a primary at `lsn`, or a streaming standby that replayed up to `lsn`.
pub fn sample(primary: bool, lsn: u64, replication: Vec<ReplicationRow>) -> MemberSample {
    MemberSample {
        server_version: "16.2".into(),
        in_recovery: !primary,
        current_lsn: primary.then_some(Lsn(lsn)),
        receive_lsn: (!primary).then_some(Lsn(lsn)),
        replay_lsn: (!primary).then_some(Lsn(lsn)),
        replay_paused: false,
        replay_delay_seconds: (!primary).then_some(0.0),
        receiver_status: (!primary).then(|| "streaming".into()),
        connections: 3,
        max_connections: 200,
        database_bytes: 1,
        wal_bytes: 1,
        replication,
    }
}

/// The primary's `pg_stat_replication` row for a streaming standby.
pub fn streaming(name: &str) -> ReplicationRow {
    ReplicationRow {
        application_name: name.into(),
        state: "streaming".into(),
        sync_state: "async".into(),
        sent_lsn: None,
        write_lsn: None,
        flush_lsn: None,
        replay_lsn: None,
        write_lag_seconds: None,
        flush_lag_seconds: None,
        replay_lag_seconds: None,
        slot_name: Some(name.replace('-', "_")),
    }
}

/// An active client backend of `app`, blocked by `blocked_by` (waiting on a lock when blocked).
pub fn backend(pid: i32, blocked_by: Vec<i32>, running: f64) -> Backend {
    Backend {
        pid,
        user: Some("app".into()),
        database: Some("app".into()),
        application: None,
        client: None,
        state: Some("active".into()),
        wait_event_type: (!blocked_by.is_empty()).then(|| "Lock".into()),
        wait_event: None,
        running_seconds: Some(running),
        query: Some(format!("-- {pid}")),
        blocked_by,
    }
}

/// A plain login role.
pub fn role(name: &str) -> RoleRow {
    RoleRow {
        name: name.into(),
        superuser: false,
        login: true,
        create_db: false,
        create_role: false,
        replication: false,
        connection_limit: -1,
        member_of: vec![],
        can_connect: vec![],
    }
}

pub fn database(name: &str, owner: &str) -> DatabaseRow {
    DatabaseRow { name: name.into(), owner: owner.into(), size_bytes: 1, encoding: "UTF8".into(), connection_limit: -1 }
}

/// A full pgBackRest backup that took a minute and ended at `stopped`.
pub fn completed_backup(id: &str, stopped: DateTime<Utc>) -> BackupReport {
    BackupReport {
        id: id.into(),
        kind: "full".into(),
        method: "pgbackrest".into(),
        status: BackupStatus::Completed,
        started_at: Some(stopped - chrono::Duration::minutes(1)),
        stopped_at: Some(stopped),
        size_bytes: None,
        repository_bytes: None,
        wal_start: None,
        wal_stop: None,
        error: None,
    }
}

pub fn backup_catalog(backups: Vec<BackupReport>) -> BackupCatalog {
    BackupCatalog { backups, ..BackupCatalog::default() }
}

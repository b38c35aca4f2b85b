//! Fixed States for view snapshots, built the only way State changes: through `State::apply`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pgdeck::action::{Action, ActionOutcome, ActionRequest, BackupKind};
use pgdeck::model::{
    Backend, BackupCatalog, BackupReport, BackupStatus, DatabaseRow, Lsn, MemberReport, MemberSample, PoolerReport,
    ReplicationRow, Role, RoleRow, StatementRow, VolumeUsage,
};
use pgdeck::observation::{Observation, ObservationKind};
use pgdeck::spec::ThresholdsSpec;
use pgdeck::state::State;

pub const MEMBERS: [&str; 3] = ["postgres-cluster-1", "postgres-cluster-2", "postgres-cluster-3"];

pub fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn apply(state: &mut State, at: i64, source: &str, kind: ObservationKind) {
    state.apply(&Observation::new(t(at), source.into(), kind));
}

fn report(name: &str, role: Role, port: u16) -> MemberReport {
    MemberReport {
        name: name.into(),
        role,
        state: "running".into(),
        host: "127.0.0.1".into(),
        port,
        api_url: Some(format!("http://127.0.0.1:{}", port + 3000)),
        timeline: Some(3),
        manager_lag_bytes: None,
        sync_standby: false,
        pending_restart: false,
    }
}

fn row(name: &str, replay: u64) -> ReplicationRow {
    ReplicationRow {
        application_name: name.into(),
        state: "streaming".into(),
        sync_state: "async".into(),
        sent_lsn: Some(Lsn(0x3_0000_0000)),
        write_lsn: Some(Lsn(0x3_0000_0000)),
        flush_lsn: Some(Lsn(0x3_0000_0000)),
        replay_lsn: Some(Lsn(replay)),
        write_lag_seconds: Some(0.001),
        flush_lag_seconds: Some(0.002),
        replay_lag_seconds: Some(0.004),
        slot_name: Some(name.replace('-', "_")),
    }
}

fn sample(primary: bool, lsn: u64, replication: Vec<ReplicationRow>) -> MemberSample {
    MemberSample {
        server_version: "16.2".into(),
        in_recovery: !primary,
        current_lsn: primary.then_some(Lsn(lsn)),
        receive_lsn: (!primary).then_some(Lsn(lsn)),
        replay_lsn: (!primary).then_some(Lsn(lsn)),
        replay_paused: false,
        replay_delay_seconds: (!primary).then_some(0.0),
        receiver_status: (!primary).then(|| "streaming".into()),
        connections: 12,
        max_connections: 200,
        database_bytes: 2_500_000_000,
        wal_bytes: 320_000_000,
        replication,
    }
}

fn backup(id: &str, kind: &str, status: BackupStatus, started: DateTime<Utc>, size: u64) -> BackupReport {
    BackupReport {
        id: id.into(),
        kind: kind.into(),
        method: "pgbackrest".into(),
        status,
        started_at: Some(started),
        stopped_at: Some(started + Duration::seconds(95)),
        size_bytes: Some(size),
        repository_bytes: Some(size / 4),
        wal_start: Some("00000003000000000000001A".into()),
        wal_stop: Some("00000003000000000000001B".into()),
        error: (status == BackupStatus::Failed).then(|| "archive timeout".into()),
    }
}

/// The reference cluster, healthy: cluster-1 leads; both replicas stream and are caught up.
pub fn healthy() -> State {
    let mut s = State::new(ThresholdsSpec::default());
    let configured = MEMBERS.iter().map(|m| (*m).to_owned()).collect();
    apply(
        &mut s,
        0,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "postgres-cluster".into(),
            platform: "patroni".into(),
            configured_members: configured,
        },
    );
    apply(
        &mut s,
        0,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![
                report(MEMBERS[0], Role::Primary, 5432),
                report(MEMBERS[1], Role::Replica, 5433),
                report(MEMBERS[2], Role::Replica, 5434),
            ],
        },
    );
    apply(&mut s, 0, "patroni", ObservationKind::MaintenanceModeObserved { paused: false });
    let lsn = 0x3_0000_0000;
    for step in 0..20 {
        let at = step;
        let replay = lsn - u64::try_from((step % 5) * 4096).unwrap();
        apply(
            &mut s,
            at,
            "sql:postgres-cluster-1",
            ObservationKind::MemberSampled {
                member: MEMBERS[0].into(),
                sample: sample(true, lsn, vec![row(MEMBERS[1], replay), row(MEMBERS[2], lsn)]),
            },
        );
        apply(
            &mut s,
            at,
            "sql:postgres-cluster-2",
            ObservationKind::MemberSampled { member: MEMBERS[1].into(), sample: sample(false, replay, vec![]) },
        );
        apply(
            &mut s,
            at,
            "sql:postgres-cluster-3",
            ObservationKind::MemberSampled { member: MEMBERS[2].into(), sample: sample(false, lsn, vec![]) },
        );
    }
    observe_volumes_pooler_backups(&mut s);
    observe_workload_and_catalog(&mut s);
    apply(&mut s, 20, "clock", ObservationKind::Tick);
    s
}

/// Volumes, the pooler on cluster-1, three nightly backups and one manual backup action.
fn observe_volumes_pooler_backups(s: &mut State) {
    // An hour ago: cluster-3 has since grown by 500 MB.
    for (i, m) in MEMBERS.iter().enumerate() {
        let used = 12_000_000_000 + u64::try_from(i).unwrap() * 1_000_000_000 - if i == 2 { 500_000_000 } else { 0 };
        apply(
            s,
            19 - 3600,
            &format!("volume:{m}"),
            ObservationKind::VolumeSampled {
                member: (*m).into(),
                usage: VolumeUsage { used_bytes: used, size_bytes: 53_687_091_200 },
            },
        );
    }
    for (i, m) in MEMBERS.iter().enumerate() {
        let used = 12_000_000_000 + u64::try_from(i).unwrap() * 1_000_000_000;
        apply(
            s,
            19,
            &format!("volume:{m}"),
            ObservationKind::VolumeSampled {
                member: (*m).into(),
                usage: VolumeUsage { used_bytes: used, size_bytes: 53_687_091_200 },
            },
        );
    }
    apply(
        s,
        19,
        "pooler",
        ObservationKind::PoolerObserved {
            pooler: PoolerReport {
                name: "postgres-cluster-pooler-rw".into(),
                listen: "127.0.0.1:6432".into(),
                pool_mode: "transaction".into(),
                target_host: Some("127.0.0.1".into()),
                target_port: Some(5432),
                client_connections: 87,
                server_connections: 25,
            },
        },
    );
    let today = Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap();
    apply(
        s,
        15,
        "pgbackrest",
        ObservationKind::BackupsListed {
            catalog: BackupCatalog {
                backups: vec![
                    backup(
                        "20261123-020000F",
                        "full",
                        BackupStatus::Completed,
                        today - Duration::days(2),
                        2_400_000_000,
                    ),
                    backup(
                        "20261124-020000F",
                        "full",
                        BackupStatus::Completed,
                        today - Duration::days(1),
                        2_450_000_000,
                    ),
                    backup("20261125-020000F", "full", BackupStatus::Completed, today, 2_500_000_000),
                ],
                schedule: Some("0 0 2 * * *".into()),
                retention: Some("30d".into()),
                next_scheduled_at: Some(today + Duration::days(1)),
                archive_min_wal: Some("000000010000000000000001".into()),
                archive_max_wal: Some("00000003000000000000001F".into()),
            },
        },
    );
    let request = ActionRequest {
        id: 1,
        action: Action::Backup { kind: BackupKind::Full },
        requested_at: t(5),
        requested_by: "sre".into(),
        confirmation: None,
    };
    apply(s, 5, "dispatcher", ObservationKind::ActionRequested { request: request.clone() });
    apply(
        s,
        9,
        "dispatcher",
        ObservationKind::ActionFinished {
            request,
            outcome: ActionOutcome::Succeeded { detail: "full backup completed".into() },
        },
    );
}

fn statement(queryid: i64, query: &str, calls: i64, total_exec_ms: f64, hit: i64, read: i64) -> StatementRow {
    StatementRow {
        queryid,
        user: Some("app".into()),
        database: Some("app".into()),
        query: query.into(),
        calls,
        total_exec_ms,
        rows: calls,
        shared_blks_hit: hit,
        shared_blks_read: read,
    }
}

fn backend(pid: i32, state: &str, running: f64, blocked_by: Vec<i32>, query: &str) -> Backend {
    Backend {
        pid,
        user: Some("app".into()),
        database: Some("app".into()),
        application: Some("orders-api".into()),
        client: Some("10.0.3.17/32".into()),
        state: Some(state.into()),
        wait_event_type: (!blocked_by.is_empty()).then(|| "Lock".into()),
        wait_event: (!blocked_by.is_empty()).then(|| "transactionid".into()),
        running_seconds: Some(running),
        query: Some(query.into()),
        blocked_by,
    }
}

/// On the leader: two statement samples ten seconds apart (so rates exist), a lock chain
/// (4711 idle in transaction blocks 4712, which blocks 4713), and the catalog.
fn observe_workload_and_catalog(s: &mut State) {
    let before = vec![
        statement(101, "UPDATE orders SET status = $1 WHERE id = $2", 50_000, 120_000.0, 900_000, 1_000),
        statement(
            102,
            "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2",
            400_000,
            90_000.0,
            5_000_000,
            200_000,
        ),
        statement(103, "INSERT INTO audit_log (at, who, what) VALUES ($1, $2, $3)", 80_000, 8_000.0, 160_000, 0),
    ];
    let after = vec![
        statement(101, "UPDATE orders SET status = $1 WHERE id = $2", 50_400, 121_600.0, 907_000, 1_050),
        statement(
            102,
            "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2",
            403_000,
            90_450.0,
            5_030_000,
            205_000,
        ),
        statement(103, "INSERT INTO audit_log (at, who, what) VALUES ($1, $2, $3)", 80_900, 8_090.0, 161_800, 0),
    ];
    let backends = vec![
        backend(4711, "idle in transaction", 312.4, vec![], "UPDATE orders SET status = 'shipped' WHERE id = 42"),
        backend(4712, "active", 95.2, vec![4711], "UPDATE orders SET status = 'cancelled' WHERE id = 42"),
        backend(4713, "active", 12.0, vec![4712], "DELETE FROM orders WHERE id = 42"),
        backend(
            4800,
            "active",
            0.3,
            vec![],
            "SELECT * FROM orders WHERE customer_id = 7 ORDER BY created_at DESC LIMIT 20",
        ),
        backend(4801, "idle", 41.0, vec![], "COMMIT"),
    ];
    for (at, statements) in [(8, before), (18, after)] {
        apply(
            s,
            at,
            "sql:postgres-cluster-1",
            ObservationKind::WorkloadSampled { member: MEMBERS[0].into(), backends: backends.clone(), statements },
        );
    }
    let database = |name: &str, owner: &str, size_bytes: u64| DatabaseRow {
        name: name.into(),
        owner: owner.into(),
        size_bytes,
        encoding: "UTF8".into(),
        connection_limit: -1,
    };
    let role = |name: &str, superuser: bool, login: bool, member_of: &[&str], can_connect: &[&str]| RoleRow {
        name: name.into(),
        superuser,
        login,
        create_db: superuser,
        create_role: superuser,
        replication: superuser || name == "replicator",
        connection_limit: -1,
        member_of: member_of.iter().map(|m| (*m).to_owned()).collect(),
        can_connect: can_connect.iter().map(|m| (*m).to_owned()).collect(),
    };
    apply(
        s,
        18,
        "sql:postgres-cluster-1",
        ObservationKind::CatalogListed {
            member: MEMBERS[0].into(),
            databases: vec![
                database("app", "app", 2_100_000_000),
                database("keycloak", "keycloak", 350_000_000),
                database("postgres", "postgres", 7_600_000),
            ],
            roles: vec![
                role("app", false, true, &[], &["app", "postgres"]),
                role("keycloak", false, true, &["readers"], &["keycloak", "postgres"]),
                role("postgres", true, true, &[], &["app", "keycloak", "postgres"]),
                role("readers", false, false, &[], &["app"]),
                role("replicator", false, true, &[], &["postgres"]),
            ],
        },
    );
}

/// After the leader died: cluster-1 is gone, cluster-2 leads, cluster-3 lags and the pooler
/// still points at the old leader.
pub fn degraded() -> State {
    let mut s = healthy();
    apply(
        &mut s,
        40,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![report(MEMBERS[1], Role::Primary, 5433), report(MEMBERS[2], Role::Replica, 5434)],
        },
    );
    apply(
        &mut s,
        40,
        "sql:postgres-cluster-1",
        ObservationKind::SourceFailed {
            member: Some(MEMBERS[0].into()),
            error: "127.0.0.1:5432 refused the connection".into(),
            failure: pgdeck::observation::FailureKind::Refused,
        },
    );
    let lsn = 0x3_1000_0000;
    apply(
        &mut s,
        40,
        "sql:postgres-cluster-2",
        ObservationKind::MemberSampled {
            member: MEMBERS[1].into(),
            sample: sample(true, lsn, vec![row(MEMBERS[2], lsn - 40_000_000)]),
        },
    );
    let mut lagging = sample(false, lsn - 40_000_000, vec![]);
    lagging.replay_delay_seconds = Some(48.0);
    apply(
        &mut s,
        40,
        "sql:postgres-cluster-3",
        ObservationKind::MemberSampled { member: MEMBERS[2].into(), sample: lagging },
    );
    apply(&mut s, 41, "clock", ObservationKind::Tick);
    s
}

/// The leader's Patroni and postmaster were killed 3 s ago: Patroni still lists cluster-1 as
/// the leader, `running`, while its SQL refuses and both replicas have received WAL past its
/// last known position.
pub fn leader_unreachable() -> State {
    let mut s = healthy();
    let leader_lsn = s.members[MEMBERS[0]].sample.as_ref().and_then(|x| x.value.current_lsn).map_or(0, |l| l.0);
    for at in [30, 31, 32] {
        apply(
            &mut s,
            at,
            "sql:postgres-cluster-1",
            ObservationKind::SourceFailed {
                member: Some(MEMBERS[0].into()),
                error: "cannot connect to 127.0.0.1:5432: Connection refused (os error 111)".into(),
                failure: pgdeck::observation::FailureKind::Refused,
            },
        );
    }
    for (member, past) in [(MEMBERS[1], 24_576), (MEMBERS[2], 16_384)] {
        let mut ahead = sample(false, leader_lsn + past, vec![]);
        ahead.receiver_status = Some("waiting".into());
        apply(
            &mut s,
            32,
            &format!("sql:{member}"),
            ObservationKind::MemberSampled { member: member.into(), sample: ahead },
        );
    }
    apply(&mut s, 33, "clock", ObservationKind::Tick);
    s
}

/// Nothing observed yet: the first frame, before any source answered.
pub fn empty() -> State {
    State::new(ThresholdsSpec::default())
}

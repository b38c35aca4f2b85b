//! `State::apply` and what is derived from it, without any I/O.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::model::{BackupCatalog, BackupReport, BackupStatus, Lsn, PoolerReport, Role};
use crate::observation::{Observation, ObservationKind};
use crate::spec::ThresholdsSpec;
use crate::state::{EventKind, State};
use crate::testing::{backend, report, sample, streaming};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn obs(at: i64, source: &str, kind: ObservationKind) -> Observation {
    Observation::new(t(at), source.into(), kind)
}

/// A healthy three-member cluster: m1 primary at LSN 1000, m2 and m3 replicas caught up.
fn healthy() -> State {
    let mut s = State::new(ThresholdsSpec::default());
    s.apply(&obs(
        0,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: vec!["m1".into(), "m2".into(), "m3".into()],
        },
    ));
    s.apply(&obs(
        0,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![
                report("m1", Role::Primary, 5001),
                report("m2", Role::Replica, 5002),
                report("m3", Role::Replica, 5003),
            ],
        },
    ));
    let primary = sample(true, 1000, vec![streaming("m2"), streaming("m3")]);
    s.apply(&obs(0, "sql:m1", ObservationKind::MemberSampled { member: "m1".into(), sample: primary }));
    for m in ["m2", "m3"] {
        s.apply(&obs(
            0,
            &format!("sql:{m}"),
            ObservationKind::MemberSampled { member: m.into(), sample: sample(false, 1000, vec![]) },
        ));
    }
    s
}

#[test]
fn healthy_cluster_has_a_leader_no_lag_and_no_findings() {
    let s = healthy();
    assert_eq!(s.leader_name(), Some("m1"));
    let views = s.member_views();
    assert_eq!(views.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["m1", "m2", "m3"]);
    assert!(views.iter().all(|v| v.lag_bytes == Some(0)));
    assert_eq!(views[1].state, "streaming");
    assert_eq!(views[1].slot.as_deref(), Some("m2"));
    assert_eq!(s.findings(), vec![]);
}

#[test]
fn lag_is_leader_current_minus_replica_replayed() {
    let mut s = healthy();
    let mut behind = sample(false, 400, vec![]);
    behind.receive_lsn = Some(Lsn(900));
    behind.replay_delay_seconds = Some(42.5);
    s.apply(&obs(1, "sql:m2", ObservationKind::MemberSampled { member: "m2".into(), sample: behind }));
    let m2 = &s.member_views()[1];
    assert_eq!(m2.lag_bytes, Some(600));
    assert_eq!(m2.lag_seconds, Some(42.5));
    let lag = s.findings().into_iter().find(|f| f.code == "replication_lag").expect("42.5s is over the 30s limit");
    assert_eq!(lag.subject, "m2");
}

#[test]
fn a_member_missing_from_the_list_and_unreachable_is_down() {
    let mut s = healthy();
    s.apply(&obs(
        5,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![report("m1", Role::Primary, 5001), report("m2", Role::Replica, 5002)],
        },
    ));
    s.apply(&obs(5, "sql:m3", ObservationKind::failed(Some("m3".into()), "refused".into())));
    let m3 = &s.member_views()[2];
    assert_eq!((m3.role, m3.state.as_str(), m3.error.as_deref()), (Role::Unknown, "down", Some("refused")));
    assert!(s.findings().iter().any(|f| f.code == "member_down" && f.subject == "m3"));
    assert!(s.events.iter().any(|e| e.kind == EventKind::MemberLeft { member: "m3".into() }));
}

#[test]
fn a_source_success_clears_its_earlier_failure() {
    let mut s = healthy();
    s.apply(&obs(1, "sql:m2", ObservationKind::failed(Some("m2".into()), "timeout".into())));
    assert_eq!(s.member_views()[1].error.as_deref(), Some("timeout"));
    s.apply(&obs(
        2,
        "sql:m2",
        ObservationKind::MemberSampled { member: "m2".into(), sample: sample(false, 1000, vec![]) },
    ));
    assert_eq!(s.member_views()[1].error, None);
}

#[test]
fn leader_change_is_an_event() {
    let mut s = healthy();
    s.apply(&obs(
        9,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![
                report("m1", Role::Replica, 5001),
                report("m2", Role::Primary, 5002),
                report("m3", Role::Replica, 5003),
            ],
        },
    ));
    assert_eq!(s.leader_name(), Some("m2"));
    assert!(
        s.events
            .iter()
            .any(|e| e.at == t(9)
                && e.kind == EventKind::LeaderChanged { from: Some("m1".into()), to: Some("m2".into()) })
    );
}

#[test]
fn facts_older_than_the_stale_limit_mark_the_member_stale() {
    let mut s = healthy();
    s.apply(&obs(30, "clock", ObservationKind::Tick));
    let views = s.member_views();
    assert_eq!(views[0].stale_seconds, Some(30));
    assert!(s.findings().iter().any(|f| f.code == "member_stale"));
}

#[test]
fn no_primary_is_critical() {
    let mut s = healthy();
    s.apply(&obs(
        3,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![report("m2", Role::Replica, 5002), report("m3", Role::Replica, 5003)],
        },
    ));
    assert_eq!(s.leader_name(), None);
    let first = &s.findings()[0];
    assert_eq!(first.code, "no_leader");
}

#[test]
fn pooler_pointing_away_from_the_leader_is_a_finding() {
    let mut s = healthy();
    let pooler = PoolerReport {
        name: "p".into(),
        listen: "127.0.0.1:6432".into(),
        pool_mode: "transaction".into(),
        target_host: Some("127.0.0.1".into()),
        target_port: Some(5002),
        client_connections: 0,
        server_connections: 0,
    };
    s.apply(&obs(1, "pooler", ObservationKind::PoolerObserved { pooler: pooler.clone() }));
    assert!(s.findings().iter().any(|f| f.code == "pooler_not_on_leader"));
    s.apply(&obs(
        2,
        "pooler",
        ObservationKind::PoolerObserved { pooler: PoolerReport { target_port: Some(5001), ..pooler } },
    ));
    assert!(s.findings().is_empty());
    s.apply(&obs(3, "pooler", ObservationKind::failed(None, "connection refused".into())));
    assert!(s.findings().iter().any(|f| f.code == "pooler_down"));
}

fn backup(id: &str, status: BackupStatus, started: DateTime<Utc>) -> BackupReport {
    BackupReport {
        id: id.into(),
        kind: "full".into(),
        method: "pgbackrest".into(),
        status,
        started_at: Some(started),
        stopped_at: Some(started + Duration::seconds(5)),
        size_bytes: Some(1),
        repository_bytes: Some(1),
        wal_start: None,
        wal_stop: None,
        error: None,
    }
}

#[test]
fn a_backup_older_than_its_schedule_is_overdue() {
    let mut s = healthy();
    let catalog = |backups| BackupCatalog {
        backups,
        schedule: Some("0 0 2 * * *".into()),
        retention: Some("30d".into()),
        next_scheduled_at: None,
        archive_min_wal: None,
        archive_max_wal: None,
    };
    // Taken 01:00 on the 24th; the next was due 02:00 on the 24th; now is 12:00 on the 25th.
    let yesterday = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap();
    s.apply(&obs(
        0,
        "pgbackrest",
        ObservationKind::BackupsListed { catalog: catalog(vec![backup("a", BackupStatus::Completed, yesterday)]) },
    ));
    assert!(s.findings().iter().any(|f| f.code == "backup_overdue"));
    let this_morning = Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap();
    s.apply(&obs(
        1,
        "pgbackrest",
        ObservationKind::BackupsListed {
            catalog: catalog(vec![
                backup("a", BackupStatus::Completed, yesterday),
                backup("b", BackupStatus::Completed, this_morning),
            ]),
        },
    ));
    assert!(s.findings().is_empty(), "{:?}", s.findings());
    assert!(s.events.iter().any(|e| matches!(&e.kind, EventKind::BackupAppeared { id, .. } if id == "b")));
    s.apply(&obs(2, "pgbackrest", ObservationKind::BackupsListed { catalog: catalog(vec![]) }));
    assert_eq!(s.findings()[0].code, "no_backup");
}

#[test]
fn apply_never_moves_now_backwards() {
    let mut s = healthy();
    s.apply(&obs(10, "clock", ObservationKind::Tick));
    s.apply(&obs(
        5,
        "sql:m2",
        ObservationKind::MemberSampled { member: "m2".into(), sample: sample(false, 1000, vec![]) },
    ));
    assert_eq!(s.now, Some(t(10)));
}

#[test]
fn maintenance_mode_is_a_finding_and_its_change_an_event() {
    let mut s = healthy();
    s.apply(&obs(1, "patroni", ObservationKind::MaintenanceModeObserved { paused: false }));
    assert!(s.findings().is_empty());
    s.apply(&obs(2, "patroni", ObservationKind::MaintenanceModeObserved { paused: true }));
    assert_eq!(s.findings()[0].code, "maintenance_mode");
    assert!(s.events.iter().any(|e| e.kind == EventKind::MaintenanceModeChanged { paused: true }));
}

#[test]
fn an_unhealthy_operator_phase_is_a_finding_and_its_changes_events() {
    let phase = |name: &str| crate::model::ClusterPhase {
        phase: name.into(),
        reason: None,
        instances: Some(3),
        ready_instances: Some(3),
        conditions: Vec::new(),
    };
    let mut s = healthy();
    s.apply(&obs(1, "cnpg", ObservationKind::ClusterPhaseObserved { phase: phase("Cluster in healthy state") }));
    assert!(s.findings().is_empty());
    s.apply(&obs(2, "cnpg", ObservationKind::ClusterPhaseObserved { phase: phase("Failing over") }));
    let finding = s.findings().into_iter().find(|f| f.code == "cluster_phase").unwrap();
    assert!(finding.message.contains("`Failing over`"), "{}", finding.message);
    s.apply(&obs(3, "cnpg", ObservationKind::ClusterPhaseObserved { phase: phase("Failing over") }));
    let changes: Vec<&EventKind> =
        s.events.iter().map(|e| &e.kind).filter(|k| matches!(k, EventKind::ClusterPhaseChanged { .. })).collect();
    assert_eq!(changes.len(), 1, "one change, not one per observation");
}

#[test]
fn platform_events_are_logged_once_per_count_in_time_order() {
    let event = |id: &str, count: u32, at: i64| crate::model::PlatformEvent {
        id: id.into(),
        count,
        at: t(at),
        warning: true,
        reason: "Unhealthy".into(),
        object: "Pod/p-1".into(),
        message: String::new(),
    };
    let mut s = healthy();
    let logged = |s: &State| -> Vec<(String, u32)> {
        s.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::PlatformEvent { event } => Some((event.id.clone(), event.count)),
                _ => None,
            })
            .collect()
    };
    let before = s.events.len();
    let round = vec![event("old", 1, -100), event("new", 1, 5)];
    s.apply(&obs(10, "kube-events", ObservationKind::PlatformEventsObserved { events: round.clone() }));
    s.apply(&obs(11, "kube-events", ObservationKind::PlatformEventsObserved { events: round }));
    assert_eq!(logged(&s), [("old".to_owned(), 1), ("new".to_owned(), 1)]);
    assert_eq!(s.events.front().map(|e| e.at), Some(t(-100)), "an old event goes before what was learnt since");
    assert_eq!(s.events.len(), before + 2);
    s.apply(&obs(12, "kube-events", ObservationKind::PlatformEventsObserved { events: vec![event("new", 2, 12)] }));
    assert_eq!(logged(&s).last(), Some(&("new".to_owned(), 2)), "a repeat is logged again");
    let times: Vec<_> = s.events.iter().map(|e| e.at).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn replica_lag_is_kept_as_history() {
    let mut s = healthy();
    for (i, lsn) in [900, 950, 1000].into_iter().enumerate() {
        let at = i64::try_from(i).unwrap() + 1;
        s.apply(&obs(
            at,
            "sql:m2",
            ObservationKind::MemberSampled { member: "m2".into(), sample: sample(false, lsn, vec![]) },
        ));
    }
    assert_eq!(s.lag_history["m2"].iter().copied().collect::<Vec<_>>(), [0, 100, 50, 0]);
    assert!(!s.lag_history.contains_key("m1"), "the primary has no lag history");
}

fn statement(queryid: i64, calls: i64, total_exec_ms: f64, hit: i64, read: i64) -> crate::model::StatementRow {
    crate::model::StatementRow {
        queryid,
        user: Some("app".into()),
        database: Some("app".into()),
        query: format!("SELECT {queryid}"),
        calls,
        total_exec_ms,
        rows: calls * 2,
        shared_blks_hit: hit,
        shared_blks_read: read,
    }
}

#[test]
fn statements_are_rates_over_the_interval_between_samples() {
    let mut s = healthy();
    let workload = |statements| ObservationKind::WorkloadSampled { member: "m1".into(), backends: vec![], statements };
    s.apply(&obs(10, "sql:m1", workload(vec![statement(1, 100, 1000.0, 90, 10), statement(2, 5, 50.0, 0, 0)])));
    assert!(s.statement_rates("m1").iter().all(|r| r.rates.is_none()), "one sample has no rate yet");
    // Two seconds later: 1 ran 40 more times for 800 ms; 2's counters were reset.
    s.apply(&obs(12, "sql:m1", workload(vec![statement(1, 140, 1800.0, 170, 30), statement(2, 1, 4.0, 0, 0)])));
    let rates = s.statement_rates("m1");
    let one = rates[0].rates.unwrap();
    assert_eq!((one.calls_per_second, one.exec_ms_per_second, one.mean_ms), (20.0, 400.0, Some(20.0)));
    assert!((one.rows_per_second - 40.0).abs() < 1e-9);
    assert_eq!(one.hit_ratio, Some(0.8));
    let two = rates[1].rates.unwrap();
    assert_eq!((two.calls_per_second, two.hit_ratio), (0.5, None));
}

#[test]
fn blocking_tree_puts_blockers_first_and_blocked_beneath() {
    let backends = vec![
        backend(10, vec![], 99.0),
        backend(20, vec![], 1.0),
        backend(21, vec![20], 5.0),
        backend(22, vec![21], 4.0),
        backend(30, vec![31], 1.0),
        backend(31, vec![30], 1.0),
    ];
    let tree: Vec<(usize, i32)> = crate::state::blocking_tree(&backends).into_iter().map(|(d, b)| (d, b.pid)).collect();
    assert_eq!(tree, [(0, 20), (1, 21), (2, 22), (0, 10), (0, 30), (0, 31)]);
}

#[test]
fn findings_raised_and_cleared_are_events() {
    let mut s = healthy();
    let fail = ObservationKind::failed(None, "connection refused".into());
    s.apply(&obs(1, "pooler", fail));
    s.apply(&obs(2, "clock", ObservationKind::Tick));
    let raised: Vec<_> = s
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::FindingRaised { finding } if finding.code == "pooler_down"))
        .collect();
    assert_eq!(raised.len(), 1, "raised once, on the clock");
    assert_eq!(raised[0].at, t(2));
    let pooler = PoolerReport {
        name: "p".into(),
        listen: "l".into(),
        pool_mode: "transaction".into(),
        target_host: None,
        target_port: Some(5001),
        client_connections: 0,
        server_connections: 0,
    };
    s.apply(&obs(3, "pooler", ObservationKind::PoolerObserved { pooler }));
    s.apply(&obs(4, "clock", ObservationKind::Tick));
    assert!(s
        .events
        .iter()
        .any(|e| e.at == t(4)
            && matches!(&e.kind, EventKind::FindingCleared { finding } if finding.code == "pooler_down")));
}

#[test]
fn a_volume_growing_fast_is_projected_full_and_raised() {
    let mut s = healthy();
    let usage = |used| crate::model::VolumeUsage { used_bytes: used, size_bytes: 100_000 };
    s.apply(&obs(0, "volume:m2", ObservationKind::VolumeSampled { member: "m2".into(), usage: usage(10_000) }));
    s.apply(&obs(30, "volume:m2", ObservationKind::VolumeSampled { member: "m2".into(), usage: usage(10_500) }));
    assert_eq!(s.volume_growth("m2"), None, "half a minute is no trend");
    s.apply(&obs(3600, "volume:m2", ObservationKind::VolumeSampled { member: "m2".into(), usage: usage(20_000) }));
    let growth = s.volume_growth("m2").unwrap();
    assert!((growth.bytes_per_hour - 10_000.0).abs() < 1e-6);
    assert!((growth.hours_until_full.unwrap() - 8.0).abs() < 1e-6);
    assert!(s.findings().iter().any(|f| f.code == "volume_filling" && f.subject == "m2"));
}

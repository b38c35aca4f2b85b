//! The health findings through `State::apply`: every threshold just under, at and over its
//! boundary, the evidence they carry, and their Events.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::health::{
    Blocker, CheckpointCounters, ConnectionFacts, HealthSample, PreparedFact, SessionFact, SlotFact, XidAge,
};
use crate::model::{Lsn, Role, VolumeUsage};
use crate::observation::{Observation, ObservationKind, SourceId};
use crate::spec::ThresholdsSpec;
use crate::state::{EventKind, Finding, Severity, State};
use crate::testing::{report, sample, streaming};

const GIB: u64 = 1024 * 1024 * 1024;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn cluster(thresholds: ThresholdsSpec) -> State {
    let mut s = State::new(thresholds);
    let members = vec!["m1".to_owned(), "m2".to_owned()];
    s.apply(&Observation::new(
        t(0),
        "patroni".into(),
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: members,
        },
    ));
    let reports = vec![report("m1", Role::Primary, 5001), report("m2", Role::Replica, 5002)];
    s.apply(&Observation::new(t(0), "patroni".into(), ObservationKind::MembersListed { members: reports }));
    let primary = sample(true, 1000, vec![streaming("m2")]);
    s.apply(&Observation::new(
        t(0),
        "sql:m1".into(),
        ObservationKind::MemberSampled { member: "m1".into(), sample: primary },
    ));
    let replica = sample(false, 1000, vec![]);
    s.apply(&Observation::new(
        t(0),
        "sql:m2".into(),
        ObservationKind::MemberSampled { member: "m2".into(), sample: replica },
    ));
    s
}

/// A quiet primary's health: archiving fine, one active slot, nothing waiting.
fn quiet() -> HealthSample {
    let mut h = HealthSample::default();
    h.archiver.mode = "on".into();
    h.archiver.archived_count = 10;
    h.archiver.last_archived_wal = Some("000000010000000000000009".into());
    h.archiver.last_archived_at = Some(t(-60));
    h.slots = vec![slot("m2", true, 1024, "reserved")];
    h.connections = ConnectionFacts { client_backends: 5, max_connections: 100, superuser_reserved: 0, reserved: 0 };
    h.xid.databases = vec![XidAge { name: "app".into(), age: 1000 }];
    h.xid.autovacuum_max_workers = 3;
    h.checkpoints = Some(CheckpointCounters { timed: 10, requested: 1 });
    h
}

fn slot(name: &str, active: bool, retained: u64, status: &str) -> SlotFact {
    SlotFact {
        name: name.into(),
        slot_type: "physical".into(),
        active,
        wal_status: Some(status.into()),
        safe_wal_size: None,
        restart_lsn: Some(Lsn(0x300_0000)),
        retained_bytes: Some(retained),
    }
}

fn session(pid: i32, state: &str, state_seconds: f64, xact_seconds: f64) -> SessionFact {
    SessionFact {
        pid,
        user: Some("app".into()),
        database: Some("app".into()),
        application: Some("psql".into()),
        state: Some(state.into()),
        xact_seconds: Some(xact_seconds),
        state_seconds: Some(state_seconds),
    }
}

fn health(s: &mut State, at: i64, member: &str, h: HealthSample) {
    let kind = ObservationKind::HealthSampled { member: member.into(), health: Box::new(h) };
    s.apply(&Observation::new(t(at), SourceId::sql(member), kind));
}

/// The findings of `code`, after the primary reports `h` at t=1.
fn judged(thresholds: ThresholdsSpec, code: &str, h: HealthSample) -> Vec<Finding> {
    let mut s = cluster(thresholds);
    health(&mut s, 1, "m1", h);
    s.findings().into_iter().filter(|f| f.code == code).collect()
}

fn severity(code: &str, h: HealthSample) -> Option<Severity> {
    let found = judged(ThresholdsSpec::default(), code, h);
    assert!(found.len() <= 1, "{found:?}");
    found.first().map(|f| f.severity)
}

#[test]
fn a_quiet_member_has_no_health_findings() {
    let mut s = cluster(ThresholdsSpec::default());
    health(&mut s, 1, "m1", quiet());
    let mut replica = quiet();
    replica.in_recovery = true;
    health(&mut s, 1, "m2", replica);
    assert_eq!(s.findings(), vec![]);
}

#[test]
fn archiving_warns_from_one_ready_segment_while_failing_and_is_critical_past_five_minutes() {
    let failing = |ready: u32, oldest: f64| {
        let mut h = quiet();
        h.archiver.failed_count = 3;
        h.archiver.last_failed_wal = Some("00000001000000000000000A".into());
        h.archiver.last_failed_at = Some(t(-5));
        h.archiver.ready_count = ready;
        h.archiver.oldest_ready_wal = (ready > 0).then(|| "00000001000000000000000A".into());
        h.archiver.oldest_ready_seconds = (ready > 0).then_some(oldest);
        h
    };
    assert_eq!(severity("archiving_failing", failing(0, 0.0)), None, "no segment waits");
    assert_eq!(severity("archiving_failing", failing(1, 10.0)), Some(Severity::Warning));
    assert_eq!(severity("archiving_failing", failing(1, 300.0)), Some(Severity::Warning), "at 5 min: not older");
    assert_eq!(severity("archiving_failing", failing(1, 300.5)), Some(Severity::Critical));
    // Succeeding again: the last success is newer than the last failure.
    let mut recovered = failing(1, 10.0);
    recovered.archiver.last_archived_at = Some(t(0));
    assert_eq!(severity("archiving_failing", recovered.clone()), None);
    // A segment stuck that long is critical even with no failure recorded (a hung archive_command).
    recovered.archiver.oldest_ready_seconds = Some(301.0);
    assert_eq!(severity("archiving_failing", recovered), Some(Severity::Critical));
    let mut off = failing(3, 900.0);
    off.archiver.mode = "off".into();
    assert_eq!(severity("archiving_failing", off), None);
    let two = ThresholdsSpec { archive_ready_warn_count: 2, ..ThresholdsSpec::default() };
    assert!(judged(two.clone(), "archiving_failing", failing(1, 10.0)).is_empty());
    assert_eq!(judged(two, "archiving_failing", failing(2, 10.0)).len(), 1);
}

#[test]
fn archiving_evidence_names_the_archivers_columns_and_the_rise_of_failures() {
    let mut s = cluster(ThresholdsSpec::default());
    let mut h = quiet();
    h.archiver.failed_count = 1;
    h.archiver.last_failed_wal = Some("00000001000000000000000A".into());
    h.archiver.last_failed_at = Some(t(-5));
    h.archiver.ready_count = 1;
    h.archiver.oldest_ready_wal = Some("00000001000000000000000A".into());
    h.archiver.oldest_ready_seconds = Some(6.0);
    health(&mut s, 1, "m1", h.clone());
    h.archiver.failed_count = 3;
    h.archiver.ready_count = 2;
    h.archiver.oldest_ready_seconds = Some(366.0);
    health(&mut s, 61, "m1", h);
    let f = s.findings().into_iter().find(|f| f.code == "archiving_failing").unwrap();
    assert_eq!((f.severity, f.subject.as_str(), f.member.as_deref()), (Severity::Critical, "m1", Some("m1")));
    assert_eq!(f.message, "WAL archiving is failing on m1: 2 segments waiting, the oldest 6m 6s");
    assert_eq!(
        f.evidence,
        "pg_stat_archiver.failed_count 3 (+2 in 1m 0s), last_failed_wal 00000001000000000000000A at 11:59:55, \
         last_archived_wal 000000010000000000000009 at 11:59:00, 2 .ready in archive_status (oldest \
         00000001000000000000000A, 6m 6s)"
    );
}

#[test]
fn a_slot_warns_at_1_gib_retained_or_extended_and_is_critical_when_unreserved_or_lost() {
    let with = |s: SlotFact| {
        let mut h = quiet();
        h.slots.push(s);
        h
    };
    assert_eq!(severity("slot_retaining_wal", with(slot("x", false, GIB - 1, "reserved"))), None);
    assert_eq!(severity("slot_retaining_wal", with(slot("x", false, GIB, "reserved"))), Some(Severity::Warning));
    assert_eq!(severity("slot_retaining_wal", with(slot("x", false, GIB + 1, "reserved"))), Some(Severity::Warning));
    assert_eq!(severity("slot_retaining_wal", with(slot("x", true, 10, "extended"))), Some(Severity::Warning));
    assert_eq!(severity("slot_retaining_wal", with(slot("x", true, 10, "unreserved"))), Some(Severity::Critical));
    assert_eq!(severity("slot_retaining_wal", with(slot("x", false, 10, "lost"))), Some(Severity::Critical));
    let found = judged(ThresholdsSpec::default(), "slot_retaining_wal", with(slot("x", false, GIB, "reserved")));
    let f = &found[0];
    assert_eq!((f.subject.as_str(), f.member.as_deref()), ("slot x", Some("m1")));
    assert_eq!(f.message, "inactive slot x on m1 retains 1.0 GiB of WAL");
    assert_eq!(
        f.evidence,
        "pg_replication_slots: physical slot x, active false, wal_status reserved, safe_wal_size unlimited, \
         restart_lsn 0/3000000; pg_current_wal_lsn() - restart_lsn = 1.0 GiB"
    );
    // A standby's slots are not judged: Patroni keeps copies there that nothing streams from.
    let mut standby = with(slot("x", false, 5 * GIB, "lost"));
    standby.in_recovery = true;
    assert_eq!(severity("slot_retaining_wal", standby), None);
}

#[test]
fn a_slot_whose_wal_would_fill_the_volume_within_an_hour_is_critical() {
    // 10 GiB left on the volume; the slot grows by `growth` bytes over 100 s.
    let run = |growth: u64| {
        let mut s = cluster(ThresholdsSpec::default());
        let usage = VolumeUsage { used_bytes: 10 * GIB, size_bytes: 20 * GIB };
        s.apply(&Observation::new(
            t(0),
            "volume:m1".into(),
            ObservationKind::VolumeSampled { member: "m1".into(), usage },
        ));
        let mut h = quiet();
        h.slots.push(slot("x", false, 2 * GIB, "reserved"));
        health(&mut s, 1, "m1", h.clone());
        h.slots[1].retained_bytes = Some(2 * GIB + growth);
        health(&mut s, 101, "m1", h);
        s.findings().into_iter().find(|f| f.code == "slot_retaining_wal").unwrap()
    };
    // Full in exactly an hour: 10 GiB at 10 GiB / 3600 s, i.e. 10 GiB * 100 / 3600 over 100 s.
    let an_hour = 10 * GIB * 100 / 3600;
    assert_eq!(run(an_hour + 1).severity, Severity::Critical);
    let f = run(an_hour - 100);
    assert_eq!(f.severity, Severity::Warning, "{f:?}");
    assert!(f.evidence.contains("growing 170.7 MiB/min, 10.0 GiB left on the volume: full in 1h 0m"), "{f:?}");
    // Two samples a few seconds apart are no pace.
    let mut s = cluster(ThresholdsSpec::default());
    let usage = VolumeUsage { used_bytes: 10 * GIB, size_bytes: 20 * GIB };
    s.apply(&Observation::new(t(0), "volume:m1".into(), ObservationKind::VolumeSampled { member: "m1".into(), usage }));
    let mut h = quiet();
    h.slots.push(slot("x", false, 16 << 20, "reserved"));
    health(&mut s, 1, "m1", h.clone());
    h.slots[1].retained_bytes = Some(5 * GIB);
    health(&mut s, 6, "m1", h);
    assert_eq!(s.findings().iter().find(|f| f.code == "slot_retaining_wal").unwrap().severity, Severity::Warning);
}

#[test]
fn a_blocking_session_warns_after_10s_and_is_critical_at_60s() {
    let blocking = |seconds: f64| {
        let mut h = quiet();
        h.blockers = vec![Blocker {
            holder: session(42, "idle in transaction", 20.0, 75.0),
            blocked_pids: vec![43],
            blocked_seconds: seconds,
        }];
        h
    };
    assert_eq!(severity("blocking_session", blocking(10.0)), None);
    assert_eq!(severity("blocking_session", blocking(10.5)), Some(Severity::Warning));
    assert_eq!(severity("blocking_session", blocking(59.9)), Some(Severity::Warning));
    assert_eq!(severity("blocking_session", blocking(60.0)), Some(Severity::Critical));
    let f = judged(ThresholdsSpec::default(), "blocking_session", blocking(12.0)).remove(0);
    assert_eq!((f.subject.as_str(), f.member.as_deref()), ("m1 pid 42", Some("m1")));
    assert_eq!(f.message, "pid 42 on m1 has blocked 1 session for 12s");
    assert_eq!(
        f.evidence,
        "pg_blocking_pids(): pid 42 (user app, database app, application psql, idle in transaction, transaction 1m \
         15s old) blocks pid 43; the longest wait 12s (pg_locks.waitstart)"
    );
}

#[test]
fn idle_in_transaction_warns_after_60s() {
    let idle = |seconds: f64| {
        let mut h = quiet();
        h.idle_in_transaction = vec![session(42, "idle in transaction", seconds, seconds + 1.0)];
        h.idle_in_transaction_count = 1;
        h
    };
    assert_eq!(severity("idle_in_transaction", idle(60.0)), None);
    assert_eq!(severity("idle_in_transaction", idle(60.5)), Some(Severity::Warning));
    let f = judged(ThresholdsSpec::default(), "idle_in_transaction", idle(75.0)).remove(0);
    assert_eq!(f.message, "pid 42 on m1 has been idle in transaction for 1m 15s");
    assert!(f.evidence.starts_with("pg_stat_activity state 'idle in transaction', state_change: pid 42 (user app"));
}

#[test]
fn the_oldest_transaction_warns_over_5_minutes_and_prepared_ones_older_than_5_minutes() {
    let oldest = |seconds: f64| {
        let mut h = quiet();
        h.oldest_transaction = Some(session(42, "active", 1.0, seconds));
        h
    };
    assert_eq!(severity("long_transaction", oldest(300.0)), None);
    assert_eq!(severity("long_transaction", oldest(300.5)), Some(Severity::Warning));
    let prepared = |seconds: f64| {
        let mut h = quiet();
        let gid = "tx-1".to_owned();
        h.prepared =
            vec![PreparedFact { gid, owner: Some("app".into()), database: Some("app".into()), age_seconds: seconds }];
        h.prepared_count = 1;
        h
    };
    assert_eq!(severity("prepared_transaction", prepared(300.0)), None);
    assert_eq!(severity("prepared_transaction", prepared(300.5)), Some(Severity::Warning));
    let f = judged(ThresholdsSpec::default(), "prepared_transaction", prepared(420.0)).remove(0);
    assert_eq!(
        f.evidence,
        "pg_prepared_xacts: gid 'tx-1' (owner app, database app) prepared 7m 0s ago; 1 prepared in all"
    );
}

#[test]
fn connections_warn_at_80_percent_of_the_usable_and_are_critical_at_95() {
    let using = |clients: u32| {
        let mut h = quiet();
        // 110 - 5 superuser-reserved - 5 reserved: 100 usable.
        h.connections =
            ConnectionFacts { client_backends: clients, max_connections: 110, superuser_reserved: 5, reserved: 5 };
        h
    };
    assert_eq!(severity("connections_saturated", using(79)), None);
    assert_eq!(severity("connections_saturated", using(80)), Some(Severity::Warning));
    assert_eq!(severity("connections_saturated", using(94)), Some(Severity::Warning));
    assert_eq!(severity("connections_saturated", using(95)), Some(Severity::Critical));
    let f = judged(ThresholdsSpec::default(), "connections_saturated", using(80)).remove(0);
    assert_eq!(f.message, "m1 has 80 of 100 client connections in use (80%)");
    assert_eq!(
        f.evidence,
        "pg_stat_activity: 80 client backends; max_connections 110 - superuser_reserved_connections 5 - \
         reserved_connections 5 = 100"
    );
}

#[test]
fn wraparound_warns_at_500m_and_is_critical_at_1500m_from_a_database_or_a_table() {
    let aged = |database: u64, relation: u64| {
        let mut h = quiet();
        h.xid.databases =
            vec![XidAge { name: "app".into(), age: database }, XidAge { name: "postgres".into(), age: 7 }];
        h.xid.oldest_relation = Some(XidAge { name: "app.public.t".into(), age: relation });
        h.xid.autovacuum_workers = 3;
        h
    };
    assert_eq!(severity("wraparound", aged(499_999_999, 1)), None);
    assert_eq!(severity("wraparound", aged(500_000_000, 1)), Some(Severity::Warning));
    assert_eq!(severity("wraparound", aged(1, 500_000_001)), Some(Severity::Warning));
    assert_eq!(severity("wraparound", aged(1_499_999_999, 1)), Some(Severity::Warning));
    assert_eq!(severity("wraparound", aged(1_500_000_000, 1)), Some(Severity::Critical));
    let f = judged(ThresholdsSpec::default(), "wraparound", aged(612_300_000, 612_300_000)).remove(0);
    assert_eq!(
        f.evidence,
        "age(datfrozenxid): app 612.3M, postgres 7; oldest age(relfrozenxid): app.public.t 612.3M; autovacuum \
         workers 3 of 3 busy"
    );
    // Replicas carry the primary's ages: each member says it of itself.
    let mut s = cluster(ThresholdsSpec::default());
    health(&mut s, 1, "m1", aged(600_000_000, 1));
    let mut replica = aged(600_000_000, 1);
    replica.in_recovery = true;
    health(&mut s, 1, "m2", replica);
    assert_eq!(s.findings().iter().filter(|f| f.code == "wraparound").count(), 2);
}

#[test]
fn pending_restart_names_the_settings_and_the_managers_word() {
    let mut h = quiet();
    assert_eq!(severity("pending_restart", h.clone()), None);
    h.pending_restart = vec!["max_connections".into(), "shared_buffers".into()];
    let f = judged(ThresholdsSpec::default(), "pending_restart", h).remove(0);
    assert_eq!((f.severity, f.member.as_deref()), (Severity::Warning, Some("m1")));
    assert_eq!(f.message, "m1 needs a restart to apply max_connections, shared_buffers");
    assert_eq!(f.evidence, "pg_settings.pending_restart: max_connections, shared_buffers");
    // Patroni's flag alone (a setting it passes on the command line), before any health facts.
    let mut s = cluster(ThresholdsSpec::default());
    let mut m2 = report("m2", Role::Replica, 5002);
    m2.pending_restart = true;
    let members = vec![report("m1", Role::Primary, 5001), m2];
    s.apply(&Observation::new(t(1), "patroni".into(), ObservationKind::MembersListed { members }));
    let f = s.findings().into_iter().find(|f| f.code == "pending_restart").unwrap();
    assert_eq!((f.subject.as_str(), f.evidence.as_str()), ("m2", "Patroni pending_restart: true"));
}

#[test]
fn checkpoint_pressure_needs_requested_outnumbering_timed_over_the_whole_window() {
    let run = |last_at: i64, timed: i64, requested: i64| {
        let mut s = cluster(ThresholdsSpec::default());
        let mut h = quiet();
        h.checkpoints = Some(CheckpointCounters { timed: 10, requested: 1 });
        health(&mut s, 0, "m1", h.clone());
        h.checkpoints = Some(CheckpointCounters { timed: 10 + timed, requested: 1 + requested });
        health(&mut s, last_at, "m1", h);
        s.findings().into_iter().find(|f| f.code == "checkpoint_pressure")
    };
    assert!(run(599, 0, 5).is_none(), "the history does not reach back 10 minutes yet");
    assert!(run(600, 2, 2).is_none(), "as many requested as timed");
    let f = run(600, 2, 3).unwrap();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.evidence,
        "pg_stat_bgwriter.checkpoints_req 4 (+3), pg_stat_bgwriter.checkpoints_timed 12 (+2) over 10m 0s"
    );
    // A reset (counters gone back) starts the history again.
    let mut s = cluster(ThresholdsSpec::default());
    let mut h = quiet();
    for (at, timed, requested) in [(0, 10, 1), (300, 0, 0), (600, 1, 5)] {
        h.checkpoints = Some(CheckpointCounters { timed, requested });
        health(&mut s, at, "m1", h.clone());
    }
    assert!(s.findings().iter().all(|f| f.code != "checkpoint_pressure"), "only 5 minutes since the reset");
}

#[test]
fn health_facts_older_than_30s_are_not_judged() {
    let mut s = cluster(ThresholdsSpec::default());
    let mut h = quiet();
    h.pending_restart = vec!["shared_buffers".into()];
    health(&mut s, 1, "m1", h);
    s.apply(&Observation::new(t(31), "clock".into(), ObservationKind::Tick));
    assert!(s.findings().iter().any(|f| f.code == "pending_restart"));
    s.apply(&Observation::new(t(32), "clock".into(), ObservationKind::Tick));
    assert!(s.findings().iter().all(|f| f.code != "pending_restart"));
}

#[test]
fn health_findings_are_raised_and_cleared_as_events_and_thresholds_come_from_the_spec() {
    let low = ThresholdsSpec { slot_retained_warn_bytes: 32 << 20, ..ThresholdsSpec::default() };
    let mut s = cluster(low);
    let mut h = quiet();
    h.slots.push(slot("pgdeck_test", false, 16 << 20, "reserved"));
    health(&mut s, 1, "m1", h.clone());
    s.apply(&Observation::new(t(2), "clock".into(), ObservationKind::Tick));
    h.slots[1].retained_bytes = Some(48 << 20);
    health(&mut s, 3, "m1", h.clone());
    s.apply(&Observation::new(t(4), "clock".into(), ObservationKind::Tick));
    h.slots.pop();
    health(&mut s, 5, "m1", h);
    s.apply(&Observation::new(t(6), "clock".into(), ObservationKind::Tick));
    let dated: Vec<(i64, &str, &str)> = s
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::FindingRaised { finding } => Some(((e.at - t(0)).num_seconds(), "raised", finding.code)),
            EventKind::FindingCleared { finding } => Some(((e.at - t(0)).num_seconds(), "cleared", finding.code)),
            _ => None,
        })
        .collect();
    assert_eq!(dated, [(4, "raised", "slot_retaining_wal"), (6, "cleared", "slot_retaining_wal")]);
}

#[test]
fn the_history_is_bounded_by_its_window_and_keeps_a_baseline() {
    let mut s = cluster(ThresholdsSpec::default());
    let mut h = quiet();
    for at in 0..2000 {
        h.checkpoints = Some(CheckpointCounters { timed: at, requested: 0 });
        h.archiver.failed_count = at;
        health(&mut s, at, "m1", h.clone());
    }
    let entry = &s.health["m1"];
    assert!(entry.checkpoints.len() <= 601, "{}", entry.checkpoints.len());
    assert_eq!(entry.checkpoints.front().map(|c| c.at), Some(t(1999 - 600)), "the baseline of the window");
    assert!(entry.failed_counts.len() <= 601);
    assert!(entry.slot_retained["m2"].len() <= 601);
}

#[test]
fn member_findings_name_their_member_and_lag_carries_its_lsns() {
    let mut s = cluster(ThresholdsSpec::default());
    let mut behind = sample(false, 0x100, vec![]);
    behind.replay_delay_seconds = Some(45.0);
    s.apply(&Observation::new(
        t(1),
        "sql:m2".into(),
        ObservationKind::MemberSampled { member: "m2".into(), sample: behind },
    ));
    let f = s.findings().into_iter().find(|f| f.code == "replication_lag").unwrap();
    assert_eq!(f.member.as_deref(), Some("m2"));
    assert_eq!(
        f.evidence,
        "leader pg_current_wal_lsn() 0/3E8 - m2 pg_last_wal_replay_lsn() 0/100 = 744 bytes; seconds since \
         pg_last_xact_replay_timestamp() 45.0"
    );
}

#[test]
fn a_finding_that_turns_critical_is_dated_as_such() {
    let mut s = cluster(ThresholdsSpec::default());
    let blocking = |seconds: f64| {
        let mut h = quiet();
        let holder = session(42, "idle in transaction", seconds, seconds);
        h.blockers = vec![Blocker { holder, blocked_pids: vec![43], blocked_seconds: seconds }];
        h
    };
    health(&mut s, 1, "m1", blocking(30.0));
    s.apply(&Observation::new(t(2), "clock".into(), ObservationKind::Tick));
    health(&mut s, 31, "m1", blocking(60.0));
    s.apply(&Observation::new(t(32), "clock".into(), ObservationKind::Tick));
    let dated: Vec<(i64, String)> = s
        .events
        .iter()
        .filter_map(|e| {
            match &e.kind {
                EventKind::FindingRaised { finding } if finding.code == "blocking_session" => {
                    Some(format!("raised {:?}", finding.severity))
                }
                EventKind::FindingSeverityChanged { finding, before } => {
                    Some(format!("{before:?} to {:?}", finding.severity))
                }
                _ => None,
            }
            .map(|what| ((e.at - t(0)).num_seconds(), what))
        })
        .collect();
    assert_eq!(dated, [(2, "raised Warning".to_owned()), (32, "Warning to Critical".to_owned())]);
}

#[test]
fn durations_keep_tenths_under_a_minute_so_just_over_a_limit_does_not_read_as_it() {
    use crate::state::health_findings::duration;
    let shown: Vec<String> = [0.0, 10.04, 10.4, 12.0, 59.9, 59.96, 75.0, 3600.0, 90_000.0].map(duration).to_vec();
    assert_eq!(shown, ["0s", "10s", "10.4s", "12s", "59.9s", "1m 0s", "1m 15s", "1h 0m", "1d 1h"]);
}

//! The healthy reference cluster with one health finding each, built through `State::apply`:
//! the leader (cluster-1) reports the fault in its health facts, the replicas quiet ones.

use pgdeck::health::{
    Blocker, CheckpointCounters, ConnectionFacts, HealthSample, PreparedFact, SessionFact, SlotFact, XidAge,
};
use pgdeck::model::Lsn;
use pgdeck::observation::{Observation, ObservationKind, SourceId};
use pgdeck::state::State;

use super::fixtures::{healthy, t, MEMBERS};

/// Every health finding's code, one snapshot case each.
pub const CODES: [&str; 10] = [
    "archiving_failing",
    "slot_retaining_wal",
    "blocking_session",
    "idle_in_transaction",
    "long_transaction",
    "prepared_transaction",
    "connections_saturated",
    "wraparound",
    "pending_restart",
    "checkpoint_pressure",
];

/// The healthy cluster at t=21 with the leader reporting the fault named by `code`.
pub fn incident(code: &str) -> State {
    let mut s = healthy();
    for (i, member) in MEMBERS.iter().enumerate() {
        let mut h = quiet();
        h.in_recovery = i > 0;
        if i == 0 && code == "checkpoint_pressure" {
            // Ten minutes ago: as many requested as timed since.
            h.checkpoints = Some(CheckpointCounters { timed: 40, requested: 3 });
            report(&mut s, 20 - 600, member, h.clone());
            h.checkpoints = Some(CheckpointCounters { timed: 42, requested: 9 });
        } else if i == 0 {
            fault(code, &mut h);
        }
        report(&mut s, 20, member, h);
    }
    s.apply(&Observation::new(t(21), "clock".into(), ObservationKind::Tick));
    s
}

fn report(s: &mut State, at: i64, member: &str, health: HealthSample) {
    let kind = ObservationKind::HealthSampled { member: member.into(), health: Box::new(health) };
    s.apply(&Observation::new(t(at), SourceId::sql(member), kind));
}

fn quiet() -> HealthSample {
    let mut h = HealthSample::default();
    h.archiver.mode = "on".into();
    h.archiver.archived_count = 412;
    h.archiver.last_archived_wal = Some("00000003000000000000001F".into());
    h.archiver.last_archived_at = Some(t(-40));
    h.connections = ConnectionFacts { client_backends: 12, max_connections: 200, superuser_reserved: 3, reserved: 0 };
    h.xid.databases = vec![XidAge { name: "app".into(), age: 1_204_331 }];
    h.xid.autovacuum_max_workers = 3;
    h.checkpoints = Some(CheckpointCounters { timed: 42, requested: 3 });
    h
}

fn session(pid: i32, state: &str, state_seconds: f64, xact_seconds: f64) -> SessionFact {
    SessionFact {
        pid,
        user: Some("app".into()),
        database: Some("app".into()),
        application: Some("billing-worker".into()),
        state: Some(state.into()),
        xact_seconds: Some(xact_seconds),
        state_seconds: Some(state_seconds),
    }
}

fn fault(code: &str, h: &mut HealthSample) {
    match code {
        "archiving_failing" => {
            let a = &mut h.archiver;
            a.failed_count = 3;
            a.last_failed_wal = Some("000000030000000000000020".into());
            a.last_failed_at = Some(t(15));
            a.ready_count = 2;
            a.oldest_ready_wal = Some("000000030000000000000020".into());
            a.oldest_ready_seconds = Some(372.0);
        }
        "slot_retaining_wal" => h.slots.push(SlotFact {
            name: "debezium".into(),
            slot_type: "logical".into(),
            active: false,
            wal_status: Some("extended".into()),
            safe_wal_size: None,
            restart_lsn: Some(Lsn(0x2_B000_0000)),
            retained_bytes: Some(1_342_177_280),
        }),
        "blocking_session" => {
            h.blockers = vec![Blocker {
                holder: session(48_213, "idle in transaction", 41.0, 44.5),
                blocked_pids: vec![48_220, 48_231],
                blocked_seconds: 38.0,
            }];
        }
        "idle_in_transaction" => {
            h.idle_in_transaction = vec![session(48_213, "idle in transaction", 95.0, 96.0)];
            h.idle_in_transaction_count = 1;
        }
        "long_transaction" => h.oldest_transaction = Some(session(48_190, "active", 402.0, 402.0)),
        "prepared_transaction" => {
            h.prepared = vec![PreparedFact {
                gid: "billing-7781".into(),
                owner: Some("app".into()),
                database: Some("app".into()),
                age_seconds: 2520.0,
            }];
            h.prepared_count = 1;
        }
        "connections_saturated" => h.connections.client_backends = 190,
        "wraparound" => {
            h.xid.databases = vec![XidAge { name: "app".into(), age: 1_612_004_211 }];
            h.xid.oldest_relation = Some(XidAge { name: "app.public.events".into(), age: 1_612_004_211 });
            h.xid.autovacuum_workers = 3;
        }
        "pending_restart" => h.pending_restart = vec!["shared_buffers".into()],
        other => panic!("no incident fixture for {other}"),
    }
}

//! A member's health in one round trip: archiving, slots, locks and transactions, connections,
//! transaction ID age, pending restarts and checkpoints, as one JSON column. The statement is
//! written for the server's version (read once per session) and prepared once per session; the
//! member collector runs it every [`HEALTH_INTERVAL`], not every refresh, pipelined with the
//! member's sample.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio_postgres::Row;

use crate::health::HealthSample;

/// How old the health facts may grow before the collector reads them again. Ages, counts and
/// backlogs move on the scale of seconds to minutes; the thresholds start at 10 s.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// The server's version, to write the health statement for it: a column of the session's first
/// query.
pub const VERSION_COLUMN: &str = "current_setting('server_version_num')::int4";

/// The health statement for a server of `version_num` (`server_version_num`, e.g. 150004).
/// PostgreSQL 17 moved the checkpoint counters to `pg_stat_checkpointer`; 14 added
/// `pg_locks.waitstart`; 13 added a slot's `wal_status` and `safe_wal_size`.
pub fn statement(version_num: i32) -> String {
    let checkpoints = if version_num >= 170_000 {
        "(SELECT json_build_object('timed', num_timed, 'requested', num_requested) FROM pg_stat_checkpointer)"
    } else {
        "(SELECT json_build_object('timed', checkpoints_timed, 'requested', checkpoints_req) FROM pg_stat_bgwriter)"
    };
    let wait_started = if version_num >= 140_000 {
        "(SELECT pid, min(waitstart) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid)"
    } else {
        "(SELECT NULL::int4 AS pid, NULL::timestamptz AS waitstart)"
    };
    let slot_status = if version_num >= 130_000 {
        "s.wal_status, 'safe_wal_size', s.safe_wal_size"
    } else {
        "NULL::text, 'safe_wal_size', NULL::int8"
    };
    format!(
        r"
SELECT json_build_object(
  'in_recovery', pg_is_in_recovery(),
  'archiver', (SELECT json_build_object(
      'mode', current_setting('archive_mode'),
      'archived_count', a.archived_count, 'last_archived_wal', a.last_archived_wal,
      'last_archived_at', a.last_archived_time,
      'failed_count', a.failed_count, 'last_failed_wal', a.last_failed_wal, 'last_failed_at', a.last_failed_time,
      'ready_count', r.n, 'oldest_ready_wal', r.oldest, 'oldest_ready_seconds', r.age)
    FROM pg_stat_archiver a,
      (SELECT count(*) AS n, min(left(name, 24)) AS oldest,
              EXTRACT(EPOCH FROM now() - min(modification))::float8 AS age
         FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') r),
  'slots', (SELECT COALESCE(json_agg(json_build_object(
      'name', s.slot_name, 'slot_type', s.slot_type, 'active', s.active,
      'wal_status', {slot_status}, 'restart_lsn', s.restart_lsn::text,
      'retained_bytes', pg_wal_lsn_diff(
          CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
          s.restart_lsn)::int8)
      ORDER BY s.slot_name), '[]'::json)
    FROM pg_replication_slots s),
  'blockers', (SELECT COALESCE(json_agg(b ORDER BY b.blocked_seconds DESC), '[]'::json) FROM (
      SELECT json_build_object('pid', h.pid, 'user', h.usename, 'database', h.datname,
               'application', h.application_name, 'state', h.state,
               'xact_seconds', EXTRACT(EPOCH FROM now() - h.xact_start)::float8,
               'state_seconds', EXTRACT(EPOCH FROM now() - h.state_change)::float8) AS holder,
             array_agg(w.pid ORDER BY w.pid) AS blocked_pids,
             max(w.waited) AS blocked_seconds
        FROM (SELECT a.pid, unnest(pg_blocking_pids(a.pid)) AS blocker,
                     EXTRACT(EPOCH FROM now() - COALESCE(l.waitstart, a.state_change))::float8 AS waited
                FROM pg_stat_activity a LEFT JOIN {wait_started} l ON l.pid = a.pid
               WHERE a.wait_event_type = 'Lock') w
        JOIN pg_stat_activity h ON h.pid = w.blocker
       GROUP BY h.pid, h.usename, h.datname, h.application_name, h.state, h.xact_start, h.state_change
       ORDER BY max(w.waited) DESC LIMIT 10) b),
  'idle_in_transaction', (SELECT COALESCE(json_agg(x ORDER BY x.state_seconds DESC), '[]'::json) FROM (
      SELECT pid, usename AS user, datname AS database, application_name AS application, state,
             EXTRACT(EPOCH FROM now() - xact_start)::float8 AS xact_seconds,
             EXTRACT(EPOCH FROM now() - state_change)::float8 AS state_seconds
        FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'
       ORDER BY state_change LIMIT 5) x),
  'idle_in_transaction_count',
      (SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'),
  'oldest_transaction', (SELECT json_build_object('pid', pid, 'user', usename, 'database', datname,
           'application', application_name, 'state', state,
           'xact_seconds', EXTRACT(EPOCH FROM now() - xact_start)::float8,
           'state_seconds', EXTRACT(EPOCH FROM now() - state_change)::float8)
        FROM pg_stat_activity
       WHERE xact_start IS NOT NULL AND backend_type = 'client backend' AND pid <> pg_backend_pid()
       ORDER BY xact_start LIMIT 1),
  'prepared', (SELECT COALESCE(json_agg(p ORDER BY p.age_seconds DESC), '[]'::json) FROM (
      SELECT gid, owner, database, EXTRACT(EPOCH FROM now() - prepared)::float8 AS age_seconds
        FROM pg_prepared_xacts ORDER BY prepared LIMIT 5) p),
  'prepared_count', (SELECT count(*) FROM pg_prepared_xacts),
  'connections', json_build_object(
      'client_backends', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
      'max_connections', current_setting('max_connections')::int4,
      'superuser_reserved', current_setting('superuser_reserved_connections')::int4,
      'reserved', COALESCE(current_setting('reserved_connections', true), '0')::int4),
  'xid', json_build_object(
      'databases', (SELECT COALESCE(json_agg(d ORDER BY d.age DESC), '[]'::json) FROM (
          SELECT datname AS name, age(datfrozenxid)::int8 AS age FROM pg_database
           ORDER BY age(datfrozenxid) DESC LIMIT 5) d),
      'oldest_relation', (SELECT json_build_object('name', current_database() || '.' || c.oid::regclass::text,
                                                   'age', age(c.relfrozenxid)::int8)
          FROM pg_class c WHERE c.relkind IN ('r', 'm', 't')
         ORDER BY age(c.relfrozenxid) DESC LIMIT 1),
      'autovacuum_workers', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'),
      'autovacuum_max_workers', current_setting('autovacuum_max_workers')::int4),
  'pending_restart', (SELECT COALESCE(json_agg(name ORDER BY name), '[]'::json)
                        FROM pg_settings WHERE pending_restart),
  'checkpoints', {checkpoints}
) AS health"
    )
}

/// The health column of one row, as plain data.
pub fn parse(row: &Row) -> Result<HealthSample> {
    let json: serde_json::Value = row.try_get("health")?;
    from_json(json)
}

fn from_json(json: serde_json::Value) -> Result<HealthSample> {
    serde_json::from_value(json).context("unexpected shape of the member health query's answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_reads_its_own_views() {
        let v15 = statement(150_004);
        assert!(v15.contains("FROM pg_stat_bgwriter") && v15.contains("waitstart") && v15.contains("s.wal_status"));
        let v17 = statement(170_000);
        assert!(v17.contains("FROM pg_stat_checkpointer") && !v17.contains("pg_stat_bgwriter"));
        let v13 = statement(130_000);
        assert!(!v13.contains("min(waitstart)") && v13.contains("s.wal_status"));
        assert!(!statement(120_000).contains("s.wal_status"));
    }

    #[test]
    fn postgres_json_reads_as_a_sample() {
        // As PostgreSQL 15 prints it: timestamps with their offset, numbers as JSON numbers.
        let json = serde_json::json!({
            "in_recovery": false,
            "archiver": {"mode": "on", "archived_count": 7, "last_archived_wal": "000000010000000000000003",
                "last_archived_at": "2026-11-25T02:10:00.123456+00:00", "failed_count": 3,
                "last_failed_wal": "000000010000000000000004", "last_failed_at": "2026-11-25T03:13:05+01:00",
                "ready_count": 2, "oldest_ready_wal": "000000010000000000000004", "oldest_ready_seconds": 361.5},
            "slots": [{"name": "m2", "slot_type": "physical", "active": true, "wal_status": "reserved",
                "safe_wal_size": null, "restart_lsn": "0/3000148", "retained_bytes": 1024}],
            "blockers": [{"holder": {"pid": 42, "user": "app", "database": "app", "application": "psql",
                "state": "idle in transaction", "xact_seconds": 30.5, "state_seconds": 29.0},
                "blocked_pids": [43, 44], "blocked_seconds": 12.25}],
            "idle_in_transaction": [], "idle_in_transaction_count": 1, "oldest_transaction": null,
            "prepared": [], "prepared_count": 0,
            "connections": {"client_backends": 5, "max_connections": 200, "superuser_reserved": 3, "reserved": 0},
            "xid": {"databases": [{"name": "app", "age": 1234}], "oldest_relation": null,
                "autovacuum_workers": 0, "autovacuum_max_workers": 3},
            "pending_restart": ["shared_buffers"],
            "checkpoints": {"timed": 10, "requested": 2}
        });
        let sample = from_json(json).unwrap();
        assert!(sample.archiver.failing(), "03:13:05+01:00 is after 02:10:00Z");
        assert_eq!(sample.slots[0].restart_lsn, Some(crate::model::Lsn(0x300_0148)));
        assert_eq!(sample.blockers[0].blocked_pids, [43, 44]);
        assert_eq!(sample.connections.usable(), 197);
        assert_eq!(sample.pending_restart, ["shared_buffers"]);
        assert_eq!(sample.checkpoints.map(|c| c.requested), Some(2));
    }
}

//! What a member's health query says about itself (`src/sql/health.rs`): the facts an incident
//! starts from — WAL archiving, replication slots, locks and transactions, connections,
//! transaction ID age, settings waiting for a restart, checkpoints. Plain data: no I/O, no clock.
//! The State judges them against the thresholds (`src/state/health_findings.rs`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Lsn;

/// One reading of a member's health, every few seconds (not every refresh).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthSample {
    /// `pg_is_in_recovery()`: slots and archiving are judged on the primary.
    pub in_recovery: bool,
    pub archiver: Archiver,
    /// `pg_replication_slots`, every slot.
    pub slots: Vec<SlotFact>,
    /// Sessions others wait for (`pg_blocking_pids`), the longest wait first, at most 10.
    pub blockers: Vec<Blocker>,
    /// Sessions `idle in transaction`, the longest idle first, at most 5.
    pub idle_in_transaction: Vec<SessionFact>,
    /// All sessions `idle in transaction`, counted.
    pub idle_in_transaction_count: u32,
    /// The client session whose transaction started first (`xact_start`), pgdeck's own excepted.
    pub oldest_transaction: Option<SessionFact>,
    /// `pg_prepared_xacts`, the oldest first, at most 5.
    pub prepared: Vec<PreparedFact>,
    pub prepared_count: u32,
    pub connections: ConnectionFacts,
    pub xid: XidFacts,
    /// `pg_settings` rows with `pending_restart`, by name.
    pub pending_restart: Vec<String>,
    /// Checkpoints since the statistics were reset (`pg_stat_bgwriter`, `pg_stat_checkpointer` from 17).
    pub checkpoints: Option<CheckpointCounters>,
}

/// `pg_stat_archiver`, `archive_mode` and the `.ready` files in `archive_status`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Archiver {
    /// `archive_mode`: `on`, `always` or `off`.
    pub mode: String,
    pub archived_count: i64,
    pub last_archived_wal: Option<String>,
    pub last_archived_at: Option<DateTime<Utc>>,
    pub failed_count: i64,
    pub last_failed_wal: Option<String>,
    pub last_failed_at: Option<DateTime<Utc>>,
    /// `.ready` files in `pg_wal/archive_status` (`pg_ls_archive_statusdir()`): segments waiting.
    pub ready_count: u32,
    pub oldest_ready_wal: Option<String>,
    /// Seconds since the oldest `.ready` file was written.
    pub oldest_ready_seconds: Option<f64>,
}

impl Archiver {
    /// The archiver's latest attempt failed: its last failure is newer than its last success.
    pub fn failing(&self) -> bool {
        match (self.last_failed_at, self.last_archived_at) {
            (Some(failed), Some(archived)) => failed > archived,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// One `pg_replication_slots` row.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SlotFact {
    pub name: String,
    /// `physical` or `logical`.
    pub slot_type: String,
    pub active: bool,
    /// `reserved`, `extended`, `unreserved` or `lost` (PostgreSQL 13+).
    pub wal_status: Option<String>,
    /// Bytes that can still be written before the slot's WAL is at risk; null when unlimited.
    pub safe_wal_size: Option<i64>,
    pub restart_lsn: Option<Lsn>,
    /// `pg_current_wal_lsn() - restart_lsn`: WAL the slot keeps from being recycled.
    pub retained_bytes: Option<u64>,
}

/// One session as `pg_stat_activity` shows it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionFact {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    pub state: Option<String>,
    /// Seconds since its transaction started (`xact_start`).
    pub xact_seconds: Option<f64>,
    /// Seconds in its current state (`state_change`).
    pub state_seconds: Option<f64>,
}

/// A session holding a lock others wait for.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Blocker {
    pub holder: SessionFact,
    pub blocked_pids: Vec<i32>,
    /// The longest wait among those it blocks (`pg_locks.waitstart` from PostgreSQL 14).
    pub blocked_seconds: f64,
}

/// One `pg_prepared_xacts` row.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PreparedFact {
    pub gid: String,
    pub owner: Option<String>,
    pub database: Option<String>,
    pub age_seconds: f64,
}

/// Client backends against the connections they may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionFacts {
    pub client_backends: u32,
    pub max_connections: u32,
    pub superuser_reserved: u32,
    /// `reserved_connections` (PostgreSQL 16+), 0 before.
    pub reserved: u32,
}

impl ConnectionFacts {
    /// `max_connections` minus the reserved slots: what ordinary clients may open.
    pub fn usable(&self) -> u32 {
        self.max_connections.saturating_sub(self.superuser_reserved).saturating_sub(self.reserved)
    }
}

/// Transaction ID age: how far each database, and the oldest table, is from its last freeze.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct XidFacts {
    /// `age(datfrozenxid)` per database, the oldest first, at most 5.
    pub databases: Vec<XidAge>,
    /// The oldest `age(relfrozenxid)` in the database pgdeck connects to, as `db.schema.table`.
    pub oldest_relation: Option<XidAge>,
    pub autovacuum_workers: u32,
    pub autovacuum_max_workers: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct XidAge {
    pub name: String,
    pub age: u64,
}

/// Cumulative checkpoint counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckpointCounters {
    pub timed: i64,
    pub requested: i64,
}

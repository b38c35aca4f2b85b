//! Observed facts about a cluster, as sources report them. Plain data: no I/O, no clock.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A WAL position. Serialised as PostgreSQL prints it (`0/3000148`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Bytes from `self` forward to `ahead`; zero when `ahead` is behind.
    pub fn bytes_until(self, ahead: Lsn) -> u64 {
        ahead.0.saturating_sub(self.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl FromStr for Lsn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (hi, lo) = s.split_once('/').ok_or_else(|| format!("`{s}` is not an LSN like 0/3000148"))?;
        let hi = u64::from_str_radix(hi, 16).map_err(|_| format!("`{s}` is not an LSN like 0/3000148"))?;
        let lo = u64::from_str_radix(lo, 16).map_err(|_| format!("`{s}` is not an LSN like 0/3000148"))?;
        if hi > 0xFFFF_FFFF || lo > 0xFFFF_FFFF {
            return Err(format!("`{s}` is out of range for an LSN"));
        }
        Ok(Lsn((hi << 32) | lo))
    }
}

impl Serialize for Lsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Lsn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A member's role as the HA manager sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Replica,
    /// Known to exist (configured) but no role could be observed.
    Unknown,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Unknown => "unknown",
        })
    }
}

/// What the HA manager (Patroni, CNPG) reports about one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberReport {
    pub name: String,
    pub role: Role,
    /// The manager's own word for it: `running`, `streaming`, `stopped`, `starting`, …
    pub state: String,
    pub host: String,
    pub port: u16,
    pub api_url: Option<String>,
    pub timeline: Option<u32>,
    /// Lag in bytes as the manager computes it, when it does.
    pub manager_lag_bytes: Option<u64>,
    /// Whether the manager counts it as a synchronous standby.
    pub sync_standby: bool,
    /// The manager says a setting waits for a restart (Patroni's `pending_restart`, CNPG's
    /// `pendingRestart`); `pg_settings` names them (the member's health facts).
    #[serde(default)]
    pub pending_restart: bool,
}

/// One `pg_stat_replication` row on the primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicationRow {
    pub application_name: String,
    pub state: String,
    pub sync_state: String,
    pub sent_lsn: Option<Lsn>,
    pub write_lsn: Option<Lsn>,
    pub flush_lsn: Option<Lsn>,
    pub replay_lsn: Option<Lsn>,
    pub write_lag_seconds: Option<f64>,
    pub flush_lag_seconds: Option<f64>,
    pub replay_lag_seconds: Option<f64>,
    pub slot_name: Option<String>,
}

/// What SQL on one member says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberSample {
    pub server_version: String,
    pub in_recovery: bool,
    /// `pg_current_wal_lsn()` on a primary, `pg_last_wal_receive_lsn()` on a standby.
    pub current_lsn: Option<Lsn>,
    pub receive_lsn: Option<Lsn>,
    pub replay_lsn: Option<Lsn>,
    pub replay_paused: bool,
    /// Seconds since the last replayed transaction while replay is behind; 0 when caught up.
    pub replay_delay_seconds: Option<f64>,
    /// `pg_stat_wal_receiver.status` on a standby.
    pub receiver_status: Option<String>,
    pub connections: u32,
    pub max_connections: u32,
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// On the primary: one row per connected standby.
    pub replication: Vec<ReplicationRow>,
}

/// Filesystem usage of a member's data volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeUsage {
    pub used_bytes: u64,
    pub size_bytes: u64,
}

impl VolumeUsage {
    pub fn percent_used(&self) -> f64 {
        if self.size_bytes == 0 {
            0.0
        } else {
            self.used_bytes as f64 * 100.0 / self.size_bytes as f64
        }
    }
}

/// What the cluster's operator says of the cluster as a whole (CNPG's `status.phase` and
/// conditions); Patroni has no such thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterPhase {
    /// `Cluster in healthy state`, `Switchover in progress`, `Setting up primary`, …
    pub phase: String,
    pub reason: Option<String>,
    pub instances: Option<u32>,
    pub ready_instances: Option<u32>,
    pub conditions: Vec<ConditionReport>,
}

impl ClusterPhase {
    /// CNPG's phase for a cluster with nothing to do.
    pub const HEALTHY: &'static str = "Cluster in healthy state";

    pub fn is_healthy(&self) -> bool {
        self.phase == Self::HEALTHY
    }
}

/// One of the operator's conditions on the cluster (`Ready`, `ContinuousArchiving`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionReport {
    pub kind: String,
    /// `True`, `False` or `Unknown`, as Kubernetes spells them.
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// A Kubernetes Event about one of the cluster's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformEvent {
    /// The Event's uid: with `count`, what tells a repeat from one already seen.
    pub id: String,
    pub count: u32,
    pub at: DateTime<Utc>,
    pub warning: bool,
    pub reason: String,
    /// `Kind/name` of the object it is about.
    pub object: String,
    pub message: String,
}

/// The connection pooler in front of the primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolerReport {
    pub name: String,
    pub listen: String,
    pub pool_mode: String,
    /// Where the pooler sends connections (host, port).
    pub target_host: Option<String>,
    pub target_port: Option<u16>,
    pub client_connections: u32,
    pub server_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    Running,
    Completed,
    Failed,
}

/// One backup in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupReport {
    pub id: String,
    /// `full`, `diff`, `incr`, or the CNPG method.
    pub kind: String,
    pub method: String,
    pub status: BackupStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<u64>,
    pub repository_bytes: Option<u64>,
    pub wal_start: Option<String>,
    pub wal_stop: Option<String>,
    pub error: Option<String>,
}

/// The backup schedule and what the repository can recover to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupCatalog {
    pub backups: Vec<BackupReport>,
    pub schedule: Option<String>,
    pub retention: Option<String>,
    pub next_scheduled_at: Option<DateTime<Utc>>,
    /// Earliest WAL archived, i.e. the first point of recoverability.
    pub archive_min_wal: Option<String>,
    pub archive_max_wal: Option<String>,
}

/// One `pg_stat_activity` backend, with who blocks it (`pg_blocking_pids`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backend {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub application: Option<String>,
    pub client: Option<String>,
    pub state: Option<String>,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    /// Seconds since the current query (or, idle in transaction, the transaction) started.
    pub running_seconds: Option<f64>,
    pub query: Option<String>,
    pub blocked_by: Vec<i32>,
}

/// Cumulative `pg_stat_statements` counters for one statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatementRow {
    pub queryid: i64,
    pub user: Option<String>,
    pub database: Option<String>,
    pub query: String,
    pub calls: i64,
    pub total_exec_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseRow {
    pub name: String,
    pub owner: String,
    pub size_bytes: u64,
    pub encoding: String,
    pub connection_limit: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // they are pg_roles' own attribute flags
pub struct RoleRow {
    pub name: String,
    pub superuser: bool,
    pub login: bool,
    pub create_db: bool,
    pub create_role: bool,
    pub replication: bool,
    pub connection_limit: i32,
    /// Roles this role is a member of.
    pub member_of: Vec<String>,
    /// Databases it may connect to (`has_database_privilege(…, 'CONNECT')`), excluding templates.
    pub can_connect: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_postgres_form() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, 0x16_B374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>().unwrap(), Lsn(0));
        assert!("zz".parse::<Lsn>().is_err());
        assert!("1/100000000".parse::<Lsn>().is_err());
    }

    #[test]
    fn bytes_until_never_underflows() {
        assert_eq!(Lsn(100).bytes_until(Lsn(150)), 50);
        assert_eq!(Lsn(150).bytes_until(Lsn(100)), 0);
    }
}

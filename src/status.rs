//! `pgdeck status`: the State as a stable JSON document (documented in docs/status-json.md)
//! or as a table in the manner of `patronictl list` and `kubectl cnpg status`.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{BackupStatus, Role};
use crate::observation::SourceId;
use crate::state::{Finding, MemberView, State};

/// Version of the JSON document; bumped on any incompatible change. 2: findings carry `member`
/// and `evidence`, subjects name slots and sessions, members carry `pending_restart`.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Serialize)]
pub struct StatusDoc {
    pub schema_version: u32,
    pub cluster: String,
    pub platform: String,
    pub observed_at: Option<DateTime<Utc>>,
    pub leader: Option<String>,
    pub timeline: Option<u32>,
    /// True while the HA manager is paused (no automatic failover).
    pub maintenance_mode: bool,
    /// The operator's phase, ready count and conditions (CNPG); absent where there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<crate::model::ClusterPhase>,
    pub members: Vec<MemberDoc>,
    pub pooler: Option<PoolerDoc>,
    pub backups: Option<BackupsDoc>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct MemberDoc {
    pub name: String,
    /// `primary`, `replica`, or null when the member is down and its role unknown.
    pub role: Option<Role>,
    pub state: String,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub timeline: Option<u32>,
    pub current_lsn: Option<String>,
    pub received_lsn: Option<String>,
    pub replayed_lsn: Option<String>,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub replay_paused: bool,
    pub replication_state: Option<String>,
    pub sync_state: Option<String>,
    pub slot: Option<String>,
    pub volume_used_bytes: Option<u64>,
    pub volume_size_bytes: Option<u64>,
    pub version: Option<String>,
    pub connections: Option<u32>,
    /// Settings waiting for a restart (`pg_settings.pending_restart`), by name; empty when none,
    /// null before the member's health facts were read.
    pub pending_restart: Option<Vec<String>>,
    pub error: Option<String>,
    /// The HA manager's own word for the member, whatever `state` says.
    pub manager_state: Option<String>,
    /// Seconds SQL has been unable to reach the member (then `state` is `unreachable`).
    pub sql_unreachable_seconds: Option<i64>,
    /// Bytes past the leader's last known WAL position while the leader's facts are not current.
    pub ahead_of_leader_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct PoolerDoc {
    pub name: Option<String>,
    /// `up` or `down`.
    pub state: &'static str,
    pub listen: Option<String>,
    pub pool_mode: Option<String>,
    pub target_port: Option<u16>,
    /// The member the pooler sends clients to, when it is one of the cluster's.
    pub target_member: Option<String>,
    pub client_connections: Option<u32>,
    pub server_connections: Option<u32>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BackupsDoc {
    pub schedule: Option<String>,
    pub retention: Option<String>,
    pub next_scheduled_at: Option<DateTime<Utc>>,
    pub last_successful: Option<LastBackupDoc>,
    pub running: bool,
    pub count: usize,
    pub first_recoverable_wal: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LastBackupDoc {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<u64>,
    pub repository_bytes: Option<u64>,
    pub age_seconds: Option<i64>,
}

pub fn document(state: &State) -> StatusDoc {
    let views = state.member_views();
    StatusDoc {
        schema_version: SCHEMA_VERSION,
        cluster: state.cluster.clone(),
        platform: state.platform.clone(),
        observed_at: state.now,
        leader: state.leader_name().map(str::to_owned),
        timeline: state.timeline(),
        maintenance_mode: state.maintenance_mode == Some(true),
        operator: state.cluster_phase.as_ref().map(|p| p.value.clone()),
        pooler: pooler_doc(state, &views),
        backups: backups_doc(state),
        members: views.into_iter().map(|m| member_doc(state, m)).collect(),
        findings: state.findings(),
    }
}

fn member_doc(state: &State, m: MemberView) -> MemberDoc {
    MemberDoc {
        pending_restart: state.health.get(&m.name).map(|h| h.latest.value.pending_restart.clone()),
        role: (m.role != Role::Unknown).then_some(m.role),
        state: m.state,
        host: m.host,
        port: m.port,
        timeline: m.timeline,
        current_lsn: m.current_lsn.map(|l| l.to_string()),
        received_lsn: m.receive_lsn.map(|l| l.to_string()),
        replayed_lsn: m.replay_lsn.map(|l| l.to_string()),
        lag_bytes: m.lag_bytes,
        lag_seconds: m.lag_seconds,
        replay_paused: m.replay_paused,
        replication_state: m.replication_state,
        sync_state: m.sync_state,
        slot: m.slot,
        volume_used_bytes: m.volume.map(|v| v.used_bytes),
        volume_size_bytes: m.volume.map(|v| v.size_bytes),
        version: m.version,
        connections: m.connections,
        error: m.error,
        manager_state: m.manager_state,
        sql_unreachable_seconds: m.sql_unreachable.map(|u| u.seconds),
        ahead_of_leader_bytes: m.ahead_of_leader_bytes,
        name: m.name,
    }
}

fn pooler_doc(state: &State, views: &[MemberView]) -> Option<PoolerDoc> {
    let error = state.source_errors.get(&SourceId::Pooler).map(|e| e.value.clone());
    match (&state.pooler, error) {
        (_, Some(error)) => Some(PoolerDoc {
            name: state.pooler.as_ref().map(|p| p.value.name.clone()),
            state: "down",
            listen: None,
            pool_mode: None,
            target_port: None,
            target_member: None,
            client_connections: None,
            server_connections: None,
            error: Some(error),
        }),
        (Some(pooler), None) => {
            let p = &pooler.value;
            Some(PoolerDoc {
                name: Some(p.name.clone()),
                state: "up",
                listen: Some(p.listen.clone()),
                pool_mode: Some(p.pool_mode.clone()),
                target_port: p.target_port,
                target_member: views
                    .iter()
                    .find(|m| m.port.is_some() && m.port == p.target_port)
                    .map(|m| m.name.clone()),
                client_connections: Some(p.client_connections),
                server_connections: Some(p.server_connections),
                error: None,
            })
        }
        (None, None) => None,
    }
}

fn backups_doc(state: &State) -> Option<BackupsDoc> {
    let error = state.source_errors.get(&SourceId::Backups).map(|e| e.value.clone());
    let catalog = state.backups.as_ref().map(|b| &b.value);
    if catalog.is_none() && error.is_none() {
        return None;
    }
    let last = catalog
        .and_then(|c| c.backups.iter().filter(|b| b.status == BackupStatus::Completed).max_by_key(|b| b.started_at));
    Some(BackupsDoc {
        schedule: catalog.and_then(|c| c.schedule.clone()),
        retention: catalog.and_then(|c| c.retention.clone()),
        next_scheduled_at: catalog.and_then(|c| c.next_scheduled_at),
        last_successful: last.map(|b| LastBackupDoc {
            id: b.id.clone(),
            kind: b.kind.clone(),
            started_at: b.started_at,
            stopped_at: b.stopped_at,
            size_bytes: b.size_bytes,
            repository_bytes: b.repository_bytes,
            age_seconds: match (state.now, b.stopped_at) {
                (Some(now), Some(stop)) => Some(now.signed_duration_since(stop).num_seconds()),
                _ => None,
            },
        }),
        running: catalog.is_some_and(|c| c.backups.iter().any(|b| b.status == BackupStatus::Running)),
        count: catalog.map_or(0, |c| c.backups.iter().filter(|b| b.status == BackupStatus::Completed).count()),
        first_recoverable_wal: catalog.and_then(|c| c.archive_min_wal.clone()),
        error,
    })
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

pub use crate::units::human_bytes;

pub fn table(doc: &StatusDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cluster: {} ({})   leader: {}   timeline: {}{}",
        doc.cluster,
        doc.platform,
        opt(doc.leader.as_deref()),
        opt(doc.timeline),
        if doc.maintenance_mode { "   MAINTENANCE MODE" } else { "" }
    );
    members_table(&doc.members, &mut out);
    let _ = writeln!(out, "{}", pooler_line(doc.pooler.as_ref()));
    if let Some(backups) = &doc.backups {
        let _ = writeln!(out, "{}", backups_line(backups));
    }
    if doc.findings.is_empty() {
        let _ = writeln!(out, "Findings: none");
    } else {
        let _ = writeln!(out, "Findings:");
        for f in &doc.findings {
            let _ = writeln!(out, "  {:?} {}: {}", f.severity, f.code, f.message);
            if !f.evidence.is_empty() {
                let _ = writeln!(out, "      {}", f.evidence);
            }
        }
    }
    out
}

fn members_table(members: &[MemberDoc], out: &mut String) {
    let header = [
        "MEMBER",
        "ROLE",
        "STATE",
        "HOST:PORT",
        "TL",
        "CURRENT",
        "RECEIVED",
        "REPLAYED",
        "LAG",
        "LAG(S)",
        "REPL",
        "SYNC",
        "VOLUME",
        "VERSION",
    ];
    let rows: Vec<Vec<String>> = members.iter().map(member_row).collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[&str]| -> String {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(&header));
    for row in &rows {
        let _ = writeln!(out, "{}", line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
}

fn member_row(m: &MemberDoc) -> Vec<String> {
    vec![
        m.name.clone(),
        opt(m.role),
        if m.replay_paused { format!("{} (paused)", m.state) } else { m.state.clone() },
        match (&m.host, m.port) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            _ => "-".into(),
        },
        opt(m.timeline),
        opt(m.current_lsn.as_deref()),
        opt(m.received_lsn.as_deref()),
        opt(m.replayed_lsn.as_deref()),
        opt(m.lag_bytes.map(human_bytes)),
        opt(m.lag_seconds.map(|s| format!("{s:.1}"))),
        opt(m.replication_state.as_deref()),
        opt(m.sync_state.as_deref()),
        match (m.volume_used_bytes, m.volume_size_bytes) {
            (Some(u), Some(s)) => format!("{} / {}", human_bytes(u), human_bytes(s)),
            _ => "-".into(),
        },
        opt(m.version.as_deref()),
    ]
}

fn pooler_line(pooler: Option<&PoolerDoc>) -> String {
    match pooler {
        Some(p) if p.state == "up" => format!(
            "Pooler: {} up on {} ({} mode) -> {} (port {}); {} clients, {} server connections",
            opt(p.name.as_deref()),
            opt(p.listen.as_deref()),
            opt(p.pool_mode.as_deref()),
            opt(p.target_member.as_deref()),
            opt(p.target_port),
            opt(p.client_connections),
            opt(p.server_connections)
        ),
        Some(p) => format!("Pooler: {} DOWN: {}", opt(p.name.as_deref()), opt(p.error.as_deref())),
        None => "Pooler: none configured".to_owned(),
    }
}

fn backups_line(b: &BackupsDoc) -> String {
    let Some(last) = &b.last_successful else {
        return format!("Backups: none completed; {}", opt(b.error.as_deref()));
    };
    format!(
        "Backups: last {} ({}) {} ago, {} ({} in repo); {} kept; next {} (schedule \"{}\", retention {}){}",
        last.id,
        last.kind,
        last.age_seconds.map_or_else(|| "?".into(), human_age),
        opt(last.size_bytes.map(human_bytes)),
        opt(last.repository_bytes.map(human_bytes)),
        b.count,
        opt(b.next_scheduled_at),
        opt(b.schedule.as_deref()),
        opt(b.retention.as_deref()),
        if b.running { "; a backup is running" } else { "" }
    )
}

/// An age such as `45s`, `12m`, `5h` or `3d`; a clock skew's negative age shows as `0s`.
pub fn human_age(seconds: i64) -> String {
    match seconds {
        s if s < 0 => "0s".into(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

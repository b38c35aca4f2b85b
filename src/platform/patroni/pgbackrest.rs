//! pgBackRest: `info --output=json` to observe backups, `backup` to take one.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::action::BackupKind;
use crate::model::{BackupCatalog, BackupReport, BackupStatus};
use crate::platform::patroni::run_as::RunAs;

#[derive(Debug, Clone)]
pub struct PgBackRest {
    pub config: PathBuf,
    pub stanza: String,
    pub run_as: RunAs,
}

/// Which PostgreSQL a command works against: the current leader for backups.
#[derive(Debug, Clone)]
pub struct PgTarget<'a> {
    pub data_dir: &'a Path,
    pub port: u16,
}

impl PgBackRest {
    fn command(&self, pg: Option<&PgTarget<'_>>, args: &[&str]) -> tokio::process::Command {
        let mut command = self.run_as.command("pgbackrest");
        command.arg(format!("--config={}", self.config.display())).arg(format!("--stanza={}", self.stanza));
        if let Some(pg) = pg {
            command.arg(format!("--pg1-path={}", pg.data_dir.display())).arg(format!("--pg1-port={}", pg.port));
        }
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(true);
        command
    }

    async fn run(&self, pg: Option<&PgTarget<'_>>, args: &[&str]) -> Result<String> {
        let what = args.last().copied().unwrap_or("pgbackrest");
        let output = self.command(pg, args).output().await.with_context(|| {
            format!("cannot run pgbackrest {what}; install it with `apt-get install -y pgbackrest`")
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let detail = if stderr.trim().is_empty() { stdout.trim() } else { stderr.trim() };
            bail!("pgbackrest {what} failed ({}): {}", output.status, last_lines(detail, 6));
        }
        Ok(stdout)
    }

    pub async fn stanza_create(&self, pg: &PgTarget<'_>) -> Result<()> {
        self.run(Some(pg), &["stanza-create"]).await.map(drop)
    }

    pub async fn backup(&self, pg: &PgTarget<'_>, kind: BackupKind) -> Result<String> {
        let kind_arg = format!("--type={}", kind.pgbackrest_type());
        self.run(Some(pg), &[kind_arg.as_str(), "backup"]).await?;
        Ok(format!("{} backup of {} completed", kind.pgbackrest_type(), pg.data_dir.display()))
    }

    /// The repository's backups; `schedule` and `retention` come from the spec.
    pub async fn info(&self) -> Result<InfoSummary> {
        let json = self.run(None, &["--output=json", "info"]).await?;
        parse_info(&json)
    }
}

/// What `pgbackrest info` says, before the schedule is added.
#[derive(Debug, Clone, PartialEq)]
pub struct InfoSummary {
    pub backups: Vec<BackupReport>,
    pub archive_min_wal: Option<String>,
    pub archive_max_wal: Option<String>,
}

impl InfoSummary {
    pub fn into_catalog(self, schedule: &str, retention: &str, now: DateTime<Utc>) -> BackupCatalog {
        BackupCatalog {
            next_scheduled_at: crate::state::next_after(schedule, now),
            backups: self.backups,
            schedule: Some(schedule.to_owned()),
            retention: Some(retention.to_owned()),
            archive_min_wal: self.archive_min_wal,
            archive_max_wal: self.archive_max_wal,
        }
    }
}

#[derive(Deserialize)]
struct StanzaInfo {
    #[serde(default)]
    archive: Vec<ArchiveInfo>,
    #[serde(default)]
    backup: Vec<BackupInfo>,
    status: StanzaStatus,
}

#[derive(Deserialize)]
struct StanzaStatus {
    code: i64,
    message: String,
    #[serde(default)]
    lock: Option<LockInfo>,
}

#[derive(Deserialize)]
struct LockInfo {
    backup: Option<HeldLock>,
}

#[derive(Deserialize)]
struct HeldLock {
    held: bool,
}

#[derive(Deserialize)]
struct ArchiveInfo {
    min: Option<String>,
    max: Option<String>,
}

#[derive(Deserialize)]
struct BackupInfo {
    label: String,
    #[serde(rename = "type")]
    kind: String,
    timestamp: Timestamps,
    info: SizeInfo,
    archive: Option<WalRange>,
    #[serde(default)]
    error: Option<bool>,
}

#[derive(Deserialize)]
struct Timestamps {
    start: i64,
    stop: i64,
}

#[derive(Deserialize)]
struct SizeInfo {
    size: Option<u64>,
    repository: Option<RepoSize>,
}

#[derive(Deserialize)]
struct RepoSize {
    size: Option<u64>,
}

#[derive(Deserialize)]
struct WalRange {
    start: Option<String>,
    stop: Option<String>,
}

/// Parses `pgbackrest info --output=json` for one stanza.
pub fn parse_info(json: &str) -> Result<InfoSummary> {
    let stanzas: Vec<StanzaInfo> =
        serde_json::from_str(json).context("pgbackrest info printed something that is not its JSON")?;
    let Some(stanza) = stanzas.into_iter().next() else { bail!("pgbackrest info lists no stanza") };
    // Code 2 is "no valid backups"; anything else non-zero means the stanza itself is broken.
    if stanza.status.code != 0 && stanza.status.code != 2 {
        bail!("pgbackrest stanza status {}: {}", stanza.status.code, stanza.status.message);
    }
    let mut backups: Vec<BackupReport> = stanza
        .backup
        .into_iter()
        .map(|b| BackupReport {
            id: b.label,
            method: "pgbackrest".into(),
            status: if b.error == Some(true) { BackupStatus::Failed } else { BackupStatus::Completed },
            error: (b.error == Some(true)).then(|| "pgBackRest found page checksum errors in this backup".into()),
            kind: b.kind,
            started_at: DateTime::from_timestamp(b.timestamp.start, 0),
            stopped_at: DateTime::from_timestamp(b.timestamp.stop, 0),
            size_bytes: b.info.size,
            repository_bytes: b.info.repository.and_then(|r| r.size),
            wal_start: b.archive.as_ref().and_then(|a| a.start.clone()),
            wal_stop: b.archive.and_then(|a| a.stop),
        })
        .collect();
    if stanza.status.lock.and_then(|l| l.backup).is_some_and(|b| b.held) {
        backups.push(BackupReport {
            id: "(in progress)".into(),
            kind: "?".into(),
            method: "pgbackrest".into(),
            status: BackupStatus::Running,
            started_at: None,
            stopped_at: None,
            size_bytes: None,
            repository_bytes: None,
            wal_start: None,
            wal_stop: None,
            error: None,
        });
    }
    let archive = stanza.archive.into_iter().last();
    Ok(InfoSummary {
        backups,
        archive_min_wal: archive.as_ref().and_then(|a| a.min.clone()),
        archive_max_wal: archive.and_then(|a| a.max),
    })
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = r#"[{"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","max":"000000010000000000000007","min":"000000010000000000000001"}],
      "backup":[{"archive":{"start":"000000010000000000000003","stop":"000000010000000000000003"},"backrest":{"format":5,"version":"2.45"},
        "database":{"id":1,"repo-key":1},"error":false,"info":{"delta":31000000,"repository":{"delta":4000000,"size":4000000},"size":31000000},
        "label":"20261125-150102F","lsn":{"start":"0/3000028","stop":"0/3000100"},"prior":null,"reference":null,
        "timestamp":{"start":1795618862,"stop":1795618866},"type":"full"}],
      "cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7300000000000000000,"version":"15"}],"name":"pgdeck",
      "repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],
      "status":{"code":0,"lock":{"backup":{"held":true}},"message":"ok"}}]"#;

    #[test]
    fn parses_backups_archive_and_running_lock() {
        let info = parse_info(INFO).unwrap();
        assert_eq!(info.backups.len(), 2);
        let b = &info.backups[0];
        assert_eq!((b.id.as_str(), b.kind.as_str(), b.status), ("20261125-150102F", "full", BackupStatus::Completed));
        assert_eq!(b.size_bytes, Some(31_000_000));
        assert_eq!(b.repository_bytes, Some(4_000_000));
        assert_eq!(b.wal_start.as_deref(), Some("000000010000000000000003"));
        assert_eq!(info.backups[1].status, BackupStatus::Running);
        assert_eq!(info.archive_min_wal.as_deref(), Some("000000010000000000000001"));
    }

    #[test]
    fn broken_stanza_is_an_error() {
        let e = parse_info(r#"[{"name":"x","status":{"code":1,"message":"missing stanza path"}}]"#).unwrap_err();
        assert!(e.to_string().contains("missing stanza path"));
        assert!(parse_info("not json").is_err());
    }
}

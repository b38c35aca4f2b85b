//! The audit trail: one JSON line per Action request — confirmed, refused or cancelled — and per
//! outcome: every `requested` line is followed, sooner or later, by exactly one `finished` (the
//! outcome, a timeout included) or `abandoned` (pgdeck stopped waiting before the outcome, which is
//! then unknown) line with its request id. Written through tracing-appender into a file per day
//! (`audit.YYYY-MM-DD.log`, UTC) in the state dir. Writes are synchronous: an entry must be on
//! disk before the action starts. Parameters are Actions, which hold no secrets by construction
//! (passwords are generated and stored by the platform, never typed into an Action).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing_appender::rolling::{RollingFileAppender, Rotation};

use crate::action::{Action, ActionOutcome};

const PREFIX: &str = "audit";
const SUFFIX: &str = "log";

#[derive(Clone)]
pub struct AuditLog {
    sink: Option<Arc<Mutex<RollingFileAppender>>>,
    /// The `--target` the session works on.
    target: String,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("enabled", &self.sink.is_some()).field("target", &self.target).finish()
    }
}

#[derive(Serialize)]
struct Record<'a> {
    at: DateTime<Utc>,
    /// `requested` (confirmed and started), `refused`, `cancelled`, `finished`, `abandoned`.
    event: &'a str,
    user: &'a str,
    target: &'a str,
    /// Who pgdeck talked to: the Patroni endpoints, the kube context.
    platform: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<u64>,
    action: &'a str,
    parameters: &'a Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a ActionOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

pub struct Entry<'a> {
    pub at: DateTime<Utc>,
    pub user: &'a str,
    /// The platform's identity.
    pub target: &'a str,
    /// `None` for a request cancelled before it reached the Dispatcher.
    pub request_id: Option<u64>,
    pub action: &'a Action,
}

impl AuditLog {
    /// The daily audit files in `dir`, for the session on `target`.
    pub fn daily(dir: &Path, target: &str) -> Result<Self> {
        crate::dirs::create(dir, crate::dirs::PRIVATE)
            .with_context(|| format!("cannot create {} for the audit trail; check PGDECK_HOME", dir.display()))?;
        // The appender creates files with the umask's mode; today's is made private first.
        let today = dir.join(format!("{PREFIX}.{}.{SUFFIX}", crate::clock::now().format("%Y-%m-%d")));
        let _ = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&today);
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(PREFIX)
            .filename_suffix(SUFFIX)
            .build(dir)
            .with_context(|| format!("cannot open the audit trail in {}", dir.display()))?;
        Ok(Self { sink: Some(Arc::new(Mutex::new(appender))), target: target.to_owned() })
    }

    /// An audit log that writes nothing (tests of pure logic).
    pub fn disabled() -> Self {
        Self { sink: None, target: String::new() }
    }

    /// How Help names the files: `<dir>/audit.YYYY-MM-DD.log`.
    pub fn file_pattern(dir: &Path) -> PathBuf {
        dir.join(format!("{PREFIX}.YYYY-MM-DD.{SUFFIX}"))
    }

    /// Every audit file in `dir`, oldest first.
    pub fn files(dir: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.starts_with(&format!("{PREFIX}.")) && name.ends_with(&format!(".{SUFFIX}"))
            })
            .collect();
        files.sort();
        files
    }

    pub fn requested(&self, entry: &Entry<'_>) {
        self.write(entry, "requested", None, None);
    }

    pub fn refused(&self, entry: &Entry<'_>, reason: &str) {
        self.write(entry, "refused", None, Some(reason));
    }

    /// The operator closed the confirmation without confirming.
    pub fn cancelled(&self, entry: &Entry<'_>) {
        self.write(entry, "cancelled", None, None);
    }

    pub fn finished(&self, entry: &Entry<'_>, outcome: &ActionOutcome) {
        self.write(entry, "finished", Some(outcome), None);
    }

    /// pgdeck stopped waiting for a started request (the operator insisted on quitting): its
    /// outcome is unknown, and `reason` says why and what to check.
    pub fn abandoned(&self, entry: &Entry<'_>, reason: &str) {
        self.write(entry, "abandoned", None, Some(reason));
    }

    fn write(&self, e: &Entry<'_>, event: &str, outcome: Option<&ActionOutcome>, reason: Option<&str>) {
        let Some(sink) = &self.sink else { return };
        let record = Record {
            at: e.at,
            event,
            user: e.user,
            target: &self.target,
            platform: e.target,
            request_id: e.request_id,
            action: e.action.name(),
            parameters: e.action,
            outcome,
            reason,
        };
        let result = serde_json::to_string(&record).map_err(std::io::Error::other).and_then(|line| {
            let mut file = sink.lock().map_err(|_| std::io::Error::other("a writer panicked"))?;
            file.write_all(format!("{line}\n").as_bytes())?;
            file.flush()
        });
        if let Err(err) = result {
            tracing::error!("cannot write the audit trail for {} ({}): {err}", e.action.name(), event);
        }
    }
}

/// The whole trail in `dir`, oldest first (tests, and whoever reads it by hand).
pub fn read_all(dir: &Path) -> String {
    AuditLog::files(dir).iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect()
}

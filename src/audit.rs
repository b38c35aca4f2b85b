//! The audit trail: one JSON line per Action request and per outcome, appended to `audit.log`.
//! Parameters are Actions, which hold no secrets by construction.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::action::{Action, ActionOutcome};

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: Option<PathBuf>,
}

#[derive(Serialize)]
struct Record<'a> {
    at: DateTime<Utc>,
    user: &'a str,
    target: &'a str,
    request_id: u64,
    action: &'a Action,
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a ActionOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

pub struct Entry<'a> {
    pub at: DateTime<Utc>,
    pub user: &'a str,
    pub target: &'a str,
    pub request_id: u64,
    pub action: &'a Action,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> Self {
        Self { path: Some(path) }
    }

    /// An audit log that writes nothing (replay, tests of pure logic).
    pub fn disabled() -> Self {
        Self { path: None }
    }

    pub fn requested(&self, entry: &Entry<'_>) {
        self.write(entry, "requested", None, None);
    }

    pub fn refused(&self, entry: &Entry<'_>, reason: &str) {
        self.write(entry, "refused", None, Some(reason));
    }

    pub fn finished(&self, entry: &Entry<'_>, outcome: &ActionOutcome) {
        self.write(entry, "finished", Some(outcome), None);
    }

    fn write(&self, e: &Entry<'_>, event: &str, outcome: Option<&ActionOutcome>, reason: Option<&str>) {
        let Some(path) = &self.path else { return };
        let record = Record {
            at: e.at,
            user: e.user,
            target: e.target,
            request_id: e.request_id,
            action: e.action,
            event,
            outcome,
            reason,
        };
        let result = serde_json::to_string(&record).map_err(std::io::Error::other).and_then(|line| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
            writeln!(file, "{line}")
        });
        if let Err(err) = result {
            tracing::error!("cannot write the audit log {}: {err}", path.display());
        }
    }
}

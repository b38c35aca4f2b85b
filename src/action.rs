//! The closed list of cluster mutations, and the one read that is guarded as one (a password
//! shown on screen). Only the Dispatcher turns one into a platform call.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Planned: hand the primary role to a healthy replica (`None`: the manager picks one).
    Switchover { candidate: Option<String> },
    /// Unplanned: promote a replica when there is no healthy primary.
    Failover { candidate: String },
    /// Take a backup now.
    Backup { kind: BackupKind },
    /// Cancel the query a backend runs (`pg_cancel_backend`); the session stays.
    CancelBackend { member: String, pid: i32 },
    /// End a backend's session (`pg_terminate_backend`); its transaction rolls back.
    TerminateBackend { member: String, pid: i32 },
    /// Bring a backup up as a new cluster beside the running one, optionally rolled forward to a
    /// point in time. Never over an existing cluster.
    Restore { backup: String, target_time: Option<DateTime<Utc>>, new_cluster: String },
    /// `CREATE DATABASE name OWNER owner`.
    CreateDatabase { name: String, owner: String },
    /// A login role with a generated password, stored in the credential store, granted use of `database`.
    CreateUser { name: String, database: String },
    /// A new password for a login role: staged in the credential store, set, verified, promoted.
    RotatePassword { user: String },
    /// Show a login role's stored password on this screen, once. Not a mutation, but refused to
    /// observers and audited like one; the password itself never enters the State or the audit.
    RevealPassword { user: String },
    /// Server-side apply of a cluster's manifests (field manager `pgdeck`): provisions it, or
    /// brings it back to them; applying what is there changes nothing.
    Apply { namespace: String, cluster: String, objects: Vec<serde_json::Value> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    Full,
    Differential,
    Incremental,
}

impl BackupKind {
    /// pgBackRest's `--type` value.
    pub fn pgbackrest_type(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Differential => "diff",
            BackupKind::Incremental => "incr",
        }
    }
}

impl Action {
    /// What the operator must type to confirm, for disruptive actions.
    pub fn confirmation_phrase(&self, cluster: &str) -> Option<String> {
        match self {
            Action::Switchover { candidate: Some(c) } | Action::Failover { candidate: c } => Some(c.clone()),
            Action::Switchover { candidate: None } => Some(cluster.to_owned()),
            Action::TerminateBackend { pid, .. } => Some(pid.to_string()),
            Action::Restore { new_cluster, .. } => Some(new_cluster.clone()),
            // Every client still on the old password fails its next login: type the name.
            Action::RotatePassword { user } => Some(user.clone()),
            Action::Backup { .. }
            | Action::CancelBackend { .. }
            | Action::CreateDatabase { .. }
            | Action::CreateUser { .. }
            | Action::RevealPassword { .. }
            | Action::Apply { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::Switchover { .. } => "switchover",
            Action::Failover { .. } => "failover",
            Action::Backup { .. } => "backup",
            Action::CancelBackend { .. } => "cancel-backend",
            Action::TerminateBackend { .. } => "terminate-backend",
            Action::Restore { .. } => "restore",
            Action::CreateDatabase { .. } => "create-database",
            Action::CreateUser { .. } => "create-user",
            Action::RotatePassword { .. } => "rotate-password",
            Action::RevealPassword { .. } => "reveal-password",
            Action::Apply { .. } => "apply",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Switchover { candidate: Some(c) } => write!(f, "switchover to {c}"),
            Action::Switchover { candidate: None } => f.write_str("switchover to the healthiest replica"),
            Action::Failover { candidate } => write!(f, "failover to {candidate}"),
            Action::Backup { kind } => write!(f, "{} backup", kind.pgbackrest_type()),
            Action::CancelBackend { member, pid } => write!(f, "cancel the query of backend {pid} on {member}"),
            Action::TerminateBackend { member, pid } => write!(f, "terminate backend {pid} on {member}"),
            Action::Restore { backup, target_time: None, new_cluster } => {
                write!(f, "restore backup {backup} as new cluster {new_cluster}")
            }
            Action::Restore { backup, target_time: Some(at), new_cluster } => write!(
                f,
                "restore backup {backup} to {} as new cluster {new_cluster}",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Action::CreateDatabase { name, owner } => write!(f, "create database {name} owned by {owner}"),
            Action::CreateUser { name, database } => write!(f, "create user {name} with access to {database}"),
            Action::RotatePassword { user } => write!(f, "rotate the password of {user}"),
            Action::RevealPassword { user } => write!(f, "show the stored password of {user}"),
            Action::Apply { namespace, cluster, objects } => {
                write!(f, "apply {namespace}/{cluster} ({} objects, server-side)", objects.len())
            }
        }
    }
}

/// An Action as asked for: who, when, and what they typed to confirm it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    pub id: u64,
    pub action: Action,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    pub confirmation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ActionOutcome {
    Succeeded { detail: String },
    Failed { error: String },
}

//! Where a cluster lives and how pgdeck acts on it. Only the Dispatcher calls the mutating methods.

pub mod cnpg;
pub mod patroni;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::action::{Action, BackupKind};
use crate::source::Source;

#[async_trait]
pub trait Platform: Send + Sync {
    /// Who pgdeck is talking to, for the audit trail: a Patroni endpoint, a kube context.
    fn identity(&self) -> String;
    /// Fresh sources that together observe the whole cluster.
    fn sources(&self) -> Vec<Box<dyn Source>>;

    /// Exactly what `action` will do on this platform (the REST call, command or manifest),
    /// shown before the operator confirms it. `leader` is the current leader as last observed.
    fn describe(&self, action: &Action, leader: Option<&str>) -> String;

    async fn switchover(&self, leader: &str, candidate: Option<&str>) -> anyhow::Result<String>;
    async fn failover(&self, candidate: &str) -> anyhow::Result<String>;
    async fn backup(&self, kind: BackupKind) -> anyhow::Result<String>;
    /// `pg_cancel_backend` (or, with `terminate`, `pg_terminate_backend`) on one member.
    async fn signal_backend(&self, member: &str, pid: i32, terminate: bool) -> anyhow::Result<String>;
    /// Bring `backup` up as the new cluster `new_cluster` (which must not exist), replaying WAL to
    /// `target_time` when given. Returns where the new cluster is and how to open it.
    async fn restore(
        &self,
        backup: &str,
        target_time: Option<DateTime<Utc>>,
        new_cluster: &str,
    ) -> anyhow::Result<String>;
    async fn create_database(&self, name: &str, owner: &str) -> anyhow::Result<String>;
    /// Creates a login role with a generated password, stores its credentials, grants it `database`.
    async fn create_user(&self, name: &str, database: &str) -> anyhow::Result<String>;
    async fn rotate_password(&self, user: &str) -> anyhow::Result<String>;
    /// Reads `user`'s stored credentials, to be shown on the operator's screen.
    async fn reveal_password(&self, user: &str) -> anyhow::Result<crate::secrets::Revealed>;
    /// Server-side applies `objects` (a cluster's manifests); one line per object, with what
    /// became of it (created, configured, unchanged).
    async fn apply(&self, objects: &[serde_json::Value]) -> anyhow::Result<String>;
}

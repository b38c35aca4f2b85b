//! The Patroni platform: Patroni REST + SQL per member + pgBackRest + PgBouncer.

pub mod local;
pub mod pgbackrest;
pub mod rest;
pub mod run_as;
mod sources;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use async_trait::async_trait;

use crate::action::{Action, BackupKind};
use crate::platform::Platform;
use crate::secrets::Credentials;
use crate::source::Source;
use crate::sql::Endpoint;
use pgbackrest::{PgBackRest, PgTarget};
use rest::PatroniRest;

/// One member as configured: where its REST API and PostgreSQL listen.
#[derive(Debug, Clone)]
pub struct MemberEndpoint {
    pub name: String,
    pub api_url: String,
    pub pg_host: String,
    pub pg_port: u16,
    /// Known only when the member runs on this machine (the local cluster).
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct PoolerEndpoint {
    pub name: String,
    pub host: String,
    pub port: u16,
}

/// Everything needed to watch and act on one Patroni cluster.
#[derive(Debug, Clone)]
pub struct PatroniTarget {
    pub cluster: String,
    pub members: Vec<MemberEndpoint>,
    pub superuser: Credentials,
    pub pooler: Option<PoolerEndpoint>,
    pub pgbackrest: Option<PgBackRest>,
    pub backup_schedule: String,
    pub backup_retention: String,
    /// How long any one source may take before its member shows as not answering.
    pub source_timeout: Duration,
}

pub struct PatroniPlatform {
    target: PatroniTarget,
    rest: PatroniRest,
}

impl PatroniPlatform {
    pub fn new(target: PatroniTarget) -> Result<Self> {
        let rest = PatroniRest::new(target.source_timeout)?;
        Ok(Self { target, rest })
    }

    pub fn target(&self) -> &PatroniTarget {
        &self.target
    }

    /// The current leader, asked of the members in turn.
    async fn current_leader(&self) -> Result<&MemberEndpoint> {
        let mut errors = Vec::new();
        for member in &self.target.members {
            match self.rest.cluster(&member.api_url).await {
                Ok(view) => {
                    let leader = view.members.iter().find(|r| r.role == crate::model::Role::Primary);
                    let Some(leader) = leader else { bail!("Patroni reports no leader; wait for failover to finish") };
                    return self
                        .target
                        .members
                        .iter()
                        .find(|m| m.name == leader.name)
                        .ok_or_else(|| anyhow::anyhow!("the leader {} is not a configured member", leader.name));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        bail!("no Patroni member answered: {}", errors.join("; "))
    }
}

#[async_trait]
impl Platform for PatroniPlatform {
    fn identity(&self) -> String {
        let apis: Vec<&str> = self.target.members.iter().map(|m| m.api_url.as_str()).collect();
        format!("patroni {}", apis.join(","))
    }

    fn sources(&self) -> Vec<Box<dyn Source>> {
        sources::all(&self.target, &self.rest)
    }

    fn describe(&self, action: &Action, leader: Option<&str>) -> String {
        let member = |name: Option<&str>| self.target.members.iter().find(|m| Some(m.name.as_str()) == name);
        let leader_member = member(leader);
        let via = leader_member.or(self.target.members.first()).map_or("<no member>", |m| m.api_url.as_str());
        match action {
            Action::Switchover { candidate } => {
                let mut body = serde_json::json!({ "leader": leader.unwrap_or("<none>") });
                if let Some(c) = candidate {
                    body["candidate"] = c.as_str().into();
                }
                format!("POST {via}/switchover\n{body}")
            }
            Action::Failover { candidate } => {
                let api = member(Some(candidate)).map_or("<unknown member>", |m| m.api_url.as_str());
                format!("POST {api}/failover\n{}", serde_json::json!({ "candidate": candidate }))
            }
            Action::Backup { kind } => match (&self.target.pgbackrest, leader_member) {
                (Some(pgbackrest), Some(leader)) => format!(
                    "pgbackrest --config={} --stanza={} --pg1-path={} --pg1-port={} --type={} backup\n(as OS user {}, against the leader {})",
                    pgbackrest.config.display(),
                    pgbackrest.stanza,
                    leader.data_dir.as_ref().map_or_else(|| "<remote>".into(), |d| d.display().to_string()),
                    leader.pg_port,
                    kind.pgbackrest_type(),
                    pgbackrest.run_as.user,
                    leader.name
                ),
                (None, _) => "no pgBackRest repository is configured: the backup will be refused".into(),
                (_, None) => "there is no leader to back up: the backup will be refused".into(),
            },
            Action::CancelBackend { member: name, pid } | Action::TerminateBackend { member: name, pid } => {
                let function =
                    if matches!(action, Action::TerminateBackend { .. }) { "pg_terminate_backend" } else { "pg_cancel_backend" };
                let at = member(Some(name)).map_or_else(|| "<unknown member>".into(), |m| format!("{}:{}", m.pg_host, m.pg_port));
                format!("SELECT {function}({pid});\n(on {name}, {at}, as {})", self.target.superuser.username)
            }
        }
    }

    async fn switchover(&self, leader: &str, candidate: Option<&str>) -> Result<String> {
        let via = self.current_leader().await?;
        self.rest.switchover(&via.api_url, leader, candidate).await
    }

    async fn failover(&self, candidate: &str) -> Result<String> {
        let Some(member) = self.target.members.iter().find(|m| m.name == candidate) else {
            bail!("{candidate} is not a member of {}", self.target.cluster)
        };
        self.rest.failover(&member.api_url, candidate).await
    }

    async fn signal_backend(&self, member: &str, pid: i32, terminate: bool) -> Result<String> {
        let Some(endpoint) = self.target.members.iter().find(|m| m.name == member) else {
            bail!("{member} is not a member of {}", self.target.cluster)
        };
        let endpoint = Endpoint {
            host: endpoint.pg_host.clone(),
            port: endpoint.pg_port,
            database: "postgres".into(),
            credentials: self.target.superuser.clone(),
        };
        let client = crate::sql::connect(&endpoint, self.target.source_timeout, false).await?;
        let sql = if terminate { "SELECT pg_terminate_backend($1)" } else { "SELECT pg_cancel_backend($1)" };
        let signalled: bool = client.query_one(sql, &[&pid]).await?.try_get(0)?;
        match (signalled, terminate) {
            (true, true) => Ok(format!("backend {pid} on {member} terminated")),
            (true, false) => Ok(format!("the query of backend {pid} on {member} was cancelled")),
            (false, _) => bail!("backend {pid} is no longer running on {member}"),
        }
    }

    async fn backup(&self, kind: BackupKind) -> Result<String> {
        let Some(pgbackrest) = &self.target.pgbackrest else {
            bail!("no pgBackRest repository is configured for {}", self.target.cluster)
        };
        let leader = self.current_leader().await?;
        let Some(data_dir) = &leader.data_dir else {
            bail!("the leader {} runs on another machine; run pgbackrest there", leader.name)
        };
        pgbackrest.backup(&PgTarget { data_dir, port: leader.pg_port }, kind).await
    }
}

//! The Patroni platform: Patroni REST + SQL per member + pgBackRest + PgBouncer.

pub mod local;
pub mod pgbackrest;
pub mod rest;
pub mod run_as;
mod sources;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::action::{Action, BackupKind};
use crate::platform::Platform;
use crate::secrets::rotate;
use crate::secrets::{CredentialStore, Login};
use crate::source::Source;
use crate::spec::SecretsSpec;
use crate::sql::Endpoint;
use crate::sql::{admin, users};
use pgbackrest::{PgBackRest, PgTarget};
use rest::PatroniRest;
use tokio_postgres::Client;

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
#[derive(Clone)]
pub struct PatroniTarget {
    pub cluster: String,
    pub members: Vec<MemberEndpoint>,
    /// The superuser, read from the credential store when a session first needs it.
    pub superuser: Login,
    /// Verified TLS to the members and the pooler, where they offer it.
    pub tls: Option<crate::sql::Tls>,
    pub pooler: Option<PoolerEndpoint>,
    pub pgbackrest: Option<PgBackRest>,
    pub backup_schedule: String,
    pub backup_retention: String,
    /// How long any one source may take before its member shows as not answering.
    pub source_timeout: Duration,
    /// Where new users' credentials are stored, and under which names.
    pub credential_store: Arc<dyn CredentialStore>,
    pub secrets: SecretsSpec,
    /// The local cluster's directory, when this is the cluster `pgdeck local up` made: a restore
    /// then builds its new cluster beside it.
    pub local_dir: Option<PathBuf>,
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

    /// The secret that holds `user`'s credentials: the app's own, else the pattern for users.
    fn user_secret(&self, user: &str) -> String {
        self.target.secrets.login_secret(user, self.target.superuser.known_username().as_deref())
    }

    fn backup_preview(&self, kind: BackupKind, leader: Option<&MemberEndpoint>) -> String {
        let (Some(pgbackrest), Some(leader)) = (&self.target.pgbackrest, leader) else {
            return if self.target.pgbackrest.is_none() {
                "no pgBackRest repository is configured: the backup will be refused".into()
            } else {
                "there is no leader to back up: the backup will be refused".into()
            };
        };
        let data_dir = leader.data_dir.as_ref().map_or_else(|| "<remote>".into(), |d| d.display().to_string());
        format!(
            "pgbackrest --config={} --stanza={} --pg1-path={data_dir} --pg1-port={} --type={} backup\n\
             (as OS user {}, against the leader {})",
            pgbackrest.config.display(),
            pgbackrest.stanza,
            leader.pg_port,
            kind.pgbackrest_type(),
            pgbackrest.run_as.user,
            leader.name
        )
    }

    /// How to reach `member`'s PostgreSQL in `database` as `login`, with the target's TLS.
    fn endpoint(&self, member: &MemberEndpoint, database: &str, login: Login) -> Endpoint {
        Endpoint {
            host: member.pg_host.clone(),
            port: member.pg_port,
            database: database.to_owned(),
            login,
            tls: self.target.tls.clone(),
            transport: crate::sql::Transport::Tcp,
        }
    }

    /// An admin session on the current leader, in `database`.
    async fn leader_session(&self, database: &str) -> Result<(String, tokio_postgres::Client)> {
        let leader = self.current_leader().await?;
        let endpoint = self.endpoint(leader, database, self.target.superuser.clone());
        Ok((leader.name.clone(), crate::sql::connect(&endpoint, self.target.source_timeout, false).await?))
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
            Action::Backup { kind } => self.backup_preview(*kind, leader_member),
            Action::CancelBackend { member: name, pid } | Action::TerminateBackend { member: name, pid } => {
                let terminate = matches!(action, Action::TerminateBackend { .. });
                let function = if terminate { "pg_terminate_backend" } else { "pg_cancel_backend" };
                let at = member(Some(name))
                    .map_or_else(|| "<unknown member>".into(), |m| format!("{}:{}", m.pg_host, m.pg_port));
                format!("SELECT {function}({pid});\n(on {name}, {at}, as {})", self.target.superuser.describe())
            }
            Action::CreateDatabase { name, owner } => format!(
                "{};\n(on the leader {}, as {})",
                admin::create_database(name, owner),
                leader.unwrap_or("<none>"),
                self.target.superuser.describe()
            ),
            Action::CreateUser { name, database } => users::create_preview(
                name,
                database,
                &self.target.secrets.user_secret(name),
                &self.target.credential_store.location(),
                &format!("the leader {}", leader.unwrap_or("<none>")),
            ),
            Action::RotatePassword { user } => users::rotation_preview(
                user,
                &self.user_secret(user),
                &self.target.credential_store.location(),
                &format!("the leader {}", leader.unwrap_or("<none>")),
            ),
            Action::Apply { .. } => {
                "`apply` provisions CNPG clusters on Kubernetes: the request will be refused (the local cluster is \
                 made by `pgdeck local up`)"
                    .into()
            }
            Action::RevealPassword { user } => {
                crate::secrets::reveal_preview(user, &self.user_secret(user), &self.target.credential_store.location())
            }
            Action::Restore { backup, target_time, new_cluster } => {
                local_restore_preview(&self.target, backup, *target_time, new_cluster)
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
        let endpoint = self.endpoint(endpoint, "postgres", self.target.superuser.clone());
        let client = crate::sql::connect(&endpoint, self.target.source_timeout, false).await?;
        admin::signal_backend(&client, member, pid, terminate).await
    }

    async fn create_database(&self, name: &str, owner: &str) -> Result<String> {
        let (leader, client) = self.leader_session("postgres").await?;
        client.batch_execute(&admin::create_database(name, owner)).await.map_err(|e| users::sql_error(&e))?;
        Ok(format!("database {name} created on {leader}, owned by {owner}"))
    }

    async fn create_user(&self, name: &str, database: &str) -> Result<String> {
        let secret = self.target.secrets.user_secret(name);
        users::create_stored(self, self.target.credential_store.as_ref(), &secret, name, database).await
    }

    async fn rotate_password(&self, user: &str) -> Result<String> {
        if user == self.target.superuser.credentials().await?.username {
            bail!(
                "{user}'s password is also in each member's Patroni configuration (pg_rewind uses it); pgdeck does not \
                 rotate it yet"
            );
        }
        let name = self.user_secret(user);
        rotate::rotate(self.target.credential_store.as_ref(), &users::PrimaryPasswords(self), &name).await
    }

    async fn apply(&self, _objects: &[serde_json::Value]) -> Result<String> {
        bail!("`apply` provisions CNPG clusters on Kubernetes; the local cluster is made by `pgdeck local up`")
    }

    async fn reveal_password(&self, user: &str) -> Result<crate::secrets::Revealed> {
        // Reads the superuser's login first, so that `user_secret` knows whether `user` is it.
        self.target.superuser.credentials().await?;
        crate::secrets::reveal(self.target.credential_store.as_ref(), &self.user_secret(user), user).await
    }

    async fn restore(&self, backup: &str, target_time: Option<DateTime<Utc>>, new_cluster: &str) -> Result<String> {
        let Some(dir) = &self.target.local_dir else {
            bail!("restoring a Patroni cluster on other machines is not supported; run pgbackrest restore on its hosts")
        };
        Box::pin(local::restore::restore(dir, backup, target_time, new_cluster)).await
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

fn local_restore_preview(
    target: &PatroniTarget,
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
) -> String {
    match &target.local_dir {
        Some(dir) => local::restore::describe(dir, backup, target_time, new_cluster),
        None => "restoring a Patroni cluster on other machines is not supported: the restore will fail".into(),
    }
}

/// Passwords are set and tried on whichever member leads at that moment.
#[async_trait]
impl users::Primary for PatroniPlatform {
    fn cluster(&self) -> String {
        self.target.cluster.clone()
    }

    async fn locate(&self) -> Result<String> {
        Ok(self.current_leader().await?.name.clone())
    }

    async fn connect(&self, member: &str, database: &str, login: Login, read_only: bool) -> Result<Client> {
        let Some(member) = self.target.members.iter().find(|m| m.name == member) else {
            bail!("{member} is not a configured member of {}", self.target.cluster)
        };
        crate::sql::connect(&self.endpoint(member, database, login), self.target.source_timeout, read_only).await
    }

    fn superuser(&self) -> Login {
        self.target.superuser.clone()
    }
}

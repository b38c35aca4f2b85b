//! The CNPG platform: CloudNativePG on Kubernetes, through kube-rs. Watchers keep the cluster's
//! objects (`watch.rs`); sources fold them into the Observations every view reads (`sources.rs`,
//! `sql.rs`); actions are what CNPG's own tools send (`actions.rs`).

pub mod backups;
pub mod client;
pub mod crd;
pub mod credentials;
pub mod declarative;
mod describe;
pub mod events;
pub mod members;
pub mod pgstatus;
pub mod pooler;
mod portforward;
pub mod route;
pub mod sources;
pub mod sql;
mod tls;
pub mod volumes;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::action::{Action, BackupKind};
use crate::config::{CnpgTargetConfig, TargetCredentials};
use crate::platform::Platform;
use crate::secrets::aws::{AwsSettings, LazyAwsStore};
use crate::secrets::rotate;
use crate::secrets::{CredentialStore, Credentials, Login, Secret};
use crate::source::Source;
use crate::spec::SecretsSpec;
use crate::sql::{admin, users};
use kube::Api;
use sources::Shared;
use watch::Watches;

/// One CNPG cluster: where it is and how pgdeck reaches it.
#[derive(Debug, Clone)]
pub struct CnpgTarget {
    pub config: CnpgTargetConfig,
    /// The kubeconfig to read; `None`: `$KUBECONFIG` or `~/.kube/config`, as kubectl reads it.
    pub kubeconfig: Option<PathBuf>,
    /// How long any one source may take before what it watches shows as not answering.
    pub source_timeout: Duration,
    /// How to reach Secrets Manager when the target's credentials are `aws`.
    pub aws: AwsSettings,
    /// The secret names Secrets Manager keeps the credentials under.
    pub secrets: SecretsSpec,
}

pub struct CnpgPlatform {
    target: CnpgTarget,
    shared: Shared,
    /// Where role credentials are read and stored, as the target's `credentials` says.
    store: Arc<dyn CredentialStore>,
    /// How SQL reaches the instances, `auto` decided.
    route: route::Route,
}

impl CnpgPlatform {
    /// Connects to the context's API server and starts the watchers (they run until this is dropped).
    pub async fn connect(target: CnpgTarget) -> Result<Self> {
        let (client, api_url) = client::connect(target.kubeconfig.as_deref(), target.config.context.as_deref()).await?;
        let watches = Arc::new(Watches::start(&client, &target.config.namespace, &target.config.cluster));
        let (store, superuser): (Arc<dyn CredentialStore>, Login) = match target.config.credentials {
            TargetCredentials::Kube => {
                let store: Arc<dyn CredentialStore> =
                    Arc::new(credentials::KubeStore::new(client.clone(), &target.config.namespace));
                // The Secret the Cluster names now: it may be set (or changed) after pgdeck starts.
                let (cluster_watch, name) = (watches.clone(), target.config.cluster.clone());
                let login = Login::resolved(store.clone(), move || {
                    credentials::superuser_secret(&name, cluster_watch.clusters.state().first().map(AsRef::as_ref))
                });
                (store, login)
            }
            TargetCredentials::Aws => {
                let store: Arc<dyn CredentialStore> = Arc::new(LazyAwsStore::new(target.aws.clone()));
                let login = Login::stored(store.clone(), &target.secrets.admin);
                (store, login)
            }
        };
        let service_host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
        let route = route::resolve(target.config.sql, &api_url, service_host.as_deref());
        tracing::info!("SQL to the instances of {}/{}: {route}", target.config.namespace, target.config.cluster);
        let tls_server_name =
            target.config.tls_server_name.clone().unwrap_or_else(|| tls::server_name(&target.config.cluster));
        let shared = Shared { client, watches, api_url, timeout: target.source_timeout, superuser, tls_server_name };
        Ok(Self { target, shared, store, route })
    }

    fn cluster(&self) -> &str {
        &self.target.config.cluster
    }

    fn namespace(&self) -> &str {
        &self.target.config.namespace
    }

    fn clusters(&self) -> Api<crd::Cluster> {
        Api::namespaced(self.shared.client.clone(), self.namespace())
    }

    /// The API server's URL, for previews of the requests actions send.
    pub fn api_url(&self) -> &str {
        &self.shared.api_url
    }

    /// The secret that holds `user`'s credentials in the target's store: the superuser's, the
    /// application owner's (CNPG's `-app` Secret), or a role pgdeck created.
    fn user_secret(&self, user: &str) -> Result<String> {
        let superuser = self.shared.superuser.known_username();
        let (cluster, secrets) = (self.cluster(), &self.target.secrets);
        Ok(match self.target.config.credentials {
            TargetCredentials::Aws => secrets.login_secret(user, superuser.as_deref()),
            TargetCredentials::Kube if superuser.as_deref() == Some(user) => {
                credentials::superuser_secret(cluster, self.cached_cluster().as_deref())
            }
            TargetCredentials::Kube if user == secrets.app_user => format!("{cluster}-app"),
            TargetCredentials::Kube => credentials::role_secret(cluster, user)?,
        })
    }

    /// A login role the declarative way: its basic-auth Secret, then the role in
    /// `spec.managed.roles` (JSON Patch), followed until CNPG reconciled it, then the grants on
    /// `database` with SQL on the primary (managed roles carry no database privileges). Where
    /// the operator predates managed roles (the dry run shows the field pruned), the role is made
    /// with SQL on the primary instead, its password in the same Secret.
    async fn create_managed_user(&self, name: &str, database: &str) -> Result<String> {
        let (ns, cluster) = (self.namespace(), self.cluster());
        let secret = credentials::role_secret(cluster, name)?;
        let clusters = declarative::clusters(&self.shared.client, ns);
        let role = declarative::role_entry(name, &secret);
        if !declarative::keeps_managed_roles(&clusters, cluster, &role).await? {
            let made = users::create_stored(self, self.store.as_ref(), &secret, name, database).await?;
            return Ok(format!(
                "{made} (with SQL: the API server's Cluster has no spec.managed.roles, an operator before CNPG 1.20)"
            ));
        }
        let login = Credentials { username: name.to_owned(), password: Secret::generate() };
        self.store
            .create(&secret, &login, cluster)
            .await
            .map_err(|e| anyhow::anyhow!("could not store {name}'s password: {e:#}; nothing was created"))?;
        if let Err(e) = declarative::add_managed_role(&clusters, cluster, &role).await {
            let undo = self.store.delete(&secret).await.err().map(|u| format!(" (removing it failed: {u:#})"));
            bail!("{e:#}; the Secret {ns}/{secret} made for it was removed again{}", undo.unwrap_or_default());
        }
        let kept = format!("it stays in spec.managed.roles with its password in Secret {ns}/{secret}");
        match declarative::follow(&clusters, cluster, |c| declarative::role_state(c, name)).await? {
            Some(Ok(())) => {}
            Some(Err(why)) => bail!("CNPG cannot reconcile role {name}: {why}; {kept}"),
            None => bail!(
                "CNPG has not reconciled role {name} within {}s (status.managedRolesStatus); {kept}",
                declarative::APPLY_WAIT.as_secs()
            ),
        }
        let member = users::grant_use(self, name, database)
            .await
            .map_err(|e| anyhow::anyhow!("CNPG created {name}, but granting it {database} failed: {e:#}"))?;
        Ok(format!(
            "user {name} created by CNPG (spec.managed.roles, password in Secret {ns}/{secret}); granted use of \
             {database} on {member}"
        ))
    }

    /// How SQL reaches the instances.
    pub fn route(&self) -> route::Route {
        self.route
    }

    /// The Cluster as the watcher holds it now.
    pub fn cached_cluster(&self) -> Option<Arc<crd::Cluster>> {
        self.shared.watches.clusters.state().into_iter().next()
    }
}

#[async_trait]
impl Platform for CnpgPlatform {
    fn identity(&self) -> String {
        let context = self.target.config.context.as_deref().unwrap_or("<current context>");
        format!("cnpg {context} {}/{} ({}, SQL {})", self.namespace(), self.cluster(), self.shared.api_url, self.route)
    }

    fn sources(&self) -> Vec<Box<dyn Source>> {
        let shared = self.shared.clone();
        vec![
            Box::new(sources::MemberList { shared: shared.clone(), identified: false }),
            Box::new(sources::Backups { shared: shared.clone() }),
            Box::new(sources::PoolerSource { shared: shared.clone() }),
            Box::new(sources::Volumes { shared: shared.clone() }),
            Box::new(events::ClusterEvents { shared: shared.clone() }),
            Box::new(sql::InstanceSql::new(shared, self.route)),
        ]
    }

    fn describe(&self, action: &Action, leader: Option<&str>) -> String {
        describe::describe(self, action, leader)
    }

    async fn switchover(&self, _leader: &str, candidate: Option<&str>) -> Result<String> {
        let Some(candidate) = candidate else {
            bail!("CNPG promotes a named instance: choose the replica to promote (--to)")
        };
        actions::promote(&self.clusters(), self.cluster(), candidate).await
    }

    async fn failover(&self, candidate: &str) -> Result<String> {
        actions::promote(&self.clusters(), self.cluster(), candidate).await
    }

    async fn backup(&self, kind: BackupKind) -> Result<String> {
        if kind != BackupKind::Full {
            bail!("CNPG takes full base backups only (with WAL archived continuously); ask for a full backup")
        }
        let backups = Api::namespaced(self.shared.client.clone(), self.namespace());
        actions::backup(&self.clusters(), &backups, self.cluster(), self.namespace()).await
    }

    async fn signal_backend(&self, member: &str, pid: i32, terminate: bool) -> Result<String> {
        sql::signal_backend(&self.shared, self.route, member, pid, terminate).await
    }

    async fn restore(&self, backup: &str, target_time: Option<DateTime<Utc>>, new_cluster: &str) -> Result<String> {
        restore::restore(&self.shared.client, self.namespace(), self.cluster(), backup, target_time, new_cluster).await
    }

    async fn create_database(&self, name: &str, owner: &str) -> Result<String> {
        let (ns, cluster) = (self.namespace(), self.cluster());
        let object = declarative::database_object_name(cluster, name)?;
        let api = declarative::databases(&self.shared.client, ns);
        let body = declarative::database_body(ns, cluster, &object, name, owner);
        if !declarative::create_database_object(&api, &body).await? {
            let (member, client) = users::admin_session(self, "postgres").await?;
            client.batch_execute(&admin::create_database(name, owner)).await.map_err(|e| users::sql_error(&e))?;
            return Ok(format!(
                "database {name} owned by {owner} created with SQL on {member} (the API server has no Database kind: \
                 CNPG before 1.25)"
            ));
        }
        match declarative::follow(&api, &object, declarative::database_state).await? {
            Some(Ok(())) => Ok(format!("database {name} owned by {owner} applied by CNPG (Database {ns}/{object})")),
            Some(Err(why)) => bail!("CNPG could not apply Database {ns}/{object}: {why}"),
            None => bail!(
                "CNPG has not applied Database {ns}/{object} within {}s; the object stays and may still be applied \
                 (kubectl get database {object} -n {ns})",
                declarative::APPLY_WAIT.as_secs()
            ),
        }
    }

    async fn create_user(&self, name: &str, database: &str) -> Result<String> {
        match self.target.config.credentials {
            // CNPG reads managed roles' passwords from Kubernetes Secrets only: with the
            // credentials in Secrets Manager the role is made with SQL, as on Patroni.
            TargetCredentials::Aws => {
                let secret = self.target.secrets.user_secret(name);
                users::create_stored(self, self.store.as_ref(), &secret, name, database).await
            }
            TargetCredentials::Kube => self.create_managed_user(name, database).await,
        }
    }

    async fn apply(&self, objects: &[serde_json::Value]) -> Result<String> {
        let mut lines = Vec::new();
        for object in objects {
            let (shown, outcome) = apply::apply_one(&self.shared.client, object)
                .await
                .map_err(|e| anyhow::anyhow!("{e:#}{}", applied_so_far(&lines)))?;
            lines.push(format!("{shown} {outcome}"));
        }
        Ok(lines.join("\n"))
    }

    async fn reveal_password(&self, user: &str) -> Result<crate::secrets::Revealed> {
        // Reads the superuser's login first, so that `user_secret` knows whether `user` is it.
        self.shared.superuser.credentials().await?;
        crate::secrets::reveal(self.store.as_ref(), &self.user_secret(user)?, user).await
    }

    async fn rotate_password(&self, user: &str) -> Result<String> {
        rotate::rotate(self.store.as_ref(), &users::PrimaryPasswords(self), &self.user_secret(user)?).await
    }
}
pub mod actions;
pub mod apply;
pub mod manifests;
pub mod restore;

#[async_trait]
impl users::Primary for CnpgPlatform {
    fn cluster(&self) -> String {
        self.cluster().to_owned()
    }

    /// The primary CNPG reports; none while a switchover or failover is under way.
    async fn locate(&self) -> Result<String> {
        let Some(cluster) = self.cached_cluster() else {
            bail!("the Cluster {}/{} has not been read yet (or does not exist)", self.namespace(), self.cluster())
        };
        let status = &cluster.status;
        match (&status.current_primary, &status.target_primary) {
            (Some(current), Some(target)) if current != target => {
                bail!("CNPG is moving the primary from {current} to {target}; try again once it is done")
            }
            (Some(current), _) => Ok(current.clone()),
            (None, _) => bail!("CNPG reports no current primary for {}", self.cluster()),
        }
    }

    async fn connect(
        &self,
        member: &str,
        database: &str,
        login: Login,
        read_only: bool,
    ) -> Result<tokio_postgres::Client> {
        sql::connect_instance(&self.shared, self.route, member, database, login, read_only).await
    }

    fn superuser(&self) -> Login {
        self.shared.superuser.clone()
    }
}

/// What an apply that failed part-way had done, so the operator knows where it stopped.
fn applied_so_far(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!(" (before it: {})", lines.join(", "))
    }
}

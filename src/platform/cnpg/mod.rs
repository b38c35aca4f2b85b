//! The CNPG platform: CloudNativePG on Kubernetes, through kube-rs. Watchers keep the cluster's
//! objects (`watch.rs`); sources fold them into the Observations every view reads (`sources.rs`,
//! `sql.rs`); actions are what CNPG's own tools send (`actions.rs`).

pub mod backups;
pub mod client;
pub mod crd;
mod describe;
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
use crate::config::CnpgTargetConfig;
use crate::platform::Platform;
use crate::source::Source;
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
}

pub struct CnpgPlatform {
    target: CnpgTarget,
    shared: Shared,
    /// How SQL reaches the instances, `auto` decided.
    route: route::Route,
}

impl CnpgPlatform {
    /// Connects to the context's API server and starts the watchers (they run until this is dropped).
    pub async fn connect(target: CnpgTarget) -> Result<Self> {
        let (client, api_url) = client::connect(target.kubeconfig.as_deref(), target.config.context.as_deref()).await?;
        let watches = Arc::new(Watches::start(&client, &target.config.namespace, &target.config.cluster));
        let service_host = std::env::var("KUBERNETES_SERVICE_HOST").ok();
        let route = route::resolve(target.config.sql, &api_url, service_host.as_deref());
        tracing::info!("SQL to the instances of {}/{}: {route}", target.config.namespace, target.config.cluster);
        let shared = Shared { client, watches, api_url, timeout: target.source_timeout };
        Ok(Self { target, shared, route })
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
        format!("cnpg {context} {}/{} ({})", self.namespace(), self.cluster(), self.shared.api_url)
    }

    fn sources(&self) -> Vec<Box<dyn Source>> {
        let shared = self.shared.clone();
        vec![
            Box::new(sources::MemberList { shared: shared.clone(), identified: false }),
            Box::new(sources::Backups { shared: shared.clone() }),
            Box::new(sources::PoolerSource { shared: shared.clone() }),
            Box::new(sources::Volumes { shared: shared.clone() }),
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

    async fn create_database(&self, _name: &str, _owner: &str) -> Result<String> {
        bail!("creating databases is not supported on CNPG targets yet; create a Database object (CNPG 1.25+)")
    }

    async fn create_user(&self, _name: &str, _database: &str) -> Result<String> {
        bail!("creating users is not supported on CNPG targets yet; add the role to the Cluster's spec.managed.roles")
    }

    async fn rotate_password(&self, _user: &str) -> Result<String> {
        bail!("rotating passwords is not supported on CNPG targets yet; update the role's basic-auth Secret")
    }
}
pub mod actions;
pub mod apply;
pub mod manifests;
pub mod restore;

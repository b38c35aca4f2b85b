//! The CNPG platform: CloudNativePG on Kubernetes, through kube-rs. Watchers keep the cluster's
//! objects (`watch.rs`); sources fold them into the Observations every view reads (`sources.rs`,
//! `sql.rs`); actions are what CNPG's own tools send (`actions.rs`).

pub mod backups;
pub mod client;
pub mod crd;
pub mod members;
pub mod pgstatus;
pub mod pooler;
pub mod sources;
pub mod sql;
pub mod volumes;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::action::{Action, BackupKind};
use crate::config::CnpgTargetConfig;
use crate::platform::Platform;
use crate::source::Source;
use sources::Shared;
use watch::Watches;

/// One CNPG cluster: where it is and how pgdeck reaches it.
#[derive(Debug, Clone)]
pub struct CnpgTarget {
    pub config: CnpgTargetConfig,
    /// How long any one source may take before what it watches shows as not answering.
    pub source_timeout: Duration,
}

pub struct CnpgPlatform {
    target: CnpgTarget,
    shared: Shared,
}

impl CnpgPlatform {
    /// Connects to the context's API server and starts the watchers (they run until this is dropped).
    pub async fn connect(target: CnpgTarget) -> Result<Self> {
        let (client, api_url) = client::connect(target.config.context.as_deref()).await?;
        let watches = Arc::new(Watches::start(&client, &target.config.namespace, &target.config.cluster));
        let shared = Shared { client, watches, api_url, timeout: target.source_timeout };
        Ok(Self { target, shared })
    }

    fn cluster(&self) -> &str {
        &self.target.config.cluster
    }

    fn namespace(&self) -> &str {
        &self.target.config.namespace
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
            Box::new(sql::InstanceSql::new(shared, self.target.config.sql)),
        ]
    }

    fn describe(&self, action: &Action, _leader: Option<&str>) -> String {
        format!("{action}: not supported on CNPG yet")
    }

    async fn switchover(&self, _leader: &str, _candidate: Option<&str>) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn failover(&self, _candidate: &str) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn backup(&self, _kind: BackupKind) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn signal_backend(&self, _member: &str, _pid: i32, _terminate: bool) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn restore(&self, _backup: &str, _target_time: Option<DateTime<Utc>>, _new_cluster: &str) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn create_database(&self, _name: &str, _owner: &str) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn create_user(&self, _name: &str, _database: &str) -> Result<String> {
        bail!("not supported on CNPG yet")
    }

    async fn rotate_password(&self, _user: &str) -> Result<String> {
        bail!("not supported on CNPG yet")
    }
}

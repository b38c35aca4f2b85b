//! `pgdeck local`: a real Patroni + etcd + PgBouncer + pgBackRest cluster on this machine.

pub mod agent;
pub mod configs;
mod down;
pub mod layout;
pub mod prereq;
pub mod process;
mod reach;
pub mod restore;
pub mod tls;
mod up;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::platform::patroni::pgbackrest::PgBackRest;
use crate::platform::patroni::{MemberEndpoint, PatroniTarget, PoolerEndpoint};
use crate::secrets::Credentials;
use crate::secrets::{CredentialStore, Login};
use crate::sql::Tls;
use layout::{ClusterFile, Layout, LOOPBACK};
use process::Tracked;

pub use down::down;
pub use up::up;

/// The secret name of the replication user's credentials in the local store.
pub const REPLICATION_SECRET: &str = "postgres/replication-credentials";
/// The logins `up` creates for the superuser and for streaming replication.
pub const SUPERUSER: &str = "postgres";
pub const REPLICATION_USER: &str = "replicator";
/// How long a source may take before its member shows as not answering.
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(3);

/// The superuser, replication and application logins of a local cluster.
pub struct ClusterSecrets {
    pub superuser: Credentials,
    pub replication: Credentials,
    pub app: Credentials,
}

/// A local cluster that `up` has created (it may or may not be running).
pub struct LocalCluster {
    pub layout: Layout,
    pub file: ClusterFile,
}

impl LocalCluster {
    pub fn open(layout: Layout) -> Result<Self> {
        let file = ClusterFile::load(&layout)?.with_context(|| {
            format!("there is no local cluster in {}; create one with `pgdeck local up`", layout.root.display())
        })?;
        Ok(Self { layout, file })
    }

    /// The cluster's credential store: its file, or Secrets Manager.
    pub fn store(&self) -> Arc<dyn CredentialStore> {
        self.file.credentials.open(&self.layout.credentials_file())
    }

    /// The three logins the cluster itself needs, read once from its store.
    pub async fn secrets(&self) -> Result<ClusterSecrets> {
        let store = self.store();
        let names = &self.file.spec.secrets;
        Ok(ClusterSecrets {
            superuser: store.read(&names.admin).await?,
            replication: store.read(REPLICATION_SECRET).await?,
            app: store.read(&names.app).await?,
        })
    }

    /// Every process the cluster consists of, in start order.
    pub fn components(&self) -> Vec<Tracked> {
        let mut all = vec![self.tracked("etcd", "etcd")];
        for member in &self.file.ports.members {
            all.push(self.tracked(&member.name, "patroni"));
        }
        all.push(self.tracked("pgbouncer", "pgbouncer"));
        all.push(self.tracked("agent", "pgdeck"));
        all
    }

    pub fn tracked(&self, component: &str, program: &str) -> Tracked {
        Tracked {
            component: component.to_owned(),
            pid_file: self.layout.pid_file(component),
            program: program.to_owned(),
        }
    }

    pub fn pgbackrest(&self) -> PgBackRest {
        PgBackRest {
            config: self.layout.pgbackrest_config(),
            stanza: self.file.stanza.clone(),
            run_as: self.file.run_as.clone(),
        }
    }

    /// The cluster as a Patroni target that `status` and the console watch.
    /// Reads no secret: the superuser's password is read when a session first needs it, so a
    /// credential store that is down fails those sessions, not the console.
    ///
    /// Sessions use TLS verified against the cluster's own CA; a cluster made before pgdeck had
    /// TLS has no CA until its next `up`, and is reached in plain TCP until then.
    pub fn target(&self) -> Result<PatroniTarget> {
        let store = self.store();
        let superuser = Login::stored(store.clone(), &self.file.spec.secrets.admin);
        let ca = self.layout.tls_ca();
        let tls = if ca.exists() { Some(Tls::new(tls::client_config(&ca)?)) } else { None };
        Ok(PatroniTarget {
            cluster: self.file.spec.name.clone(),
            members: self
                .file
                .ports
                .members
                .iter()
                .map(|m| MemberEndpoint {
                    name: m.name.clone(),
                    api_url: ClusterFile::api_url(m),
                    pg_host: LOOPBACK.into(),
                    pg_port: m.postgres,
                    data_dir: Some(self.layout.member_data_dir(&m.name)),
                })
                .collect(),
            superuser,
            pooler: Some(PoolerEndpoint {
                name: format!("{}-pooler-rw", self.file.spec.name),
                host: LOOPBACK.into(),
                port: self.file.ports.pgbouncer,
            }),
            pgbackrest: Some(self.pgbackrest()),
            backup_schedule: self.file.spec.backup.schedule.clone(),
            backup_retention: self.file.spec.backup.retention.clone(),
            source_timeout: SOURCE_TIMEOUT,
            credential_store: store,
            secrets: self.file.spec.secrets.clone(),
            local_dir: Some(self.layout.root.clone()),
            tls,
        })
    }
}

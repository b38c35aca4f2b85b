//! Where the local cluster keeps everything, and `cluster.json`, the record of what `up` chose.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::platform::patroni::run_as::RunAs;
use crate::secrets::CredentialSource;
use crate::spec::ClusterSpec;

/// Paths under the local cluster's directory.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
    /// The command that removes the cluster `name` kept here, as a hint in messages.
    pub fn purge_command(&self, name: &str) -> String {
        format!("`pgdeck --dir {} local down --purge --confirm {name}`", self.root.display())
    }
    pub fn cluster_file(&self) -> PathBuf {
        self.root.join("cluster.json")
    }
    pub fn credentials_file(&self) -> PathBuf {
        self.root.join("credentials.json")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn etcd_dir(&self) -> PathBuf {
        self.root.join("etcd")
    }
    pub fn member_dir(&self, name: &str) -> PathBuf {
        self.root.join("members").join(name)
    }
    pub fn member_data_dir(&self, name: &str) -> PathBuf {
        self.member_dir(name).join("data")
    }
    pub fn patroni_config(&self, name: &str) -> PathBuf {
        self.member_dir(name).join("patroni.yml")
    }
    pub fn pgbouncer_dir(&self) -> PathBuf {
        self.root.join("pgbouncer")
    }
    pub fn pgbouncer_ini(&self) -> PathBuf {
        self.pgbouncer_dir().join("pgbouncer.ini")
    }
    pub fn pgbouncer_userlist(&self) -> PathBuf {
        self.pgbouncer_dir().join("userlist.txt")
    }
    pub fn pgbackrest_dir(&self) -> PathBuf {
        self.root.join("pgbackrest")
    }
    pub fn pgbackrest_config(&self) -> PathBuf {
        self.pgbackrest_dir().join("pgbackrest.conf")
    }
    pub fn pgbackrest_repo(&self) -> PathBuf {
        self.pgbackrest_dir().join("repo")
    }
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }
    /// The cluster's own CA, which pgdeck trusts for this cluster alone.
    pub fn tls_ca(&self) -> PathBuf {
        self.tls_dir().join("ca.crt")
    }
    pub fn tls_cert(&self) -> PathBuf {
        self.tls_dir().join("server.crt")
    }
    pub fn tls_key(&self) -> PathBuf {
        self.tls_dir().join("server.key")
    }
    pub fn pid_file(&self, component: &str) -> PathBuf {
        self.run_dir().join(format!("{component}.pid"))
    }
    pub fn log_file(&self, component: &str) -> PathBuf {
        self.logs_dir().join(format!("{component}.log"))
    }
}

/// Ports chosen once, on loopback, and kept so that `up` after `down` is the same cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    pub etcd_client: u16,
    pub etcd_peer: u16,
    pub pgbouncer: u16,
    pub members: Vec<MemberPorts>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPorts {
    pub name: String,
    pub postgres: u16,
    pub rest: u16,
}

/// A memory parameter lowered for this machine, reported by `local status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaledParameter {
    pub name: String,
    pub spec_value: String,
    pub local_value: String,
}

/// `cluster.json`: what `local up` decided, read by every later command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFile {
    pub spec: ClusterSpec,
    /// Where the cluster's credentials are kept (files written before this field: the file).
    #[serde(default)]
    pub credentials: CredentialSource,
    pub ports: Ports,
    pub run_as: RunAs,
    pub postgres_bin_dir: PathBuf,
    pub postgres_major: u32,
    pub scaled_parameters: Vec<ScaledParameter>,
    pub stanza: String,
    /// The pgdeck binary that runs the scheduler and pooler follower.
    pub pgdeck_exe: PathBuf,
    /// What a restore is building this cluster from, until it is up: a cluster whose restore
    /// failed must not be started by `up`, which would initdb it and bring it up empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished_restore: Option<String>,
}

pub const LOOPBACK: &str = "127.0.0.1";

impl ClusterFile {
    pub fn load(layout: &Layout) -> Result<Option<Self>> {
        let path = layout.cluster_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let file = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is damaged, so pgdeck cannot tell which processes are this cluster's; stop them (their pids \
                 are in {}) and remove {} by hand",
                path.display(),
                layout.run_dir().display(),
                layout.root.display()
            )
        })?;
        Ok(Some(file))
    }

    pub fn save(&self, layout: &Layout) -> Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(layout.cluster_file(), text)
            .with_context(|| format!("cannot write {}", layout.cluster_file().display()))
    }

    pub fn member_names(&self) -> Vec<String> {
        self.ports.members.iter().map(|m| m.name.clone()).collect()
    }

    pub fn api_url(member: &MemberPorts) -> String {
        format!("http://{LOOPBACK}:{}", member.rest)
    }
}

/// A port free on loopback right now, avoiding those already taken by this cluster.
pub fn free_port(taken: &[u16]) -> Result<u16> {
    for _ in 0..64 {
        let listener = std::net::TcpListener::bind((LOOPBACK, 0)).context("cannot bind a port on 127.0.0.1")?;
        let port = listener.local_addr()?.port();
        // Patroni and etcd get port+0 only, but avoid neighbours of ours to keep the logs readable.
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    anyhow::bail!("could not find a free port on 127.0.0.1")
}

/// Whether something already listens on a loopback port.
pub fn port_in_use(port: u16) -> bool {
    std::net::TcpListener::bind((LOOPBACK, port)).is_err()
}

impl Ports {
    pub fn choose(member_names: &[String]) -> Result<Self> {
        let mut taken = Vec::new();
        let next = |taken: &mut Vec<u16>| -> Result<u16> {
            let port = free_port(taken)?;
            taken.push(port);
            Ok(port)
        };
        let etcd_client = next(&mut taken)?;
        let etcd_peer = next(&mut taken)?;
        let pgbouncer = next(&mut taken)?;
        let mut members = Vec::new();
        for name in member_names {
            members.push(MemberPorts { name: name.clone(), postgres: next(&mut taken)?, rest: next(&mut taken)? });
        }
        Ok(Self { etcd_client, etcd_peer, pgbouncer, members })
    }

    pub fn all(&self) -> Vec<(String, u16)> {
        let mut all = vec![
            ("etcd client".to_owned(), self.etcd_client),
            ("etcd peer".to_owned(), self.etcd_peer),
            ("pgbouncer".to_owned(), self.pgbouncer),
        ];
        for m in &self.members {
            all.push((format!("{} postgres", m.name), m.postgres));
            all.push((format!("{} patroni", m.name), m.rest));
        }
        all
    }
}

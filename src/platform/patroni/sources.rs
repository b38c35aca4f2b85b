//! The Patroni platform's sources: the member list, SQL per member, volumes, pooler and backups.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::clock;
use crate::model::VolumeUsage;
use crate::observation::ObservationKind;
use crate::observation::{FailureKind, SourceId};
use crate::platform::patroni::pgbackrest::PgBackRest;
use crate::platform::patroni::rest::PatroniRest;
use crate::platform::patroni::{MemberEndpoint, PatroniTarget};
use crate::source::Source;
use crate::sql::collect::MemberCollector;
use crate::sql::pooler::PoolerCollector;
use crate::sql::Endpoint;

pub fn all(target: &PatroniTarget, rest: &PatroniRest) -> Vec<Box<dyn Source>> {
    let mut sources: Vec<Box<dyn Source>> = vec![Box::new(MemberList {
        cluster: target.cluster.clone(),
        members: target.members.clone(),
        rest: rest.clone(),
        identified: false,
    })];
    for member in &target.members {
        let endpoint = Endpoint {
            host: member.pg_host.clone(),
            port: member.pg_port,
            database: "postgres".into(),
            login: target.superuser.clone(),
            tls: target.tls.clone(),
            transport: crate::sql::Transport::Tcp,
        };
        sources.push(Box::new(NewConnection {
            member: member.name.clone(),
            endpoint: endpoint.clone(),
            timeout: target.source_timeout,
        }));
        sources.push(Box::new(MemberSql {
            member: member.name.clone(),
            collector: MemberCollector::new(endpoint, target.source_timeout),
            catalog_listed_at: None,
        }));
        if let Some(dir) = &member.data_dir {
            sources.push(Box::new(Volume { member: member.name.clone(), data_dir: dir.clone() }));
        }
    }
    if let Some(pooler) = &target.pooler {
        let endpoint = Endpoint {
            host: pooler.host.clone(),
            port: pooler.port,
            database: "pgbouncer".into(),
            login: target.superuser.clone(),
            tls: target.tls.clone(),
            transport: crate::sql::Transport::Tcp,
        };
        sources
            .push(Box::new(Pooler { collector: PoolerCollector::new(&endpoint, &pooler.name, target.source_timeout) }));
    }
    if let Some(pgbackrest) = &target.pgbackrest {
        sources.push(Box::new(Backups {
            pgbackrest: pgbackrest.clone(),
            schedule: target.backup_schedule.clone(),
            retention: target.backup_retention.clone(),
        }));
    }
    sources
}

/// Patroni's `/cluster`, asked of each member in turn until one answers.
struct MemberList {
    cluster: String,
    members: Vec<MemberEndpoint>,
    rest: PatroniRest,
    identified: bool,
}

#[async_trait]
impl Source for MemberList {
    fn id(&self) -> SourceId {
        SourceId::HaManager
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let mut out = Vec::new();
        if !self.identified {
            self.identified = true;
            out.push(ObservationKind::ClusterIdentified {
                cluster: self.cluster.clone(),
                platform: "patroni".into(),
                configured_members: self.members.iter().map(|m| m.name.clone()).collect(),
            });
        }
        // Every member is asked at once and the first answer is taken: one member whose Patroni
        // hangs (stopped, or stuck on a DCS call) must not hide what the others say.
        let rest = &self.rest;
        let mut asks: FuturesUnordered<_> = self
            .members
            .iter()
            .map(|member| async move { (member.name.as_str(), rest.cluster(&member.api_url).await) })
            .collect();
        let mut errors = Vec::new();
        while let Some((name, answer)) = asks.next().await {
            match answer {
                Ok(view) => {
                    out.push(ObservationKind::MembersListed { members: view.members });
                    out.push(ObservationKind::MaintenanceModeObserved { paused: view.paused });
                    return out;
                }
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        errors.sort();
        out.push(ObservationKind::failed(None, format!("no Patroni REST API answered ({})", errors.join("; "))));
        out
    }
}

struct MemberSql {
    member: String,
    collector: MemberCollector,
    catalog_listed_at: Option<Instant>,
}

/// The catalog (databases, roles) changes rarely: list it at most this often.
const CATALOG_INTERVAL: Duration = Duration::from_secs(10);

#[async_trait]
impl Source for MemberSql {
    fn id(&self) -> SourceId {
        SourceId::sql(&self.member)
    }

    fn member(&self) -> Option<String> {
        Some(self.member.clone())
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let member = self.member.clone();
        let round = match self.collector.sample().await {
            Ok(round) => round,
            Err(e) => {
                let failure = crate::source::failure_kind(&e);
                return vec![ObservationKind::SourceFailed { member: Some(member), error: format!("{e:#}"), failure }];
            }
        };
        let mut out = vec![
            ObservationKind::MemberSampled { member: member.clone(), sample: round.sample },
            ObservationKind::WorkloadSampled {
                member: member.clone(),
                backends: round.backends,
                statements: round.statements.unwrap_or_default(),
            },
        ];
        out.extend(
            round
                .health
                .map(|health| ObservationKind::HealthSampled { member: member.clone(), health: Box::new(health) }),
        );
        if self.catalog_listed_at.is_none_or(|at| at.elapsed() >= CATALOG_INTERVAL) {
            match self.collector.catalog().await {
                Ok((databases, roles)) => {
                    self.catalog_listed_at = Some(Instant::now());
                    out.push(ObservationKind::CatalogListed { member, databases, roles });
                }
                Err(e) => out.push(ObservationKind::failed(Some(member), format!("{e:#}"))),
            }
        }
        out
    }
}

/// A new session to a member, opened and closed now and then. The sample's session stays open,
/// and its backend goes on answering while the postmaster is stopped or hung: only a new
/// connection finds a member that accepts none.
struct NewConnection {
    member: String,
    endpoint: Endpoint,
    timeout: Duration,
}

/// How often a member is asked for a new connection: a handshake with TLS and SCRAM costs the
/// member a backend start, too much for every refresh.
const NEW_CONNECTION_INTERVAL: Duration = Duration::from_secs(5);

#[async_trait]
impl Source for NewConnection {
    fn id(&self) -> SourceId {
        SourceId::Connect { member: self.member.clone() }
    }

    fn member(&self) -> Option<String> {
        Some(self.member.clone())
    }

    fn min_interval(&self) -> Duration {
        NEW_CONNECTION_INTERVAL
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        match crate::sql::connect(&self.endpoint, self.timeout, true).await {
            Ok(_session) => vec![ObservationKind::NewConnectionAccepted { member: self.member.clone() }],
            Err(e) => {
                let failure = crate::source::failure_kind(&e);
                let error = match failure {
                    FailureKind::Refused | FailureKind::Timeout => format!("accepts no new connection: {e:#}"),
                    FailureKind::Other => format!("{e:#}"),
                };
                vec![ObservationKind::SourceFailed { member: Some(self.member.clone()), error, failure }]
            }
        }
    }
}

/// Disk used by a local member's data directory, against its filesystem's size.
struct Volume {
    member: String,
    data_dir: PathBuf,
}

#[async_trait]
impl Source for Volume {
    fn id(&self) -> SourceId {
        SourceId::Volumes { member: Some(self.member.clone()) }
    }

    fn min_interval(&self) -> Duration {
        Duration::from_secs(5)
    }

    fn member(&self) -> Option<String> {
        Some(self.member.clone())
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let dir = self.data_dir.clone();
        let measured = tokio::task::spawn_blocking(move || measure(&dir)).await;
        match measured {
            Ok(Ok(usage)) => vec![ObservationKind::VolumeSampled { member: self.member.clone(), usage }],
            Ok(Err(e)) => vec![ObservationKind::failed(Some(self.member.clone()), e)],
            Err(e) => vec![ObservationKind::failed(Some(self.member.clone()), e.to_string())],
        }
    }
}

fn measure(dir: &std::path::Path) -> Result<VolumeUsage, String> {
    let fs = nix::sys::statvfs::statvfs(dir).map_err(|e| format!("cannot stat {}: {e}", dir.display()))?;
    let size_bytes = fs.blocks() * fs.fragment_size();
    Ok(VolumeUsage { used_bytes: tree_size(dir), size_bytes })
}

fn tree_size(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&path) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

struct Pooler {
    collector: PoolerCollector,
}

#[async_trait]
impl Source for Pooler {
    fn id(&self) -> SourceId {
        SourceId::Pooler
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        match self.collector.observe().await {
            Ok(pooler) => vec![ObservationKind::PoolerObserved { pooler }],
            Err(e) => vec![ObservationKind::failed(None, format!("{e:#}"))],
        }
    }
}

struct Backups {
    pgbackrest: PgBackRest,
    schedule: String,
    retention: String,
}

#[async_trait]
impl Source for Backups {
    fn id(&self) -> SourceId {
        SourceId::Backups
    }

    /// `pgbackrest info` is a process that reads the repository: backups change rarely, and the
    /// console polls again at once when an action finishes.
    fn min_interval(&self) -> Duration {
        Duration::from_secs(15)
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        match self.pgbackrest.info().await {
            Ok(info) => {
                let catalog = info.into_catalog(&self.schedule, &self.retention, clock::now());
                vec![ObservationKind::BackupsListed { catalog }]
            }
            Err(e) => vec![ObservationKind::failed(None, format!("{e:#}"))],
        }
    }
}

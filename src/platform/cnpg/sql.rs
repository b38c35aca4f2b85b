//! SQL on each instance (replication, statements, activity, databases), as the superuser whose
//! credentials the target's credential store keeps (CNPG's `<cluster>-superuser` Secret by default).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use async_trait::async_trait;
use futures::future::join_all;

use super::members::POSTGRES_PORT;
use super::sources::Shared;
use super::watch::Kind;
use crate::config::SqlRoute;
use crate::observation::ObservationKind;
use crate::secrets::Login;
use crate::source::Source;
use crate::sql::collect::MemberCollector;
use crate::sql::Endpoint;

/// The catalog (databases, roles) changes rarely: list it at most this often.
const CATALOG_INTERVAL: Duration = Duration::from_secs(10);

struct Instance {
    host: String,
    collector: MemberCollector,
    catalog_listed_at: Option<Instant>,
}

pub struct InstanceSql {
    pub shared: Shared,
    pub route: SqlRoute,
    instances: BTreeMap<String, Instance>,
}

impl InstanceSql {
    pub fn new(shared: Shared, route: SqlRoute) -> Self {
        Self { shared, route, instances: BTreeMap::new() }
    }

    /// One collector per running instance pod, made again when the pod's IP changes.
    fn refresh_instances(&mut self) {
        let pods = self.shared.pods();
        let live: BTreeMap<String, String> =
            pods.iter().filter_map(|p| Some((p.metadata.name.clone()?, p.status.as_ref()?.pod_ip.clone()?))).collect();
        self.instances.retain(|name, i| live.get(name) == Some(&i.host));
        for (name, host) in live {
            self.instances.entry(name).or_insert_with(|| {
                let endpoint = Endpoint {
                    host: host.clone(),
                    port: POSTGRES_PORT,
                    database: "postgres".into(),
                    login: self.shared.superuser.clone(),
                    // CNPG serves TLS with its own CA (`<cluster>-ca`); verifying it is not done yet.
                    tls: None,
                };
                Instance {
                    host,
                    collector: MemberCollector::new(endpoint, self.shared.timeout),
                    catalog_listed_at: None,
                }
            });
        }
    }
}

#[async_trait]
impl Source for InstanceSql {
    fn name(&self) -> String {
        "sql".into()
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let fail = |error: String| vec![ObservationKind::SourceFailed { member: None, error }];
        if self.route == SqlRoute::PortForward {
            return fail(
                "SQL through the API server's port-forward is not supported yet; set sql = \"direct\" for this \
                 target when pgdeck runs where pod IPs are reachable"
                    .into(),
            );
        }
        if let Err(e) = self.shared.watches.ready(&[Kind::Pods]).await {
            return fail(e);
        }
        // A store that cannot give the password fails this source once, by its reason, rather
        // than once per instance.
        if let Err(e) = self.shared.superuser.credentials().await {
            return fail(format!("{e:#}"));
        }
        self.refresh_instances();
        let rounds = join_all(self.instances.iter_mut().map(|(name, instance)| async move {
            let mut out = Vec::new();
            let mut errors = Vec::new();
            match instance.collector.sample().await {
                Ok(round) => {
                    out.push(ObservationKind::MemberSampled { member: name.clone(), sample: round.sample });
                    out.push(ObservationKind::WorkloadSampled {
                        member: name.clone(),
                        backends: round.backends,
                        statements: round.statements.unwrap_or_default(),
                    });
                    if instance.catalog_listed_at.is_none_or(|at| at.elapsed() >= CATALOG_INTERVAL) {
                        match instance.collector.catalog().await {
                            Ok((databases, roles)) => {
                                instance.catalog_listed_at = Some(Instant::now());
                                out.push(ObservationKind::CatalogListed { member: name.clone(), databases, roles });
                            }
                            Err(e) => errors.push(format!("{e:#}")),
                        }
                    }
                }
                Err(e) => errors.push(format!("{e:#}")),
            }
            (name.clone(), out, errors)
        }))
        .await;
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for (member, observed, errors) in rounds {
            out.extend(observed);
            for error in errors {
                failures.push(ObservationKind::SourceFailed { member: Some(member.clone()), error });
            }
        }
        // Failures after every success: one member's success clears this source's failures.
        out.extend(failures);
        out
    }
}

/// `pg_cancel_backend` / `pg_terminate_backend` on one instance, at its pod IP.
pub async fn signal_backend(shared: &Shared, member: &str, pid: i32, terminate: bool) -> Result<String> {
    let client = connect_instance(shared, member, "postgres", shared.superuser.clone(), false).await?;
    crate::sql::admin::signal_backend(&client, member, pid, terminate).await
}

/// A session on one instance, at its pod IP, in `database` as `login`.
pub async fn connect_instance(
    shared: &Shared,
    member: &str,
    database: &str,
    login: Login,
    read_only: bool,
) -> Result<tokio_postgres::Client> {
    let pods = shared.pods();
    let Some(host) = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(member))
        .and_then(|p| p.status.as_ref()?.pod_ip.clone())
    else {
        bail!("{member} has no running pod with an IP")
    };
    let endpoint = Endpoint { host, port: POSTGRES_PORT, database: database.to_owned(), login, tls: None };
    crate::sql::connect(&endpoint, shared.timeout, read_only).await
}

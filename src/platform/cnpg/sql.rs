//! SQL on each instance (replication, statements, activity, databases), as the superuser whose
//! credentials CNPG keeps in the `<cluster>-superuser` Secret.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::Api;

use super::client;
use super::members::POSTGRES_PORT;
use super::sources::Shared;
use super::watch::Kind;
use crate::config::SqlRoute;
use crate::observation::ObservationKind;
use crate::secrets::{Credentials, Secret};
use crate::source::Source;
use crate::sql::collect::MemberCollector;
use crate::sql::Endpoint;

/// The catalog (databases, roles) changes rarely: list it at most this often.
const CATALOG_INTERVAL: Duration = Duration::from_secs(10);

/// The superuser Secret CNPG makes when `enableSuperuserAccess` is true.
pub fn superuser_secret(cluster: &str) -> String {
    format!("{cluster}-superuser")
}

/// Reads a basic-auth Secret's `username` and `password`.
pub async fn read_credentials(client: &kube::Client, namespace: &str, name: &str) -> Result<Credentials> {
    let secret = Api::<KubeSecret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("reading Secret {namespace}/{name}"))))?;
    let Some(secret) = secret else {
        bail!(
            "there is no Secret {namespace}/{name}: CNPG creates it only with spec.enableSuperuserAccess: true; set \
             that on the Cluster to let pgdeck run SQL"
        )
    };
    let data = secret.data.unwrap_or_default();
    let field = |key: &str| -> Result<String> {
        let bytes = data.get(key).with_context(|| format!("Secret {namespace}/{name} has no `{key}` key"))?;
        String::from_utf8(bytes.0.clone()).with_context(|| format!("Secret {namespace}/{name}'s `{key}` is not UTF-8"))
    };
    Ok(Credentials { username: field("username")?, password: Secret::new(field("password")?) })
}

struct Instance {
    host: String,
    collector: MemberCollector,
    catalog_listed_at: Option<Instant>,
}

pub struct InstanceSql {
    pub shared: Shared,
    pub route: SqlRoute,
    credentials: Option<Credentials>,
    instances: BTreeMap<String, Instance>,
}

impl InstanceSql {
    pub fn new(shared: Shared, route: SqlRoute) -> Self {
        Self { shared, route, credentials: None, instances: BTreeMap::new() }
    }

    /// One collector per running instance pod, made again when the pod's IP changes.
    fn refresh_instances(&mut self, credentials: &Credentials) {
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
                    login: credentials.clone().into(),
                    // CNPG serves TLS with its own CA (`<cluster>-ca`); verifying it is not done yet.
                    tls: None,
                    transport: crate::sql::Transport::Tcp,
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
        let credentials = if let Some(c) = &self.credentials {
            c.clone()
        } else {
            let watches = &self.shared.watches;
            let name = superuser_secret(&watches.cluster_name);
            match read_credentials(&self.shared.client, &watches.namespace, &name).await {
                Ok(c) => {
                    self.credentials = Some(c.clone());
                    c
                }
                Err(e) => return fail(format!("{e:#}")),
            }
        };
        self.refresh_instances(&credentials);
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
        let mut password_refused = false;
        for (member, observed, errors) in rounds {
            out.extend(observed);
            for error in errors {
                password_refused |= error.contains("password authentication failed");
                failures.push(ObservationKind::SourceFailed { member: Some(member.clone()), error });
            }
        }
        if password_refused {
            // The Secret may have been rotated: read it again next round.
            self.credentials = None;
            self.instances.clear();
        }
        // Failures after every success: one member's success clears this source's failures.
        out.extend(failures);
        out
    }
}

/// `pg_cancel_backend` / `pg_terminate_backend` on one instance, at its pod IP.
pub async fn signal_backend(shared: &Shared, member: &str, pid: i32, terminate: bool) -> Result<String> {
    let pods = shared.pods();
    let Some(host) = pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(member))
        .and_then(|p| p.status.as_ref()?.pod_ip.clone())
    else {
        bail!("{member} has no running pod with an IP")
    };
    let credentials =
        read_credentials(&shared.client, &shared.watches.namespace, &superuser_secret(&shared.watches.cluster_name))
            .await?;
    let endpoint = Endpoint {
        host,
        port: POSTGRES_PORT,
        database: "postgres".into(),
        login: credentials.into(),
        tls: None,
        transport: crate::sql::Transport::Tcp,
    };
    let client = crate::sql::connect(&endpoint, shared.timeout, false).await?;
    crate::sql::admin::signal_backend(&client, member, pid, terminate).await
}

//! SQL on each instance (replication, statements, activity, databases), as the superuser whose
//! credentials the target's credential store keeps (CNPG's `<cluster>-superuser` Secret by
//! default), over TLS verified against the cluster's CA, at the pod IP or through the API
//! server's port-forward (`route.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use async_trait::async_trait;
use futures::future::join_all;

use super::members::POSTGRES_PORT;
use super::portforward::{ForwardForbidden, PodForward};
use super::route::Route;
use super::sources::Shared;
use super::tls;
use super::watch::Kind;
use crate::observation::ObservationKind;
use crate::observation::SourceId;
use crate::secrets::Login;
use crate::source::Source;
use crate::sql::collect::MemberCollector;
use crate::sql::{Endpoint, Tls, Transport};

/// The catalog (databases, roles) changes rarely: list it at most this often.
const CATALOG_INTERVAL: Duration = Duration::from_secs(10);

struct Instance {
    host: String,
    collector: MemberCollector,
    catalog_listed_at: Option<Instant>,
}

/// The CA the instances' certificates must chain to, and where it was read from.
struct Trust {
    tls: Tls,
    secret: String,
}

pub struct InstanceSql {
    pub shared: Shared,
    pub route: Route,
    trust: Option<Trust>,
    instances: BTreeMap<String, Instance>,
}

/// How one instance is reached: its pod IP, or a port-forward to the pod; verify-full either way.
fn endpoint(shared: &Shared, route: Route, pod: &str, ip: &str, database: &str, login: Login, tls: &Tls) -> Endpoint {
    let transport = match route {
        Route::Direct => Transport::Tcp,
        Route::PortForward => {
            Transport::Tunnel(Arc::new(PodForward::new(&shared.client, &shared.watches.namespace, pod, POSTGRES_PORT)))
        }
    };
    Endpoint {
        host: ip.to_owned(),
        port: POSTGRES_PORT,
        database: database.to_owned(),
        login,
        tls: Some(tls.clone()),
        transport,
    }
}

/// Reads the cluster's server CA (see `tls.rs`).
async fn read_trust(shared: &Shared) -> Result<Trust> {
    let watches = &shared.watches;
    let cluster = watches.clusters.state().into_iter().next();
    let secret = tls::ca_secret(&watches.cluster_name, cluster.as_deref());
    let tls = tls::read(&shared.client, &watches.namespace, &secret, &shared.tls_server_name).await?;
    Ok(Trust { tls, secret })
}

/// Whether `error` is the server's certificate failing verification (rustls's wording).
fn certificate_refused(error: &str) -> bool {
    error.contains("invalid peer certificate")
}

impl InstanceSql {
    pub fn new(shared: Shared, route: Route) -> Self {
        Self { shared, route, trust: None, instances: BTreeMap::new() }
    }

    /// One collector per running instance pod, made again when the pod's IP changes.
    fn refresh_instances(&mut self, tls: &Tls) {
        let pods = self.shared.pods();
        let live: BTreeMap<String, String> =
            pods.iter().filter_map(|p| Some((p.metadata.name.clone()?, p.status.as_ref()?.pod_ip.clone()?))).collect();
        self.instances.retain(|name, i| live.get(name) == Some(&i.host));
        for (name, host) in live {
            if self.instances.contains_key(&name) {
                continue;
            }
            let login = self.shared.superuser.clone();
            let endpoint = endpoint(&self.shared, self.route, &name, &host, "postgres", login, tls);
            let collector = MemberCollector::new(endpoint, self.shared.timeout);
            self.instances.insert(name, Instance { host, collector, catalog_listed_at: None });
        }
    }

    /// What a certificate refusal means here, for the finding.
    fn explain_certificate(&self, error: &str) -> String {
        let watches = &self.shared.watches;
        let secret =
            self.trust.as_ref().map_or_else(|| tls::ca_secret(&watches.cluster_name, None), |t| t.secret.clone());
        format!(
            "{error}; verify-full: the instance's certificate must be signed by the CA in Secret {}/{secret} \
             (key `{}`) and name {} (tls_server_name in the target's config names another)",
            watches.namespace,
            tls::CA_KEY,
            self.shared.tls_server_name
        )
    }
}

#[async_trait]
impl Source for InstanceSql {
    fn id(&self) -> SourceId {
        SourceId::Sql { member: None }
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let fail = |error: String| vec![ObservationKind::failed(None, error)];
        if let Err(e) = self.shared.watches.ready(&[Kind::Cluster, Kind::Pods]).await {
            return fail(e);
        }
        // A store that cannot give the password fails this source once, by its reason, rather
        // than once per instance.
        if let Err(e) = self.shared.superuser.credentials().await {
            return fail(format!("{e:#}"));
        }
        let tls = if let Some(t) = &self.trust {
            t.tls.clone()
        } else {
            match read_trust(&self.shared).await {
                Ok(trust) => {
                    let tls = trust.tls.clone();
                    self.trust = Some(trust);
                    tls
                }
                Err(e) => return fail(format!("{e:#}")),
            }
        };
        self.refresh_instances(&tls);
        let rounds = join_all(self.instances.iter_mut().map(|(name, instance)| async move {
            let mut out = Vec::new();
            let mut errors = Vec::new();
            let mut forbidden = None;
            match instance.collector.sample().await {
                Ok(round) => {
                    out.push(ObservationKind::MemberSampled { member: name.clone(), sample: round.sample });
                    out.push(ObservationKind::WorkloadSampled {
                        member: name.clone(),
                        backends: round.backends,
                        statements: round.statements.unwrap_or_default(),
                    });
                    if let Some(health) = round.health {
                        out.push(ObservationKind::HealthSampled { member: name.clone(), health: Box::new(health) });
                    }
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
                Err(e) => {
                    forbidden = ForwardForbidden::of(&e).cloned();
                    errors.push(format!("{e:#}"));
                }
            }
            (name.clone(), out, errors, forbidden)
        }))
        .await;
        if let Some(refusal) = forbidden_everywhere(&rounds) {
            return fail(refusal.to_string());
        }
        let mut out = Vec::new();
        let mut failures = Vec::new();
        let mut ca_refused = false;
        for (member, observed, errors, _) in rounds {
            out.extend(observed);
            for mut error in errors {
                if certificate_refused(&error) {
                    ca_refused = true;
                    error = self.explain_certificate(&error);
                }
                failures.push(ObservationKind::failed(Some(member.clone()), error));
            }
        }
        if ca_refused {
            // So may the CA (CNPG renews it, a user may replace it).
            self.trust = None;
            self.instances.clear();
        }
        // Failures after every success: one member's success clears this source's failures.
        out.extend(failures);
        out
    }
}

/// One instance's round: what it observed, its errors, and a port-forward RBAC refusal if that was why.
type Round = (String, Vec<ObservationKind>, Vec<String>, Option<ForwardForbidden>);

/// The RBAC refusal every instance met, said once of them all; `None` when any got further.
fn forbidden_everywhere(rounds: &[Round]) -> Option<ForwardForbidden> {
    let mut refusals = rounds.iter().map(|(_, _, _, forbidden)| forbidden.as_ref());
    let first = refusals.next()??;
    refusals.all(|r| r.is_some()).then(|| ForwardForbidden {
        namespace: first.namespace.clone(),
        pod: None,
        reason: first.reason.clone(),
    })
}

/// `pg_cancel_backend` / `pg_terminate_backend` on one instance, by the target's route.
pub async fn signal_backend(shared: &Shared, route: Route, member: &str, pid: i32, terminate: bool) -> Result<String> {
    let client = connect_instance(shared, route, member, "postgres", shared.superuser.clone(), false).await?;
    crate::sql::admin::signal_backend(&client, member, pid, terminate).await
}

/// A session on one instance, by the target's route and verified against the cluster's CA, in
/// `database` as `login`.
pub async fn connect_instance(
    shared: &Shared,
    route: Route,
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
    let trust = read_trust(shared).await?;
    let endpoint = endpoint(shared, route, member, &host, database, login, &trust.tls);
    crate::sql::connect(&endpoint, shared.timeout, read_only).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(member: &str, forbidden: bool) -> Round {
        let refusal = forbidden.then(|| ForwardForbidden {
            namespace: "postgres".into(),
            pod: Some(member.into()),
            reason: format!("pods \"{member}\" is forbidden"),
        });
        (member.into(), Vec::new(), vec!["refused".into()], refusal)
    }

    #[test]
    fn a_refusal_is_said_once_only_when_every_instance_met_it() {
        let all = [round("pg-1", true), round("pg-2", true)];
        let once = forbidden_everywhere(&all).unwrap();
        assert_eq!(once.pod, None);
        assert!(once.to_string().starts_with("opening a port-forward to the instances: forbidden by RBAC"), "{once}");
        assert!(forbidden_everywhere(&[round("pg-1", true), round("pg-2", false)]).is_none());
        assert!(forbidden_everywhere(&[]).is_none());
    }
}

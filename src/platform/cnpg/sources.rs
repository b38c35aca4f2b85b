//! The CNPG platform's sources. They read the watchers' caches (see `watch.rs`) and fold them into
//! the same Observations the Patroni platform emits; only `/pg/status`, the kubelet summary and
//! SQL are asked for on each round.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::pgstatus;
use super::watch::{Kind, Watches};
use super::{backups, client, members, pooler, volumes};
use crate::observation::ObservationKind;
use crate::observation::SourceId;
use crate::secrets::Login;
use crate::source::Source;

/// What every CNPG source shares: the API client and the watchers' caches.
#[derive(Clone)]
pub struct Shared {
    pub client: kube::Client,
    pub watches: Arc<Watches>,
    /// The API server's URL, to show where `/pg/status` is read from.
    pub api_url: String,
    pub timeout: Duration,
    /// The superuser's login, read from the target's credential store when first needed.
    pub superuser: Login,
    /// The name every instance's certificate is checked against (verify-full).
    pub tls_server_name: String,
}

impl Shared {
    fn namespace(&self) -> &str {
        &self.watches.namespace
    }

    fn cluster_name(&self) -> &str {
        &self.watches.cluster_name
    }

    fn not_found(&self) -> String {
        format!(
            "there is no Cluster {}/{}; check --namespace and --cluster (kubectl get clusters.postgresql.cnpg.io -n {})",
            self.namespace(),
            self.cluster_name(),
            self.namespace()
        )
    }

    /// The instance pods, as the watcher holds them.
    pub fn pods(&self) -> Vec<Arc<Pod>> {
        self.watches.pods.state()
    }
}

fn failed(error: impl Into<String>) -> Vec<ObservationKind> {
    vec![ObservationKind::failed(None, error.into())]
}

/// The Cluster, its pods and each instance's `/pg/status` → the member list.
pub struct MemberList {
    pub shared: Shared,
    pub identified: bool,
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
        let shared = &self.shared;
        if let Err(e) = shared.watches.ready(&[Kind::Cluster, Kind::Pods]).await {
            return failed(e);
        }
        let Some(cluster) = shared.watches.clusters.state().into_iter().next() else {
            // Named all the same, so the status and the console say which cluster is missing.
            let named = ObservationKind::ClusterIdentified {
                cluster: shared.cluster_name().to_owned(),
                platform: "cnpg".into(),
                configured_members: Vec::new(),
            };
            return vec![named, ObservationKind::failed(None, shared.not_found())];
        };
        let pods = shared.pods();
        let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
        let mut out = Vec::new();
        if !self.identified {
            self.identified = true;
            out.push(ObservationKind::ClusterIdentified {
                cluster: shared.cluster_name().to_owned(),
                platform: "cnpg".into(),
                configured_members: members::instance_names(&cluster, &pod_refs),
            });
        }
        let fetched = join_all(pods.iter().map(|pod| async {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let path = pgstatus::path(shared.namespace(), pod);
            let result = tokio::time::timeout(shared.timeout, pgstatus::fetch(&shared.client, &path)).await;
            (name, result)
        }))
        .await;
        let mut statuses = BTreeMap::new();
        let mut member_errors = Vec::new();
        let mut forbidden = None;
        for (name, result) in fetched {
            match result {
                Ok(Ok(status)) => {
                    statuses.insert(name, status);
                }
                Ok(Err(e)) if client::is_forbidden(&e) => {
                    forbidden = Some(client::explain(&e, "reading the instances' /pg/status through pods/proxy"));
                }
                Ok(Err(e)) => member_errors.push((name, client::explain(&e, "/pg/status"))),
                Err(_) => member_errors.push((name, format!("/pg/status: no answer within {:?}", shared.timeout))),
            }
        }
        out.push(ObservationKind::MembersListed {
            members: members::reports(&cluster, &pod_refs, &statuses, &shared.api_url),
        });
        out.push(ObservationKind::MaintenanceModeObserved { paused: members::reconciliation_paused(&cluster) });
        out.extend(members::cluster_phase(&cluster).map(|phase| ObservationKind::ClusterPhaseObserved { phase }));
        // Failures last: a success from this source clears its earlier failures.
        out.extend(member_errors.into_iter().map(|(m, error)| ObservationKind::failed(Some(m), error)));
        out.extend(forbidden.map(|error| ObservationKind::failed(None, error)));
        out.extend(
            shared
                .watches
                .errors(&[Kind::Cluster, Kind::Pods])
                .into_iter()
                .map(|error| ObservationKind::failed(None, error)),
        );
        out
    }
}

/// Backups and ScheduledBackups → the backup catalog.
pub struct Backups {
    pub shared: Shared,
}

#[async_trait]
impl Source for Backups {
    fn id(&self) -> SourceId {
        SourceId::Backups
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let watches = &self.shared.watches;
        let kinds = [Kind::Cluster, Kind::Backups, Kind::ScheduledBackups];
        if let Err(e) = watches.ready(&kinds).await {
            return failed(e);
        }
        let cluster = watches.clusters.state().into_iter().next();
        let all = watches.backups.state();
        let scheduled = watches.scheduled.state();
        let catalog = backups::catalog(
            self.shared.cluster_name(),
            cluster.as_deref(),
            &all.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
            &scheduled.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
        );
        let mut out = vec![ObservationKind::BackupsListed { catalog }];
        out.extend(watches.errors(&kinds).into_iter().map(|error| ObservationKind::failed(None, error)));
        out
    }
}

/// The cluster's rw Pooler and its Deployment.
pub struct PoolerSource {
    pub shared: Shared,
}

#[async_trait]
impl Source for PoolerSource {
    fn id(&self) -> SourceId {
        SourceId::Pooler
    }

    fn member(&self) -> Option<String> {
        None
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        let watches = &self.shared.watches;
        if let Err(e) = watches.ready(&[Kind::Poolers, Kind::Deployments, Kind::PoolerPods]).await {
            return failed(e);
        }
        let poolers = watches.poolers.state();
        let refs: Vec<_> = poolers.iter().map(AsRef::as_ref).collect();
        // No Pooler is no pooler, not a failure: the cluster may be reached without one.
        let Some(chosen) = pooler::pick(self.shared.cluster_name(), &refs) else { return Vec::new() };
        let name = chosen.metadata.name.clone().unwrap_or_default();
        let deployment = watches.deployments.get(&super::watch::key(self.shared.namespace(), &name));
        match pooler::report(self.shared.namespace(), self.shared.cluster_name(), chosen, deployment.as_deref()) {
            Ok(mut pooler) => {
                let counted = self.counts(&name).await;
                if let Ok((clients, servers)) = counted {
                    (pooler.client_connections, pooler.server_connections) = (clients, servers);
                }
                let mut out = vec![ObservationKind::PoolerObserved { pooler }];
                out.extend(counted.err().map(|error| ObservationKind::failed(None, error)));
                out
            }
            Err(e) => failed(e),
        }
    }
}

impl PoolerSource {
    /// Clients and server connections summed over the pooler's ready PgBouncer pods, from each
    /// one's exporter through the pod proxy.
    async fn counts(&self, pooler_name: &str) -> Result<(u32, u32), String> {
        let pods = self.shared.watches.pooler_pods.state();
        let ready: Vec<String> = pods
            .iter()
            .filter(|p| p.labels().get("cnpg.io/poolerName").map(String::as_str) == Some(pooler_name))
            .filter(|p| members::pod_ready(p))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        if ready.is_empty() {
            return Err(format!("pooler {pooler_name}: no ready PgBouncer pod to read its counts from"));
        }
        let (client, timeout, namespace) = (&self.shared.client, self.shared.timeout, self.shared.namespace());
        let answers = join_all(ready.iter().map(|pod| async move {
            let request = http::Request::get(pooler::metrics_path(namespace, pod)).body(Vec::new());
            let text = match request {
                Ok(request) => tokio::time::timeout(timeout, client.request_text(request)).await,
                Err(e) => return Err(format!("{pod}: {e}")),
            };
            match text {
                Ok(Ok(text)) => pooler::counts(&text).map_err(|e| format!("pooler pod {pod}: {e}")),
                Ok(Err(e)) if client::is_forbidden(&e) => {
                    Err(client::explain(&e, "reading the pooler's PgBouncer metrics through pods/proxy"))
                }
                Ok(Err(e)) => Err(client::explain(&e, &format!("pooler pod {pod}'s metrics"))),
                Err(_) => Err(format!("pooler pod {pod}'s metrics: no answer within {timeout:?}")),
            }
        }))
        .await;
        answers.into_iter().try_fold((0_u32, 0_u32), |(c, s), answer| {
            answer.map(|(clients, servers)| (c.saturating_add(clients), s.saturating_add(servers)))
        })
    }
}

/// Each instance's data volume, from the kubelet stats summary of the node it runs on.
pub struct Volumes {
    pub shared: Shared,
}

#[async_trait]
impl Source for Volumes {
    fn id(&self) -> SourceId {
        SourceId::Volumes { member: None }
    }

    fn member(&self) -> Option<String> {
        None
    }

    fn min_interval(&self) -> Duration {
        Duration::from_secs(5)
    }

    async fn poll(&mut self) -> Vec<ObservationKind> {
        if let Err(e) = self.shared.watches.ready(&[Kind::Pods, Kind::Pvcs]).await {
            return failed(e);
        }
        let pods = self.shared.pods();
        let mut nodes: Vec<String> =
            pods.iter().filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone())).collect();
        nodes.sort();
        nodes.dedup();
        let (client, timeout) = (&self.shared.client, self.shared.timeout);
        let answers = join_all(nodes.iter().map(|node| async move {
            (node.clone(), tokio::time::timeout(timeout, volumes::fetch(client, node)).await)
        }))
        .await;
        let mut usage = BTreeMap::new();
        let mut errors = Vec::new();
        for (node, answer) in answers {
            match answer {
                Ok(Ok(text)) => match volumes::parse(&text, self.shared.namespace()) {
                    Ok(found) => usage.extend(found),
                    Err(e) => errors.push(format!("node {node}: the kubelet stats summary is not as expected: {e}")),
                },
                Ok(Err(e)) if client::is_forbidden(&e) => {
                    errors
                        .push(client::explain(&e, "reading volume usage through nodes/proxy (kubelet stats summary)"));
                }
                Ok(Err(e)) => errors.push(client::explain(&e, &format!("node {node}'s kubelet stats summary"))),
                Err(_) => errors
                    .push(format!("node {node}'s kubelet stats summary: no answer within {:?}", self.shared.timeout)),
            }
        }
        let mut out: Vec<ObservationKind> = pods
            .iter()
            .filter_map(|pod| {
                let name = pod.metadata.name.clone()?;
                // The PGDATA PVC is named after the instance.
                let usage = *usage.get(&name)?;
                Some(ObservationKind::VolumeSampled { member: name, usage })
            })
            .collect();
        errors.dedup();
        out.extend(errors.into_iter().map(|error| ObservationKind::failed(None, error)));
        let pvcs = self.shared.watches.pvcs.state();
        let pvcs: Vec<_> = pvcs.iter().map(AsRef::as_ref).collect();
        out.extend(
            volumes::unbound(&pvcs).into_iter().map(|(member, error)| ObservationKind::failed(Some(member), error)),
        );
        out
    }
}

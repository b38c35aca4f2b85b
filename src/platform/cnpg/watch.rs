//! Live caches of the cluster's objects, kept by `kube::runtime` watchers (list, then watch;
//! restarts, 410 Gone and relists are the runtime's job). Sources read these caches; nothing polls
//! the API server for them.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event as KubeEvent, PersistentVolumeClaim, Pod};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;

use super::client;
use super::crd::{Backup, Cluster, Pooler, ScheduledBackup};

/// A watcher error older than this has been retried past (the runtime backs off and retries).
const ERROR_SHOWN_FOR: Duration = Duration::from_secs(60);

/// What the watchers hold, for one cluster.
pub struct Watches {
    pub cluster_name: String,
    pub namespace: String,
    pub clusters: Store<Cluster>,
    pub pods: Store<Pod>,
    pub pvcs: Store<PersistentVolumeClaim>,
    pub backups: Store<Backup>,
    pub scheduled: Store<ScheduledBackup>,
    pub poolers: Store<Pooler>,
    pub deployments: Store<Deployment>,
    /// The PgBouncer pods of the cluster's Poolers, whose metrics give the pooler's counts.
    pub pooler_pods: Store<Pod>,
    /// The namespace's Events; the source keeps those about this cluster's objects.
    pub events: Store<KubeEvent>,
    errors: Arc<Mutex<BTreeMap<&'static str, (Instant, String)>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The kinds a source may wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cluster,
    Pods,
    Pvcs,
    Backups,
    ScheduledBackups,
    Poolers,
    Deployments,
    PoolerPods,
    Events,
}

impl Kind {
    /// The resource as RBAC names it, for messages.
    fn resource(self) -> &'static str {
        match self {
            Kind::Cluster => "clusters.postgresql.cnpg.io",
            Kind::Pods => "pods",
            Kind::Pvcs => "persistentvolumeclaims",
            Kind::Backups => "backups.postgresql.cnpg.io",
            Kind::ScheduledBackups => "scheduledbackups.postgresql.cnpg.io",
            Kind::Poolers => "poolers.postgresql.cnpg.io",
            Kind::Deployments => "deployments.apps",
            Kind::PoolerPods => "pods (pooler)",
            Kind::Events => "events",
        }
    }
}

impl Watches {
    /// Starts one watcher per kind. Must run inside the Tokio runtime; the watchers end when
    /// this is dropped.
    pub fn start(client: &Client, namespace: &str, cluster: &str) -> Self {
        let errors = Arc::new(Mutex::new(BTreeMap::new()));
        let mut tasks = Vec::new();
        let instance_pods = format!("cnpg.io/cluster={cluster},cnpg.io/podRole=instance");
        let of_cluster = format!("cnpg.io/cluster={cluster}");
        let by_name = format!("metadata.name={cluster}");
        let ns = namespace;
        let (clusters, t) = watch(
            Api::namespaced(client.clone(), ns),
            watcher::Config::default().fields(&by_name),
            Kind::Cluster,
            &errors,
        );
        tasks.push(t);
        let (pods, t) = watch(
            Api::namespaced(client.clone(), ns),
            watcher::Config::default().labels(&instance_pods),
            Kind::Pods,
            &errors,
        );
        tasks.push(t);
        let (pvcs, t) = watch(
            Api::namespaced(client.clone(), ns),
            watcher::Config::default().labels(&of_cluster),
            Kind::Pvcs,
            &errors,
        );
        tasks.push(t);
        // Hand-written Backups may carry no label: all of the namespace's, matched on spec.cluster.name.
        let (backups, t) =
            watch(Api::namespaced(client.clone(), ns), watcher::Config::default(), Kind::Backups, &errors);
        tasks.push(t);
        let (scheduled, t) =
            watch(Api::namespaced(client.clone(), ns), watcher::Config::default(), Kind::ScheduledBackups, &errors);
        tasks.push(t);
        let (poolers, t) =
            watch(Api::namespaced(client.clone(), ns), watcher::Config::default(), Kind::Poolers, &errors);
        tasks.push(t);
        let (deployments, t) = watch(
            Api::namespaced(client.clone(), ns),
            watcher::Config::default().labels("cnpg.io/poolerName"),
            Kind::Deployments,
            &errors,
        );
        tasks.push(t);
        let (pooler_pods, t) = watch(
            Api::namespaced(client.clone(), ns),
            watcher::Config::default().labels(&format!("cnpg.io/cluster={cluster},cnpg.io/podRole=pooler")),
            Kind::PoolerPods,
            &errors,
        );
        tasks.push(t);
        // Events name their object only in `involvedObject`, which a field selector matches one
        // object at a time: the namespace's are watched and filtered by name.
        let (events, t) = watch(Api::namespaced(client.clone(), ns), watcher::Config::default(), Kind::Events, &errors);
        tasks.push(t);
        Watches {
            cluster_name: cluster.to_owned(),
            namespace: namespace.to_owned(),
            clusters,
            pods,
            pvcs,
            backups,
            scheduled,
            poolers,
            deployments,
            pooler_pods,
            events,
            errors,
            tasks,
        }
    }

    fn store_ready(&self, kind: Kind) -> bool {
        fn ready<K: Resource + Clone + 'static>(store: &Store<K>) -> bool
        where
            K::DynamicType: Eq + std::hash::Hash + Clone,
        {
            store.wait_until_ready().now_or_never().is_some_and(|r| r.is_ok())
        }
        match kind {
            Kind::Cluster => ready(&self.clusters),
            Kind::Pods => ready(&self.pods),
            Kind::Pvcs => ready(&self.pvcs),
            Kind::Backups => ready(&self.backups),
            Kind::ScheduledBackups => ready(&self.scheduled),
            Kind::Poolers => ready(&self.poolers),
            Kind::Deployments => ready(&self.deployments),
            Kind::PoolerPods => ready(&self.pooler_pods),
            Kind::Events => ready(&self.events),
        }
    }

    /// The watchers' recent failures for `kinds`, worded for the operator.
    pub fn errors(&self, kinds: &[Kind]) -> Vec<String> {
        let errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        kinds
            .iter()
            .filter_map(|k| errors.get(k.resource()))
            .filter(|(at, _)| at.elapsed() < ERROR_SHOWN_FOR)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Waits until every one of `kinds` has been listed once, or one of them fails first.
    pub async fn ready(&self, kinds: &[Kind]) -> Result<(), String> {
        loop {
            if kinds.iter().all(|k| self.store_ready(*k)) {
                return Ok(());
            }
            let unready: Vec<Kind> = kinds.iter().copied().filter(|k| !self.store_ready(*k)).collect();
            let failed = self.errors(&unready);
            if !failed.is_empty() {
                return Err(failed.join("; "));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

type Errors = Arc<Mutex<BTreeMap<&'static str, (Instant, String)>>>;

fn watch<K>(api: Api<K>, config: watcher::Config, kind: Kind, errors: &Errors) -> (Store<K>, JoinHandle<()>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store();
    let errors = Arc::clone(errors);
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            let mut errors = errors.lock().unwrap_or_else(PoisonError::into_inner);
            match item {
                Ok(_) => {
                    errors.remove(kind.resource());
                }
                Err(e) => {
                    tracing::warn!("watching {}: {e}", kind.resource());
                    errors.insert(kind.resource(), (Instant::now(), describe(&e, kind)));
                }
            }
        }
    });
    (reader, task)
}

fn describe(error: &watcher::Error, kind: Kind) -> String {
    let what = format!("watching {}", kind.resource());
    match error {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            client::explain(e, &what)
        }
        watcher::Error::WatchError(status) => format!("{what}: {} ({})", status.message, status.code),
        watcher::Error::NoResourceVersion => format!("{what}: the API server sent no resourceVersion"),
    }
}

/// Key of a namespaced object in a store, for lookups by name.
pub fn key<K: Resource<DynamicType = ()>>(namespace: &str, name: &str) -> reflector::ObjectRef<K> {
    reflector::ObjectRef::new(name).within(namespace)
}

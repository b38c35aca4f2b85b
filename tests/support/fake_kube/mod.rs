//! A fake Kubernetes API server over HTTP on loopback, for the CNPG platform's tests.
//!
//! No kube-apiserver can run on the test machines and no maintained crate serves list + watch,
//! so this one speaks enough of the real protocol for the real `kubectl` and for
//! `kube::runtime::watcher`: discovery, list/get/create/update/patch (merge, JSON, strategic as
//! merge, server-side apply), the status subresource, delete, watch with resourceVersions,
//! bookmarks and 410 Gone, and pod port-forward over WebSocket. It runs on its own runtime thread, so sync and async tests alike can
//! start it, and tests drive the objects directly as the CNPG operator would.

pub mod cnpg;
mod http;
pub mod kubeconfig;
mod managed;
mod portforward;
pub mod postgres;
mod proxy;
pub mod resources;
mod selectors;
mod status;
mod store;
pub mod tls;
mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};

use self::managed::Operation;
use self::resources::ResourceType;
use self::store::{Store, Writer};

pub use self::kubeconfig::Kubeconfig;

/// One request as the fake received it, for tests that check the exact shape an action sends.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What the API server's proxy answers for one pod port and path (`/pg/status` on 8000 …).
#[derive(Debug, Clone)]
pub struct ProxyReply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl ProxyReply {
    pub fn json(v: &Value) -> Self {
        ProxyReply { status: 200, content_type: "application/json".into(), body: v.to_string() }
    }

    /// Prometheus' text exposition, as an exporter's `/metrics` answers.
    pub fn metrics(text: &str) -> Self {
        ProxyReply { status: 200, content_type: "text/plain; version=0.0.4".into(), body: text.into() }
    }
}

pub(crate) struct Inner {
    store: Mutex<Store>,
    /// Bumped by `restart()`: every open watch and port-forward ends.
    restarts: tokio::sync::watch::Sender<u64>,
    forbidden: Mutex<Vec<String>>,
    /// Resources (by plural) served as if their CRD were not installed: 404 for every request.
    hidden: Mutex<Vec<String>>,
    /// Fields (plural, JSON pointer) the served schema lacks: dropped from every write.
    pruned: Mutex<Vec<(String, String)>>,
    conflicts: Mutex<HashMap<String, usize>>,
    proxy: Mutex<HashMap<(String, String, u16, String), ProxyReply>>,
    volumes: Mutex<HashMap<(String, String), (u64, u64)>>,
    requests: Mutex<Vec<RecordedRequest>>,
    expired_served: AtomicUsize,
    /// Down: every request answers 503, as an API server that is restarting or unreachable
    /// behind its load balancer does.
    down: std::sync::atomic::AtomicBool,
    open_watches: AtomicUsize,
    bookmark_every: Mutex<Duration>,
    addr: Mutex<Option<SocketAddr>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that failed while holding a lock must not turn every later request into a panic.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct FakeKube {
    inner: Arc<Inner>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeKube {
    /// Starts the server on 127.0.0.1 and a port the OS picks, with the namespaces every
    /// cluster has. Returns once it accepts connections.
    pub fn start() -> Self {
        let (restarts, _) = tokio::sync::watch::channel(0);
        let inner = Arc::new(Inner {
            store: Mutex::new(Store::new()),
            restarts,
            forbidden: Mutex::new(Vec::new()),
            hidden: Mutex::new(Vec::new()),
            pruned: Mutex::new(Vec::new()),
            conflicts: Mutex::new(HashMap::new()),
            proxy: Mutex::new(HashMap::new()),
            volumes: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            expired_served: AtomicUsize::new(0),
            down: std::sync::atomic::AtomicBool::new(false),
            open_watches: AtomicUsize::new(0),
            bookmark_every: Mutex::new(Duration::from_secs(1)),
            addr: Mutex::new(None),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let server_inner = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("fake-kube".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fake kube runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
                    let addr = listener.local_addr().expect("local addr");
                    *lock(&server_inner.addr) = Some(addr);
                    addr_tx.send(addr).expect("report address");
                    let app = http::router(server_inner);
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = shutdown_rx.await;
                        })
                        .await
                        .expect("fake kube server");
                });
                // Open watch streams would hold the runtime open; they are dropped with it.
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .expect("spawn fake kube thread");
        let addr = addr_rx.recv().expect("fake kube address");
        let fake = FakeKube { inner, addr, shutdown: Some(shutdown), thread: Some(thread) };
        for ns in ["default", "kube-system", "kube-public"] {
            fake.apply_json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A kubeconfig (with its own kubectl cache directory) whose current context points here.
    pub fn kubeconfig(&self, namespace: &str) -> Kubeconfig {
        Kubeconfig::write(&self.url(), namespace)
    }

    fn resource(api_version: &str, kind: &str) -> &'static ResourceType {
        resources::by_kind(api_version, kind).unwrap_or_else(|| panic!("the fake does not serve {api_version} {kind}"))
    }

    /// Creates or wholly replaces an object, status included, as an operator or controller
    /// would write it. Returns the stored object (with its new resourceVersion).
    pub fn apply_json(&self, obj: Value) -> Value {
        let api_version = obj["apiVersion"].as_str().expect("apiVersion").to_string();
        let rt = Self::resource(&api_version, obj["kind"].as_str().expect("kind"));
        let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).expect("metadata.name").to_string();
        let mut store = lock(&self.inner.store);
        let writer = Writer::hook();
        let result = if store.get(rt, &ns, &name).is_some() {
            store.update(rt, &ns, &name, obj, &writer, Operation::Update)
        } else {
            store.create(rt, &ns, obj, &writer, Operation::Update)
        };
        result.unwrap_or_else(|e| panic!("apply_json {name}: {}", e.body))
    }

    /// A merge patch of `.status` (pass `{"phase": …}`, not `{"status": …}`), as the operator's
    /// status writes; returns the stored object.
    pub fn patch_status(&self, api_version: &str, kind: &str, namespace: &str, name: &str, status: &Value) -> Value {
        self.merge_patch(api_version, kind, namespace, name, &json!({ "status": status }))
    }

    /// A merge patch (RFC 7386) of any part of an object.
    pub fn merge_patch(&self, api_version: &str, kind: &str, namespace: &str, name: &str, patch: &Value) -> Value {
        let rt = Self::resource(api_version, kind);
        let mut store = lock(&self.inner.store);
        let mut obj = store.get(rt, namespace, name).cloned().unwrap_or_else(|| panic!("no {kind} {namespace}/{name}"));
        json_patch::merge(&mut obj, patch);
        store
            .update(rt, namespace, name, obj, &Writer::hook(), Operation::Update)
            .unwrap_or_else(|e| panic!("merge_patch {name}: {}", e.body))
    }

    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let rt = Self::resource(api_version, kind);
        lock(&self.inner.store).get(rt, namespace, name).cloned()
    }

    /// The objects of a kind in a namespace, as a LIST would return their items.
    pub fn list(&self, api_version: &str, kind: &str, namespace: &str) -> Vec<Value> {
        let rt = Self::resource(api_version, kind);
        lock(&self.inner.store).list(rt, Some(namespace)).into_iter().cloned().collect()
    }

    /// Deletes (or, with finalizers, marks for deletion); None when there was nothing to delete.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let rt = Self::resource(api_version, kind);
        lock(&self.inner.store).delete(rt, namespace, name).ok()
    }

    pub fn resource_version(&self) -> u64 {
        lock(&self.inner.store).resource_version()
    }

    /// Every resourceVersion handed out so far becomes too old: the next watch that resumes from
    /// one gets a 410 Gone (`Expired`) and must relist.
    pub fn expire_history(&self) {
        lock(&self.inner.store).expire_history();
    }

    /// The API server goes away: open watches drop and every request answers 503 (which kube-rs
    /// retries with backoff, as it would a restarting server behind a load balancer) until
    /// [`FakeKube::come_back`]; what is stored is kept, and may still be changed meanwhile.
    pub fn go_down(&self) {
        self.inner.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.restart();
    }

    pub fn come_back(&self) {
        self.inner.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Serves `plural` (`databases` …) as an API server without its CRD does: 404 for every
    /// request on it, as for an older operator that does not define the kind.
    pub fn hide(&self, plural: &str) {
        lock(&self.inner.hidden).push(plural.to_string());
    }

    /// Serves `plural` with a schema that lacks the field at `pointer` (`/spec/managed`), as an
    /// older operator's CRD does: the field is dropped from every write, without an error.
    pub fn prune(&self, plural: &str, pointer: &str) {
        lock(&self.inner.pruned).push((plural.to_string(), pointer.to_string()));
    }

    /// Drops every open watch and port-forward, as an API server restart does.
    pub fn restart(&self) {
        self.inner.restarts.send_modify(|n| *n += 1);
    }

    /// Makes every request on `resource` (`pods/proxy`, `nodes/proxy`, `pods/portforward`,
    /// `clusters/status`, `secrets` …) answer 403 Forbidden, as missing RBAC does.
    pub fn forbid(&self, resource: &str) {
        lock(&self.inner.forbidden).push(resource.to_string());
    }

    /// Makes the next `times` writes (PATCH or PUT) on `resource` (`clusters/status` …) answer
    /// 409 Conflict, as when another writer (the operator) changed the object in between.
    pub fn conflict_next(&self, resource: &str, times: usize) {
        lock(&self.inner.conflicts).insert(resource.to_string(), times);
    }

    pub fn allow(&self, resource: &str) {
        lock(&self.inner.forbidden).retain(|r| r != resource);
    }

    /// What `GET …/pods/[scheme:]{pod}:{port}/proxy/{path}` answers (path without leading `/`).
    pub fn set_pod_proxy(&self, namespace: &str, pod: &str, port: u16, path: &str, reply: ProxyReply) {
        lock(&self.inner.proxy)
            .insert((namespace.into(), pod.into(), port, path.trim_start_matches('/').into()), reply);
    }

    /// The instance manager's `/pg/status` for one pod (port 8000).
    pub fn set_pg_status(&self, namespace: &str, pod: &str, status: &Value) {
        self.set_pod_proxy(namespace, pod, 8000, "pg/status", ProxyReply::json(status));
    }

    /// Used and capacity bytes the kubelet stats summary reports for one PVC.
    pub fn set_volume_usage(&self, namespace: &str, pvc: &str, used: u64, capacity: u64) {
        lock(&self.inner.volumes).insert((namespace.into(), pvc.into()), (used, capacity));
    }

    pub fn set_bookmark_interval(&self, every: Duration) {
        *lock(&self.inner.bookmark_every) = every;
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// How many watches were answered with 410 Gone.
    pub fn expired_watches(&self) -> usize {
        self.inner.expired_served.load(Ordering::SeqCst)
    }

    pub fn open_watches(&self) -> usize {
        self.inner.open_watches.load(Ordering::SeqCst)
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.restart();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Polls `cond` until it holds; panics with `what` once `deadline` has passed. Tests wait for
/// conditions this way rather than sleeping and hoping.
pub fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + deadline;
    while !cond() {
        assert!(std::time::Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

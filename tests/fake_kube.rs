//! The fake Kubernetes API server speaks the real protocol: the real `kubectl` and kube-rs's own
//! client and `kube::runtime::watcher` work against it as against a cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use support::fake_kube::{cnpg, wait_for, FakeKube, Kubeconfig};

const DEADLINE: Duration = Duration::from_secs(30);

fn run(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{shown}: {e} (is kubectl installed? scripts/setup-debian.sh)"));
    assert!(
        out.status.success(),
        "{shown} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn kubectl_json(kc: &Kubeconfig, args: &[&str]) -> Value {
    let mut cmd = kc.kubectl();
    cmd.args(args);
    serde_json::from_slice(&run(cmd).stdout).expect("kubectl printed JSON")
}

/// kubectl's minor version: `patch --subresource` needs 1.24, and Debian bookworm ships 1.20.
fn kubectl_minor(kc: &Kubeconfig) -> u32 {
    let mut cmd = kc.kubectl();
    cmd.args(["version", "--client", "-o", "json"]);
    let v: Value = serde_json::from_slice(&run(cmd).stdout).expect("kubectl version JSON");
    v["clientVersion"]["minor"].as_str().unwrap_or("0").trim_end_matches('+').parse().unwrap_or(0)
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn kubectl_gets_the_seeded_cluster_and_its_instance_pods() {
    let fake = FakeKube::start();
    cnpg::seed(&fake);
    let kc = fake.kubeconfig("postgres");

    let clusters = kubectl_json(&kc, &["get", "clusters.postgresql.cnpg.io", "-n", "postgres", "-o", "json"]);
    assert_eq!(names(&clusters), ["postgres-cluster"]);
    assert_eq!(clusters["items"][0]["status"]["phase"], "Cluster in healthy state");
    assert_eq!(clusters["items"][0]["status"]["readyInstances"], 3);

    let pods = kubectl_json(
        &kc,
        &["get", "pods", "-l", "cnpg.io/cluster=postgres-cluster,cnpg.io/podRole=instance", "-o", "json"],
    );
    assert_eq!(names(&pods), ["postgres-cluster-1", "postgres-cluster-2", "postgres-cluster-3"]);
    let primaries =
        kubectl_json(&kc, &["get", "pods", "-l", "cnpg.io/instanceRole in (primary),cnpg.io/podRole", "-o", "json"]);
    assert_eq!(names(&primaries), ["postgres-cluster-1"]);

    // The human table, as a person would look.
    let mut cmd = kc.kubectl();
    cmd.args(["get", "pods", "-l", "cnpg.io/cluster=postgres-cluster,cnpg.io/podRole=instance"]);
    let table = String::from_utf8(run(cmd).stdout).unwrap();
    assert!(table.contains("NAME") && table.contains("postgres-cluster-3"), "{table}");

    let mut cmd = kc.kubectl();
    cmd.args(["get", "secret", "postgres-cluster-superuser", "-o", "jsonpath={.data.username}"]);
    assert_eq!(String::from_utf8(run(cmd).stdout).unwrap(), "cG9zdGdyZXM=");
}

/// Reads concatenated JSON documents from a child's stdout into a channel.
fn json_stream(mut stdout: impl Read + Send + 'static) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut de = serde_json::Deserializer::from_slice(&buf).into_iter::<Value>();
            let mut used = 0;
            while let Some(Ok(v)) = de.next() {
                used = de.byte_offset();
                if tx.send(v).is_err() {
                    return;
                }
            }
            buf.drain(..used);
        }
    });
    rx
}

fn recv_until(rx: &mpsc::Receiver<Value>, what: &str, mut want: impl FnMut(&Value) -> bool) -> Value {
    let until = std::time::Instant::now() + DEADLINE;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if want(&v) => return v,
            Ok(_) => {}
            Err(e) => panic!("waiting for {what}: {e}"),
        }
    }
}

#[test]
fn kubectl_watch_sees_the_operator_patch_the_cluster_status() {
    let fake = FakeKube::start();
    cnpg::seed(&fake);
    let kc = fake.kubeconfig("postgres");
    let mut cmd = kc.kubectl();
    cmd.args(["get", "clusters", "-n", "postgres", "-w", "-o", "json", "--output-watch-events", "--request-timeout=0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("kubectl get -w");
    let events = json_stream(child.stdout.take().unwrap());

    let first = recv_until(&events, "the listed cluster", |e| e["type"] == "ADDED");
    assert_eq!(first["object"]["status"]["currentPrimary"], "postgres-cluster-1");
    wait_for("kubectl's watch to be open", DEADLINE, || fake.open_watches() >= 1);

    fake.patch_status(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"targetPrimary": "pending", "phase": "Failing over"}),
    );
    let modified = recv_until(&events, "MODIFIED", |e| e["type"] == "MODIFIED");
    assert_eq!(modified["object"]["status"]["targetPrimary"], "pending");
    assert_eq!(modified["object"]["status"]["phase"], "Failing over");

    child.kill().expect("stop kubectl by its pid");
    child.wait().unwrap();
    let watch = fake.requests().into_iter().find(|r| r.query.contains("watch=true")).expect("a watch request");
    assert_eq!(watch.path, "/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters");
}

fn resource_versions(kc: &Kubeconfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for kind in ["namespaces/pgdeck-apply", "secrets", "clusters", "poolers", "scheduledbackups"] {
        let v = kubectl_json(kc, &["get", kind, "-n", "pgdeck-apply", "-o", "json"]);
        let items = v["items"].as_array().cloned().unwrap_or_else(|| vec![v.clone()]);
        for i in items {
            out.push((
                i["metadata"]["name"].as_str().unwrap().to_string(),
                i["metadata"]["resourceVersion"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

#[test]
fn kubectl_server_side_apply_creates_and_a_second_apply_changes_nothing() {
    let fake = FakeKube::start();
    let kc = fake.kubeconfig("pgdeck-apply");
    let manifest = kc.dir().join("manifests.yaml");
    std::fs::write(&manifest, cnpg::MANIFESTS_YAML).unwrap();
    let apply = || {
        let mut cmd = kc.kubectl();
        cmd.args(["apply", "--server-side", "--field-manager=pgdeck", "-f"]).arg(&manifest);
        String::from_utf8(run(cmd).stdout).unwrap()
    };

    let first = apply();
    assert!(first.contains("cluster.postgresql.cnpg.io/postgres-cluster serverside-applied"), "{first}");
    let cluster = fake.get(cnpg::CNPG, "Cluster", "pgdeck-apply", "postgres-cluster").expect("created");
    assert_eq!(cluster["spec"]["postgresql"]["parameters"]["max_connections"], "200");
    assert_eq!(cluster["metadata"]["generation"], 1);
    let managers = cluster["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(managers.len(), 1);
    assert_eq!((managers[0]["manager"].as_str(), managers[0]["operation"].as_str()), (Some("pgdeck"), Some("Apply")));
    let secret = fake.get("v1", "Secret", "pgdeck-apply", "postgres-cluster-superuser-creds").unwrap();
    assert_eq!(secret["data"]["password"], "Y2hhbmdlLW1l", "stringData folds into data");
    assert!(secret.get("stringData").is_none());

    let before = resource_versions(&kc);
    let counter = fake.resource_version();
    apply();
    assert_eq!(resource_versions(&kc), before, "a second identical apply is a no-op");
    assert_eq!(fake.resource_version(), counter);

    let patches: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert!(!patches.is_empty());
    for p in &patches {
        assert_eq!(p.content_type.as_deref(), Some("application/apply-patch+yaml"));
        assert!(p.query.contains("fieldManager=pgdeck"), "{}", p.query);
    }
}

#[test]
fn kubectl_patches_the_cluster_status_subresource() {
    let fake = FakeKube::start();
    cnpg::seed(&fake);
    let kc = fake.kubeconfig("postgres");
    if kubectl_minor(&kc) < 24 {
        eprintln!("kubectl older than 1.24 has no `patch --subresource`; the status patch is covered through kube-rs");
        return;
    }
    let before = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    let mut cmd = kc.kubectl();
    cmd.args([
        "patch",
        "cluster",
        "postgres-cluster",
        "-n",
        "postgres",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"spec":{"instances":5},"status":{"targetPrimary":"postgres-cluster-2","phase":"Switchover in progress"}}"#,
    ]);
    run(cmd);
    let after = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    assert_eq!(after["status"]["targetPrimary"], "postgres-cluster-2");
    assert_eq!(after["status"]["phase"], "Switchover in progress");
    assert_eq!(after["spec"]["instances"], 3, "the status subresource leaves spec alone");
    assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"]);
    assert_ne!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"]);
}

/// `kubectl patch --dry-run=server` answers the object as the write would leave it, with the
/// fields the served schema lacks pruned (an older operator's CRD without `spec.managed`), and
/// stores nothing; the real write then loses the pruned field the same way.
#[test]
fn kubectl_server_dry_run_answers_the_pruned_object_and_stores_nothing() {
    let fake = FakeKube::start();
    cnpg::seed(&fake);
    fake.prune("clusters", "/spec/managed");
    let kc = fake.kubeconfig("postgres");
    let before = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    let patch = r#"[{"op":"add","path":"/spec/managed","value":{"roles":[{"name":"alice"}]}},
        {"op":"replace","path":"/spec/instances","value":4}]"#;
    let answered = kubectl_json(
        &kc,
        &["patch", "cluster", "postgres-cluster", "--type=json", "--dry-run=server", "-o", "json", "-p", patch],
    );
    assert_eq!(answered["spec"]["instances"], 4, "{answered:#}");
    assert!(answered["spec"]["managed"].is_null(), "the pruned field is gone from the answer: {answered:#}");
    let after = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    assert_eq!(after, before, "a dry run stores nothing");
    let sent = fake.requests().into_iter().rfind(|r| r.method == "PATCH").unwrap();
    assert!(sent.query.split('&').any(|p| p == "dryRun=All"), "{}", sent.query);

    let mut cmd = kc.kubectl();
    cmd.args(["patch", "cluster", "postgres-cluster", "--type=json", "-p", patch]);
    run(cmd);
    let after = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    assert_eq!(after["spec"]["instances"], 4);
    assert!(after["spec"]["managed"].is_null(), "{:#}", after["spec"]);
}

mod kube_rs {
    use super::*;
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams};
    use kube::runtime::watcher::{self, watcher, Event};
    use kube::runtime::WatchStreamExt;
    use tokio::sync::mpsc as tmpsc;

    async fn client(kc: &Kubeconfig) -> kube::Client {
        let file = kube::config::Kubeconfig::read_from(&kc.path).expect("read kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
            .await
            .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }

    fn clusters(client: &kube::Client) -> Api<DynamicObject> {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Cluster"));
        Api::namespaced_with(client.clone(), "postgres", &ar)
    }

    fn api_code(e: &kube::Error) -> Option<(u16, String)> {
        match e {
            kube::Error::Api(s) => Some((s.code, s.reason.clone())),
            _ => None,
        }
    }

    #[tokio::test]
    async fn client_reads_patches_and_gets_conflicts_as_the_real_server_gives_them() {
        let fake = FakeKube::start();
        cnpg::seed(&fake);
        let kc = fake.kubeconfig("postgres");
        let client = client(&kc).await;

        let pods: Api<Pod> = Api::namespaced(client.clone(), "postgres");
        let listed = pods
            .list(&ListParams::default().labels("cnpg.io/cluster=postgres-cluster,cnpg.io/instanceRole=replica"))
            .await
            .unwrap();
        let names: Vec<_> = listed.items.iter().map(|p| p.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["postgres-cluster-2", "postgres-cluster-3"]);
        let by_field = pods.list(&ListParams::default().fields("metadata.name=postgres-cluster-3")).await.unwrap();
        assert_eq!(by_field.items.len(), 1);
        assert_eq!(by_field.items[0].status.as_ref().unwrap().pod_ip.as_deref(), Some("10.244.3.13"));

        let api = clusters(&client);
        let cluster = api.get("postgres-cluster").await.unwrap();
        let rv = cluster.metadata.resource_version.clone().unwrap();

        // The promote patch of `kubectl cnpg promote`: a status merge patch carrying resourceVersion.
        let promote = json!({"metadata": {"resourceVersion": rv},
            "status": {"targetPrimary": "postgres-cluster-2", "phase": "Switchover in progress"}});
        let patched =
            api.patch_status("postgres-cluster", &PatchParams::default(), &Patch::Merge(&promote)).await.unwrap();
        assert_eq!(patched.data["status"]["targetPrimary"], "postgres-cluster-2");
        assert_ne!(patched.metadata.resource_version.as_deref(), Some(rv.as_str()));

        // The same patch again carries a stale resourceVersion now.
        let err =
            api.patch_status("postgres-cluster", &PatchParams::default(), &Patch::Merge(&promote)).await.unwrap_err();
        assert_eq!(api_code(&err), Some((409, "Conflict".into())), "{err}");

        let err = api.create(&PostParams::default(), &cluster).await.unwrap_err();
        assert_eq!(api_code(&err), Some((409, "AlreadyExists".into())), "{err}");
        let err = api.get("no-such-cluster").await.unwrap_err();
        assert_eq!(api_code(&err), Some((404, "NotFound".into())), "{err}");

        // A JSON patch appending a managed role, as pgdeck's create-user does.
        let add = json!([{"op": "add", "path": "/spec/managed", "value": {"roles": []}},
                         {"op": "add", "path": "/spec/managed/roles/-", "value": {"name": "alice", "login": true}}]);
        let with_role = api
            .patch(
                "postgres-cluster",
                &PatchParams::default(),
                &Patch::Json::<()>(serde_json::from_value(add).unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(with_role.data["spec"]["managed"]["roles"][0]["name"], "alice");
        assert_eq!(with_role.metadata.generation, Some(2), "a spec change bumps generation");

        // Server-side apply through kube-rs: the second identical apply leaves resourceVersion alone.
        let backup = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
            "metadata": {"name": "postgres-cluster-20261125120000", "labels": {"cnpg.io/cluster": "postgres-cluster"}},
            "spec": {"cluster": {"name": "postgres-cluster"}, "method": "barmanObjectStore"}});
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("postgresql.cnpg.io", "v1", "Backup"));
        let backups: Api<DynamicObject> = Api::namespaced_with(client.clone(), "postgres", &ar);
        let ssa = PatchParams::apply("pgdeck");
        let once = backups.patch("postgres-cluster-20261125120000", &ssa, &Patch::Apply(&backup)).await.unwrap();
        let twice = backups.patch("postgres-cluster-20261125120000", &ssa, &Patch::Apply(&backup)).await.unwrap();
        assert_eq!(once.metadata.resource_version, twice.metadata.resource_version);

        // RBAC denial on the pod proxy, by name.
        fake.forbid("pods/proxy");
        let req =
            axum::http::Request::get("/api/v1/namespaces/postgres/pods/https:postgres-cluster-1:8000/proxy/pg/status")
                .body(Vec::new())
                .unwrap();
        let err = client.request_text(req).await.unwrap_err();
        assert_eq!(api_code(&err), Some((403, "Forbidden".into())), "{err}");
        fake.allow("pods/proxy");
        let req =
            axum::http::Request::get("/api/v1/namespaces/postgres/pods/https:postgres-cluster-1:8000/proxy/pg/status")
                .body(Vec::new())
                .unwrap();
        let status: Value = serde_json::from_str(&client.request_text(req).await.unwrap()).unwrap();
        assert_eq!(status["isPrimary"], true);
        let req = axum::http::Request::get("/api/v1/nodes/node-2/proxy/stats/summary").body(Vec::new()).unwrap();
        let summary: Value = serde_json::from_str(&client.request_text(req).await.unwrap()).unwrap();
        assert_eq!(summary["pods"][0]["volume"][0]["pvcRef"]["name"], "postgres-cluster-2");
    }

    #[tokio::test]
    async fn server_side_apply_conflicts_with_another_manager_unless_forced() {
        let fake = FakeKube::start();
        cnpg::seed(&fake);
        let kc = fake.kubeconfig("postgres");
        let api = clusters(&client(&kc).await);
        let mine = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "postgres-cluster"},
            "spec": {"description": "reference cluster", "instances": 3, "postgresql": {"parameters": {"work_mem": "8MB"}}}});
        api.patch("postgres-cluster", &PatchParams::apply("pgdeck"), &Patch::Apply(&mine)).await.unwrap();
        let theirs = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "postgres-cluster"},
            "spec": {"postgresql": {"parameters": {"work_mem": "16MB"}}}});
        let err = api
            .patch("postgres-cluster", &PatchParams::apply("someone-else"), &Patch::Apply(&theirs))
            .await
            .unwrap_err();
        assert_eq!(api_code(&err), Some((409, "Conflict".into())), "{err}");
        let forced = api
            .patch("postgres-cluster", &PatchParams::apply("someone-else").force(), &Patch::Apply(&theirs))
            .await
            .unwrap();
        assert_eq!(forced.data["spec"]["postgresql"]["parameters"]["work_mem"], "16MB");

        // A field dropped from pgdeck's applied configuration goes when nobody else owns it.
        let fewer = json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "postgres-cluster"},
            "spec": {"postgresql": {"parameters": {}}}});
        let after = api.patch("postgres-cluster", &PatchParams::apply("pgdeck"), &Patch::Apply(&fewer)).await.unwrap();
        assert!(after.data["spec"].get("description").is_none(), "{}", after.data["spec"]);
        assert_eq!(after.data["spec"]["instances"], 3, "also owned by the operator, so kept");
        assert_eq!(after.data["spec"]["postgresql"]["parameters"]["work_mem"], "16MB", "owned by the other manager");
    }

    #[tokio::test]
    async fn streaming_list_watcher_gets_initial_events_then_a_bookmark() {
        let fake = FakeKube::start();
        cnpg::seed(&fake);
        let kc = fake.kubeconfig("postgres");
        let pods: Api<Pod> = Api::namespaced(client(&kc).await, "postgres");
        let config = watcher::Config::default().labels("cnpg.io/podRole=instance").streaming_lists();
        let (tx, mut rx) = tmpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = watcher(pods, config).default_backoff().boxed();
            while let Some(Ok(e)) = stream.next().await {
                if tx.send(describe(&e)).is_err() {
                    return;
                }
            }
        });
        // With streaming lists the runtime emits InitDone only on the BOOKMARK marked
        // `k8s.io/initial-events-end`, so reaching it proves the fake sent one.
        let init = next_matching(&mut rx, "InitDone").await;
        assert_eq!(init.len(), 5, "{init:?}");
        let watch =
            fake.requests().into_iter().find(|r| r.query.contains("sendInitialEvents=true")).expect("a watch-list");
        assert!(watch.query.contains("allowWatchBookmarks=true"), "{}", watch.query);
        task.abort();
    }

    fn describe(e: &Event<Pod>) -> String {
        let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
        match e {
            Event::Init => "Init".into(),
            Event::InitApply(p) => format!("InitApply {}", name(p)),
            Event::InitDone => "InitDone".into(),
            Event::Apply(p) => {
                format!("Apply {} {}", name(p), p.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default())
            }
            Event::Delete(p) => format!("Delete {}", name(p)),
        }
    }

    async fn next_matching(rx: &mut tmpsc::UnboundedReceiver<String>, want: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(DEADLINE, async {
            while let Some(e) = rx.recv().await {
                seen.push(e.clone());
                if e == want {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(matches!(found, Ok(true)), "waiting for {want:?}; saw {seen:?}");
        seen
    }

    #[tokio::test]
    async fn runtime_watcher_lists_watches_and_relists_after_410() {
        let fake = FakeKube::start();
        cnpg::seed(&fake);
        let kc = fake.kubeconfig("postgres");
        let client = client(&kc).await;
        let pods: Api<Pod> = Api::namespaced(client, "postgres");
        let config = watcher::Config::default().labels("cnpg.io/cluster=postgres-cluster,cnpg.io/podRole=instance");
        let (tx, mut rx) = tmpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = watcher(pods, config).default_backoff().boxed();
            while let Some(item) = stream.next().await {
                // Errors are the runtime's to retry; the test only follows the events.
                if let Ok(e) = item {
                    if tx.send(describe(&e)).is_err() {
                        return;
                    }
                }
            }
        });

        let init = next_matching(&mut rx, "InitDone").await;
        assert_eq!(
            init,
            [
                "Init",
                "InitApply postgres-cluster-1",
                "InitApply postgres-cluster-2",
                "InitApply postgres-cluster-3",
                "InitDone"
            ]
        );
        wait_for("the watcher's watch", DEADLINE, || fake.open_watches() >= 1);

        fake.patch_status("v1", "Pod", "postgres", "postgres-cluster-2", &json!({"podIP": "127.0.0.1"}));
        next_matching(&mut rx, "Apply postgres-cluster-2 127.0.0.1").await;
        fake.delete("v1", "Pod", "postgres", "postgres-cluster-3");
        next_matching(&mut rx, "Delete postgres-cluster-3").await;

        // The API server restarts and its watch cache no longer holds the watcher's
        // resourceVersion: the runtime gets a 410 and relists by itself.
        fake.expire_history();
        fake.restart();
        let relisted = next_matching(&mut rx, "InitDone").await;
        assert_eq!(relisted, ["Init", "InitApply postgres-cluster-1", "InitApply postgres-cluster-2", "InitDone"]);
        assert!(fake.expired_watches() >= 1, "the watcher was answered 410 Gone");

        let mut new_pod =
            cnpg::pod(3, "127.0.0.3", false, &fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap());
        new_pod["metadata"]["name"] = json!("postgres-cluster-4");
        wait_for("the watcher's new watch", DEADLINE, || fake.open_watches() >= 1);
        fake.apply_json(new_pod);
        next_matching(&mut rx, "Apply postgres-cluster-4 127.0.0.3").await;
        task.abort();
    }
}

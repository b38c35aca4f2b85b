//! Actions on a CNPG target through the real binary and the Dispatcher, checked by the exact
//! requests the fake API server recorded: promote (the status merge patch of `kubectl cnpg
//! promote`, retried on 409, refused for an unhealthy or current target) and a manual backup
//! (a `Backup` followed until it completes or fails). Instances are real PostgreSQL servers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::fake_kube::postgres::Instances;
use support::fake_kube::{cnpg, wait_for, FakeKube, Kubeconfig, RecordedRequest};

const DEADLINE: Duration = Duration::from_secs(60);
const STATUS_PATH: &str = "/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters/postgres-cluster/status";

fn pgdeck(kc: &Kubeconfig, home: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgdeck"));
    cmd.env("PGDECK_HOME", home).env("KUBECONFIG", &kc.path).env("HOME", kc.dir()).arg("--context").arg("fake");
    cmd.args(args);
    cmd
}

fn output(mut cmd: Command) -> Output {
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn patches(fake: &FakeKube) -> Vec<RecordedRequest> {
    fake.requests().into_iter().filter(|r| r.method == "PATCH" && r.path == STATUS_PATH).collect()
}

#[test]
fn promote_sends_kubectl_cnpgs_status_patch_retries_on_conflict_and_refuses_bad_targets() {
    let names = ["postgres-cluster-1", "postgres-cluster-2"];
    let pg = Instances::start(&["127.0.0.71", "127.0.0.72"], &names);
    pg.wait_streaming(1);
    let fake = FakeKube::start();
    let ips = ["127.0.0.71".to_owned(), "127.0.0.72".to_owned(), "127.0.0.73".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(&fake);
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();

    // SQL reached the instances (through the API server's port-forward, the default from
    // outside a cluster, over TLS): the Dispatcher's switchover checks need it.
    let out = output(pgdeck(&kc, home.path(), &["status", "--output", "json"]));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let replica = doc["members"].as_array().unwrap().iter().find(|m| m["name"] == names[1]).unwrap();
    assert_eq!(replica["replication_state"], "streaming", "{doc:#}");
    assert!(replica["version"].as_str().unwrap().starts_with("15"), "{replica:#}");
    assert!(replica["lag_bytes"].is_u64(), "{replica:#}");
    for name in names {
        let path = format!("/api/v1/namespaces/postgres/pods/{name}/portforward");
        assert!(fake.requests().iter().any(|r| r.method == "GET" && r.path == path), "no forward to {name}");
    }

    // The operator writes the Cluster between pgdeck's read and its patch, once.
    fake.conflict_next("clusters/status", 1);
    let rv_before =
        fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap()["metadata"]["resourceVersion"].clone();
    let out = output(pgdeck(&kc, home.path(), &["switchover", "--to", names[1], "--confirm", names[1]]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("targetPrimary set to postgres-cluster-2"), "{}", text(&out));

    let sent = patches(&fake);
    assert_eq!(sent.len(), 2, "one refused with 409, one accepted: {sent:?}");
    for request in &sent {
        assert_eq!(request.content_type.as_deref(), Some("application/merge-patch+json"));
        let body = request.json();
        assert_eq!(body["metadata"], json!({"resourceVersion": rv_before}));
        let keys: BTreeSet<&str> = body["status"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["conditions", "phase", "phaseReason", "targetPrimary", "targetPrimaryTimestamp"])
        );
        assert_eq!(body["status"]["targetPrimary"], names[1]);
        assert_eq!(body["status"]["phase"], "Switchover in progress");
        assert_eq!(body["status"]["phaseReason"], "Switching over to postgres-cluster-2");
        let stamp = body["status"]["targetPrimaryTimestamp"].as_str().unwrap();
        assert!(stamp.len() == "2026-11-25T12:00:00.123456Z".len() && stamp.ends_with('Z'), "{stamp}");
        let conditions = body["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 3);
        let ready = conditions.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!((&ready["status"], &ready["reason"]), (&json!("False"), &json!("ClusterIsNotReady")));
    }
    // The Cluster is read again (GET …/status) before each attempt.
    let reads = fake.requests().iter().filter(|r| r.method == "GET" && r.path == STATUS_PATH).count();
    assert_eq!(reads, 2);
    let stored = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    assert_eq!(stored["status"]["targetPrimary"], names[1]);
    assert_eq!(stored["status"]["currentPrimary"], names[0], "the operator, not pgdeck, moves the primary");

    // The current primary is refused by the Dispatcher; an unhealthy instance by the platform.
    fake.patch_status(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster", &json!({"targetPrimary": names[0]}));
    let out = output(pgdeck(&kc, home.path(), &["switchover", "--to", names[0], "--confirm", names[0]]));
    assert!(!out.status.success() && text(&out).contains("already the leader"), "{}", text(&out));
    fake.patch_status(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"instancesStatus": {"healthy": [names[0]], "replicating": [names[1]]}}),
    );
    let out = output(pgdeck(&kc, home.path(), &["switchover", "--to", names[1], "--confirm", names[1]]));
    assert!(!out.status.success() && text(&out).contains("is not healthy"), "{}", text(&out));
    assert_eq!(patches(&fake).len(), 2, "refusals send nothing");
}

fn spawn_backup(kc: &Kubeconfig, home: &std::path::Path) -> Child {
    let mut cmd = pgdeck(kc, home, &["backup"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Waits for the next Backup pgdeck creates and returns its create request.
fn created_backup(fake: &FakeKube, seen: usize) -> RecordedRequest {
    let created = || -> Vec<RecordedRequest> {
        fake.requests().into_iter().filter(|r| r.method == "POST" && r.path.ends_with("/backups")).collect()
    };
    wait_for("pgdeck to create a Backup", DEADLINE, || created().len() > seen);
    created().remove(seen)
}

fn set_backup_phase(fake: &FakeKube, name: &str, status: &Value) {
    fake.patch_status(cnpg::CNPG, "Backup", "postgres", name, status);
}

#[test]
fn a_backup_is_created_as_kubectl_cnpg_does_and_followed_to_completion_or_failure() {
    let fake = FakeKube::start();
    let ips = ["127.0.0.81".to_owned(), "127.0.0.82".to_owned(), "127.0.0.83".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(&fake);
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();

    let child = spawn_backup(&kc, home.path());
    let request = created_backup(&fake, 0);
    assert_eq!(request.path, "/apis/postgresql.cnpg.io/v1/namespaces/postgres/backups");
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    let body = request.json();
    let name = body["metadata"]["name"].as_str().unwrap().to_owned();
    let stamp = name.strip_prefix("postgres-cluster-").unwrap();
    assert!(stamp.len() == 14 && stamp.bytes().all(|b| b.is_ascii_digit()), "{name}");
    assert_eq!(
        body,
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
               "metadata": {"name": name, "namespace": "postgres", "labels": {"cnpg.io/cluster": "postgres-cluster"}},
               "spec": {"cluster": {"name": "postgres-cluster"}, "method": "barmanObjectStore"}})
    );
    // The operator's progress: pending, running, completed.
    set_backup_phase(&fake, &name, &json!({"phase": "pending"}));
    set_backup_phase(&fake, &name, &json!({"phase": "running", "startedAt": "2026-11-25T12:00:00Z"}));
    set_backup_phase(&fake, &name, &json!({"phase": "completed", "stoppedAt": "2026-11-25T12:00:42Z"}));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("backup {name} (barmanObjectStore) completed in 42s")), "{}", text(&out));

    // Backups are named by the second: the next one must not collide.
    wait_for("the next second", DEADLINE, || pgdeck::clock::now().format("%Y%m%d%H%M%S").to_string() != stamp);
    let child = spawn_backup(&kc, home.path());
    let second = created_backup(&fake, 1).json()["metadata"]["name"].as_str().unwrap().to_owned();
    set_backup_phase(&fake, &second, &json!({"phase": "running"}));
    set_backup_phase(
        &fake,
        &second,
        &json!({"phase": "failed", "error": "can't execute backup: exit status 4",
                "commandError": "ERROR: Barman cloud backup exception: Access Denied"}),
    );
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let shown = text(&out);
    assert!(shown.contains(&format!("backup {second} failed: can't execute backup: exit status 4")), "{shown}");
    assert!(shown.contains("Access Denied"), "{shown}");
}

#[test]
fn restore_creates_a_new_cluster_from_a_backup_and_never_reuses_a_name() {
    let fake = FakeKube::start();
    let ips = ["127.0.0.84".to_owned(), "127.0.0.85".to_owned(), "127.0.0.86".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(&fake);
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();
    let backup = "postgres-cluster-daily-20261125020000";
    let restore = |name: &str| {
        let args =
            ["restore", "--backup", backup, "--target-time", "2026-11-25T03:00:00Z", "--name", name, "--confirm", name];
        output(pgdeck(&kc, home.path(), &args))
    };
    let creates = || -> Vec<RecordedRequest> {
        fake.requests().into_iter().filter(|r| r.method == "POST" && r.path.ends_with("/clusters")).collect()
    };

    let out = restore("orders-copy");
    assert!(out.status.success(), "{}", text(&out));
    let sent = creates();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters");
    assert_eq!(sent[0].content_type.as_deref(), Some("application/json"));
    let body = sent[0].json();
    assert_eq!(body["metadata"], json!({"name": "orders-copy", "namespace": "postgres"}));
    assert_eq!(
        body["spec"]["bootstrap"],
        json!({"recovery": {"backup": {"name": backup}, "recoveryTarget": {"targetTime": "2026-11-25T03:00:00Z"}}})
    );
    assert!(body["spec"].get("backup").is_none() && body.get("status").is_none(), "{body:#}");
    assert_eq!(body["spec"]["storage"]["storageClass"], "nfs-postgres-v2");
    assert!(fake.get(cnpg::CNPG, "Cluster", "postgres", "orders-copy").is_some());

    // An existing Cluster's name is refused by the platform, the running one's by the Dispatcher.
    let out = restore("orders-copy");
    assert!(!out.status.success() && text(&out).contains("already exists"), "{}", text(&out));
    let out = restore("postgres-cluster");
    assert!(!out.status.success() && text(&out).contains("is the running cluster"), "{}", text(&out));
    assert_eq!(creates().len(), 1, "refusals create nothing");
}

//! `pgdeck manifests` and `pgdeck apply`: the reference cluster rendered from the spec, read back
//! field by field against the service description; applied server-side to the fake API server
//! (a second apply changes nothing); and read by the real kubectl.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::fake_kube::{FakeKube, Kubeconfig};

fn pgdeck(home: &std::path::Path, kc: Option<&Kubeconfig>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgdeck"));
    cmd.env("PGDECK_HOME", home).args(args);
    if let Some(kc) = kc {
        cmd.env("KUBECONFIG", &kc.path).env("HOME", kc.dir());
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "pgdeck {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn docs(home: &std::path::Path) -> (String, Vec<Value>) {
    let text = String::from_utf8(pgdeck(home, None, &["manifests"]).stdout).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
    (text, docs)
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn manifests_hold_every_value_of_the_service_description() {
    let home = tempfile::tempdir().unwrap();
    let (_, docs) = docs(home.path());
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Namespace", "ExternalSecret", "Cluster", "Pooler", "ScheduledBackup"]);
    assert!(docs[1..].iter().all(|d| d["metadata"]["namespace"] == "postgres"));
    assert_eq!(docs[0]["metadata"]["name"], "postgres");

    let es = find(&docs, "ExternalSecret");
    assert_eq!(es["spec"]["target"]["name"], "postgres-cluster-superuser-creds");
    assert_eq!(es["spec"]["target"]["template"]["type"], "kubernetes.io/basic-auth");
    let keys: Vec<(&str, &str, &str)> = es["spec"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["secretKey"].as_str().unwrap(),
                d["remoteRef"]["key"].as_str().unwrap(),
                d["remoteRef"]["property"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("username", "postgres/admin-credentials", "username"),
            ("password", "postgres/admin-credentials", "password")
        ]
    );

    let c = &find(&docs, "Cluster")["spec"];
    assert_eq!(find(&docs, "Cluster")["metadata"]["name"], "postgres-cluster");
    assert_eq!(c["instances"], 3);
    assert_eq!(c["imageName"], "ghcr.io/cloudnative-pg/postgresql:16.2");
    assert_eq!(
        (&c["enableSuperuserAccess"], &c["superuserSecret"]["name"]),
        (&json!(true), &json!("postgres-cluster-superuser-creds"))
    );
    assert_eq!(c["storage"], json!({"size": "50Gi", "storageClass": "nfs-postgres-v2"}));
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}})
    );
    assert_eq!(
        c["postgresql"]["parameters"],
        json!({"max_connections": "200", "shared_buffers": "512MB", "effective_cache_size": "3GB", "work_mem": "8MB",
               "wal_buffers": "16MB", "maintenance_work_mem": "64MB", "max_wal_size": "1GB", "checkpoint_timeout": "5min"})
    );
    assert_eq!(
        c["postgresql"]["pg_hba"],
        json!(["host all all 10.0.0.0/8 md5", "host all all 172.16.0.0/12 md5", "host all all 192.168.0.0/16 md5"])
    );
    assert_eq!(
        c["affinity"],
        json!({"enablePodAntiAffinity": true, "topologyKey": "kubernetes.io/hostname", "podAntiAffinityType": "required"})
    );
    assert_eq!(c["monitoring"]["enablePodMonitor"], true);
    assert_eq!(c["bootstrap"]["initdb"], json!({"database": "app", "owner": "app"}));

    let p = find(&docs, "Pooler");
    assert_eq!(p["metadata"]["name"], "postgres-cluster-pooler-rw");
    assert_eq!(
        p["spec"],
        json!({"cluster": {"name": "postgres-cluster"}, "instances": 3, "type": "rw",
               "pgbouncer": {"poolMode": "transaction", "parameters": {"max_client_conn": "1000", "default_pool_size": "25"}}})
    );
    let s = &find(&docs, "ScheduledBackup")["spec"];
    assert_eq!((&s["schedule"], &s["cluster"]["name"]), (&json!("0 0 2 * * *"), &json!("postgres-cluster")));

    // A spec file changes what is rendered.
    std::fs::write(
        home.path().join("spec.toml"),
        "name = \"orders\"\nnamespace = \"shop\"\n[pooler]\ndefault_pool_size = 40\n",
    )
    .unwrap();
    let text = String::from_utf8(
        pgdeck(home.path(), None, &["manifests", "--spec", home.path().join("spec.toml").to_str().unwrap()]).stdout,
    )
    .unwrap();
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
    assert_eq!(find(&docs, "Pooler")["metadata"], json!({"name": "orders-pooler-rw", "namespace": "shop"}));
    assert_eq!(find(&docs, "Pooler")["spec"]["pgbouncer"]["parameters"]["default_pool_size"], "40");
}

#[test]
fn apply_is_server_side_as_pgdeck_and_a_second_apply_changes_nothing() {
    let fake = FakeKube::start();
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();
    let out = String::from_utf8(pgdeck(home.path(), Some(&kc), &["--context", "fake", "apply"]).stdout).unwrap();
    for line in [
        "namespaces/postgres created",
        "externalsecrets/postgres-cluster-superuser-creds created",
        "clusters/postgres-cluster created",
        "poolers/postgres-cluster-pooler-rw created",
        "scheduledbackups/postgres-cluster-daily created",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let applies: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(applies.len(), 5);
    for r in &applies {
        assert_eq!(r.content_type.as_deref(), Some("application/apply-patch+yaml"));
        assert!(r.query.contains("fieldManager=pgdeck"), "{}", r.query);
    }
    assert_eq!(applies[2].path, "/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters/postgres-cluster");
    let cluster = fake.get("postgresql.cnpg.io/v1", "Cluster", "postgres", "postgres-cluster").unwrap();
    assert_eq!(cluster["spec"]["storage"]["storageClass"], "nfs-postgres-v2");
    assert_eq!(cluster["metadata"]["managedFields"][0]["manager"], "pgdeck");

    let rv = fake.resource_version();
    let out = String::from_utf8(pgdeck(home.path(), Some(&kc), &["--context", "fake", "apply"]).stdout).unwrap();
    assert_eq!(out.matches(" unchanged").count(), 5, "{out}");
    assert_eq!(fake.resource_version(), rv, "nothing was written");
    // An action like any other: each apply requested and finished in the audit trail.
    let audit = pgdeck::audit::read_all(&home.path().join("state"));
    let applies: Vec<&str> = audit.lines().filter(|l| l.contains("\"action\":\"apply\"")).collect();
    assert_eq!(applies.len(), 4, "{audit}");
    assert!(applies.iter().all(|l| l.contains("postgres-cluster")), "{audit}");
}

#[test]
fn kubectl_applies_the_manifests_server_side() {
    let fake = FakeKube::start();
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();
    let (text, _) = docs(home.path());
    let mut cmd = kc.kubectl();
    cmd.args(["apply", "--server-side", "-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pooler = fake.get("postgresql.cnpg.io/v1", "Pooler", "postgres", "postgres-cluster-pooler-rw").unwrap();
    assert_eq!(pooler["spec"]["pgbouncer"]["parameters"]["max_client_conn"], "1000");
    let sb = fake.get("postgresql.cnpg.io/v1", "ScheduledBackup", "postgres", "postgres-cluster-daily").unwrap();
    assert_eq!(sb["spec"]["schedule"], "0 0 2 * * *");
}

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

/// The reference cluster with an object store and S3 keys from Secrets Manager.
const WITH_BACKUP: &str =
    "[backup]\ndestination_path = \"s3://pg-backups/postgres-cluster\"\ns3_credentials = \"postgres/backup-s3\"\n";

fn spec_file(home: &std::path::Path, text: &str) -> String {
    let path = home.join("spec.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `manifests` with `args`: stdout parsed as YAML, and stderr.
fn render(home: &std::path::Path, args: &[&str]) -> (String, Vec<Value>, String) {
    let out = pgdeck(home, None, &[&["manifests"], args].concat());
    let text = String::from_utf8(out.stdout).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
    (text, docs, String::from_utf8(out.stderr).unwrap())
}

/// An ExternalSecret's keys: (Secret key, Secrets Manager secret, its property).
fn keys(es: &Value) -> Vec<(&str, &str, &str)> {
    fn text(v: &Value) -> &str {
        v.as_str().unwrap()
    }
    es["spec"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (text(&d["secretKey"]), text(&d["remoteRef"]["key"]), text(&d["remoteRef"]["property"])))
        .collect()
}

fn kinds(docs: &[Value]) -> Vec<&str> {
    docs.iter().map(|d| d["kind"].as_str().unwrap()).collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn manifests_hold_every_value_of_the_service_description() {
    let home = tempfile::tempdir().unwrap();
    let (_, docs, stderr) = render(home.path(), &["--spec", &spec_file(home.path(), WITH_BACKUP)]);
    assert_eq!(stderr, "", "an object store leaves nothing to warn about");
    assert_eq!(kinds(&docs), ["Namespace", "ExternalSecret", "ExternalSecret", "Cluster", "Pooler", "ScheduledBackup"]);
    assert!(docs[1..].iter().all(|d| d["metadata"]["namespace"] == "postgres"));
    assert_eq!(docs[0]["metadata"]["name"], "postgres");

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
    assert_eq!(c["backup"]["retentionPolicy"], "30d");
    let store = &c["backup"]["barmanObjectStore"];
    assert_eq!(store["destinationPath"], "s3://pg-backups/postgres-cluster");
    assert_eq!(
        store["s3Credentials"],
        json!({"accessKeyId": {"name": "postgres-cluster-backup-creds", "key": "ACCESS_KEY_ID"},
               "secretAccessKey": {"name": "postgres-cluster-backup-creds", "key": "ACCESS_SECRET_KEY"}})
    );
    assert_eq!((&store["wal"], &store["data"]), (&json!({"compression": "gzip"}), &json!({"compression": "gzip"})));
    assert_eq!(c["backup"].as_object().unwrap().len(), 2, "{}", c["backup"]);
    assert_eq!(store.as_object().unwrap().len(), 4, "{store}");

    let p = find(&docs, "Pooler");
    assert_eq!(p["metadata"]["name"], "postgres-cluster-pooler-rw");
    assert_eq!(
        p["spec"],
        json!({"cluster": {"name": "postgres-cluster"}, "instances": 3, "type": "rw",
               "pgbouncer": {"poolMode": "transaction", "parameters": {"max_client_conn": "1000", "default_pool_size": "25"}}})
    );
    let s = find(&docs, "ScheduledBackup");
    assert_eq!(s["metadata"]["name"], "postgres-cluster-daily");
    assert_eq!(
        s["spec"],
        json!({"schedule": "0 0 2 * * *", "cluster": {"name": "postgres-cluster"}, "backupOwnerReference": "self",
               "immediate": false, "method": "barmanObjectStore"})
    );
}

#[test]
fn the_secrets_come_from_secrets_manager_before_the_cluster() {
    let home = tempfile::tempdir().unwrap();
    let (_, docs, _) = render(home.path(), &["--spec", &spec_file(home.path(), WITH_BACKUP)]);
    let es = &docs[1];
    assert_eq!(es["metadata"]["name"], "postgres-cluster-superuser-creds");
    assert_eq!(es["spec"]["target"]["name"], "postgres-cluster-superuser-creds");
    assert_eq!(es["spec"]["target"]["template"]["type"], "kubernetes.io/basic-auth");
    assert_eq!(
        keys(es),
        [
            ("username", "postgres/admin-credentials", "username"),
            ("password", "postgres/admin-credentials", "password")
        ]
    );
    // The S3 keys: the same store and shape, before the Cluster that names them.
    let creds = &docs[2];
    assert_eq!(creds["metadata"]["name"], "postgres-cluster-backup-creds");
    assert_eq!(creds["spec"]["secretStoreRef"], json!({"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}));
    assert_eq!(creds["spec"]["secretStoreRef"], es["spec"]["secretStoreRef"]);
    assert_eq!(creds["spec"]["refreshInterval"], es["spec"]["refreshInterval"]);
    assert_eq!(
        creds["spec"]["target"],
        json!({"name": "postgres-cluster-backup-creds", "creationPolicy": "Owner", "template": {"type": "Opaque"}})
    );
    assert_eq!(
        keys(creds),
        [
            ("ACCESS_KEY_ID", "postgres/backup-s3", "ACCESS_KEY_ID"),
            ("ACCESS_SECRET_KEY", "postgres/backup-s3", "ACCESS_SECRET_KEY")
        ]
    );
}

#[test]
fn a_spec_file_changes_what_is_rendered() {
    let home = tempfile::tempdir().unwrap();
    let file = spec_file(
        home.path(),
        &format!("name = \"orders\"\nnamespace = \"shop\"\n[pooler]\ndefault_pool_size = 40\n{WITH_BACKUP}retention = \"4w\"\n"),
    );
    let (_, docs, _) = render(home.path(), &["--spec", &file]);
    assert_eq!(find(&docs, "Pooler")["metadata"], json!({"name": "orders-pooler-rw", "namespace": "shop"}));
    assert_eq!(find(&docs, "Pooler")["spec"]["pgbouncer"]["parameters"]["default_pool_size"], "40");
    assert_eq!(docs[2]["metadata"]["name"], "orders-backup-creds");
    assert_eq!(find(&docs, "Cluster")["spec"]["backup"]["retentionPolicy"], "4w");
    let refs = &find(&docs, "Cluster")["spec"]["backup"]["barmanObjectStore"]["s3Credentials"];
    assert_eq!(
        (&refs["accessKeyId"]["name"], &refs["secretAccessKey"]["name"]),
        (&json!("orders-backup-creds"), &json!("orders-backup-creds"))
    );
}

#[test]
fn without_an_object_store_there_are_no_backups_and_stderr_says_what_to_add() {
    let home = tempfile::tempdir().unwrap();
    let (text, docs, stderr) = render(home.path(), &[]);
    assert_eq!(kinds(&docs), ["Namespace", "ExternalSecret", "Cluster", "Pooler"]);
    assert!(find(&docs, "Cluster")["spec"].get("backup").is_none(), "{text}");
    assert!(!text.contains("warning") && !text.contains("barmanObjectStore"), "stdout is only YAML: {text}");
    for needle in [
        "warning: Cluster postgres/postgres-cluster is rendered without backups",
        "no ScheduledBackup",
        "[backup]\n    destination_path = \"s3://BUCKET/PATH\"\n    s3_credentials = ",
        "ACCESS_KEY_ID and ACCESS_SECRET_KEY",
        "IAM role",
        "--spec",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    // A spec file that is used is the one named.
    let file = spec_file(home.path(), "[pooler]\ndefault_pool_size = 40\n");
    let (_, docs, stderr) = render(home.path(), &["--spec", &file]);
    assert_eq!(kinds(&docs), ["Namespace", "ExternalSecret", "Cluster", "Pooler"]);
    assert!(stderr.contains(&format!("add to {file} (into its [backup] table")), "{stderr}");

    // `apply` warns the same way and applies what there is.
    let fake = FakeKube::start();
    let kc = fake.kubeconfig("default");
    let out = pgdeck(home.path(), Some(&kc), &["--context", "fake", "apply"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is rendered without backups"), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("rendered without backups") && !stdout.contains("scheduledbackups"), "{stdout}");
    assert_eq!(fake.requests().into_iter().filter(|r| r.method == "PATCH").count(), 4);
}

#[test]
fn apply_is_server_side_as_pgdeck_and_a_second_apply_changes_nothing() {
    let fake = FakeKube::start();
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();
    let file = spec_file(home.path(), WITH_BACKUP);
    let apply = ["--context", "fake", "apply", "--spec", &file];
    let out = String::from_utf8(pgdeck(home.path(), Some(&kc), &apply).stdout).unwrap();
    for line in [
        "namespaces/postgres created",
        "externalsecrets/postgres-cluster-superuser-creds created",
        "externalsecrets/postgres-cluster-backup-creds created",
        "clusters/postgres-cluster created",
        "poolers/postgres-cluster-pooler-rw created",
        "scheduledbackups/postgres-cluster-daily created",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let applies: Vec<_> = fake.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(applies.len(), 6);
    for r in &applies {
        assert_eq!(r.content_type.as_deref(), Some("application/apply-patch+yaml"));
        assert!(r.query.contains("fieldManager=pgdeck"), "{}", r.query);
    }
    assert_eq!(
        applies[2].path,
        "/apis/external-secrets.io/v1/namespaces/postgres/externalsecrets/postgres-cluster-backup-creds"
    );
    assert_eq!(applies[3].path, "/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters/postgres-cluster");
    let cluster = fake.get("postgresql.cnpg.io/v1", "Cluster", "postgres", "postgres-cluster").unwrap();
    assert_eq!(cluster["spec"]["storage"]["storageClass"], "nfs-postgres-v2");
    assert_eq!(cluster["spec"]["backup"]["barmanObjectStore"]["destinationPath"], "s3://pg-backups/postgres-cluster");
    assert_eq!(cluster["spec"]["backup"]["retentionPolicy"], "30d");
    assert_eq!(cluster["metadata"]["managedFields"][0]["manager"], "pgdeck");

    let rv = fake.resource_version();
    let out = String::from_utf8(pgdeck(home.path(), Some(&kc), &apply).stdout).unwrap();
    assert_eq!(out.matches(" unchanged").count(), 6, "{out}");
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
    let (text, _, _) = render(home.path(), &["--spec", &spec_file(home.path(), WITH_BACKUP)]);
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
    let creds =
        fake.get("external-secrets.io/v1", "ExternalSecret", "postgres", "postgres-cluster-backup-creds").unwrap();
    assert_eq!(creds["spec"]["data"][1]["remoteRef"]["property"], "ACCESS_SECRET_KEY");
}

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

/// A request's query parameters (kube-rs may lead with an empty one: `?&dryRun=All`).
fn query_params(request: &RecordedRequest) -> Vec<&str> {
    request.query.split('&').filter(|p| !p.is_empty()).collect()
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

    let mut child = spawn_backup(&kc, home.path());
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
    // The operator's progress: pending, running, completed; each seen by pgdeck as it comes.
    let backups_seen = || {
        let out = output(pgdeck(&kc, home.path(), &["status", "--output", "json"]));
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["backups"].clone()
    };
    let completed_before = backups_seen()["count"].as_u64().unwrap();
    set_backup_phase(&fake, &name, &json!({"phase": "pending"}));
    set_backup_phase(&fake, &name, &json!({"phase": "running", "startedAt": "2026-11-25T12:00:00Z"}));
    let running = backups_seen();
    assert_eq!(running["running"], true, "{running:#}");
    assert!(child.try_wait().unwrap().is_none(), "the backup is followed while it runs");
    set_backup_phase(&fake, &name, &json!({"phase": "completed", "stoppedAt": "2026-11-25T12:00:42Z"}));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(&format!("backup {name} (barmanObjectStore) completed in 42s")), "{}", text(&out));
    let done = backups_seen();
    assert_eq!((done["running"].as_bool(), done["count"].as_u64()), (Some(false), Some(completed_before + 1)));

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

    // A cluster that archives through the Barman Cloud Plugin: its Backup is reached through the
    // object store as an external cluster, pinned by the backup's ID.
    let plugin = "barman-cloud.cloudnative-pg.io";
    fake.merge_patch(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"spec": {"plugins": [{"name": plugin, "isWALArchiver": true,
                                       "parameters": {"barmanObjectName": "postgres-cluster-store"}}]}}),
    );
    let mut by_plugin = fake.get(cnpg::CNPG, "Backup", "postgres", backup).unwrap();
    by_plugin["metadata"] = json!({"name": "postgres-cluster-20261125120000", "namespace": "postgres",
                                   "labels": {"cnpg.io/cluster": "postgres-cluster"}});
    by_plugin["spec"]["method"] = json!("plugin");
    by_plugin["spec"]["pluginConfiguration"] = json!({"name": plugin});
    by_plugin["status"]["backupId"] = json!("20261125T120004");
    // Archived under a server name of its own (as a cluster itself restored earlier would be).
    by_plugin["status"]["serverName"] = json!("postgres-cluster-v1");
    fake.apply_json(by_plugin);
    let args = ["restore", "--backup", "postgres-cluster-20261125120000", "--name", "orders-plugin", "--confirm"];
    let out = output(pgdeck(&kc, home.path(), &[&args[..], &["orders-plugin"]].concat()));
    assert!(out.status.success(), "{}", text(&out));
    let body = creates().last().unwrap().json();
    assert_eq!(
        body["spec"]["bootstrap"],
        json!({"recovery": {"source": "postgres-cluster", "recoveryTarget": {"backupID": "20261125T120004"}}})
    );
    assert_eq!(
        body["spec"]["externalClusters"],
        json!([{"name": "postgres-cluster", "plugin": {"name": plugin,
            "parameters": {"barmanObjectName": "postgres-cluster-store", "serverName": "postgres-cluster-v1"}}}])
    );
    assert!(body["spec"].get("plugins").is_none(), "{body:#}");
}

/// `credentials = "aws"`: the superuser's login is read from Secrets Manager under the spec's
/// name, not from CNPG's `-superuser` Secret (which is deleted here to prove it).
#[test]
fn a_targets_superuser_login_comes_from_the_credential_source_it_names() {
    let names = ["postgres-cluster-1", "postgres-cluster-2"];
    let pg = Instances::start(&["127.0.0.91", "127.0.0.92"], &names);
    pg.wait_streaming(1);
    let fake = FakeKube::start();
    let ips = ["127.0.0.91".to_owned(), "127.0.0.92".to_owned(), "127.0.0.93".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(&fake);
    fake.delete("v1", "Secret", "postgres", "postgres-cluster-superuser").unwrap();
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();
    let status = |target: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgdeck"));
        cmd.env("PGDECK_HOME", home.path()).env("KUBECONFIG", &kc.path).env("HOME", kc.dir());
        cmd.args(["--target", target, "status", "--output", "json"]);
        let out = output(cmd);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let moto = support::moto::Moto::start();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config/config.toml"),
        format!(
            "[aws]\nregion = \"{}\"\nendpoint = \"{}\"\n\n[targets.kube]\nplatform = \"cnpg\"\ncontext = \"fake\"\n\n\
             [targets.aws]\nplatform = \"cnpg\"\ncontext = \"fake\"\ncredentials = \"aws\"\n",
            support::moto::REGION,
            moto.url()
        ),
    )
    .unwrap();
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");

    // CNPG's Secret is gone: the kube-sourced target says which Secret and what to do.
    let doc = status("kube");
    let findings = doc["findings"].to_string();
    assert!(findings.contains("there is no Secret postgres/postgres-cluster-superuser"), "{findings}");
    assert!(findings.contains("enableSuperuserAccess"), "{findings}");

    // Not yet in Secrets Manager: the AWS-sourced target names the secret it looked for.
    let doc = status("aws");
    assert!(doc["findings"].to_string().contains("postgres/admin-credentials"), "{doc:#}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let settings = pgdeck::secrets::aws::AwsSettings {
            region: Some(support::moto::REGION.into()),
            endpoint: Some(moto.url()),
            profile: None,
        };
        let store = pgdeck::secrets::aws::AwsStore::connect(&settings).await.unwrap();
        let admin = pgdeck::secrets::Credentials {
            username: "postgres".into(),
            password: pgdeck::secrets::Secret::new(support::fake_kube::postgres::PASSWORD),
        };
        pgdeck::secrets::CredentialStore::create(&store, "postgres/admin-credentials", &admin, "postgres-cluster")
            .await
            .unwrap();
    });
    let doc = status("aws");
    let replica = doc["members"].as_array().unwrap().iter().find(|m| m["name"] == names[1]).unwrap();
    assert_eq!(replica["replication_state"], "streaming", "SQL ran with the password from Secrets Manager: {doc:#}");
    assert!(replica["lag_bytes"].is_u64(), "{replica:#}");

    // A Cluster that names its superuser Secret (as pgdeck's manifests do, synced by an
    // ExternalSecret): the kube target reads that one, and names it when it is missing.
    fake.merge_patch(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"spec": {"superuserSecret": {"name": "postgres-cluster-superuser-creds"}}}),
    );
    let findings = status("kube")["findings"].to_string();
    assert!(findings.contains("there is no Secret postgres/postgres-cluster-superuser-creds"), "{findings}");
    assert!(!findings.contains("enableSuperuserAccess"), "{findings}");
    fake.apply_json(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "postgres-cluster-superuser-creds", "namespace": "postgres"},
        "stringData": {"username": "postgres", "password": support::fake_kube::postgres::PASSWORD},
    }));
    let doc = status("kube");
    let replica = doc["members"].as_array().unwrap().iter().find(|m| m["name"] == names[1]).unwrap();
    assert_eq!(replica["replication_state"], "streaming", "SQL ran with spec.superuserSecret's login: {doc:#}");
}

/// What CNPG's operator does with Database objects, managed roles and their Secrets, done here
/// against the real PostgreSQL of the fake's primary: apply a Database (or refuse it with
/// CNPG's message), create a reconciled role with its Secret's password, and set a role's
/// password again when its Secret changes (the `cnpg.io/reload` label).
struct OperatorStandIn {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn secret_password(fake: &FakeKube, name: &str) -> Option<(String, String)> {
    let secret = fake.get("v1", "Secret", "postgres", name)?;
    let decode = |key: &str| {
        let bytes: k8s_openapi::ByteString = serde_json::from_value(secret["data"][key].clone()).unwrap();
        String::from_utf8(bytes.0).unwrap()
    };
    Some((decode("password"), secret["metadata"]["resourceVersion"].as_str().unwrap().to_owned()))
}

impl OperatorStandIn {
    fn start(fake: &std::sync::Arc<FakeKube>, pg: &std::sync::Arc<Instances>) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (fake, pg, stopping) = (fake.clone(), pg.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // As the instance manager does: as postgres, on the primary's local socket.
            let admin = |sql: &str| pg.psql(0, sql);
            let mut password_versions = std::collections::BTreeMap::<String, String>::new();
            while !stopping.load(Ordering::SeqCst) {
                for db in fake.list(cnpg::CNPG, "Database", "postgres") {
                    if !db["status"]["applied"].is_null() {
                        continue;
                    }
                    let (name, owner) = (db["spec"]["name"].as_str().unwrap(), db["spec"]["owner"].as_str().unwrap());
                    let status = match admin(&format!("CREATE DATABASE \"{name}\" OWNER \"{owner}\"")).as_str() {
                        "CREATE DATABASE" => json!({"applied": true}),
                        _ => json!({"applied": false, "message": format!("could not create database {name}")}),
                    };
                    fake.patch_status(
                        cnpg::CNPG,
                        "Database",
                        "postgres",
                        db["metadata"]["name"].as_str().unwrap(),
                        &status,
                    );
                }
                let cluster = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
                let roles = cluster["spec"]["managed"]["roles"].as_array().cloned().unwrap_or_default();
                let mut reconciled = Vec::new();
                for role in &roles {
                    let name = role["name"].as_str().unwrap().to_owned();
                    let Some(secret) = role["passwordSecret"]["name"].as_str() else {
                        if password_versions.insert(name.clone(), String::new()).is_none() {
                            admin(&format!("CREATE ROLE \"{name}\" NOLOGIN"));
                        }
                        reconciled.push(name);
                        continue;
                    };
                    let Some((password, version)) = secret_password(&fake, secret) else { continue };
                    let verb = if password_versions.contains_key(&name) { "ALTER" } else { "CREATE" };
                    if password_versions.get(&name) != Some(&version) {
                        admin(&format!("{verb} ROLE \"{name}\" LOGIN PASSWORD '{password}'"));
                        password_versions.insert(name.clone(), version);
                    }
                    reconciled.push(name);
                }
                if !reconciled.is_empty()
                    && cluster["status"]["managedRolesStatus"]["byStatus"]["reconciled"] != json!(reconciled)
                {
                    let status = json!({"managedRolesStatus": {"byStatus": {"reconciled": reconciled}}});
                    fake.patch_status(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster", &status);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        Self { stop, thread: Some(thread) }
    }
}

impl Drop for OperatorStandIn {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Logs in to database `shop` on the fake's primary (127.0.0.94) as a client would: TLS verified
/// against the cluster's CA, with a password; returns the first column of the first row.
fn as_login(user: &str, password: &str, sql: &str) -> Result<String, String> {
    login_at("127.0.0.94", "shop", user, password, sql)
}

fn login_at(host: &str, database: &str, user: &str, password: &str, sql: &str) -> Result<String, String> {
    let ca = support::fake_kube::tls::cluster_ca();
    let tls = pgdeck::sql::Tls::from_ca_pem(ca.cert_pem.as_bytes(), "the fake's CA")
        .unwrap()
        .with_server_name("postgres-cluster-rw");
    let login =
        pgdeck::secrets::Credentials { username: user.into(), password: pgdeck::secrets::Secret::new(password) };
    let endpoint = pgdeck::sql::Endpoint {
        host: host.into(),
        port: 5432,
        database: database.into(),
        login: login.into(),
        tls: Some(tls),
        transport: pgdeck::sql::Transport::Tcp,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client =
            pgdeck::sql::connect(&endpoint, Duration::from_secs(10), false).await.map_err(|e| format!("{e:#}"))?;
        let rows = client.simple_query(sql).await.map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .unwrap_or_default())
    })
}

/// Databases and users the declarative way (a Database object; a basic-auth Secret plus a JSON
/// Patch to spec.managed.roles that keeps the roles already there), checked by the requests
/// sent and by logging in; then a rotation through a pending Secret.
#[test]
fn databases_and_users_are_made_as_cnpg_wants_and_passwords_rotate() {
    let names = ["postgres-cluster-1", "postgres-cluster-2"];
    let pg = Instances::start(&["127.0.0.94", "127.0.0.95"], &names);
    pg.wait_streaming(1);
    let fake = std::sync::Arc::new(FakeKube::start());
    let ips = ["127.0.0.94".to_owned(), "127.0.0.95".to_owned(), "127.0.0.96".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(&fake);
    // A role someone else manages: the patch must keep it.
    fake.merge_patch(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"spec": {"managed": {"roles": [{"name": "reporting", "ensure": "present", "login": false}]}}}),
    );
    let pg = std::sync::Arc::new(pg);
    let _operator = OperatorStandIn::start(&fake, &pg);
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();

    let out = output(pgdeck(&kc, home.path(), &["database", "create", "shop", "--owner", "postgres"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("applied by CNPG (Database postgres/postgres-cluster-shop)"), "{}", text(&out));
    let created = fake.requests().into_iter().find(|r| r.method == "POST" && r.path.ends_with("/databases")).unwrap();
    assert_eq!(created.path, "/apis/postgresql.cnpg.io/v1/namespaces/postgres/databases");
    assert_eq!(created.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        created.json(),
        json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Database",
               "metadata": {"name": "postgres-cluster-shop", "namespace": "postgres",
                            "labels": {"app.kubernetes.io/managed-by": "pgdeck"}},
               "spec": {"cluster": {"name": "postgres-cluster"}, "name": "shop", "owner": "postgres",
                        "ensure": "present"}})
    );
    let out = output(pgdeck(&kc, home.path(), &["database", "create", "stock", "--owner", "nobody"]));
    assert!(!out.status.success(), "an owner that is no role is refused");
    assert!(text(&out).contains("nobody"), "{}", text(&out));

    let out = output(pgdeck(&kc, home.path(), &["user", "create", "alice", "--database", "shop"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("created by CNPG"), "{}", text(&out));
    let secret = fake.requests().into_iter().find(|r| r.method == "POST" && r.path.ends_with("/secrets")).unwrap();
    assert_eq!(secret.path, "/api/v1/namespaces/postgres/secrets");
    assert_eq!(secret.content_type.as_deref(), Some("application/json"));
    let mut sent = secret.json();
    let password = sent["data"]["password"].take();
    assert!(password.as_str().is_some_and(|p| p.len() >= 24), "a generated password, base64: {password}");
    assert_eq!(
        sent,
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
               "metadata": {"name": "postgres-cluster-role-alice",
                            "labels": {"cnpg.io/reload": "true", "pgdeck.io/cluster": "postgres-cluster"}},
               "data": {"username": "YWxpY2U=", "password": null}})
    );
    let cluster_patches: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/clusters/postgres-cluster"))
        .collect();
    let queries: Vec<Vec<&str>> = cluster_patches.iter().map(query_params).collect();
    assert_eq!(queries, [vec!["dryRun=All"], vec![]], "a dry run shows the schema keeps the role, then the patch");
    assert_eq!(cluster_patches[0].body, cluster_patches[1].body);
    let patch = &cluster_patches[1];
    assert_eq!(patch.content_type.as_deref(), Some("application/json-patch+json"));
    let ops = patch.json();
    assert_eq!(ops[0]["op"], "test");
    assert_eq!(ops[0]["path"], "/metadata/resourceVersion");
    assert_eq!(
        ops[1],
        json!({"op": "add", "path": "/spec/managed/roles/-", "value": {
            "name": "alice", "ensure": "present", "login": true, "inherit": true, "connectionLimit": -1,
            "passwordSecret": {"name": "postgres-cluster-role-alice"}, "comment": "created by pgdeck"}})
    );
    let roles =
        fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap()["spec"]["managed"]["roles"].clone();
    let listed: Vec<&str> = roles.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(listed, ["reporting", "alice"], "the role another manager added is kept");

    let (password, _) = secret_password(&fake, "postgres-cluster-role-alice").unwrap();
    as_login("alice", &password, "CREATE TEMP TABLE t (x int)").unwrap();
    let public = as_login("alice", &password, "SELECT has_schema_privilege('public', 'USAGE')::text").unwrap();
    assert_eq!(public, "true", "granted use of the database");

    let again = output(pgdeck(&kc, home.path(), &["user", "create", "alice", "--database", "shop"]));
    assert!(!again.status.success(), "{}", text(&again));

    let out = output(pgdeck(&kc, home.path(), &["user", "rotate", "alice", "--confirm", "alice"]));
    assert!(out.status.success(), "{}", text(&out));
    let (rotated, _) = secret_password(&fake, "postgres-cluster-role-alice").unwrap();
    assert_ne!(rotated, password);
    assert!(fake.get("v1", "Secret", "postgres", "postgres-cluster-role-alice-pending").is_none());
    as_login("alice", &rotated, "SELECT 1").unwrap();
    assert!(as_login("alice", &password, "SELECT 1").is_err(), "the old password stops working");
    let audit = pgdeck::audit::read_all(&home.path().join("state"));
    for secret in [&password, &rotated] {
        assert!(!audit.contains(secret.as_str()) && !text(&out).contains(secret.as_str()), "a password leaked");
    }
}

/// An operator older than CNPG 1.20 knows neither the Database kind nor `spec.managed.roles`:
/// `database create` falls back to `CREATE DATABASE` on the primary, and `user create` sees in a
/// dry run that the API server prunes the role, so it makes it with SQL (its password stored in
/// the same basic-auth Secret) instead of waiting for a reconciliation that never comes.
#[test]
fn an_operator_before_managed_roles_and_databases_gets_sql_on_the_primary() {
    let names = ["postgres-cluster-1", "postgres-cluster-2"];
    let pg = Instances::start(&["127.0.0.97", "127.0.0.98"], &names);
    pg.wait_streaming(1);
    let fake = FakeKube::start();
    let ips = ["127.0.0.97".to_owned(), "127.0.0.98".to_owned(), "127.0.0.99".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(&fake);
    fake.hide("databases");
    fake.prune("clusters", "/spec/managed");
    let kc = fake.kubeconfig("default");
    let home = tempfile::tempdir().unwrap();
    let out = output(pgdeck(&kc, home.path(), &["database", "create", "stock", "--owner", "postgres"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("created with SQL on postgres-cluster-1 (the API server has no Database kind"),
        "{}",
        text(&out)
    );
    assert_eq!(pg.psql(0, "SELECT count(*) FROM pg_database WHERE datname = 'stock'"), "1");
    let tried = fake.requests().into_iter().filter(|r| r.method == "POST" && r.path.ends_with("/databases")).count();
    assert_eq!(tried, 1, "the Database object was tried first");

    let out = output(pgdeck(&kc, home.path(), &["user", "create", "carol", "--database", "stock"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("with SQL: the API server's Cluster has no spec.managed.roles"), "{}", text(&out));
    let cluster_patches: Vec<RecordedRequest> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/clusters/postgres-cluster"))
        .collect();
    assert_eq!(cluster_patches.len(), 1, "one dry run and no real patch: {cluster_patches:?}");
    assert_eq!(query_params(&cluster_patches[0]), ["dryRun=All"]);
    assert_eq!(cluster_patches[0].content_type.as_deref(), Some("application/json-patch+json"));
    assert_eq!(cluster_patches[0].json()[1]["path"], "/spec/managed");
    let cluster = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").unwrap();
    assert!(cluster["spec"]["managed"].is_null(), "{:#}", cluster["spec"]);
    let secret = fake.get("v1", "Secret", "postgres", "postgres-cluster-role-carol").unwrap();
    assert_eq!(secret["type"], "kubernetes.io/basic-auth");
    let (password, _) = secret_password(&fake, "postgres-cluster-role-carol").unwrap();
    login_at("127.0.0.97", "stock", "carol", &password, "CREATE TEMP TABLE t (x int)").unwrap();
    let audit = pgdeck::audit::read_all(&home.path().join("state"));
    assert!(!audit.contains(password.as_str()) && !text(&out).contains(password.as_str()), "a password leaked");
}

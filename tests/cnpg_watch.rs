//! The CNPG sources follow the cluster live, through `kube::runtime` watchers on the fake API
//! server: a cluster becoming ready, a failover as it happens, an API server restart with 410
//! Gone, and the promote preview. In process: the sources fold into a `State` as the console's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use pgdeck::action::Action;
use pgdeck::config::SqlRoute;
use pgdeck::model::Role;
use pgdeck::platform::cnpg::CnpgPlatform;
use pgdeck::platform::Platform;
use pgdeck::spec::ThresholdsSpec;
use pgdeck::state::{EventKind, State};
use serde_json::{json, Value};
use support::fake_kube::{cnpg, FakeKube, Kubeconfig};

const DEADLINE: Duration = Duration::from_secs(30);

async fn platform(kc: &Kubeconfig) -> CnpgPlatform {
    CnpgPlatform::connect(cnpg::target(kc, SqlRoute::Direct, Duration::from_secs(3))).await.unwrap()
}

fn error_of(state: &State, member: &str) -> String {
    state.member_views().into_iter().find(|m| m.name == member).and_then(|m| m.error).unwrap_or_default()
}

/// Polls every source into `state` until `cond` holds on it.
async fn observe_until(platform: &CnpgPlatform, state: &mut State, what: &str, cond: impl Fn(&State) -> bool) {
    let until = Instant::now() + DEADLINE;
    loop {
        for observation in pgdeck::source::poll_all(platform.sources(), Duration::from_secs(4)).await {
            state.apply(&observation);
        }
        if cond(state) {
            return;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}: {:#?}", state.member_views());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn roles(state: &State) -> Vec<(String, Role, String)> {
    state.member_views().into_iter().map(|m| (m.name, m.role, m.state)).collect()
}

fn seeded(fake: &FakeKube) -> Value {
    let ips = ["127.0.0.51".to_owned(), "127.0.0.52".to_owned(), "127.0.0.53".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 0 }.apply(fake)
}

/// The seeded cluster on a fresh fake, watched until its primary shows.
async fn watching_the_seeded_cluster() -> (FakeKube, CnpgPlatform, State) {
    let fake = FakeKube::start();
    seeded(&fake);
    let kc = fake.kubeconfig("default");
    let platform = platform(&kc).await;
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&platform, &mut state, "the primary", |s| s.leader_name() == Some("postgres-cluster-1")).await;
    (fake, platform, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_is_followed_as_it_happens_across_an_api_server_restart_and_410() {
    let (fake, platform, mut state) = watching_the_seeded_cluster().await;
    assert_eq!(state.platform, "cnpg");

    // The primary's node dies: the operator marks it failed and looks for a new primary.
    let patch = json!({"targetPrimary": "pending", "phase": "Failing over",
                       "instancesStatus": {"healthy": ["postgres-cluster-2", "postgres-cluster-3"],
                                           "failed": ["postgres-cluster-1"]}});
    fake.patch_status(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster", &patch);
    observe_until(&platform, &mut state, "no primary", |s| s.leader_name().is_none()).await;
    assert_eq!(roles(&state)[0], ("postgres-cluster-1".into(), Role::Unknown, "failed".into()));
    let findings: Vec<&str> = state.findings().into_iter().map(|f| f.code).collect();
    assert!(findings.contains(&"no_leader"), "{findings:?}");

    // The API server restarts and its watch cache forgets: the watchers get 410 Gone and relist.
    let expired_before = fake.expired_watches();
    fake.expire_history();
    fake.restart();
    fake.patch_status(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"currentPrimary": "postgres-cluster-2", "targetPrimary": "postgres-cluster-2",
                "phase": "Cluster in healthy state", "timelineID": 2}),
    );
    observe_until(&platform, &mut state, "the new primary", |s| s.leader_name() == Some("postgres-cluster-2")).await;
    assert!(fake.expired_watches() > expired_before, "a watcher resumed from a forgotten resourceVersion");
    let changes: Vec<String> = state.events.iter().map(|e| format!("{:?}", e.kind)).collect();
    assert!(changes.iter().any(|e| e.contains("LeaderChanged") && e.contains("postgres-cluster-2")), "{changes:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_pgdeck_applies_is_followed_from_no_instance_to_three_ready() {
    let fake = FakeKube::start();
    let kc = fake.kubeconfig("default");
    // Provisioned as an SRE would: `pgdeck apply` of the reference manifests, server-side.
    let home = tempfile::tempdir().unwrap();
    let applied = std::process::Command::new(env!("CARGO_BIN_EXE_pgdeck"))
        .env("PGDECK_HOME", home.path())
        .env("KUBECONFIG", &kc.path)
        .env("HOME", kc.dir())
        .args(["--context", "fake", "apply"])
        .output()
        .unwrap();
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let stored = fake.get(cnpg::CNPG, "Cluster", "postgres", "postgres-cluster").expect("apply made the Cluster");
    assert_eq!(stored["spec"]["instances"], 3);
    // The operator takes it up.
    fake.patch_status(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"phase": "Setting up primary", "instances": 0, "readyInstances": 0}),
    );
    let platform = platform(&kc).await;
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&platform, &mut state, "the cluster", |s| s.cluster == "postgres-cluster").await;
    assert!(state.member_views().is_empty());
    observe_until(&platform, &mut state, "the operator's phase", |s| s.cluster_phase.is_some()).await;
    assert!(
        state.findings().iter().any(|f| f.code == "cluster_phase" && f.message.contains("Setting up primary")),
        "{:?}",
        state.findings()
    );

    // The third instance's volume waits for its provisioner: said of that instance, by name.
    let mut pending = cnpg::pvc(3, &stored);
    pending["status"] = json!({"phase": "Pending"});
    fake.apply_json(pending);
    observe_until(&platform, &mut state, "the pending volume", |s| {
        error_of(s, "postgres-cluster-3").contains("volume postgres-cluster-3 is Pending")
    })
    .await;
    assert!(error_of(&state, "postgres-cluster-3").contains("storage class nfs-postgres-v2"));

    for n in 1..=3 {
        let name = cnpg::instance(n);
        let mut pod = cnpg::pod(n, &format!("127.0.0.5{n}"), n == 1, &stored);
        pod["status"]["conditions"][1]["status"] = json!("False");
        fake.apply_json(pod);
        let mut names: Vec<String> = (1..=n).map(cnpg::instance).collect();
        names.sort();
        fake.patch_status(
            cnpg::CNPG,
            "Cluster",
            "postgres",
            "postgres-cluster",
            &json!({"instances": n, "instanceNames": names, "currentPrimary": "postgres-cluster-1",
                    "targetPrimary": "postgres-cluster-1", "phase": "Creating a new replica"}),
        );
        observe_until(&platform, &mut state, &format!("{name} starting"), |s| {
            s.member_views().iter().any(|m| m.name == name && m.state == "starting")
        })
        .await;
    }
    fake.apply_json(cnpg::pvc(3, &stored));
    for n in 1..=3 {
        let mut pod = fake.get("v1", "Pod", "postgres", &cnpg::instance(n)).unwrap();
        pod["status"]["conditions"][1]["status"] = json!("True");
        fake.apply_json(pod);
    }
    let healthy: Vec<String> = (1..=3).map(cnpg::instance).collect();
    fake.patch_status(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"readyInstances": 3, "instancesStatus": {"healthy": healthy}, "phase": "Cluster in healthy state"}),
    );
    observe_until(&platform, &mut state, "3/3 ready", |s| {
        s.member_views().iter().filter(|m| m.state == "running" || m.state == "streaming").count() == 3
    })
    .await;
    assert_eq!(state.leader_name(), Some("postgres-cluster-1"));
    observe_until(&platform, &mut state, "the volume bound", |s| {
        !error_of(s, "postgres-cluster-3").contains("is Pending")
    })
    .await;
    observe_until(&platform, &mut state, "the phase healthy", |s| {
        s.cluster_phase.as_ref().is_some_and(|p| p.value.is_healthy() && p.value.ready_instances == Some(3))
    })
    .await;
    assert!(!state.findings().iter().any(|f| f.code == "cluster_phase"));
    let phases: Vec<String> = state
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ClusterPhaseChanged { to, .. } => Some(to.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(phases.last().map(String::as_str), Some("Cluster in healthy state"), "{phases:?}");
}

/// Kubernetes Events about this cluster's objects reach the Events log once each (again when
/// they repeat); events about another cluster in the namespace do not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clusters_kubernetes_events_are_logged_once_and_others_are_not() {
    let fake = FakeKube::start();
    seeded(&fake);
    let event = |name: &str, kind: &str, object: &str, reason: &str, count: u32| {
        json!({"apiVersion": "v1", "kind": "Event",
               "metadata": {"name": name, "namespace": "postgres"},
               "involvedObject": {"kind": kind, "name": object, "namespace": "postgres"},
               "type": "Warning", "reason": reason, "message": format!("{reason} on {object}"),
               "count": count, "lastTimestamp": "2026-11-25T10:00:00Z"})
    };
    fake.apply_json(event("e1", "Cluster", "postgres-cluster", "FailingOver", 1));
    fake.apply_json(event("e2", "Pod", "postgres-cluster-2", "Unhealthy", 1));
    fake.apply_json(event("e3", "Cluster", "postgres-cluster-copy", "Elsewhere", 1));
    fake.apply_json(event("e4", "Pod", "postgres-cluster-copy-1", "Elsewhere", 1));
    let kc = fake.kubeconfig("default");
    let platform = platform(&kc).await;
    let mut state = State::new(ThresholdsSpec::default());
    let logged = |s: &State| -> Vec<String> {
        s.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::PlatformEvent { event } => {
                    Some(format!("{} {} x{}", event.object, event.reason, event.count))
                }
                _ => None,
            })
            .collect()
    };
    observe_until(&platform, &mut state, "the events", |s| logged(s).len() >= 2).await;
    for _ in 0..3 {
        for observation in pgdeck::source::poll_all(platform.sources(), Duration::from_secs(4)).await {
            state.apply(&observation);
        }
    }
    assert_eq!(logged(&state), ["Cluster/postgres-cluster FailingOver x1", "Pod/postgres-cluster-2 Unhealthy x1"]);
    fake.apply_json(event("e2", "Pod", "postgres-cluster-2", "Unhealthy", 2));
    observe_until(&platform, &mut state, "the repeat", |s| logged(s).len() == 3).await;
    assert_eq!(logged(&state)[2], "Pod/postgres-cluster-2 Unhealthy x2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promote_preview_is_the_exact_request() {
    let fake = FakeKube::start();
    seeded(&fake);
    let kc = fake.kubeconfig("default");
    let platform = platform(&kc).await;
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&platform, &mut state, "the primary", |s| s.leader_name().is_some()).await;
    let preview = platform
        .describe(&Action::Switchover { candidate: Some("postgres-cluster-3".into()) }, Some("postgres-cluster-1"));
    let first_line = preview.lines().next().unwrap();
    assert_eq!(
        first_line,
        format!("PATCH {}/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters/postgres-cluster/status", fake.url())
    );
    assert!(preview.contains("Content-Type: application/merge-patch+json"), "{preview}");
    assert!(preview.contains("\"targetPrimary\": \"postgres-cluster-3\""), "{preview}");
    assert!(preview.contains("resourceVersion"), "{preview}");
    let refused = platform.describe(&Action::Switchover { candidate: Some("postgres-cluster-1".into()) }, None);
    assert!(refused.contains("it will be refused: postgres-cluster-1 is already the primary"), "{refused}");
    let backup = platform.describe(&Action::Backup { kind: pgdeck::action::BackupKind::Full }, None);
    assert!(
        backup.starts_with(&format!("POST {}/apis/postgresql.cnpg.io/v1/namespaces/postgres/backups", fake.url())),
        "{backup}"
    );
    assert!(backup.contains("\"method\": \"barmanObjectStore\""), "{backup}");
    let restore = platform
        .describe(&Action::Restore { backup: "b1".into(), target_time: None, new_cluster: "orders-copy".into() }, None);
    assert!(
        restore.starts_with(&format!("POST {}/apis/postgresql.cnpg.io/v1/namespaces/postgres/clusters", fake.url())),
        "{restore}"
    );
    assert!(restore.contains(r#"{"recovery":{"backup":{"name":"b1"}}}"#), "{restore}");
    // Nothing was sent: previews are built from the watchers' cache.
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_store_keeps_roles_in_basic_auth_secrets_and_rotates_through_a_pending_one() {
    use pgdeck::platform::cnpg::credentials::{role_secret, superuser_secret, KubeStore};
    use pgdeck::secrets::{CredentialStore, Credentials, Secret};

    let fake = FakeKube::start();
    seeded(&fake);
    let kc = fake.kubeconfig("default");
    let (client, _) = pgdeck::platform::cnpg::client::connect(Some(&kc.path), Some("fake")).await.unwrap();
    let store = KubeStore::new(client, "postgres");
    let login = |password: &str| Credentials { username: "alice".into(), password: Secret::new(password) };

    // CNPG's own superuser Secret, as the seeded fake holds it.
    let superuser = store.read(&superuser_secret("postgres-cluster", None)).await.unwrap();
    assert_eq!((superuser.username.as_str(), superuser.password.expose()), ("postgres", "superuser-fake-password"));

    let name = role_secret("postgres-cluster", "alice").unwrap();
    assert!(!store.exists(&name).await.unwrap());
    store.create(&name, &login("first"), "postgres-cluster").await.unwrap();
    let created = fake.get("v1", "Secret", "postgres", &name).unwrap();
    assert_eq!(created["type"], "kubernetes.io/basic-auth");
    assert_eq!(created["metadata"]["labels"]["cnpg.io/reload"], "true");
    assert_eq!(created["metadata"]["labels"]["pgdeck.io/cluster"], "postgres-cluster");
    assert_eq!(store.read(&name).await.unwrap(), login("first"));
    let again = store.create(&name, &login("x"), "postgres-cluster").await.unwrap_err().to_string();
    assert!(again.contains(&format!("creating Secret postgres/{name}")), "{again}");

    // Staged beside the current one, which keeps working until the promotion.
    let version = store.stage(&name, &login("second")).await.unwrap();
    assert_eq!(store.read(&name).await.unwrap(), login("first"));
    assert_eq!(store.pending(&name).await.unwrap(), Some((version.clone(), login("second"))));
    let requests_before = fake.requests().len();
    store.promote(&name, &version).await.unwrap();
    let patch = fake.requests()[requests_before..]
        .iter()
        .find(|r| r.method == "PATCH")
        .cloned()
        .expect("the promotion patches the Secret");
    assert_eq!(patch.path, format!("/api/v1/namespaces/postgres/secrets/{name}"));
    assert_eq!(patch.content_type.as_deref(), Some("application/merge-patch+json"));
    let keys: Vec<String> = patch.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["data"], "only the data is patched: labels and owners stay");
    assert_eq!(store.read(&name).await.unwrap(), login("second"));
    assert_eq!(store.pending(&name).await.unwrap(), None);
    assert_eq!(fake.get("v1", "Secret", "postgres", &name).unwrap()["metadata"]["labels"]["cnpg.io/reload"], "true");

    // A stage that is discarded leaves the current password alone; a stale version is not promoted.
    let version = store.stage(&name, &login("third")).await.unwrap();
    store.discard(&name, &version).await.unwrap();
    assert_eq!(store.pending(&name).await.unwrap(), None);
    let stale = store.promote(&name, &version).await.unwrap_err().to_string();
    assert!(stale.contains("nothing was promoted"), "{stale}");
    assert_eq!(store.read(&name).await.unwrap(), login("second"));

    store.delete(&name).await.unwrap();
    assert!(!store.exists(&name).await.unwrap());
    let missing = store.read(&name).await.unwrap_err().to_string();
    assert!(missing.contains(&format!("there is no Secret postgres/{name}")), "{missing}");

    fake.forbid("secrets");
    let denied = store.read(&superuser_secret("postgres-cluster", None)).await.unwrap_err().to_string();
    assert!(denied.contains("forbidden by RBAC") && denied.contains("postgres-cluster-superuser"), "{denied}");
}

/// The API server goes away for a while: the console says so (a finding naming what failed),
/// keeps what it last knew, and once the server is back it catches up without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_that_goes_away_is_a_finding_and_is_caught_up_with_when_back() {
    let (fake, platform, mut state) = watching_the_seeded_cluster().await;

    fake.go_down();
    // kube-rs retries a 503 with backoff, so what the console sees first is each instance's
    // `/pg/status` (through the API server's proxy) not answering in time; the watchers keep
    // retrying on their own.
    let unavailable = |s: &State| {
        let findings = s.findings();
        let silent = |f: &&pgdeck::state::Finding| {
            f.message.contains("no answer within") || f.message.contains("unable to handle the request")
        };
        findings.iter().filter(silent).count() >= 3
    };
    observe_until(&platform, &mut state, "the outage as a finding", unavailable).await;
    assert_eq!(state.member_views().len(), 3, "what was last known stays on screen");
    // A failover happens while pgdeck cannot see it.
    fake.patch_status(
        cnpg::CNPG,
        "Cluster",
        "postgres",
        "postgres-cluster",
        &json!({"currentPrimary": "postgres-cluster-3", "targetPrimary": "postgres-cluster-3", "timelineID": 2}),
    );
    fake.come_back();
    observe_until(&platform, &mut state, "caught up, the finding cleared", |s| {
        s.leader_name() == Some("postgres-cluster-3") && !unavailable(s)
    })
    .await;
}

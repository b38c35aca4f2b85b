//! The reference cluster as a running CNPG operator would leave it: Cluster `postgres-cluster`
//! in namespace `postgres`, three instance Pods with CNPG's labels, their PVCs, the `-rw`/`-ro`/`-r`
//! Services, the `-superuser`/`-app`/`-ca` Secrets, a Pooler with its Deployment and Service, a
//! ScheduledBackup and its Backups, Nodes, and each instance's `/pg/status` and volume usage.
//! The shapes follow cnpg-api.md; the large documents live in `tests/fixtures/cnpg/`.

use serde_json::{json, Value};

use super::FakeKube;

pub const NAMESPACE: &str = "postgres";
pub const CLUSTER: &str = "postgres-cluster";
pub const CNPG: &str = "postgresql.cnpg.io/v1";

const CLUSTER_JSON: &str = include_str!("../../fixtures/cnpg/cluster.json");
const PG_STATUS_JSON: &str = include_str!("../../fixtures/cnpg/pg_status.json");
const BACKUPS_JSON: &str = include_str!("../../fixtures/cnpg/backups.json");
pub const MANIFESTS_YAML: &str = include_str!("../../fixtures/cnpg/manifests.yaml");

/// What to seed; `Default` is the reference cluster with `postgres-cluster-1` as primary.
#[derive(Debug, Clone)]
pub struct Seed {
    /// `status.podIP` of each instance, in instance order: tests point them at real local
    /// PostgreSQL instances.
    pub pod_ips: [String; 3],
    /// Index (0-based) of the primary instance.
    pub primary: usize,
}

impl Default for Seed {
    fn default() -> Self {
        Seed { pod_ips: ["10.244.1.11".into(), "10.244.2.12".into(), "10.244.3.13".into()], primary: 0 }
    }
}

pub fn instance(n: usize) -> String {
    format!("{CLUSTER}-{n}")
}

fn labels_common() -> Value {
    json!({
        "cnpg.io/cluster": CLUSTER,
        "app.kubernetes.io/name": "postgresql",
        "app.kubernetes.io/instance": CLUSTER,
        "app.kubernetes.io/managed-by": "cloudnative-pg",
        "app.kubernetes.io/version": "16",
    })
}

fn owner(cluster: &Value) -> Value {
    json!([{
        "apiVersion": CNPG, "kind": "Cluster", "name": CLUSTER, "uid": cluster["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true,
    }])
}

/// The Cluster as seeded, status included.
pub fn cluster() -> Value {
    serde_json::from_str(CLUSTER_JSON).expect("fixtures/cnpg/cluster.json")
}

/// The instance manager's `/pg/status` for instance `n` (1-based), primary or standby.
pub fn pg_status(n: usize, primary: bool) -> Value {
    let mut s: Value = serde_json::from_str(PG_STATUS_JSON).expect("fixtures/cnpg/pg_status.json");
    s["pod"]["metadata"]["name"] = json!(instance(n));
    s["node"] = json!(format!("node-{n}"));
    s["isPrimary"] = json!(primary);
    if !primary {
        s["receivedLsn"] = s["currentLsn"].clone();
        s["replayLsn"] = s["currentLsn"].clone();
        s["isWalReceiverActive"] = json!(true);
        s["isArchivingWAL"] = json!(false);
        s["replicationInfo"] = json!([]);
        s["replicationSlotsInfo"] = json!([]);
    }
    s
}

pub fn pod(n: usize, ip: &str, primary: bool, cluster: &Value) -> Value {
    let name = instance(n);
    let role = if primary { "primary" } else { "replica" };
    let mut labels = labels_common();
    labels["app.kubernetes.io/component"] = json!("database");
    labels["cnpg.io/instanceName"] = json!(name);
    labels["cnpg.io/podRole"] = json!("instance");
    labels["cnpg.io/instanceRole"] = json!(role);
    labels["role"] = json!(role);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": NAMESPACE, "labels": labels,
            "annotations": {"cnpg.io/nodeSerial": n.to_string(), "cnpg.io/operatorVersion": "1.30.0"},
            "ownerReferences": owner(cluster),
        },
        "spec": {
            "nodeName": format!("node-{n}"),
            "hostname": name, "subdomain": format!("{CLUSTER}-any"),
            "initContainers": [{"name": "bootstrap-controller", "image": "ghcr.io/cloudnative-pg/cloudnative-pg:1.30.0"}],
            "containers": [{
                "name": "postgres", "image": "ghcr.io/cloudnative-pg/postgresql:16.2",
                "command": ["/controller/manager", "instance", "run", "--status-port-tls", "--log-level=info"],
                "ports": [
                    {"name": "postgresql", "containerPort": 5432, "protocol": "TCP"},
                    {"name": "metrics", "containerPort": 9187, "protocol": "TCP"},
                    {"name": "status", "containerPort": 8000, "protocol": "TCP"}
                ],
                "volumeMounts": [{"name": "pgdata", "mountPath": "/var/lib/postgresql/data"}],
                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
            }],
            "volumes": [{"name": "pgdata", "persistentVolumeClaim": {"claimName": name}}]
        },
        "status": {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": format!("192.168.10.{n}"),
            "qosClass": "Burstable", "startTime": "2026-11-25T09:00:00Z",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-25T09:00:05Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-25T09:00:20Z"},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-25T09:00:20Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-25T09:00:00Z"}
            ],
            "containerStatuses": [{
                "name": "postgres", "ready": true, "started": true, "restartCount": 0,
                "image": "ghcr.io/cloudnative-pg/postgresql:16.2", "imageID": "ghcr.io/cloudnative-pg/postgresql@sha256:00",
                "containerID": format!("containerd://{n:064x}"), "state": {"running": {"startedAt": "2026-11-25T09:00:10Z"}}
            }]
        }
    })
}

pub fn pvc(n: usize, cluster: &Value) -> Value {
    let mut labels = labels_common();
    labels["cnpg.io/instanceName"] = json!(instance(n));
    labels["cnpg.io/pvcRole"] = json!("PG_DATA");
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": instance(n), "namespace": NAMESPACE, "labels": labels,
            "annotations": {"cnpg.io/nodeSerial": n.to_string(), "cnpg.io/pvcStatus": "ready"},
            "ownerReferences": owner(cluster),
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "nfs-postgres-v2",
                 "resources": {"requests": {"storage": "50Gi"}}, "volumeMode": "Filesystem",
                 "volumeName": format!("pvc-{n:08x}-0000-4000-8000-000000000000")},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "50Gi"}}
    })
}

fn service(name: &str, selector: &Value, cluster_ip: &str, cluster: &Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"cnpg.io/cluster": CLUSTER},
                     "ownerReferences": owner(cluster)},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "selector": selector,
                 "ports": [{"name": "postgres", "port": 5432, "protocol": "TCP", "targetPort": 5432}]},
        "status": {"loadBalancer": {}}
    })
}

fn secret(name: &str, kind: &str, data: &[(&str, &str)], labels: &Value, cluster: &Value) -> Value {
    let data: serde_json::Map<String, Value> =
        data.iter().map(|(k, v)| ((*k).to_string(), json!(super::store::base64(v.as_bytes())))).collect();
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": kind,
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels, "ownerReferences": owner(cluster)},
        "data": data,
    })
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn user_secret(user: &str, dbname: &str, password: &str) -> Vec<(String, String)> {
    let host = format!("{CLUSTER}-rw");
    let db = if dbname == "*" { "postgres" } else { dbname };
    vec![
        ("username".into(), user.into()),
        ("user".into(), user.into()),
        ("password".into(), password.into()),
        ("dbname".into(), dbname.into()),
        ("host".into(), host.clone()),
        ("port".into(), "5432".into()),
        ("pgpass".into(), format!("{host}:5432:{dbname}:{user}:{password}\n")),
        ("uri".into(), format!("postgresql://{user}:{password}@{host}.{NAMESPACE}:5432/{db}")),
        ("jdbc-uri".into(), format!("jdbc:postgresql://{host}.{NAMESPACE}:5432/{db}?password={password}&user={user}")),
    ]
}

fn secrets(cluster: &Value) -> Vec<Value> {
    let superuser = user_secret("postgres", "*", "superuser-fake-password");
    let app = user_secret("app", "app", "app-fake-password");
    let ca = super::tls::cluster_ca();
    vec![
        secret(
            &format!("{CLUSTER}-superuser"),
            "kubernetes.io/basic-auth",
            &pairs(&superuser),
            &json!({"cnpg.io/cluster": CLUSTER, "cnpg.io/reload": "true", "cnpg.io/userType": "superuser"}),
            cluster,
        ),
        secret(
            &format!("{CLUSTER}-app"),
            "kubernetes.io/basic-auth",
            &pairs(&app),
            &json!({"cnpg.io/cluster": CLUSTER, "cnpg.io/reload": "true", "cnpg.io/userType": "app"}),
            cluster,
        ),
        secret(
            &format!("{CLUSTER}-ca"),
            "Opaque",
            &[("ca.crt", &ca.cert_pem), ("ca.key", &ca.key_pem)],
            &json!({"cnpg.io/cluster": CLUSTER, "cnpg.io/reload": "true"}),
            cluster,
        ),
    ]
}

fn pooler(cluster: &Value) -> Vec<Value> {
    let name = format!("{CLUSTER}-pooler-rw");
    let labels = json!({"cnpg.io/poolerName": name, "cnpg.io/cluster": CLUSTER, "cnpg.io/podRole": "pooler",
                        "app.kubernetes.io/component": "pooler"});
    let pooler = json!({
        "apiVersion": CNPG, "kind": "Pooler",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"cluster": {"name": CLUSTER}, "instances": 3, "type": "rw",
                 "pgbouncer": {"poolMode": "transaction",
                               "parameters": {"max_client_conn": "1000", "default_pool_size": "25"}}},
        "status": {"instances": 3, "secrets": {"serverCA": {"name": format!("{CLUSTER}-ca")}}}
    });
    let pooler_owner = json!([{"apiVersion": CNPG, "kind": "Pooler", "name": name, "uid": "", "controller": true}]);
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels, "ownerReferences": pooler_owner},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"cnpg.io/poolerName": name}},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "pgbouncer",
                                  "image": "ghcr.io/cloudnative-pg/pgbouncer:1.23.0",
                                  "ports": [{"name": "pgbouncer", "containerPort": 5432},
                                            {"name": "metrics", "containerPort": 9127}]}]}}},
        "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "availableReplicas": 3, "updatedReplicas": 3}
    });
    let svc = service(&name, &json!({"cnpg.io/poolerName": name}), "10.96.0.24", cluster);
    let mut objects = vec![pooler, deployment, svc];
    objects.extend((1..=3).map(|n| pooler_pod(&name, n)));
    objects
}

/// The name of the n-th PgBouncer pod of the rw Pooler.
pub fn pooler_pod_name(n: usize) -> String {
    format!("{CLUSTER}-pooler-rw-6d4b9c7f8-{n}")
}

fn pooler_pod(pooler: &str, n: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pooler_pod_name(n), "namespace": NAMESPACE,
                     "labels": {"cnpg.io/poolerName": pooler, "cnpg.io/cluster": CLUSTER, "cnpg.io/podRole": "pooler"}},
        "spec": {"containers": [{"name": "pgbouncer", "image": "ghcr.io/cloudnative-pg/pgbouncer:1.23.0"}]},
        "status": {"phase": "Running", "podIP": format!("10.244.1.{}", 30 + n),
                   "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

/// What one PgBouncer pod's exporter reports: `clients` active and one waiting, `servers` active.
pub fn pooler_metrics(clients: u32, servers: u32) -> String {
    format!(
        "# HELP cnpg_pgbouncer_pools_cl_active Client connections that are linked to server connection\n\
         # TYPE cnpg_pgbouncer_pools_cl_active gauge\n\
         cnpg_pgbouncer_pools_cl_active{{database=\"app\",user=\"app\"}} {clients}\n\
         cnpg_pgbouncer_pools_cl_waiting{{database=\"app\",user=\"app\"}} 1\n\
         cnpg_pgbouncer_pools_sv_active{{database=\"app\",user=\"app\"}} {servers}\n\
         cnpg_pgbouncer_pools_sv_idle{{database=\"app\",user=\"app\"}} 0\n"
    )
}

fn scheduled_backup() -> Value {
    json!({
        "apiVersion": CNPG, "kind": "ScheduledBackup",
        "metadata": {"name": format!("{CLUSTER}-daily"), "namespace": NAMESPACE},
        "spec": {"schedule": "0 0 2 * * *", "cluster": {"name": CLUSTER}, "backupOwnerReference": "self",
                 "immediate": false, "method": "barmanObjectStore", "suspend": false},
        "status": {"lastCheckTime": "2026-11-25T02:00:00Z", "lastScheduleTime": "2026-11-25T02:00:00Z",
                   "nextScheduleTime": "2026-11-26T02:00:00Z"}
    })
}

fn node(n: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("node-{n}"), "labels": {"kubernetes.io/hostname": format!("node-{n}")}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                   "addresses": [{"type": "InternalIP", "address": format!("192.168.10.{n}")}]}
    })
}

impl Seed {
    /// Writes every object into `fake` and returns the stored Cluster.
    pub fn apply(&self, fake: &FakeKube) -> Value {
        fake.apply_json(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}));
        for n in 1..=3 {
            fake.apply_json(node(n));
        }
        let mut c = cluster();
        let primary = instance(self.primary + 1);
        c["status"]["currentPrimary"] = json!(primary);
        c["status"]["targetPrimary"] = json!(primary);
        for n in 1..=3 {
            c["status"]["instancesReportedState"][instance(n)] =
                json!({"isPrimary": n == self.primary + 1, "timeLineID": 1, "ip": self.pod_ips[n - 1]});
        }
        let stored = fake.apply_json(c);
        for (i, ip) in self.pod_ips.iter().enumerate() {
            let n = i + 1;
            fake.apply_json(pvc(n, &stored));
            fake.apply_json(pod(n, ip, i == self.primary, &stored));
            fake.set_pg_status(NAMESPACE, &instance(n), &pg_status(n, i == self.primary));
            fake.set_volume_usage(NAMESPACE, &instance(n), 3_221_225_472 + 104_857_600 * n as u64, 53_687_091_200);
        }
        for (suffix, selector) in [
            ("rw", json!({"cnpg.io/cluster": CLUSTER, "cnpg.io/instanceRole": "primary"})),
            ("ro", json!({"cnpg.io/cluster": CLUSTER, "cnpg.io/instanceRole": "replica"})),
            ("r", json!({"cnpg.io/cluster": CLUSTER, "cnpg.io/podRole": "instance"})),
        ] {
            let ip = format!("10.96.0.{}", 20 + suffix.len());
            fake.apply_json(service(&format!("{CLUSTER}-{suffix}"), &selector, &ip, &stored));
        }
        for s in secrets(&stored) {
            fake.apply_json(s);
        }
        for obj in pooler(&stored) {
            fake.apply_json(obj);
        }
        for n in 1..=3 {
            let metrics = super::ProxyReply::metrics(&pooler_metrics(4, 2));
            fake.set_pod_proxy(NAMESPACE, &pooler_pod_name(n), 9127, "metrics", metrics);
        }
        fake.apply_json(scheduled_backup());
        let backups: Vec<Value> = serde_json::from_str(BACKUPS_JSON).expect("fixtures/cnpg/backups.json");
        for b in backups {
            fake.apply_json(b);
        }
        stored
    }
}

/// The reference cluster with the default pod IPs.
pub fn seed(fake: &FakeKube) -> Value {
    Seed::default().apply(fake)
}

/// Replaces the `<cluster>-ca` Secret's `ca.crt`, as a user rotating the CA by hand would.
pub fn set_ca(fake: &FakeKube, ca_pem: &str) {
    let ca = format!("{CLUSTER}-ca");
    let patch = json!({"data": {"ca.crt": super::store::base64(ca_pem.as_bytes())}});
    fake.merge_patch("v1", "Secret", NAMESPACE, &ca, &patch);
}

/// The reference cluster as a CNPG target of the library (for in-process tests), reached
/// through `kc`, its SQL by `sql`, its superuser from CNPG's `-superuser` Secret.
pub fn target(
    kc: &super::Kubeconfig,
    sql: pgdeck::config::SqlRoute,
    timeout: std::time::Duration,
) -> pgdeck::platform::cnpg::CnpgTarget {
    let config = pgdeck::config::CnpgTargetConfig {
        name: "fake".into(),
        context: None,
        namespace: NAMESPACE.into(),
        cluster: CLUSTER.into(),
        sql,
        credentials: pgdeck::config::TargetCredentials::Kube,
        tls_server_name: None,
    };
    pgdeck::platform::cnpg::CnpgTarget {
        config,
        kubeconfig: Some(kc.path.clone()),
        source_timeout: timeout,
        aws: pgdeck::secrets::aws::AwsSettings::default(),
        secrets: pgdeck::spec::SecretsSpec::default(),
    }
}

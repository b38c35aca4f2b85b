//! The reference cluster as Kubernetes objects, rendered from the `ClusterSpec`: Namespace, the
//! superuser Secret through an ExternalSecret on the admin credentials in AWS Secrets Manager,
//! Cluster, Pooler and, when the spec names an object store, the Cluster's `backup` section and a
//! ScheduledBackup (cnpg-api.md section 6). Pure: the values are the spec's.

use serde_json::{json, Value};

use crate::spec::{ClusterSpec, ObjectStore};

/// The external-secrets store that reads AWS Secrets Manager; the cluster's platform team names it.
pub const SECRET_STORE: &str = "aws-secrets-manager";

/// The Secret CNPG reads the superuser's credentials from (synced by the ExternalSecret).
pub fn superuser_secret(spec: &ClusterSpec) -> String {
    format!("{}-superuser-creds", spec.name)
}

/// The Secret holding the S3 keys when `backup.s3_credentials` names them.
pub fn backup_secret(spec: &ClusterSpec) -> String {
    format!("{}-backup-creds", spec.name)
}

/// Every object, in the order they must be applied: Secrets before the Cluster that reads them.
pub fn objects(spec: &ClusterSpec) -> Vec<Value> {
    let ns = spec.namespace.as_str();
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        external_secret(
            ns,
            &superuser_secret(spec),
            &spec.secrets.admin,
            "kubernetes.io/basic-auth",
            &["username", "password"],
        ),
    ];
    if let Some(remote) = s3_keys(spec) {
        // Opaque: basic-auth would demand username/password keys.
        objects.push(external_secret(
            ns,
            &backup_secret(spec),
            remote,
            "Opaque",
            &["ACCESS_KEY_ID", "ACCESS_SECRET_KEY"],
        ));
    }
    objects.push(cluster(spec));
    objects.push(pooler(spec));
    // Every run of a schedule without an object store would fail; none at all is the honest state.
    if spec.backup.object_store().is_some() {
        objects.push(json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
            "metadata": {"name": format!("{}-daily", spec.name), "namespace": ns},
            "spec": {
                "schedule": spec.backup.schedule,
                "cluster": {"name": spec.name},
                "backupOwnerReference": "self",
                "immediate": false,
                "method": "barmanObjectStore"
            }
        }));
    }
    objects
}

/// The Secrets Manager secret with the S3 keys, where an s3:// destination has one.
fn s3_keys(spec: &ClusterSpec) -> Option<&str> {
    match spec.backup.object_store() {
        Some(ObjectStore::S3) => spec.backup.s3_credentials.as_deref(),
        _ => None,
    }
}

/// A Secret synced from one Secrets Manager secret, each key from the property of the same name.
fn external_secret(ns: &str, name: &str, remote: &str, secret_type: &str, keys: &[&str]) -> Value {
    let data: Vec<Value> =
        keys.iter().map(|key| json!({"secretKey": key, "remoteRef": {"key": remote, "property": key}})).collect();
    json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
            "target": {"name": name, "creationPolicy": "Owner", "template": {"type": secret_type}},
            "data": data
        }
    })
}

fn cluster(spec: &ClusterSpec) -> Value {
    let pg_hba: Vec<String> =
        spec.network.allowed_cidrs.iter().map(|cidr| format!("host all all {cidr} md5")).collect();
    let mut cluster = json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
        "metadata": {"name": spec.name, "namespace": spec.namespace},
        "spec": {
            "instances": spec.instances,
            "imageName": spec.image,
            "primaryUpdateStrategy": "unsupervised",
            // superuserSecret takes effect only with superuser access enabled.
            "enableSuperuserAccess": true,
            "superuserSecret": {"name": superuser_secret(spec)},
            "bootstrap": {"initdb": {"database": spec.secrets.app_database, "owner": spec.secrets.app_user}},
            "storage": {"size": spec.storage.size, "storageClass": spec.storage.storage_class},
            "resources": {
                "requests": {"cpu": spec.resources.requests.cpu, "memory": spec.resources.requests.memory},
                "limits": {"cpu": spec.resources.limits.cpu, "memory": spec.resources.limits.memory}
            },
            "postgresql": {"parameters": spec.postgresql.parameters, "pg_hba": pg_hba},
            "affinity": {
                "enablePodAntiAffinity": spec.affinity.enable_pod_anti_affinity,
                "topologyKey": spec.affinity.topology_key,
                "podAntiAffinityType": spec.affinity.pod_anti_affinity_type
            },
            "monitoring": {"enablePodMonitor": true}
        }
    });
    if let Some(backup) = cluster_backup(spec) {
        cluster["spec"]["backup"] = backup;
    }
    cluster
}

/// `spec.backup` for the in-tree Barman Cloud, which `method: barmanObjectStore` Backups need.
fn cluster_backup(spec: &ClusterSpec) -> Option<Value> {
    let destination = spec.backup.destination_path.as_deref()?;
    let mut store = json!({
        "destinationPath": destination,
        "wal": {"compression": "gzip"},
        "data": {"compression": "gzip"}
    });
    // CNPG's webhook wants exactly one credentials block, even where the pod's own identity is used.
    let (field, credentials) = match spec.backup.object_store()? {
        ObjectStore::S3 => match s3_keys(spec) {
            Some(_) => {
                let secret = backup_secret(spec);
                let key_ref = |key: &str| json!({"name": secret, "key": key});
                (
                    "s3Credentials",
                    json!({"accessKeyId": key_ref("ACCESS_KEY_ID"),
                                         "secretAccessKey": key_ref("ACCESS_SECRET_KEY")}),
                )
            }
            None => ("s3Credentials", json!({"inheritFromIAMRole": true})),
        },
        // Workload identity is assumed: the spec holds no Google or Azure keys.
        ObjectStore::Gcs => ("googleCredentials", json!({"gkeEnvironment": true})),
        ObjectStore::Azure => ("azureCredentials", json!({"inheritFromAzureAD": true})),
    };
    store[field] = credentials;
    Some(json!({"retentionPolicy": spec.backup.retention, "barmanObjectStore": store}))
}

fn pooler(spec: &ClusterSpec) -> Value {
    let pooler = &spec.pooler;
    json!({
        "apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler",
        "metadata": {"name": format!("{}-pooler-rw", spec.name), "namespace": spec.namespace},
        "spec": {
            "cluster": {"name": spec.name},
            "instances": pooler.instances,
            "type": "rw",
            "pgbouncer": {
                "poolMode": pooler.pool_mode,
                // PgBouncer parameters are strings in CNPG's API.
                "parameters": {"max_client_conn": pooler.max_client_conn.to_string(),
                               "default_pool_size": pooler.default_pool_size.to_string()}
            }
        }
    })
}

/// What `manifests` and `apply` say (on stderr: `manifests`' stdout goes to kubectl) when the
/// spec names no object store; `spec_file` is where the lines should go.
pub fn backup_warning(spec: &ClusterSpec, spec_file: &str) -> Option<String> {
    if spec.backup.object_store().is_some() {
        return None;
    }
    Some(format!(
        "warning: Cluster {ns}/{name} is rendered without backups: the spec names no object store, so the \
         Cluster has no spec.backup (no WAL archiving, no base backups) and no ScheduledBackup is rendered. \
         To back it up, add to {spec_file} (into its [backup] table if it has one):\n\
         \x20   [backup]\n\
         \x20   destination_path = \"s3://BUCKET/PATH\"\n\
         \x20   s3_credentials = \"SECRETS-MANAGER-NAME\"   # optional: a secret with ACCESS_KEY_ID and \
         ACCESS_SECRET_KEY; without it the pods use their IAM role (IRSA)",
        ns = spec.namespace,
        name = spec.name,
    ))
}

/// The objects as one multi-document YAML stream, as `kubectl apply -f -` reads it.
pub fn yaml(spec: &ClusterSpec) -> anyhow::Result<String> {
    let mut out = String::new();
    for object in objects(spec) {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&object)?);
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_backup(backup: &str) -> ClusterSpec {
        ClusterSpec::from_toml(&format!("[backup]\n{backup}\n"), "t.toml").unwrap()
    }

    fn kinds(objects: &[Value]) -> Vec<&str> {
        objects.iter().map(|o| o["kind"].as_str().unwrap()).collect()
    }

    #[test]
    fn the_yaml_reads_back_as_the_objects() {
        for spec in
            [ClusterSpec::default(), with_backup("destination_path = \"s3://b/p\"\ns3_credentials = \"postgres/s3\"")]
        {
            let text = yaml(&spec).unwrap();
            let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
            assert_eq!(docs, objects(&spec));
        }
    }

    #[test]
    fn without_an_object_store_there_is_no_backup_and_a_warning() {
        let spec = ClusterSpec::default();
        let objects = objects(&spec);
        assert_eq!(kinds(&objects), ["Namespace", "ExternalSecret", "Cluster", "Pooler"]);
        assert!(objects[2]["spec"].get("backup").is_none());
        let warning = backup_warning(&spec, "spec.toml").unwrap();
        assert!(warning.contains("postgres/postgres-cluster is rendered without backups"), "{warning}");
        assert!(warning.contains("destination_path = \"s3://BUCKET/PATH\""), "{warning}");
        assert_eq!(backup_warning(&with_backup("destination_path = \"s3://b/p\""), "spec.toml"), None);
    }

    #[test]
    fn s3_without_keys_inherits_the_iam_role() {
        let objects = objects(&with_backup("destination_path = \"s3://b/p\"\nretention = \"4w\""));
        assert_eq!(kinds(&objects), ["Namespace", "ExternalSecret", "Cluster", "Pooler", "ScheduledBackup"]);
        assert_eq!(
            objects[2]["spec"]["backup"],
            json!({"retentionPolicy": "4w", "barmanObjectStore": {
                "destinationPath": "s3://b/p", "s3Credentials": {"inheritFromIAMRole": true},
                "wal": {"compression": "gzip"}, "data": {"compression": "gzip"}}})
        );
    }

    #[test]
    fn gcs_and_azure_use_the_pods_workload_identity() {
        for (path, field, credentials) in [
            ("gs://b/p", "googleCredentials", json!({"gkeEnvironment": true})),
            ("https://a.blob.core.windows.net/c/p", "azureCredentials", json!({"inheritFromAzureAD": true})),
        ] {
            let objects = objects(&with_backup(&format!("destination_path = \"{path}\"")));
            let store = &objects[2]["spec"]["backup"]["barmanObjectStore"];
            assert_eq!(store["destinationPath"], path);
            assert_eq!(store[field], credentials, "{path}");
            assert!(store.get("s3Credentials").is_none(), "{path}");
            assert_eq!(kinds(&objects).last(), Some(&"ScheduledBackup"));
        }
    }

    #[test]
    fn pgdecks_backup_and_restore_accept_the_rendered_cluster() {
        use crate::platform::cnpg::{actions, crd::Cluster, restore};
        let objects = objects(&with_backup("destination_path = \"s3://b/p\"\ns3_credentials = \"postgres/s3\""));
        let rendered = &objects[3];
        assert_eq!(rendered["kind"], "Cluster");
        let cluster: Cluster = serde_json::from_value(rendered.clone()).unwrap();
        assert_eq!(actions::backup_method(&cluster).unwrap(), ("barmanObjectStore".to_owned(), None));
        // The restored cluster must not archive into the source's place.
        let b1 = json!({"metadata": {"name": "b1"}, "spec": {"cluster": {"name": "postgres-cluster"},
                        "method": "barmanObjectStore"}});
        let copy = restore::recovery_cluster(rendered, &b1, None, "copy", "postgres");
        assert!(copy["spec"].get("backup").is_none());
        assert_eq!(copy["spec"]["bootstrap"], json!({"recovery": {"backup": {"name": "b1"}}}));

        let without = super::objects(&ClusterSpec::default()).swap_remove(2);
        let without: Cluster = serde_json::from_value(without).unwrap();
        assert!(actions::backup_method(&without).is_err());
    }
}

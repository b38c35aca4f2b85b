//! The reference cluster as Kubernetes objects, rendered from the `ClusterSpec`: Namespace, the
//! superuser Secret through an ExternalSecret on the admin credentials in AWS Secrets Manager,
//! Cluster, Pooler and ScheduledBackup (cnpg-api.md section 6). Pure: the values are the spec's.

use serde_json::{json, Value};

use crate::spec::ClusterSpec;

/// The external-secrets store that reads AWS Secrets Manager; the cluster's platform team names it.
pub const SECRET_STORE: &str = "aws-secrets-manager";

/// The Secret CNPG reads the superuser's credentials from (synced by the ExternalSecret).
pub fn superuser_secret(spec: &ClusterSpec) -> String {
    format!("{}-superuser-creds", spec.name)
}

/// Every object, in the order they must be applied.
pub fn objects(spec: &ClusterSpec) -> Vec<Value> {
    let (name, ns) = (spec.name.as_str(), spec.namespace.as_str());
    let secret = superuser_secret(spec);
    let pg_hba: Vec<String> =
        spec.network.allowed_cidrs.iter().map(|cidr| format!("host all all {cidr} md5")).collect();
    let pooler = &spec.pooler;
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": secret, "namespace": ns},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": SECRET_STORE},
                "target": {"name": secret, "creationPolicy": "Owner", "template": {"type": "kubernetes.io/basic-auth"}},
                "data": [
                    {"secretKey": "username", "remoteRef": {"key": spec.secrets.admin, "property": "username"}},
                    {"secretKey": "password", "remoteRef": {"key": spec.secrets.admin, "property": "password"}}
                ]
            }
        }),
        json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster",
            "metadata": {"name": name, "namespace": ns},
            "spec": {
                "instances": spec.instances,
                "imageName": spec.image,
                "primaryUpdateStrategy": "unsupervised",
                // superuserSecret takes effect only with superuser access enabled.
                "enableSuperuserAccess": true,
                "superuserSecret": {"name": secret},
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
        }),
        json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "Pooler",
            "metadata": {"name": format!("{name}-pooler-rw"), "namespace": ns},
            "spec": {
                "cluster": {"name": name},
                "instances": pooler.instances,
                "type": "rw",
                "pgbouncer": {
                    "poolMode": pooler.pool_mode,
                    // PgBouncer parameters are strings in CNPG's API.
                    "parameters": {"max_client_conn": pooler.max_client_conn.to_string(),
                                   "default_pool_size": pooler.default_pool_size.to_string()}
                }
            }
        }),
        json!({
            "apiVersion": "postgresql.cnpg.io/v1", "kind": "ScheduledBackup",
            "metadata": {"name": format!("{name}-daily"), "namespace": ns},
            "spec": {
                "schedule": spec.backup.schedule,
                "cluster": {"name": name},
                "backupOwnerReference": "self",
                "immediate": false,
                "method": "barmanObjectStore"
            }
        }),
    ]
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

    #[test]
    fn the_yaml_reads_back_as_the_objects() {
        let spec = ClusterSpec::default();
        let text = yaml(&spec).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_str_multiple(&text).unwrap();
        assert_eq!(docs, objects(&spec));
    }
}

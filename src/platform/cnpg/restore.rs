//! Restore = a NEW Cluster bootstrapped by `bootstrap.recovery` from a Backup of this cluster,
//! optionally to a point in time; never over an existing name (cnpg-api.md section 3.3).

use anyhow::{bail, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::Api;
use serde_json::{json, Value};

use super::client;
use super::crd::{Backup, Cluster};

/// What CNPG needs to find the chosen backup: a Backup object by name (barmanObjectStore,
/// volumeSnapshot), or, for a plugin's backup (the Barman Cloud Plugin), the object store as an
/// external cluster, pinned to the backup by its ID.
fn recovery_source(source: &Value, backup: &Value) -> (Value, Option<Value>) {
    let name = backup.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    if backup.pointer("/spec/method").and_then(Value::as_str) != Some("plugin") {
        return (json!({"backup": {"name": name}}), None);
    }
    let plugin = backup.pointer("/spec/pluginConfiguration/name").and_then(Value::as_str).unwrap_or_default();
    let origin = source.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    // The plugin's parameters as the source cluster archives with them (its barmanObjectName),
    // and the server name the backups were written under.
    let mut parameters = source
        .pointer("/spec/plugins")
        .and_then(Value::as_array)
        .and_then(|plugins| plugins.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(plugin)))
        .and_then(|p| p.get("parameters").cloned())
        .unwrap_or_else(|| json!({}));
    let server = backup.pointer("/status/serverName").and_then(Value::as_str).unwrap_or(origin);
    parameters["serverName"] = json!(server);
    let mut recovery = json!({"source": origin});
    if let Some(id) = backup.pointer("/status/backupId").and_then(Value::as_str) {
        recovery["recoveryTarget"] = json!({"backupID": id});
    }
    let external = json!({"name": origin, "plugin": {"name": plugin, "parameters": parameters}});
    (recovery, Some(external))
}

/// The new Cluster: the running one's spec, bootstrapped from `backup` (the Backup object as
/// read) instead of initdb. Its backup configuration is left out: archiving into the source's
/// place would mix two clusters' WAL (CNPG refuses a non-empty archive), so the new one gets its
/// own after it is up.
pub fn recovery_cluster(
    source: &Value,
    backup: &Value,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
    namespace: &str,
) -> Value {
    let mut spec = source.get("spec").cloned().unwrap_or_else(|| json!({}));
    let (mut recovery, external) = recovery_source(source, backup);
    if let Some(at) = target_time {
        recovery["recoveryTarget"]["targetTime"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Some(map) = spec.as_object_mut() {
        map.remove("backup");
        map.remove("plugins");
        if let Some(external) = external {
            let name = external.get("name").cloned();
            let mut clusters = map.get("externalClusters").and_then(Value::as_array).cloned().unwrap_or_default();
            clusters.retain(|c| c.get("name") != name.as_ref());
            clusters.push(external);
            map.insert("externalClusters".into(), Value::Array(clusters));
        }
        map.insert("bootstrap".into(), json!({"recovery": recovery}));
    }
    json!({
        "apiVersion": super::crd::API_VERSION,
        "kind": "Cluster",
        "metadata": {"name": new_cluster, "namespace": namespace},
        "spec": spec,
    })
}

/// A backup CNPG can restore this cluster from: this cluster's, and completed. Anything else
/// would leave the new Cluster stuck in its bootstrap.
pub fn check_backup(backup: &Value, cluster: &str) -> Result<()> {
    let name = backup.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let owner = backup.pointer("/spec/cluster/name").and_then(Value::as_str).unwrap_or_default();
    if owner != cluster {
        bail!("Backup {name} is a backup of cluster {owner}, not of {cluster}; choose one of {cluster}'s backups")
    }
    match backup.pointer("/status/phase").and_then(Value::as_str) {
        Some("completed") => Ok(()),
        phase => bail!(
            "Backup {name} is {}, not completed; only a completed backup can be restored",
            phase.map_or_else(|| "without a phase yet".to_owned(), |p| format!("`{p}`"))
        ),
    }
}

fn clusters(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &ApiResource::erase::<Cluster>(&()))
}

pub async fn restore(
    client: &kube::Client,
    namespace: &str,
    cluster: &str,
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
) -> Result<String> {
    let api = clusters(client, namespace);
    let read = |what: String| move |e: kube::Error| anyhow::anyhow!(client::explain(&e, &what));
    if api.get_opt(new_cluster).await.map_err(read(format!("looking for Cluster {new_cluster}")))?.is_some() {
        bail!("a Cluster named {new_cluster} already exists in {namespace}: a restore never replaces one; choose a new name")
    }
    let backups = Api::<Backup>::namespaced(client.clone(), namespace);
    let Some(chosen) = backups.get_opt(backup).await.map_err(read(format!("reading Backup {backup}")))? else {
        bail!("there is no Backup {backup} in {namespace} (kubectl get backups -n {namespace} lists them)")
    };
    let chosen = serde_json::to_value(&chosen)?;
    check_backup(&chosen, cluster)?;
    let source = api.get(cluster).await.map_err(read(format!("reading Cluster {cluster}")))?;
    let source = serde_json::to_value(&source)?;
    let body = recovery_cluster(&source, &chosen, target_time, new_cluster, namespace);
    let object: DynamicObject = serde_json::from_value(body)?;
    api.create(&PostParams::default(), &object).await.map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 409 => {
            anyhow::anyhow!("a Cluster named {new_cluster} was created meanwhile; choose a new name")
        }
        _ => anyhow::anyhow!(client::explain(&e, &format!("creating Cluster {new_cluster}"))),
    })?;
    Ok(format!(
        "Cluster {namespace}/{new_cluster} created from backup {backup}; the operator restores it (pgdeck --cluster \
         {new_cluster} follows it)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(name: &str, cluster: &str, method: &str, phase: Option<&str>) -> Value {
        let mut b = json!({"metadata": {"name": name}, "spec": {"cluster": {"name": cluster}, "method": method}});
        if let Some(phase) = phase {
            b["status"] = json!({"phase": phase, "backupId": "20261125T020000", "serverName": cluster});
        }
        b
    }

    #[test]
    fn the_new_cluster_recovers_from_the_backup_without_the_source_archive() {
        let source: Value = serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/cluster.json")).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-25T17:00:00Z").unwrap().with_timezone(&Utc);
        let b1 = backup("b1", "postgres-cluster", "barmanObjectStore", Some("completed"));
        let new = recovery_cluster(&source, &b1, Some(at), "orders-copy", "postgres");
        assert_eq!(new["metadata"], json!({"name": "orders-copy", "namespace": "postgres"}));
        assert_eq!(
            new["spec"]["bootstrap"],
            json!({"recovery": {"backup": {"name": "b1"}, "recoveryTarget": {"targetTime": "2026-11-25T17:00:00Z"}}})
        );
        assert!(new["spec"].get("backup").is_none() && new["spec"].get("externalClusters").is_none());
        assert_eq!(new["spec"]["storage"], source["spec"]["storage"]);
        assert!(new.get("status").is_none());
        let plain = recovery_cluster(&source, &b1, None, "c2", "postgres");
        assert_eq!(plain["spec"]["bootstrap"], json!({"recovery": {"backup": {"name": "b1"}}}));
    }

    #[test]
    fn a_plugin_backup_is_reached_through_the_object_store_pinned_by_its_id() {
        let plugin = "barman-cloud.cloudnative-pg.io";
        let source = json!({
            "metadata": {"name": "pg"},
            "spec": {
                "instances": 3,
                "plugins": [{"name": plugin, "isWALArchiver": true, "parameters": {"barmanObjectName": "pg-store"}}],
                "externalClusters": [{"name": "pg", "connectionParameters": {"host": "old"}}, {"name": "dr"}],
            }
        });
        let mut b = backup("b2", "pg", "plugin", Some("completed"));
        b["spec"]["pluginConfiguration"] = json!({"name": plugin});
        let at = DateTime::parse_from_rfc3339("2026-11-25T17:00:00Z").unwrap().with_timezone(&Utc);
        let new = recovery_cluster(&source, &b, Some(at), "pg-copy", "postgres");
        assert_eq!(
            new["spec"]["bootstrap"],
            json!({"recovery": {"source": "pg",
                "recoveryTarget": {"backupID": "20261125T020000", "targetTime": "2026-11-25T17:00:00Z"}}})
        );
        assert_eq!(
            new["spec"]["externalClusters"],
            json!([{"name": "dr"}, {"name": "pg", "plugin": {"name": plugin,
                "parameters": {"barmanObjectName": "pg-store", "serverName": "pg"}}}])
        );
        assert!(new["spec"].get("plugins").is_none(), "the copy does not archive into the source's store");
    }

    #[test]
    fn only_a_completed_backup_of_this_cluster_is_restored() {
        assert!(check_backup(&backup("b", "pg", "barmanObjectStore", Some("completed")), "pg").is_ok());
        let other = check_backup(&backup("b", "other", "barmanObjectStore", Some("completed")), "pg").unwrap_err();
        assert!(other.to_string().contains("a backup of cluster other, not of pg"), "{other}");
        let failed = check_backup(&backup("b", "pg", "barmanObjectStore", Some("failed")), "pg").unwrap_err();
        assert!(failed.to_string().contains("is `failed`, not completed"), "{failed}");
        let new = check_backup(&backup("b", "pg", "barmanObjectStore", None), "pg").unwrap_err();
        assert!(new.to_string().contains("without a phase yet"), "{new}");
    }
}

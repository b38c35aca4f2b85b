//! Restore = a NEW Cluster bootstrapped by `bootstrap.recovery` from a Backup of this cluster,
//! optionally to a point in time; never over an existing name (cnpg-api.md section 3.3).

use anyhow::{bail, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::Api;
use serde_json::{json, Value};

use super::client;
use super::crd::Cluster;

/// The new Cluster: the running one's spec, bootstrapped from `backup` instead of initdb. Its
/// backup configuration is left out: archiving into the source's place would mix two clusters'
/// WAL (CNPG refuses a non-empty archive), so the new one gets its own after it is up.
pub fn recovery_cluster(
    source: &Value,
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
    namespace: &str,
) -> Value {
    let mut spec = source.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(map) = spec.as_object_mut() {
        map.remove("backup");
        map.remove("plugins");
        let mut recovery = json!({"backup": {"name": backup}});
        if let Some(at) = target_time {
            recovery["recoveryTarget"] = json!({"targetTime": at.to_rfc3339_opts(SecondsFormat::Secs, true)});
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
    let source = api.get(cluster).await.map_err(read(format!("reading Cluster {cluster}")))?;
    let source = serde_json::to_value(&source)?;
    let body = recovery_cluster(&source, backup, target_time, new_cluster, namespace);
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

    #[test]
    fn the_new_cluster_recovers_from_the_backup_without_the_source_archive() {
        let source: Value = serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/cluster.json")).unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-25T17:00:00Z").unwrap().with_timezone(&Utc);
        let new = recovery_cluster(&source, "b1", Some(at), "orders-copy", "postgres");
        assert_eq!(new["metadata"], json!({"name": "orders-copy", "namespace": "postgres"}));
        assert_eq!(
            new["spec"]["bootstrap"],
            json!({"recovery": {"backup": {"name": "b1"}, "recoveryTarget": {"targetTime": "2026-11-25T17:00:00Z"}}})
        );
        assert!(new["spec"].get("backup").is_none());
        assert_eq!(new["spec"]["storage"], source["spec"]["storage"]);
        assert!(new.get("status").is_none());
        let plain = recovery_cluster(&source, "b1", None, "c2", "postgres");
        assert_eq!(plain["spec"]["bootstrap"], json!({"recovery": {"backup": {"name": "b1"}}}));
    }
}

//! Actions as CNPG's own tools do them: promote is the status patch `kubectl cnpg promote` sends;
//! a backup is the `Backup` object `kubectl cnpg backup` creates, then followed to its end.

use anyhow::{bail, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::Api;
use serde_json::{json, Value};

use super::backups;
use super::client;
use super::crd::{Backup, BackupSpec, Cluster, ClusterRef, PluginConfiguration};
use crate::model::BackupStatus;

/// How often a promote is tried again when the Cluster changed under it (409 Conflict).
const PROMOTE_ATTEMPTS: usize = 5;

pub fn cluster_path(namespace: &str, cluster: &str) -> String {
    format!("/apis/postgresql.cnpg.io/v1/namespaces/{namespace}/clusters/{cluster}")
}

pub fn backups_path(namespace: &str) -> String {
    format!("/apis/postgresql.cnpg.io/v1/namespaces/{namespace}/backups")
}

/// Why CNPG would not (or need not) promote `instance`, from the Cluster as it stands.
pub fn check_promotable(cluster: &Cluster, instance: &str) -> Result<(), String> {
    let status = &cluster.status;
    if status.current_primary.as_deref() == Some(instance) && status.target_primary.as_deref() == Some(instance) {
        return Err(format!("{instance} is already the primary"));
    }
    if status.target_primary.as_deref() == Some(instance) {
        return Err(format!("{instance} is already being promoted (it is the Cluster's targetPrimary)"));
    }
    if !status.instance_names.is_empty() && !status.instance_names.iter().any(|n| n == instance) {
        return Err(format!("{instance} is not an instance of this cluster"));
    }
    let healthy = status.instances_status.get("healthy").is_some_and(|h| h.iter().any(|n| n == instance));
    if !healthy {
        return Err(format!(
            "{instance} is not healthy (not in the Cluster's instancesStatus.healthy); promote a ready replica"
        ));
    }
    Ok(())
}

/// The merge patch of `kubectl cnpg promote`: the target, the phase, and the Ready condition set
/// to False. It carries the resourceVersion it was built from, so a Cluster that changed since is
/// refused (409) rather than overwritten; the conditions array is copied whole because a merge
/// patch replaces arrays.
pub fn promote_patch(cluster: &Cluster, instance: &str, now: DateTime<Utc>) -> Value {
    let now_text = now.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seconds = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut conditions = cluster.status.conditions.clone();
    let ready = json!({"type": "Ready", "status": "False", "reason": "ClusterIsNotReady",
                       "message": "Cluster Is Not Ready", "lastTransitionTime": seconds});
    match conditions.iter_mut().find(|c| c["type"] == "Ready") {
        Some(existing) => {
            let changed = existing["status"] != "False";
            existing["status"] = json!("False");
            existing["reason"] = json!("ClusterIsNotReady");
            existing["message"] = json!("Cluster Is Not Ready");
            if changed {
                existing["lastTransitionTime"] = json!(seconds);
            }
        }
        None => conditions.push(ready),
    }
    json!({
        "metadata": {"resourceVersion": cluster.metadata.resource_version},
        "status": {
            "targetPrimary": instance,
            "targetPrimaryTimestamp": now_text,
            "phase": "Switchover in progress",
            "phaseReason": format!("Switching over to {instance}"),
            "conditions": conditions,
        }
    })
}

/// Sets `instance` as the Cluster's target primary; the operator demotes the old primary and
/// promotes it. Retried on 409 with the Cluster read again.
pub async fn promote(api: &Api<Cluster>, name: &str, instance: &str) -> Result<String> {
    for _ in 0..PROMOTE_ATTEMPTS {
        let cluster = api
            .get_status(name)
            .await
            .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("reading Cluster {name}"))))?;
        check_promotable(&cluster, instance).map_err(|why| anyhow::anyhow!("refused: {why}"))?;
        let before = cluster.status.current_primary.clone().unwrap_or_else(|| "<none>".into());
        let patch = promote_patch(&cluster, instance, crate::clock::now());
        match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {
                return Ok(format!(
                    "Cluster {name}: targetPrimary set to {instance}; the operator now demotes {before} and promotes \
                     {instance}"
                ))
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => bail!(client::explain(&e, &format!("patching Cluster {name}'s status"))),
        }
    }
    bail!("Cluster {name} kept changing while pgdeck promoted {instance} ({PROMOTE_ATTEMPTS} conflicts); try again")
}

/// The method `kubectl cnpg backup` would use for this cluster, with the plugin's configuration.
pub fn backup_method(cluster: &Cluster) -> Result<(String, Option<PluginConfiguration>)> {
    let spec = &cluster.spec;
    if let Some(plugin) = spec.plugins.iter().find(|p| p.is_wal_archiver == Some(true) && p.enabled != Some(false)) {
        return Ok(("plugin".into(), Some(PluginConfiguration { name: plugin.name.clone() })));
    }
    match &spec.backup {
        Some(b) if b.barman_object_store.is_some() => Ok(("barmanObjectStore".into(), None)),
        Some(b) if b.volume_snapshot.is_some() => Ok(("volumeSnapshot".into(), None)),
        _ => bail!(
            "the Cluster has no backup section (spec.backup.barmanObjectStore or volumeSnapshot) and no WAL-archiver \
             plugin: CNPG would fail the backup; configure one first"
        ),
    }
}

/// The Backup `kubectl cnpg backup` creates: `<cluster>-<UTC YYYYMMDDHHMMSS>`, labelled with the cluster.
pub fn backup_object(cluster: &Cluster, name: &str, namespace: &str, now: DateTime<Utc>) -> Result<Backup> {
    let (method, plugin_configuration) = backup_method(cluster)?;
    let backup_name = format!("{name}-{}", now.format("%Y%m%d%H%M%S"));
    let mut backup = Backup {
        api_version: Some(super::crd::API_VERSION.into()),
        kind: Some("Backup".into()),
        spec: BackupSpec {
            cluster: ClusterRef { name: name.to_owned() },
            method: Some(method),
            target: None,
            plugin_configuration,
        },
        ..Backup::default()
    };
    backup.metadata.name = Some(backup_name);
    backup.metadata.namespace = Some(namespace.to_owned());
    backup.metadata.labels = Some([("cnpg.io/cluster".to_owned(), name.to_owned())].into());
    Ok(backup)
}

/// The JSON body of the create request.
pub fn backup_body(backup: &Backup) -> Value {
    serde_json::to_value(backup).unwrap_or(Value::Null)
}

/// Creates the Backup and follows it until CNPG says it completed or failed.
pub async fn backup(clusters: &Api<Cluster>, backups_api: &Api<Backup>, name: &str, namespace: &str) -> Result<String> {
    let cluster = clusters
        .get(name)
        .await
        .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("reading Cluster {name}"))))?;
    let backup = backup_object(&cluster, name, namespace, crate::clock::now())?;
    let backup_name = backup.metadata.name.clone().unwrap_or_default();
    backups_api.create(&PostParams::default(), &backup).await.map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 409 => {
            anyhow::anyhow!("a Backup named {backup_name} already exists (one per cluster per second); try again")
        }
        _ => anyhow::anyhow!(client::explain(&e, &format!("creating Backup {backup_name}"))),
    })?;
    follow(backups_api, &backup_name).await
}

/// Waits on a watch (not a poll) for the Backup to finish.
async fn follow(api: &Api<Backup>, name: &str) -> Result<String> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api.clone(), config).default_backoff().applied_objects());
    while let Some(item) = stream.next().await {
        let Ok(backup) = item else { continue };
        let phase = backup.status.as_ref().and_then(|s| s.phase.clone());
        match backups::status_of(phase.as_deref()) {
            BackupStatus::Completed => {
                let report = backups::report(&backup);
                let took = match (report.started_at, report.stopped_at) {
                    (Some(a), Some(b)) => format!(" in {}s", (b - a).num_seconds()),
                    _ => String::new(),
                };
                return Ok(format!("backup {name} ({}) completed{took}", report.method));
            }
            BackupStatus::Failed => {
                let why = backups::error_of(&backup).or(phase).unwrap_or_else(|| "no error given".into());
                bail!("backup {name} failed: {why}");
            }
            BackupStatus::Running => {}
        }
    }
    bail!("the watch on Backup {name} ended before it finished; see kubectl get backup {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Cluster {
        let mut c: Cluster = serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/cluster.json")).unwrap();
        c.metadata.resource_version = Some("42".into());
        c
    }

    #[test]
    fn the_promote_patch_is_kubectl_cnpgs() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T12:00:00.123456Z").unwrap().with_timezone(&Utc);
        let patch = promote_patch(&cluster(), "postgres-cluster-2", at);
        assert_eq!(patch["metadata"], json!({"resourceVersion": "42"}));
        let status = &patch["status"];
        assert_eq!(status["targetPrimary"], "postgres-cluster-2");
        assert_eq!(status["targetPrimaryTimestamp"], "2026-11-25T12:00:00.123456Z");
        assert_eq!(status["phase"], "Switchover in progress");
        assert_eq!(status["phaseReason"], "Switching over to postgres-cluster-2");
        let conditions = status["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 3, "the other conditions are kept");
        let ready = conditions.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!((&ready["status"], &ready["reason"]), (&json!("False"), &json!("ClusterIsNotReady")));
        assert_eq!(ready["lastTransitionTime"], "2026-11-25T12:00:00Z");
    }

    #[test]
    fn only_a_healthy_other_instance_is_promoted() {
        let c = cluster();
        assert!(check_promotable(&c, "postgres-cluster-2").is_ok());
        assert!(check_promotable(&c, "postgres-cluster-1").unwrap_err().contains("already the primary"));
        assert!(check_promotable(&c, "postgres-cluster-9").unwrap_err().contains("not an instance"));
        let mut sick = c.clone();
        sick.status.instances_status.insert("healthy".into(), vec!["postgres-cluster-1".into()]);
        assert!(check_promotable(&sick, "postgres-cluster-3").unwrap_err().contains("not healthy"));
    }

    #[test]
    fn a_backup_is_named_after_the_cluster_and_the_utc_second_with_its_method() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T12:34:56Z").unwrap().with_timezone(&Utc);
        let body = backup_body(&backup_object(&cluster(), "postgres-cluster", "postgres", at).unwrap());
        assert_eq!(
            body,
            json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Backup",
                   "metadata": {"name": "postgres-cluster-20261125123456", "namespace": "postgres",
                                "labels": {"cnpg.io/cluster": "postgres-cluster"}},
                   "spec": {"cluster": {"name": "postgres-cluster"}, "method": "barmanObjectStore"}})
        );
        let mut none = cluster();
        none.spec.backup = None;
        assert!(backup_object(&none, "c", "ns", at).unwrap_err().to_string().contains("no backup section"));
        let mut plugin = none;
        plugin.spec.plugins = vec![super::super::crd::PluginSpec {
            name: "barman-cloud.cloudnative-pg.io".into(),
            enabled: None,
            is_wal_archiver: Some(true),
        }];
        let body = backup_body(&backup_object(&plugin, "c", "ns", at).unwrap());
        assert_eq!(body["spec"]["method"], "plugin");
        assert_eq!(body["spec"]["pluginConfiguration"], json!({"name": "barman-cloud.cloudnative-pg.io"}));
    }
}

//! Volume usage from the kubelet's stats summary, read through the API server's node proxy
//! (`/api/v1/nodes/{node}/proxy/stats/summary`; RBAC: `get` on `nodes/proxy`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use serde::Deserialize;

use crate::model::VolumeUsage;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Summary {
    pods: Vec<PodStats>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PodStats {
    volume: Vec<VolumeStats>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct VolumeStats {
    used_bytes: Option<u64>,
    capacity_bytes: Option<u64>,
    pvc_ref: Option<PvcRef>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PvcRef {
    name: String,
    namespace: String,
}

pub fn path(node: &str) -> String {
    format!("/api/v1/nodes/{node}/proxy/stats/summary")
}

/// Usage of every PVC in `namespace` the summary reports, by PVC name.
pub fn parse(text: &str, namespace: &str) -> Result<BTreeMap<String, VolumeUsage>, serde_json::Error> {
    let summary: Summary = serde_json::from_str(text)?;
    Ok(summary
        .pods
        .into_iter()
        .flat_map(|p| p.volume)
        .filter_map(|v| {
            let pvc = v.pvc_ref.filter(|r| r.namespace == namespace)?;
            Some((pvc.name, VolumeUsage { used_bytes: v.used_bytes?, size_bytes: v.capacity_bytes? }))
        })
        .collect())
}

pub async fn fetch(client: &kube::Client, node: &str) -> Result<String, kube::Error> {
    let request = http::Request::get(path(node)).body(Vec::new()).map_err(kube::Error::HttpError)?;
    client.request_text(request).await
}

/// The cluster's volumes with no storage behind them: a PVC `Pending` (the provisioner has not
/// made a volume; the instance's pod cannot start) or `Lost`. Each with the instance it belongs
/// to (CNPG's `cnpg.io/instanceName` label, for the WAL volume too) and what to say of it.
pub fn unbound(pvcs: &[&PersistentVolumeClaim]) -> Vec<(String, String)> {
    pvcs.iter()
        .filter_map(|pvc| {
            let name = pvc.metadata.name.as_deref()?;
            let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
            if phase == "Bound" {
                return None;
            }
            let instance =
                pvc.metadata.labels.as_ref().and_then(|l| l.get("cnpg.io/instanceName")).map_or(name, String::as_str);
            let class = pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("the default");
            let ns = pvc.metadata.namespace.as_deref().unwrap_or_default();
            Some((
                instance.to_owned(),
                format!(
                    "volume {name} is {phase}: no storage bound to it (storage class {class}); kubectl describe pvc \
                     {name} -n {ns} says why"
                ),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_without_storage_is_named_with_its_instance() {
        let pvc = |name: &str, instance: &str, phase: Option<&str>| -> PersistentVolumeClaim {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "postgres", "labels": {"cnpg.io/instanceName": instance}},
                "spec": {"storageClassName": "nfs-postgres-v2"},
                "status": phase.map(|p| serde_json::json!({"phase": p})),
            }))
            .unwrap()
        };
        let (bound, pending, wal, new) = (
            pvc("pg-1", "pg-1", Some("Bound")),
            pvc("pg-2", "pg-2", Some("Pending")),
            pvc("pg-3-wal", "pg-3", Some("Lost")),
            pvc("pg-4", "pg-4", None),
        );
        let found = unbound(&[&bound, &pending, &wal, &new]);
        let members: Vec<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(members, ["pg-2", "pg-3", "pg-4"]);
        assert_eq!(
            found[0].1,
            "volume pg-2 is Pending: no storage bound to it (storage class nfs-postgres-v2); kubectl describe pvc pg-2 \
             -n postgres says why"
        );
        assert!(found[1].1.starts_with("volume pg-3-wal is Lost"), "{}", found[1].1);
    }

    #[test]
    fn picks_the_pvcs_of_the_namespace() {
        let text = r#"{"node": {"nodeName": "n1"}, "pods": [
            {"podRef": {"name": "pg-1"}, "volume": [
                {"name": "pgdata", "usedBytes": 10, "capacityBytes": 100, "pvcRef": {"name": "pg-1", "namespace": "postgres"}},
                {"name": "scratch", "usedBytes": 1, "capacityBytes": 2}]},
            {"podRef": {"name": "other"}, "volume": [
                {"name": "d", "usedBytes": 5, "capacityBytes": 9, "pvcRef": {"name": "x", "namespace": "elsewhere"}}]}]}"#;
        let usage = parse(text, "postgres").unwrap();
        assert_eq!(usage.len(), 1);
        assert_eq!(usage["pg-1"], VolumeUsage { used_bytes: 10, size_bytes: 100 });
    }
}

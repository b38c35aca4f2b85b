//! Volume usage from the kubelet's stats summary, read through the API server's node proxy
//! (`/api/v1/nodes/{node}/proxy/stats/summary`; RBAC: `get` on `nodes/proxy`).

use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;

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

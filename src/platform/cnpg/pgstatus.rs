//! The instance manager's `/pg/status`, read through the API server's pod proxy as
//! `kubectl cnpg status` reads it (RBAC: `get` on `pods/proxy`).

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::model::Lsn;

/// The part of `/pg/status` pgdeck uses. LSNs are empty strings where they do not apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(clippy::struct_excessive_bools)] // the instance manager's own flags
pub struct PgStatus {
    pub current_lsn: String,
    pub received_lsn: String,
    pub replay_lsn: String,
    pub is_primary: bool,
    pub replay_paused: bool,
    pub pending_restart: bool,
    pub is_wal_receiver_active: bool,
    #[serde(rename = "timeLineID")]
    pub timeline_id: Option<u32>,
    pub replication_info: Vec<ReplicationInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicationInfo {
    pub application_name: String,
    pub state: String,
    pub sync_state: String,
}

impl PgStatus {
    pub fn current(&self) -> Option<Lsn> {
        self.current_lsn.parse().ok()
    }

    pub fn replayed(&self) -> Option<Lsn> {
        self.replay_lsn.parse().ok().or_else(|| self.received_lsn.parse().ok())
    }
}

/// The proxy path of a pod's `/pg/status`: https when the instance manager serves its status
/// port with TLS (`--status-port-tls`, every pod of a recent operator).
pub fn path(namespace: &str, pod: &Pod) -> String {
    let tls = pod.spec.as_ref().is_some_and(|spec| {
        spec.containers
            .iter()
            .filter(|c| c.name == "postgres")
            .any(|c| c.command.iter().flatten().chain(c.args.iter().flatten()).any(|a| a == "--status-port-tls"))
    });
    let scheme = if tls { "https" } else { "http" };
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    format!("/api/v1/namespaces/{namespace}/pods/{scheme}:{name}:8000/proxy/pg/status")
}

pub async fn fetch(client: &kube::Client, path: &str) -> Result<PgStatus, kube::Error> {
    let request = http::Request::get(path).body(Vec::new()).map_err(kube::Error::HttpError)?;
    let text = client.request_text(request).await?;
    serde_json::from_str(&text).map_err(kube::Error::SerdeError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fixture_and_picks_the_proxy_scheme() {
        let status: PgStatus =
            serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/pg_status.json")).unwrap();
        assert!(status.is_primary);
        assert_eq!(status.current().unwrap().to_string(), "0/604DE38");
        assert_eq!(status.replayed(), None);
        assert_eq!(status.replication_info[1].application_name, "postgres-cluster-3");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pg-1"},
            "spec": {"containers": [{"name": "postgres", "command": ["/controller/manager", "instance", "run", "--status-port-tls"]}]}
        }))
        .unwrap();
        assert_eq!(path("ns", &pod), "/api/v1/namespaces/ns/pods/https:pg-1:8000/proxy/pg/status");
        let plain: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "pg-1"},
            "spec": {"containers": [{"name": "postgres"}]}}))
        .unwrap();
        assert!(path("ns", &plain).contains("/http:pg-1:8000/"));
    }
}

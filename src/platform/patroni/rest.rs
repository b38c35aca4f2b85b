//! Patroni's REST API: `/cluster` to observe, `/switchover` and `/failover` to act.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::model::{MemberReport, Role};

#[derive(Clone)]
pub struct PatroniRest {
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct ClusterDoc {
    members: Vec<ClusterMember>,
    /// Present and true while the cluster is in maintenance mode (`patronictl pause`).
    #[serde(default)]
    pause: bool,
}

/// One member's view of the cluster: the member list and whether Patroni manages it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    pub members: Vec<MemberReport>,
    pub paused: bool,
}

#[derive(Deserialize)]
struct ClusterMember {
    name: String,
    role: String,
    state: String,
    host: String,
    port: u16,
    api_url: Option<String>,
    timeline: Option<u32>,
    /// Bytes behind the leader, or the string "unknown".
    lag: Option<serde_json::Value>,
    /// Present and true while a changed setting waits for a restart.
    #[serde(default)]
    pending_restart: bool,
}

impl PatroniRest {
    pub fn new(timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .no_proxy()
            .build()
            .context("cannot build the HTTP client for Patroni")?;
        Ok(Self { http })
    }

    /// The member list as one Patroni member sees it in the DCS.
    pub async fn cluster(&self, api_url: &str) -> Result<ClusterView> {
        let url = format!("{}/cluster", api_url.trim_end_matches('/'));
        let response = self.http.get(&url).send().await.map_err(|e| describe(&url, &e))?;
        let status = response.status();
        if !status.is_success() {
            bail!("{url} answered {status}");
        }
        let doc: ClusterDoc =
            response.json().await.with_context(|| format!("{url} sent a document that is not Patroni's /cluster"))?;
        Ok(ClusterView { members: doc.members.into_iter().map(to_report).collect(), paused: doc.pause })
    }

    /// `POST /switchover`: Patroni demotes `leader` and promotes `candidate` (or the best replica).
    pub async fn switchover(&self, api_url: &str, leader: &str, candidate: Option<&str>) -> Result<String> {
        let mut body = serde_json::json!({ "leader": leader });
        if let Some(c) = candidate {
            body["candidate"] = c.into();
        }
        self.post(api_url, "switchover", &body).await
    }

    /// `POST /failover`: promote `candidate` although there may be no healthy leader.
    pub async fn failover(&self, api_url: &str, candidate: &str) -> Result<String> {
        self.post(api_url, "failover", &serde_json::json!({ "candidate": candidate })).await
    }

    async fn post(&self, api_url: &str, path: &str, body: &serde_json::Value) -> Result<String> {
        let url = format!("{}/{path}", api_url.trim_end_matches('/'));
        let response = self.http.post(&url).json(body).send().await.map_err(|e| describe(&url, &e))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("Patroni refused the {path} ({status}): {}", text.trim());
        }
        Ok(text.trim().to_owned())
    }
}

fn to_report(m: ClusterMember) -> MemberReport {
    let role = match m.role.as_str() {
        "leader" | "master" | "primary" | "standby_leader" => Role::Primary,
        _ => Role::Replica,
    };
    MemberReport {
        sync_standby: m.role == "sync_standby",
        name: m.name,
        role,
        state: m.state,
        host: m.host,
        port: m.port,
        api_url: m.api_url.map(|u| u.trim_end_matches("/patroni").to_owned()),
        timeline: m.timeline,
        manager_lag_bytes: m.lag.and_then(|l| l.as_u64()),
        pending_restart: m.pending_restart,
    }
}

fn describe(url: &str, e: &reqwest::Error) -> anyhow::Error {
    if e.is_timeout() {
        anyhow::anyhow!("{url} did not answer in time")
    } else if e.is_connect() {
        anyhow::anyhow!("{url} refused the connection (is Patroni running?)")
    } else {
        anyhow::anyhow!("{url}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_lag_from_patroni_json() {
        let doc: ClusterDoc = serde_json::from_str(
            r#"{"members":[
              {"name":"m1","role":"leader","state":"running","api_url":"http://127.0.0.1:8008/patroni","host":"127.0.0.1","port":5432,"timeline":3},
              {"name":"m2","role":"replica","state":"streaming","api_url":"http://127.0.0.1:8009/patroni","host":"127.0.0.1","port":5433,"timeline":3,"lag":1024,"pending_restart":true},
              {"name":"m3","role":"sync_standby","state":"running","host":"127.0.0.1","port":5434,"lag":"unknown"}
            ],"scope":"c","pause":true}"#,
        )
        .unwrap();
        assert!(doc.pause);
        let r: Vec<MemberReport> = doc.members.into_iter().map(to_report).collect();
        assert_eq!(r[0].role, Role::Primary);
        assert_eq!(r[0].api_url.as_deref(), Some("http://127.0.0.1:8008"));
        assert_eq!((r[1].role, r[1].manager_lag_bytes), (Role::Replica, Some(1024)));
        assert!(r[2].sync_standby);
        assert_eq!(r[2].manager_lag_bytes, None);
        assert_eq!(r.iter().map(|m| m.pending_restart).collect::<Vec<_>>(), [false, true, false]);
    }
}

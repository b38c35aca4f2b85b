//! Cluster status + instance Pods + each instance's `/pg/status` → the HA manager's member list,
//! in the shape the Patroni platform reports it. Pure: tested on fixtures.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use super::crd::Cluster;
use super::pgstatus::PgStatus;
use crate::model::{ClusterPhase, ConditionReport, MemberReport, Role};

/// CNPG's PostgreSQL port on every instance pod.
pub const POSTGRES_PORT: u16 = 5432;

/// What `targetPrimary` holds while the operator looks for a new primary after a failure.
const FAILOVER_PENDING: &str = "pending";

/// Instance names: those the Cluster lists, then any instance pod beyond them, by serial.
pub fn instance_names(cluster: &Cluster, pods: &[&Pod]) -> Vec<String> {
    let mut names = cluster.status.instance_names.clone();
    for pod in pods {
        if let Some(name) = &pod.metadata.name {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names.sort_by_key(|n| (serial(n), n.clone()));
    names
}

/// `<cluster>-<serial>`: the serial orders instances as CNPG numbers them.
fn serial(name: &str) -> u64 {
    name.rsplit('-').next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX)
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The role label the operator keeps (`cnpg.io/instanceRole`, before 1.21 `role`).
fn role_label(pod: &Pod) -> Option<&str> {
    let labels = pod.metadata.labels.as_ref()?;
    labels.get("cnpg.io/instanceRole").or_else(|| labels.get("role")).map(String::as_str)
}

pub fn reports(
    cluster: &Cluster,
    pods: &[&Pod],
    statuses: &BTreeMap<String, PgStatus>,
    api: &str,
) -> Vec<MemberReport> {
    let status = &cluster.status;
    let current = status.current_primary.as_deref();
    let target = status.target_primary.as_deref();
    let failing_over = target == Some(FAILOVER_PENDING);
    let switching_to = target.filter(|t| !failing_over && Some(*t) != current);
    let failed = status.instances_status.get("failed");
    let primary_status = current.and_then(|p| statuses.get(p));
    instance_names(cluster, pods)
        .into_iter()
        .map(|name| {
            let pod = pods.iter().find(|p| p.metadata.name.as_deref() == Some(name.as_str()));
            let pg = statuses.get(&name);
            let reported = status.instances_reported_state.get(&name);
            let is_failed = failed.is_some_and(|f| f.contains(&name));
            let is_current = current == Some(name.as_str());
            let role = match pod {
                None => Role::Unknown,
                Some(_) if is_failed => Role::Unknown,
                Some(_) if is_current && !failing_over => Role::Primary,
                Some(_) if is_current => Role::Unknown,
                Some(pod) if role_label(pod) == Some("primary") && current.is_none() => Role::Primary,
                Some(_) => Role::Replica,
            };
            let state = match pod {
                None => "missing".to_owned(),
                Some(pod) if pod.metadata.deletion_timestamp.is_some() => "terminating".to_owned(),
                Some(_) if is_failed => "failed".to_owned(),
                Some(_) if is_current && failing_over => "failing over".to_owned(),
                Some(pod) if pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending") => {
                    "pending".to_owned()
                }
                Some(pod) if !pod_ready(pod) => "starting".to_owned(),
                Some(_) if is_current => match switching_to {
                    Some(to) => format!("demoting (switchover to {to})"),
                    None => "running".to_owned(),
                },
                Some(_)
                    if switching_to == Some(name.as_str()) || (failing_over && pg.is_some_and(|s| s.is_primary)) =>
                {
                    "promoting".to_owned()
                }
                Some(_) if pg.is_some_and(|s| s.is_wal_receiver_active) => "streaming".to_owned(),
                Some(_) => "running".to_owned(),
            };
            let host = pod
                .and_then(|p| p.status.as_ref())
                .and_then(|s| s.pod_ip.clone())
                .or_else(|| reported.and_then(|r| r.ip.clone()))
                .unwrap_or_default();
            let manager_lag_bytes =
                match (role, primary_status.and_then(PgStatus::current), pg.and_then(PgStatus::replayed)) {
                    (Role::Replica, Some(primary_at), Some(replayed)) => Some(replayed.bytes_until(primary_at)),
                    _ => None,
                };
            let sync_standby = primary_status.is_some_and(|p| {
                p.replication_info
                    .iter()
                    .any(|r| r.application_name == name && matches!(r.sync_state.as_str(), "sync" | "quorum"))
            });
            MemberReport {
                api_url: pod.map(|p| format!("{api}{}", super::pgstatus::path(cluster_namespace(cluster), p))),
                timeline: pg.and_then(|s| s.timeline_id).or_else(|| reported.and_then(|r| r.timeline_id)),
                name,
                role,
                state,
                host,
                port: POSTGRES_PORT,
                manager_lag_bytes,
                sync_standby,
                pending_restart: pg.is_some_and(|s| s.pending_restart),
            }
        })
        .collect()
}

fn cluster_namespace(cluster: &Cluster) -> &str {
    cluster.metadata.namespace.as_deref().unwrap_or_default()
}

/// `cnpg.io/reconciliationLoop: disabled` stops the operator acting on the cluster, failover
/// included: the nearest thing CNPG has to Patroni's maintenance mode.
pub fn reconciliation_paused(cluster: &Cluster) -> bool {
    cluster
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("cnpg.io/reconciliationLoop"))
        .is_some_and(|v| v == "disabled")
}

/// The operator's phase and conditions for the whole cluster; `None` before it wrote any.
pub fn cluster_phase(cluster: &Cluster) -> Option<ClusterPhase> {
    let status = &cluster.status;
    let text = |c: &serde_json::Value, key: &str| c.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    Some(ClusterPhase {
        phase: status.phase.clone()?,
        reason: status.phase_reason.clone().filter(|r| !r.is_empty()),
        instances: status.instances,
        ready_instances: status.ready_instances,
        conditions: status
            .conditions
            .iter()
            .filter_map(|c| {
                Some(ConditionReport {
                    kind: text(c, "type")?,
                    status: text(c, "status").unwrap_or_else(|| "Unknown".into()),
                    reason: text(c, "reason"),
                    message: text(c, "message").filter(|m| !m.is_empty()),
                })
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cluster(current: &str, target: &str, failed: &[&str]) -> Cluster {
        let mut c: Cluster = serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/cluster.json")).unwrap();
        c.status.current_primary = Some(current.into());
        c.status.target_primary = Some(target.into());
        if !failed.is_empty() {
            c.status.instances_status.insert("failed".into(), failed.iter().map(|s| (*s).to_owned()).collect());
        }
        c
    }

    fn pod(n: usize, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": format!("postgres-cluster-{n}"), "labels": {"cnpg.io/instanceRole": "replica"}},
            "spec": {"containers": [{"name": "postgres", "command": ["--status-port-tls"]}]},
            "status": {"phase": "Running", "podIP": format!("10.0.0.{n}"),
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        }))
        .unwrap()
    }

    fn statuses() -> BTreeMap<String, PgStatus> {
        let primary: PgStatus =
            serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/pg_status.json")).unwrap();
        let replica = PgStatus {
            replay_lsn: "0/604DD10".into(),
            is_wal_receiver_active: true,
            timeline_id: Some(1),
            ..PgStatus::default()
        };
        BTreeMap::from([
            ("postgres-cluster-1".to_owned(), primary),
            ("postgres-cluster-2".to_owned(), replica.clone()),
            ("postgres-cluster-3".to_owned(), replica),
        ])
    }

    #[test]
    fn a_healthy_cluster_has_one_primary_and_streaming_replicas() {
        let pods = [pod(1, true), pod(2, true), pod(3, true)];
        let pods: Vec<&Pod> = pods.iter().collect();
        let r = reports(&cluster("postgres-cluster-1", "postgres-cluster-1", &[]), &pods, &statuses(), "");
        let roles: Vec<(Role, &str)> = r.iter().map(|m| (m.role, m.state.as_str())).collect();
        assert_eq!(roles, [(Role::Primary, "running"), (Role::Replica, "streaming"), (Role::Replica, "streaming")]);
        assert_eq!((r[1].host.as_str(), r[1].port, r[1].timeline), ("10.0.0.2", 5432, Some(1)));
        assert_eq!(r[1].manager_lag_bytes, Some(0x0604_DE38 - 0x0604_DD10));
        assert!(!r[1].sync_standby);
        assert!(r[0].api_url.as_deref().unwrap().ends_with("/pods/https:postgres-cluster-1:8000/proxy/pg/status"));
    }

    #[test]
    fn a_failover_has_no_primary_until_the_operator_names_one() {
        let pods = [pod(1, false), pod(2, true), pod(3, true)];
        let pods: Vec<&Pod> = pods.iter().collect();
        let r = reports(&cluster("postgres-cluster-1", "pending", &["postgres-cluster-1"]), &pods, &statuses(), "");
        assert!(r.iter().all(|m| m.role != Role::Primary));
        assert_eq!(r[0].state, "failed");
        let r = reports(&cluster("postgres-cluster-2", "postgres-cluster-2", &[]), &pods, &statuses(), "");
        assert_eq!(r[1].role, Role::Primary);
        assert_eq!(r[0].state, "starting");
    }

    #[test]
    fn a_switchover_shows_both_ends_and_a_missing_pod_is_unknown() {
        let pods = [pod(1, true), pod(2, true)];
        let pods: Vec<&Pod> = pods.iter().collect();
        let r = reports(&cluster("postgres-cluster-1", "postgres-cluster-2", &[]), &pods, &statuses(), "");
        assert_eq!(r[0].state, "demoting (switchover to postgres-cluster-2)");
        assert_eq!(r[0].role, Role::Primary);
        assert_eq!(r[1].state, "promoting");
        assert_eq!((r[2].role, r[2].state.as_str()), (Role::Unknown, "missing"));
    }
}

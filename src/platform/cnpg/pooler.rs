//! A Pooler and its Deployment → the pooler report. Pure.

use k8s_openapi::api::apps::v1::Deployment;

use super::crd::Pooler;
use super::members::POSTGRES_PORT;
use crate::model::PoolerReport;

/// The pooler in front of the primary: the cluster's `rw` Pooler (by name, the first).
pub fn pick<'a>(cluster: &str, poolers: &[&'a Pooler]) -> Option<&'a Pooler> {
    let mut rw: Vec<&Pooler> = poolers
        .iter()
        .copied()
        .filter(|p| p.spec.cluster.name == cluster && p.spec.kind.as_deref().unwrap_or("rw") == "rw")
        .collect();
    rw.sort_by_key(|p| p.metadata.name.clone());
    rw.first().copied()
}

/// The report, or why the pooler cannot take clients (no pod ready, paused, failed).
pub fn report(
    namespace: &str,
    cluster: &str,
    pooler: &Pooler,
    deployment: Option<&Deployment>,
) -> Result<PoolerReport, String> {
    let name = pooler.metadata.name.clone().unwrap_or_default();
    if pooler.spec.pgbouncer.paused == Some(true) || pooler.status.phase.as_deref() == Some("paused") {
        return Err(format!("pooler {name} is paused (spec.pgbouncer.paused): clients wait until it resumes"));
    }
    if pooler.status.phase.as_deref() == Some("failed") {
        let why = pooler.status.error.as_deref().unwrap_or("no error given");
        return Err(format!("pooler {name} failed: {why}"));
    }
    let Some(deployment) = deployment else {
        return Err(format!("pooler {name} has no Deployment yet: the operator has not created it"));
    };
    let wanted = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = deployment.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0);
    if ready == 0 {
        return Err(format!("pooler {name}: 0/{wanted} PgBouncer pods ready"));
    }
    Ok(PoolerReport {
        listen: format!("{name}.{namespace}.svc:{POSTGRES_PORT}"),
        pool_mode: pooler.spec.pgbouncer.pool_mode.clone().unwrap_or_else(|| "session".into()),
        // An rw Pooler sends clients to the -rw Service, which follows the primary.
        target_host: Some(format!("{cluster}-rw")),
        target_port: Some(POSTGRES_PORT),
        // Filled in from PgBouncer's metrics (see `counts`) where they can be read.
        client_connections: 0,
        server_connections: 0,
        name,
    })
}

/// PgBouncer's exporter port on a pooler pod.
pub const METRICS_PORT: u16 = 9127;

/// The exporter's `/metrics` on one pooler pod, through the API server's pod proxy.
pub fn metrics_path(namespace: &str, pod: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{METRICS_PORT}/proxy/metrics")
}

/// Clients (active and waiting) and server connections (active and idle) over all pools, from
/// the exporter's Prometheus text; an error when none of the pool metrics is there.
pub fn counts(metrics: &str) -> Result<(u32, u32), String> {
    let (mut clients, mut servers, mut seen) = (0.0_f64, 0.0_f64, false);
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let Some(value) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else { continue };
        match name {
            "cnpg_pgbouncer_pools_cl_active" | "cnpg_pgbouncer_pools_cl_waiting" => clients += value,
            "cnpg_pgbouncer_pools_sv_active" | "cnpg_pgbouncer_pools_sv_idle" => servers += value,
            _ => continue,
        }
        seen = true;
    }
    if !seen {
        return Err("its metrics have no cnpg_pgbouncer_pools_* series".into());
    }
    // Counts of connections: non-negative and finite by the checks, clamped to u32's range,
    // so the cast neither wraps nor loses a sign.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let whole = |v: f64| if v.is_finite() && v >= 0.0 { v.round().min(f64::from(u32::MAX)) as u32 } else { 0 };
    Ok((whole(clients), whole(servers)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn pool_counts_are_summed_over_pools_and_pods_series() {
        let metrics = "# HELP cnpg_pgbouncer_pools_cl_active Client connections\n\
                       # TYPE cnpg_pgbouncer_pools_cl_active gauge\n\
                       cnpg_pgbouncer_pools_cl_active{database=\"app\",user=\"app\"} 7\n\
                       cnpg_pgbouncer_pools_cl_active{database=\"pgbouncer\",user=\"pgbouncer\"} 1\n\
                       cnpg_pgbouncer_pools_cl_waiting{database=\"app\",user=\"app\"} 2\n\
                       cnpg_pgbouncer_pools_cl_active_cancel_req{database=\"app\",user=\"app\"} 5\n\
                       cnpg_pgbouncer_pools_sv_active{database=\"app\",user=\"app\"} 3\n\
                       cnpg_pgbouncer_pools_sv_idle{database=\"app\",user=\"app\"} 1e0\n\
                       cnpg_pgbouncer_lists_databases 2\n";
        assert_eq!(super::counts(metrics), Ok((10, 4)));
        assert!(super::counts("cnpg_pgbouncer_lists_databases 2\n").unwrap_err().contains("no cnpg_pgbouncer_pools"));
    }

    use serde_json::json;

    use super::*;

    #[test]
    fn the_rw_pooler_is_reported_and_an_unready_one_is_down() {
        let pooler: Pooler = serde_json::from_value(json!({
            "metadata": {"name": "pc-pooler-rw"},
            "spec": {"cluster": {"name": "pc"}, "type": "rw", "pgbouncer": {"poolMode": "transaction"}}
        }))
        .unwrap();
        let ro: Pooler = serde_json::from_value(
            json!({"metadata": {"name": "a-ro"}, "spec": {"cluster": {"name": "pc"}, "type": "ro"}}),
        )
        .unwrap();
        assert_eq!(pick("pc", &[&ro, &pooler]).unwrap().metadata.name.as_deref(), Some("pc-pooler-rw"));
        let deployment = |ready: i32| -> Deployment {
            serde_json::from_value(json!({"metadata": {"name": "pc-pooler-rw"}, "spec": {"replicas": 3,
                "selector": {}, "template": {}}, "status": {"readyReplicas": ready}}))
            .unwrap()
        };
        let r = report("postgres", "pc", &pooler, Some(&deployment(3))).unwrap();
        assert_eq!(
            (r.pool_mode.as_str(), r.target_host.as_deref(), r.target_port),
            ("transaction", Some("pc-rw"), Some(5432))
        );
        assert_eq!(r.listen, "pc-pooler-rw.postgres.svc:5432");
        assert_eq!(
            report("postgres", "pc", &pooler, Some(&deployment(0))).unwrap_err(),
            "pooler pc-pooler-rw: 0/3 PgBouncer pods ready"
        );
    }
}

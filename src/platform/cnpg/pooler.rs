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
        // PgBouncer's counters are behind its metrics port, which pgdeck does not scrape yet.
        client_connections: 0,
        server_connections: 0,
        name,
    })
}

#[cfg(test)]
mod tests {
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

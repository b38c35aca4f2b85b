//! Which way SQL goes to each instance: straight to the pod IP, or through the API server's
//! port-forward. `auto` is decided once, when pgdeck connects.

use crate::config::SqlRoute;

/// A route with `auto` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The pod IP, port 5432.
    Direct,
    /// `pods/portforward` on the API server, one forward per session.
    PortForward,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Direct => "direct (pod IP)",
            Self::PortForward => "port-forward",
        })
    }
}

/// `auto` is direct only where pod IPs are known to be reachable: in a pod of the cluster being
/// watched, which pgdeck knows by its API server being the one Kubernetes announces to pods
/// (`KUBERNETES_SERVICE_HOST`, or the `kubernetes.default.svc` name). A pod elsewhere, or a
/// laptop, goes through the API server.
pub fn resolve(configured: SqlRoute, api_url: &str, service_host: Option<&str>) -> Route {
    match configured {
        SqlRoute::Direct => Route::Direct,
        SqlRoute::Auto if in_cluster(api_url, service_host) => Route::Direct,
        SqlRoute::PortForward | SqlRoute::Auto => Route::PortForward,
    }
}

fn in_cluster(api_url: &str, service_host: Option<&str>) -> bool {
    let Some(service_host) = service_host.filter(|h| !h.is_empty()) else { return false };
    let Ok(url) = api_url.parse::<http::Uri>() else { return false };
    let Some(host) = url.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == service_host.trim_start_matches('[').trim_end_matches(']')
        || host == "kubernetes.default.svc"
        || host.starts_with("kubernetes.default.svc.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_direct_only_against_the_in_cluster_api_server() {
        let outside = resolve(SqlRoute::Auto, "https://prod.example.com:6443", None);
        assert_eq!(outside, Route::PortForward);
        let in_pod = resolve(SqlRoute::Auto, "https://10.96.0.1:443", Some("10.96.0.1"));
        assert_eq!(in_pod, Route::Direct);
        let by_name = resolve(SqlRoute::Auto, "https://kubernetes.default.svc.cluster.local", Some("10.96.0.1"));
        assert_eq!(by_name, Route::Direct);
        let v6 = resolve(SqlRoute::Auto, "https://[fd00::1]:443", Some("fd00::1"));
        assert_eq!(v6, Route::Direct);
        // In a pod, but watching another cluster through a kubeconfig: its pods are not ours to dial.
        let other = resolve(SqlRoute::Auto, "https://prod.example.com:6443", Some("10.96.0.1"));
        assert_eq!(other, Route::PortForward);
        assert_eq!(resolve(SqlRoute::Direct, "https://prod.example.com", None), Route::Direct);
        assert_eq!(resolve(SqlRoute::PortForward, "https://10.96.0.1", Some("10.96.0.1")), Route::PortForward);
    }
}

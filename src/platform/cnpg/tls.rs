//! TLS to the instances as CNPG sets it up (verify-full). The operator keeps the servers' CA in
//! the `<cluster>-ca` Secret (key `ca.crt`) unless `spec.certificates.serverCASecret` names
//! another, and issues one server certificate for every instance, whose common name and DNS
//! names are the cluster's Services: `<cluster>-rw`, `<cluster>-rw.<ns>`, `<cluster>-rw.<ns>.svc`,
//! …, then `-r` and `-ro` (`GetClusterAltDNSNames` in CNPG's `api/v1/cluster_funcs.go`, used by
//! `ensureServerLeafCertificate` in `internal/controller/cluster_pki.go`). Pod names and IPs are
//! not among them, and `-rw` cannot be disabled, so `<cluster>-rw` is the name checked whichever
//! instance the session reaches, by pod IP or by port-forward.

use anyhow::{bail, Result};
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::Api;

use super::client;
use super::crd::Cluster;
use crate::sql::Tls;

/// The key CNPG keeps the CA certificate under, in its own CA Secret and in user-provided ones.
pub const CA_KEY: &str = "ca.crt";

/// The Secret holding the servers' CA, as CNPG's `GetServerCASecretName` picks it.
pub fn ca_secret(cluster_name: &str, cluster: Option<&Cluster>) -> String {
    cluster
        .and_then(|c| c.spec.certificates.as_ref()?.server_ca_secret.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("{cluster_name}-ca"))
}

/// The name every instance's certificate carries: the read-write Service's.
pub fn server_name(cluster_name: &str) -> String {
    format!("{cluster_name}-rw")
}

/// Verify-full against the CA in Secret `namespace/secret`, checking `server_name`. A missing or
/// unusable CA is an error, never a quiet fall back to unencrypted SQL: CNPG always makes one.
pub async fn read(client: &kube::Client, namespace: &str, secret: &str, server_name: &str) -> Result<Tls> {
    let what = format!("Secret {namespace}/{secret} (the cluster's server CA)");
    let found = Api::<KubeSecret>::namespaced(client.clone(), namespace)
        .get_opt(secret)
        .await
        .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("reading {what}"))))?;
    let Some(found) = found else {
        bail!(
            "there is no {what}: the CNPG operator makes it with the cluster; pgdeck verifies every instance's \
             certificate against it and does not fall back to unencrypted SQL"
        )
    };
    let data = found.data.unwrap_or_default();
    let Some(pem) = data.get(CA_KEY) else { bail!("{what} has no `{CA_KEY}` key") };
    Ok(Tls::from_ca_pem(&pem.0, &format!("{what}'s `{CA_KEY}`"))?.with_server_name(server_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::cnpg::crd::CertificatesSpec;

    #[test]
    fn the_ca_secret_is_cnpgs_default_unless_the_spec_names_one() {
        assert_eq!(ca_secret("pg", None), "pg-ca");
        let mut cluster = Cluster::default();
        assert_eq!(ca_secret("pg", Some(&cluster)), "pg-ca");
        cluster.spec.certificates = Some(CertificatesSpec { server_ca_secret: Some("corp-ca".into()) });
        assert_eq!(ca_secret("pg", Some(&cluster)), "corp-ca");
        let read: Cluster =
            serde_json::from_value(serde_json::json!({"spec": {"certificates": {"serverCASecret": "from-json"}}}))
                .unwrap();
        assert_eq!(ca_secret("pg", Some(&read)), "from-json");
        assert_eq!(server_name("pg"), "pg-rw");
    }
}

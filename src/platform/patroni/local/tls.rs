//! The local cluster's own certificate authority and the server certificate PostgreSQL and
//! PgBouncer present, so that pgdeck's sessions are encrypted and it can verify whom it talks to
//! (verify-full: the certificate must name 127.0.0.1 and chain to this CA).

use std::path::Path;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::platform::patroni::local::layout::{Layout, LOOPBACK};

/// PEM texts of a CA certificate, a server certificate it signed, and the server's private key.
pub struct Generated {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
}

/// A new CA (its key is used once and dropped: nothing else is ever signed with it) and a
/// server certificate for the loopback address the cluster listens on.
pub fn generate(cluster: &str) -> Result<Generated> {
    let ca_key = KeyPair::generate().context("cannot generate the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(DnType::CommonName, format!("pgdeck local CA for {cluster}"));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).context("cannot sign the CA certificate")?;
    let server_key = KeyPair::generate().context("cannot generate the server key")?;
    let mut params = CertificateParams::new(vec![LOOPBACK.to_owned(), "localhost".to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, LOOPBACK);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = params.signed_by(&server_key, &ca).context("cannot sign the server certificate")?;
    Ok(Generated { ca: ca.pem(), server_cert: server.pem(), server_key: server_key.serialize_pem() })
}

/// Writes the CA and server files unless they are there: a cluster keeps its certificates
/// across `down` and `up`, and one made before pgdeck had TLS gets them on its next `up`.
pub fn ensure(layout: &Layout, cluster: &str, write_private: impl Fn(&Path, &str) -> Result<()>) -> Result<()> {
    if layout.tls_ca().exists() && layout.tls_cert().exists() && layout.tls_key().exists() {
        return Ok(());
    }
    let generated = generate(cluster)?;
    write_private(&layout.tls_key(), &generated.server_key)?;
    write_private(&layout.tls_cert(), &generated.server_cert)?;
    write_private(&layout.tls_ca(), &generated.ca)?;
    Ok(())
}

/// The certificates in `ca_file`, as the only roots to trust.
fn roots(ca_file: &Path) -> Result<rustls::RootCertStore> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("cannot read the cluster's CA certificate {}", ca_file.display()))?
    {
        let cert = cert.with_context(|| format!("{} is not a PEM certificate", ca_file.display()))?;
        roots.add(cert).with_context(|| format!("{} holds a certificate rustls cannot use", ca_file.display()))?;
    }
    Ok(roots)
}

fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls client configuration that trusts only the CA in `ca_file`.
pub fn client_config(ca_file: &Path) -> Result<rustls::ClientConfig> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("no TLS protocol version in common with the crypto provider")?
        .with_root_certificates(roots(ca_file)?)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::*;

    #[test]
    fn the_server_certificate_names_loopback_and_chains_to_the_ca() {
        let generated = generate("c").unwrap();
        assert!(generated.ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(generated.server_key.contains("PRIVATE KEY"));
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.crt");
        std::fs::write(&ca, &generated.ca).unwrap();
        client_config(&ca).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots(&ca).unwrap()),
            provider(),
        )
        .build()
        .unwrap();
        let verify = |pem: &str, name: &str| {
            let cert = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
            let name = ServerName::try_from(name.to_owned()).unwrap();
            verifier.verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
        };
        verify(&generated.server_cert, "127.0.0.1").unwrap();
        verify(&generated.server_cert, "localhost").unwrap();
        assert!(verify(&generated.server_cert, "db.example.com").is_err(), "the name is checked");
        assert!(verify(&generate("d").unwrap().server_cert, "127.0.0.1").is_err(), "another CA's certificate");
    }
}

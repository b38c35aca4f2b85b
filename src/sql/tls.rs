//! Verified TLS to PostgreSQL (verify-full): the server's certificate must chain to the CA the
//! target names and carry the name pgdeck expects.

use std::sync::Arc;

use anyhow::{bail, Context, Result};

/// The CA a target's servers must chain to, and the name their certificate must carry.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<rustls::ClientConfig>,
    /// The name to verify when it is not the host dialled: a pod IP, or a tunnel's far end, is
    /// not what a platform issues its certificates for.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.server_name {
            Some(name) => write!(f, "verify-full ({name})"),
            None => f.write_str("verify-full"),
        }
    }
}

impl Tls {
    pub fn new(config: rustls::ClientConfig) -> Self {
        Self { config: Arc::new(config), server_name: None }
    }

    /// Trusts only the certificates in `pem`; `what` says where they came from, for errors.
    pub fn from_ca_pem(pem: &[u8], what: &str) -> Result<Self> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.with_context(|| format!("{what} is not a PEM certificate"))?;
            roots.add(cert).with_context(|| format!("{what} holds a certificate rustls cannot use"))?;
        }
        if roots.is_empty() {
            bail!("{what} holds no PEM certificate");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("no TLS protocol version in common with the crypto provider")?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self::new(config))
    }

    #[must_use]
    pub fn with_server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The name the certificate is checked against when `host` is dialled.
    pub fn name_for<'a>(&'a self, host: &'a str) -> &'a str {
        self.server_name.as_deref().unwrap_or(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_that_is_not_a_certificate_is_named() {
        let e = Tls::from_ca_pem(b"not pem", "Secret ns/c-ca").unwrap_err();
        assert!(format!("{e:#}").contains("Secret ns/c-ca holds no PEM certificate"), "{e:#}");
        let garbage = b"-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n";
        let e = Tls::from_ca_pem(garbage, "Secret ns/c-ca").unwrap_err();
        assert!(format!("{e:#}").contains("Secret ns/c-ca holds a certificate rustls cannot use"), "{e:#}");
    }

    #[test]
    fn the_server_name_overrides_the_host_dialled() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca".to_owned()]).unwrap().cert.pem();
        let tls = Tls::from_ca_pem(ca.as_bytes(), "test CA").unwrap();
        assert_eq!(tls.name_for("10.0.0.1"), "10.0.0.1");
        let tls = tls.with_server_name("c-rw");
        assert_eq!(tls.name_for("10.0.0.1"), "c-rw");
        assert_eq!(format!("{tls:?}"), "verify-full (c-rw)");
    }
}

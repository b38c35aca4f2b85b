//! The cluster's PKI as the CNPG operator makes it: a CA (the `<cluster>-ca` Secret's `ca.crt`)
//! and one server certificate that every instance presents, with the operator's names: common
//! name `<cluster>-rw`, and for each of the `-rw`, `-r` and `-ro` Services `<svc>`, `<svc>.<ns>`,
//! `<svc>.<ns>.svc` and `<svc>.<ns>.svc.cluster.local` (CNPG's `GetClusterAltDNSNames`); no pod
//! names, no IPs. One CA per test process, so the seeded Secret and the PostgreSQL instances
//! agree without being told about each other.

use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

pub struct Ca {
    pub cert_pem: String,
    pub key_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate and its key, PEM.
pub struct ServerCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The CA the seeded `-ca` Secret holds and the fake's instances' certificates chain to.
pub fn cluster_ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::generate("postgres-cluster"))
}

/// The names CNPG puts in a cluster's server certificate.
pub fn cnpg_dns_names(cluster: &str, namespace: &str) -> Vec<String> {
    ["rw", "r", "ro"]
        .iter()
        .flat_map(|kind| {
            let svc = format!("{cluster}-{kind}");
            [
                svc.clone(),
                format!("{svc}.{namespace}"),
                format!("{svc}.{namespace}.svc"),
                format!("{svc}.{namespace}.svc.cluster.local"),
            ]
        })
        .collect()
}

impl Ca {
    /// A new CA, as the operator makes one per cluster (the common name is the cluster's).
    pub fn generate(cluster: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let key_pem = key.serialize_pem();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cluster);
        params.distinguished_name.push(DnType::OrganizationalUnitName, "default");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        Ca { cert_pem: issuer.pem(), key_pem, issuer }
    }

    /// The server certificate the operator issues for `cluster` in `namespace`.
    pub fn server_cert(&self, cluster: &str, namespace: &str) -> ServerCert {
        let key = KeyPair::generate().expect("server key");
        let mut params = CertificateParams::new(cnpg_dns_names(cluster, namespace)).expect("server params");
        params.distinguished_name.push(DnType::CommonName, format!("{cluster}-rw"));
        params.key_usages =
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyAgreement, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("server certificate");
        ServerCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }
}

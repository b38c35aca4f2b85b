//! Credentials kept as Kubernetes basic-auth Secrets, as CNPG keeps them: the superuser's in
//! `<cluster>-superuser`, the application owner's in `<cluster>-app`, and a role pgdeck creates in
//! `<cluster>-role-<name>` (a prefix no CNPG-made Secret uses, so a role called `app` or `ca`
//! cannot collide with the operator's own). A rotation stages the new password in a sibling
//! `<name>-pending` Secret, so the current one keeps working until the new one is proven.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use k8s_openapi::api::core::v1::Secret as KubeSecret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use super::client;
use super::crd::Cluster;
use crate::secrets::{CredentialStore, Credentials, Secret};

/// The Secret type CNPG reads role passwords from.
const BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// Marks Secrets pgdeck wrote, and for which cluster.
const CLUSTER_LABEL: &str = "pgdeck.io/cluster";
const PENDING_SUFFIX: &str = "-pending";

/// The Secret CNPG reads the superuser's login from (`GetSuperuserSecretName`): the one the
/// Cluster's `spec.superuserSecret` names, else `<cluster>-superuser`, which CNPG makes itself
/// when `enableSuperuserAccess` is true.
pub fn superuser_secret(cluster_name: &str, cluster: Option<&Cluster>) -> String {
    cluster
        .and_then(|c| c.spec.superuser_secret.as_ref())
        .map(|s| s.name.clone())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| format!("{cluster_name}-superuser"))
}

/// The Secret for a role pgdeck creates; an error when the role's name cannot be part of a
/// Kubernetes name (after `_` becomes `-`).
pub fn role_secret(cluster: &str, role: &str) -> Result<String> {
    object_name(cluster, "role-", role, "role", "a Kubernetes Secret")
}

/// `<cluster>-<infix><name>` with `_` as `-`: the Kubernetes name pgdeck gives an object it makes
/// for a PostgreSQL role or database; an error naming what it was for when that is no valid name.
pub fn object_name(cluster: &str, infix: &str, name: &str, what: &str, object: &str) -> Result<String> {
    let made = format!("{cluster}-{infix}{}", name.replace('_', "-"));
    let valid = made.len() <= 253
        && made.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !made.ends_with('-');
    if !valid {
        bail!(
            "the {what} `{name}` cannot name {object} ({made}): use lowercase letters, digits and '_' and end with a \
             letter or digit"
        )
    }
    Ok(made)
}

pub struct KubeStore {
    api: Api<KubeSecret>,
    namespace: String,
}

impl KubeStore {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self { api: Api::namespaced(client, namespace), namespace: namespace.to_owned() }
    }

    fn failed(&self, error: &kube::Error, doing: &str, name: &str) -> anyhow::Error {
        anyhow::anyhow!(client::explain(error, &format!("{doing} Secret {}/{name}", self.namespace)))
    }

    async fn get(&self, name: &str) -> Result<Option<KubeSecret>> {
        self.api.get_opt(name).await.map_err(|e| self.failed(&e, "reading", name))
    }

    fn credentials_of(&self, secret: &KubeSecret) -> Result<Credentials> {
        let name = secret.metadata.name.as_deref().unwrap_or_default();
        let data = secret.data.as_ref();
        let field = |key: &str| -> Result<String> {
            let bytes = data.and_then(|d| d.get(key)).with_context(|| {
                format!(
                    "Secret {}/{name} has no `{key}` key; a basic-auth Secret holds username and password",
                    self.namespace
                )
            })?;
            String::from_utf8(bytes.0.clone())
                .with_context(|| format!("Secret {}/{name}'s `{key}` is not UTF-8", self.namespace))
        };
        Ok(Credentials { username: field("username")?, password: Secret::new(field("password")?) })
    }

    fn basic_auth(name: &str, credentials: &Credentials, labels: BTreeMap<String, String>) -> KubeSecret {
        let data = BTreeMap::from([
            ("username".to_owned(), ByteString(credentials.username.clone().into_bytes())),
            ("password".to_owned(), ByteString(credentials.password.expose().as_bytes().to_vec())),
        ]);
        KubeSecret {
            metadata: ObjectMeta { name: Some(name.to_owned()), labels: Some(labels), ..ObjectMeta::default() },
            type_: Some(BASIC_AUTH.to_owned()),
            data: Some(data),
            ..KubeSecret::default()
        }
    }

    fn pending_name(name: &str) -> String {
        format!("{name}{PENDING_SUFFIX}")
    }

    /// The version id of a staged Secret: its uid, so a pending Secret replaced meanwhile is noticed.
    fn version_of(secret: &KubeSecret) -> String {
        secret.metadata.uid.clone().or_else(|| secret.metadata.resource_version.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl CredentialStore for KubeStore {
    fn location(&self) -> String {
        format!("Kubernetes Secrets in namespace {}", self.namespace)
    }

    async fn read(&self, name: &str) -> Result<Credentials> {
        let Some(secret) = self.get(name).await? else {
            let ns = &self.namespace;
            if name.ends_with("-superuser") {
                bail!(
                    "there is no Secret {ns}/{name}: CNPG creates `<cluster>-superuser` only with \
                     spec.enableSuperuserAccess: true; set that on the Cluster (or name a Secret in \
                     spec.superuserSecret), or choose credentials = \"aws\" for this target"
                )
            }
            bail!(
                "there is no Secret {ns}/{name} to read the login from; create it (kubectl get secret {name} -n {ns} \
                 shows it is missing), or choose credentials = \"aws\" for this target"
            )
        };
        self.credentials_of(&secret)
    }

    async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.get(name).await?.is_some())
    }

    async fn create(&self, name: &str, credentials: &Credentials, cluster: &str) -> Result<()> {
        let labels = BTreeMap::from([
            (CLUSTER_LABEL.to_owned(), cluster.to_owned()),
            // CNPG reconciles a managed role's password when its Secret changes only with this label.
            ("cnpg.io/reload".to_owned(), "true".to_owned()),
        ]);
        self.api
            .create(&PostParams::default(), &Self::basic_auth(name, credentials, labels))
            .await
            .map_err(|e| self.failed(&e, "creating", name))?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<()> {
        match self.api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.failed(&e, "deleting", name)),
        }
    }

    async fn stage(&self, name: &str, credentials: &Credentials) -> Result<String> {
        let pending = Self::pending_name(name);
        // A pending Secret left by an interrupted rotation is replaced: its password was never promoted.
        self.delete(&pending).await?;
        let labels = BTreeMap::from([("pgdeck.io/pending-for".to_owned(), name.to_owned())]);
        let created = self
            .api
            .create(&PostParams::default(), &Self::basic_auth(&pending, credentials, labels))
            .await
            .map_err(|e| self.failed(&e, "creating", &pending))?;
        Ok(Self::version_of(&created))
    }

    async fn promote(&self, name: &str, version: &str) -> Result<()> {
        let pending = Self::pending_name(name);
        let Some(staged) = self.get(&pending).await? else {
            bail!("the staged password in Secret {}/{pending} is gone; nothing was promoted", self.namespace)
        };
        if Self::version_of(&staged) != version {
            bail!(
                "Secret {}/{pending} was replaced since this rotation staged it; nothing was promoted",
                self.namespace
            )
        }
        let data = staged.data.clone().unwrap_or_default();
        // A merge patch of `data` alone keeps the Secret's labels, annotations and owner.
        let patch = json!({ "data": data });
        self.api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| self.failed(&e, "updating", name))?;
        self.delete(&pending).await
    }

    async fn discard(&self, name: &str, version: &str) -> Result<()> {
        let pending = Self::pending_name(name);
        match self.get(&pending).await? {
            Some(staged) if Self::version_of(&staged) == version => self.delete(&pending).await,
            _ => Ok(()),
        }
    }

    async fn pending(&self, name: &str) -> Result<Option<(String, Credentials)>> {
        match self.get(&Self::pending_name(name)).await? {
            Some(staged) => Ok(Some((Self::version_of(&staged), self.credentials_of(&staged)?))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_secrets_are_kubernetes_names_apart_from_cnpgs_own() {
        assert_eq!(role_secret("postgres-cluster", "app_reader").unwrap(), "postgres-cluster-role-app-reader");
        assert_eq!(role_secret("pg", "app").unwrap(), "pg-role-app");
        assert_ne!(role_secret("pg", "superuser").unwrap(), superuser_secret("pg", None));
        let e = role_secret("pg", "price$").unwrap_err().to_string();
        assert!(e.contains("`price$`") && e.contains("Kubernetes Secret"), "{e}");
        assert!(role_secret("pg", "x_").is_err());
    }

    #[test]
    fn a_basic_auth_secret_carries_username_and_password() {
        let credentials = Credentials { username: "alice".into(), password: Secret::new("s3cret") };
        let secret = KubeStore::basic_auth("pg-role-alice", &credentials, BTreeMap::new());
        assert_eq!(secret.type_.as_deref(), Some(BASIC_AUTH));
        let data = secret.data.as_ref().unwrap();
        assert_eq!(data["username"].0, b"alice");
        assert_eq!(data["password"].0, b"s3cret");
    }
}

//! Credential sources. A password lives in [`Secret`], which never prints and is never serialised by accident.

pub mod aws;
pub mod file;
pub mod rotate;

use std::fmt;

use async_trait::async_trait;
use rand::distr::{Alphanumeric, SampleString};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

/// A value that shows as `***` in `Debug` and `Display`. Reading it takes an explicit `expose()`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fresh password from the operating system's CSPRNG: 32 letters and digits (~190 bits).
    pub fn generate() -> Self {
        Self(Alphanumeric.sample_string(&mut rand::rngs::OsRng.unwrap_err(), 32))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A login whose password is read from a credential store when it is first needed, and read
/// again after a failure or when PostgreSQL rejects it (it may have been rotated). A store that
/// is down or a secret that is missing fails the session that needed it, with the store's
/// reason, and nothing else: the sources that need no password keep going.
#[derive(Clone)]
pub enum Login {
    Known(Credentials),
    Stored(std::sync::Arc<StoredLogin>),
}

pub struct StoredLogin {
    store: std::sync::Arc<dyn CredentialStore>,
    secret: SecretName,
    cached: tokio::sync::Mutex<Option<Credentials>>,
}

/// Which secret a stored login is read from: fixed, or decided at each read from what is known
/// then (a CNPG Cluster's `spec.superuserSecret`, which may be set or changed later).
enum SecretName {
    Fixed(String),
    Resolved(Box<dyn Fn() -> String + Send + Sync>),
}

impl SecretName {
    fn get(&self) -> String {
        match self {
            SecretName::Fixed(name) => name.clone(),
            SecretName::Resolved(resolve) => resolve(),
        }
    }
}

impl Login {
    pub fn stored(store: std::sync::Arc<dyn CredentialStore>, secret: &str) -> Self {
        Self::stored_in(store, SecretName::Fixed(secret.to_owned()))
    }

    /// A login from the secret `resolve` names when it is read (again after [`Login::forget`]).
    pub fn resolved(
        store: std::sync::Arc<dyn CredentialStore>,
        resolve: impl Fn() -> String + Send + Sync + 'static,
    ) -> Self {
        Self::stored_in(store, SecretName::Resolved(Box::new(resolve)))
    }

    fn stored_in(store: std::sync::Arc<dyn CredentialStore>, secret: SecretName) -> Self {
        Login::Stored(std::sync::Arc::new(StoredLogin { store, secret, cached: tokio::sync::Mutex::new(None) }))
    }

    pub async fn credentials(&self) -> anyhow::Result<Credentials> {
        match self {
            Login::Known(credentials) => Ok(credentials.clone()),
            Login::Stored(stored) => {
                let mut cached = stored.cached.lock().await;
                if let Some(credentials) = cached.as_ref() {
                    return Ok(credentials.clone());
                }
                let credentials = stored.store.read(&stored.secret.get()).await?;
                *cached = Some(credentials.clone());
                Ok(credentials)
            }
        }
    }

    /// The server refused the password: read the secret again next time.
    pub async fn forget(&self) {
        if let Login::Stored(stored) = self {
            *stored.cached.lock().await = None;
        }
    }

    /// The user, if known without waiting: a stored login that was read already, or is being read.
    pub fn known_username(&self) -> Option<String> {
        match self {
            Login::Known(credentials) => Some(credentials.username.clone()),
            Login::Stored(stored) => stored.cached.try_lock().ok()?.as_ref().map(|c| c.username.clone()),
        }
    }

    /// Who logs in, for previews: the user, or the secret it will be read from.
    pub fn describe(&self) -> String {
        match self {
            Login::Known(credentials) => credentials.username.clone(),
            Login::Stored(stored) => format!("the login in {}", stored.secret.get()),
        }
    }
}

impl From<Credentials> for Login {
    fn from(credentials: Credentials) -> Self {
        Login::Known(credentials)
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Which credential store a target uses, as recorded in its configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialSource {
    /// The local credential file beside the cluster.
    #[default]
    File,
    /// AWS Secrets Manager, reached as these settings (and the SDK's chains) say.
    Aws(aws::AwsSettings),
}

impl CredentialSource {
    /// The same source with the region the SDK resolves now written in, so that a cluster's
    /// secrets are looked for where they were created even if the environment changes later.
    pub async fn with_resolved_region(&self) -> anyhow::Result<Self> {
        Ok(match self {
            CredentialSource::File => CredentialSource::File,
            CredentialSource::Aws(settings) => {
                let region = aws::AwsStore::connect(settings).await?.region().to_owned();
                CredentialSource::Aws(aws::AwsSettings { region: Some(region), ..settings.clone() })
            }
        })
    }

    /// Opens the store; `file` is where the local credential file is (used by `File`).
    pub fn open(&self, file: &std::path::Path) -> std::sync::Arc<dyn CredentialStore> {
        match self {
            CredentialSource::File => std::sync::Arc::new(file::FileStore { path: file.to_owned() }),
            CredentialSource::Aws(settings) => std::sync::Arc::new(aws::LazyAwsStore::new(settings.clone())),
        }
    }
}

/// Where a target's credentials live: the local file, AWS Secrets Manager, Kubernetes Secrets.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Where the credentials are kept, for previews and messages; never a secret.
    fn location(&self) -> String;
    async fn read(&self, name: &str) -> anyhow::Result<Credentials>;
    /// Whether a secret of this name exists (whatever it holds).
    async fn exists(&self, name: &str) -> anyhow::Result<bool>;
    /// Stores a new secret, tagged with `cluster`; an existing secret of that name is an error.
    async fn create(&self, name: &str, credentials: &Credentials, cluster: &str) -> anyhow::Result<()>;
    /// Removes a secret this session created (the undo of a failed user creation).
    async fn delete(&self, name: &str) -> anyhow::Result<()>;
    /// Rotation, first step: keeps `credentials` beside the current ones without putting them
    /// in use (Secrets Manager's `AWSPENDING`); returns the staged version's id.
    async fn stage(&self, name: &str, credentials: &Credentials) -> anyhow::Result<String>;
    /// Rotation, last step: the staged version becomes the current one.
    async fn promote(&self, name: &str, version: &str) -> anyhow::Result<()>;
    /// Drops a staged version that will not be used.
    async fn discard(&self, name: &str, version: &str) -> anyhow::Result<()>;
    /// A version staged by a rotation that never finished, with its credentials.
    async fn pending(&self, name: &str) -> anyhow::Result<Option<(String, Credentials)>>;
}

/// A password read to be shown on the operator's screen, with where it came from. It travels from
/// the Dispatcher to the console's Ui alone: never through the State, a recording or the audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revealed {
    pub username: String,
    /// The secret and its store, e.g. `postgres/alice-credentials in AWS Secrets Manager (eu-west-1)`.
    pub location: String,
    pub password: Secret,
}

/// Reads `secret` to show `user`'s password; a secret that holds another user's login is refused
/// (a wrong name pattern must not put somebody else's password on screen).
pub async fn reveal(store: &dyn CredentialStore, secret: &str, user: &str) -> anyhow::Result<Revealed> {
    let credentials = store.read(secret).await?;
    if credentials.username != user {
        anyhow::bail!(
            "{secret} in {} holds the login of {}, not of {user}; nothing is shown",
            store.location(),
            credentials.username
        );
    }
    Ok(Revealed {
        username: credentials.username,
        location: format!("{secret} in {}", store.location()),
        password: credentials.password,
    })
}

/// What revealing a password will do, for the confirmation.
pub fn reveal_preview(user: &str, secret: &str, location: &str) -> String {
    format!(
        "read {secret} from {location}\n\
         show the password of {user} on this screen until a key is pressed (at most {REVEAL_SECONDS} s)\n\
         (the audit trail records who looked; the password goes nowhere but the screen)"
    )
}

/// How long a revealed password stays on screen when no key is pressed.
pub const REVEAL_SECONDS: u64 = 30;

/// The JSON shape of the reference's Secrets Manager entries: `{"username": …, "password": …}`.
/// Only the credential stores (de)serialise it; nothing else sees the password field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CredentialsWire {
    pub username: String,
    pub password: String,
}

impl From<CredentialsWire> for Credentials {
    fn from(w: CredentialsWire) -> Self {
        Self { username: w.username, password: Secret::new(w.password) }
    }
}

impl From<&Credentials> for CredentialsWire {
    fn from(c: &Credentials) -> Self {
        Self { username: c.username.clone(), password: c.password.expose().to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        let c = Credentials { username: "u".into(), password: s.clone() };
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn generated_passwords_differ_and_are_long() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 32);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric()));
    }
}

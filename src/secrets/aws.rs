//! AWS Secrets Manager as a credential store, through the SDK's standard chains: credentials from
//! the environment, profiles, SSO or an instance role; the region from the same places; the
//! endpoint from `AWS_ENDPOINT_URL(_SECRETS_MANAGER)` or pgdeck's config. Rotation uses Secrets
//! Manager's own staging labels, so an interrupted rotation can be seen and finished.

use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::Tag;
use aws_sdk_secretsmanager::Client;
use serde::{Deserialize, Serialize};

use crate::secrets::{CredentialStore, Credentials, Secret};

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
/// The tag that says which cluster a secret pgdeck created belongs to.
pub const CLUSTER_TAG: &str = "pgdeck:cluster";
/// Attempts per call, with the SDK's exponential backoff between them (throttling included).
const MAX_ATTEMPTS: u32 = 4;

/// How to reach Secrets Manager; every field falls back to the SDK's own resolution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSettings {
    pub region: Option<String>,
    /// An endpoint URL, e.g. a VPC endpoint or a local test server.
    pub endpoint: Option<String>,
    pub profile: Option<String>,
}

pub struct AwsStore {
    client: Client,
    location: String,
    region: String,
}

impl AwsStore {
    /// Resolves region, credentials chain and endpoint; fails at once when no region is known.
    pub async fn connect(settings: &AwsSettings) -> Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        let Some(region) = config.region().map(ToString::to_string) else {
            bail!(
                "no AWS region for Secrets Manager: set AWS_REGION, a region in your AWS profile, or `region` under \
                 [aws] in pgdeck's config.toml"
            )
        };
        let endpoint = settings
            .endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let location = match endpoint {
            Some(url) => format!("AWS Secrets Manager ({region}, {url})"),
            None => format!("AWS Secrets Manager ({region})"),
        };
        Ok(Self { client: Client::new(&config), location, region })
    }

    /// The region the SDK resolved (from the settings, the environment or the profile).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The secret's value at `stage`, with its version id.
    async fn read_stage(&self, name: &str, stage: &str) -> Result<(String, Credentials)> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(name)
            .version_stage(stage)
            .send()
            .await
            .map_err(|e| self.explain(&e, "read", name, "GetSecretValue"))?;
        let version = out.version_id().unwrap_or_default().to_owned();
        let Some(text) = out.secret_string() else {
            bail!("the secret `{name}` in {} holds binary data, not {{\"username\", \"password\"}}", self.location)
        };
        Ok((version, parse_credentials(name, text)?))
    }

    /// The version that carries `stage`, if any.
    async fn version_with(&self, name: &str, stage: &str) -> Result<Option<String>> {
        let out = self
            .client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| self.explain(&e, "describe", name, "DescribeSecret"))?;
        let versions = out.version_ids_to_stages().cloned().unwrap_or_default();
        Ok(versions.into_iter().find(|(_, stages)| stages.iter().any(|s| s == stage)).map(|(id, _)| id))
    }

    /// An SDK error as the operator needs it: what failed, on which secret, and what to do.
    /// Never the secret's value: SDK errors carry none, and the messages here add none.
    fn explain<E, R>(&self, error: &SdkError<E, R>, verb: &str, name: &str, permission: &str) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let location = &self.location;
        if matches!(error, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
            return anyhow!(
                "cannot reach {location} to {verb} `{name}`: {}; check the endpoint, the network and your AWS \
                 credentials",
                DisplayErrorContext(error)
            );
        }
        let code = error.code().unwrap_or("unknown").to_owned();
        let message = error.message().unwrap_or_default().to_owned();
        match code.as_str() {
            "ResourceNotFoundException" => anyhow!(
                "the secret `{name}` does not exist in {location}; create it, or name the right secret in the spec"
            ),
            "ResourceExistsException" => {
                anyhow!("a secret named `{name}` already exists in {location}; choose another name or remove it")
            }
            "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException" | "InvalidSignatureException" => {
                anyhow!(
                    "access denied to {verb} `{name}` in {location} ({code}: {message}); the AWS identity needs \
                     secretsmanager:{permission} on it"
                )
            }
            "ThrottlingException" | "TooManyRequestsException" | "RequestLimitExceeded" => anyhow!(
                "{location} kept throttling the request to {verb} `{name}` after {MAX_ATTEMPTS} attempts with \
                 backoff; try again in a moment"
            ),
            _ => anyhow!("{location} refused to {verb} `{name}` ({code}): {message}"),
        }
    }
}

/// `{"username": …, "password": …}`; other keys (engine, host, …) are allowed, as RDS-style
/// secrets carry them. The error never quotes the text: it may be a password.
pub fn parse_credentials(name: &str, text: &str) -> Result<Credentials> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        anyhow!(
            "the secret `{name}` is not JSON (line {}, column {}); it must be {{\"username\": …, \"password\": …}}",
            e.line(),
            e.column()
        )
    })?;
    let field = |key: &str| -> Result<String> {
        match value.get(key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => bail!("the secret `{name}` has a `{key}` that is not a non-empty string"),
            None => bail!("the secret `{name}` has no `{key}`; it must be {{\"username\": …, \"password\": …}}"),
        }
    };
    Ok(Credentials { username: field("username")?, password: Secret::new(field("password")?) })
}

fn to_json(credentials: &Credentials) -> String {
    serde_json::json!({ "username": credentials.username, "password": credentials.password.expose() }).to_string()
}

#[async_trait]
impl CredentialStore for AwsStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn read(&self, name: &str) -> Result<Credentials> {
        Ok(self.read_stage(name, CURRENT).await?.1)
    }

    async fn exists(&self, name: &str) -> Result<bool> {
        match self.client.describe_secret().secret_id(name).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(self.explain(&e, "look up", name, "DescribeSecret")),
        }
    }

    async fn create(&self, name: &str, credentials: &Credentials, cluster: &str) -> Result<()> {
        let tag = Tag::builder().key(CLUSTER_TAG).value(cluster).build();
        self.client
            .create_secret()
            .name(name)
            .secret_string(to_json(credentials))
            .description(format!("PostgreSQL login `{}` of cluster {cluster}, created by pgdeck", credentials.username))
            .tags(tag)
            .send()
            .await
            .map_err(|e| self.explain(&e, "create", name, "CreateSecret"))?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| self.explain(&e, "delete", name, "DeleteSecret"))?;
        Ok(())
    }

    async fn stage(&self, name: &str, credentials: &Credentials) -> Result<String> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(name)
            .secret_string(to_json(credentials))
            .version_stages(PENDING)
            .send()
            .await
            .map_err(|e| self.explain(&e, "stage a new version of", name, "PutSecretValue"))?;
        out.version_id().map(str::to_owned).ok_or_else(|| anyhow!("{} gave no version id for `{name}`", self.location))
    }

    async fn promote(&self, name: &str, version: &str) -> Result<()> {
        let current = self.version_with(name, CURRENT).await?;
        let mut request = self
            .client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(CURRENT)
            .move_to_version_id(version);
        if let Some(current) = current.filter(|c| c != version) {
            request = request.remove_from_version_id(current);
        }
        request
            .send()
            .await
            .map_err(|e| self.explain(&e, "promote the new version of", name, "UpdateSecretVersionStage"))?;
        self.discard(name, version).await
    }

    async fn discard(&self, name: &str, version: &str) -> Result<()> {
        self.client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(PENDING)
            .remove_from_version_id(version)
            .send()
            .await
            .map_err(|e| self.explain(&e, "clear the staged version of", name, "UpdateSecretVersionStage"))?;
        Ok(())
    }

    async fn pending(&self, name: &str) -> Result<Option<(String, Credentials)>> {
        let Some(pending) = self.version_with(name, PENDING).await? else { return Ok(None) };
        if self.version_with(name, CURRENT).await?.as_deref() == Some(pending.as_str()) {
            return Ok(None);
        }
        Ok(Some(self.read_stage(name, PENDING).await?))
    }
}

/// An [`AwsStore`] that resolves its configuration on first use and again after a failure, so
/// that a missing region or profile fails the reads that need it, not the program.
pub struct LazyAwsStore {
    settings: AwsSettings,
    store: tokio::sync::OnceCell<AwsStore>,
}

impl LazyAwsStore {
    pub fn new(settings: AwsSettings) -> Self {
        Self { settings, store: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&AwsStore> {
        self.store.get_or_try_init(|| AwsStore::connect(&self.settings)).await
    }
}

#[async_trait]
impl CredentialStore for LazyAwsStore {
    fn location(&self) -> String {
        match (self.store.get(), &self.settings.region) {
            (Some(store), _) => store.location(),
            (None, Some(region)) => format!("AWS Secrets Manager ({region})"),
            (None, None) => "AWS Secrets Manager".into(),
        }
    }
    async fn read(&self, name: &str) -> Result<Credentials> {
        self.get().await?.read(name).await
    }
    async fn exists(&self, name: &str) -> Result<bool> {
        self.get().await?.exists(name).await
    }
    async fn create(&self, name: &str, credentials: &Credentials, cluster: &str) -> Result<()> {
        self.get().await?.create(name, credentials, cluster).await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        self.get().await?.delete(name).await
    }
    async fn stage(&self, name: &str, credentials: &Credentials) -> Result<String> {
        self.get().await?.stage(name, credentials).await
    }
    async fn promote(&self, name: &str, version: &str) -> Result<()> {
        self.get().await?.promote(name, version).await
    }
    async fn discard(&self, name: &str, version: &str) -> Result<()> {
        self.get().await?.discard(name, version).await
    }
    async fn pending(&self, name: &str) -> Result<Option<(String, Credentials)>> {
        self.get().await?.pending(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_secrets_are_named_without_quoting_them() {
        let e = parse_credentials("s", "{\"username\": \"u\", \"password\": hunter2}").unwrap_err().to_string();
        assert!(e.contains("not JSON (line 1") && !e.contains("hunter2"), "{e}");
        let e = parse_credentials("s", r#"{"username": "u"}"#).unwrap_err().to_string();
        assert!(e.contains("no `password`"), "{e}");
        let e = parse_credentials("s", r#"{"username": "u", "password": 7}"#).unwrap_err().to_string();
        assert!(e.contains("`password` that is not a non-empty string"), "{e}");
        let ok = parse_credentials("s", r#"{"username": "u", "password": "p", "engine": "postgres"}"#).unwrap();
        assert_eq!((ok.username.as_str(), ok.password.expose()), ("u", "p"));
    }
}

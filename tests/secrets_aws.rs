//! The Secrets Manager store against moto's server: reading, creating (tagged), staging and
//! promoting, and each error an SRE meets, with the message that says what to do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::sync::Once;

use pgdeck::secrets::aws::{AwsSettings, AwsStore, CLUSTER_TAG};
use pgdeck::secrets::{CredentialStore, Credentials, Secret};
use support::moto::{FaultProxy, Moto, REGION};

/// The SDK's credential chain reads these; set once, before any test builds a client, so no
/// test reads the environment while another writes it.
fn test_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (key, value) in support::moto::aws_env("http://unused") {
            if key != "AWS_REGION" && key != "AWS_ENDPOINT_URL" {
                std::env::set_var(key, value);
            }
        }
    });
}

async fn store(endpoint: &str) -> AwsStore {
    test_credentials();
    let settings = AwsSettings { region: Some(REGION.into()), endpoint: Some(endpoint.into()), profile: None };
    AwsStore::connect(&settings).await.unwrap()
}

fn alice(password: &str) -> Credentials {
    Credentials { username: "alice".into(), password: Secret::new(password) }
}

async fn raw_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    test_credentials();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

#[tokio::test]
async fn create_read_stage_and_promote() {
    let moto = Moto::start();
    let store = store(&moto.url()).await;
    store.create("postgres/alice-credentials", &alice("first"), "postgres-cluster").await.unwrap();
    assert_eq!(store.read("postgres/alice-credentials").await.unwrap(), alice("first"));
    let raw = raw_client(&moto.url()).await;
    let described = raw.describe_secret().secret_id("postgres/alice-credentials").send().await.unwrap();
    let tags: Vec<(&str, &str)> =
        described.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))).collect();
    assert!(tags.contains(&(CLUSTER_TAG, "postgres-cluster")), "{tags:?}");
    let again = store.create("postgres/alice-credentials", &alice("x"), "c").await.unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");

    let version = store.stage("postgres/alice-credentials", &alice("second")).await.unwrap();
    assert_eq!(store.read("postgres/alice-credentials").await.unwrap(), alice("first"), "staged is not current");
    let (pending_version, pending) = store.pending("postgres/alice-credentials").await.unwrap().unwrap();
    assert_eq!((pending_version.as_str(), pending), (version.as_str(), alice("second")));
    store.promote("postgres/alice-credentials", &version).await.unwrap();
    assert_eq!(store.read("postgres/alice-credentials").await.unwrap(), alice("second"));
    assert!(store.pending("postgres/alice-credentials").await.unwrap().is_none());
    store.delete("postgres/alice-credentials").await.unwrap();
    let gone = store.read("postgres/alice-credentials").await.unwrap_err().to_string();
    assert!(gone.contains("does not exist"), "{gone}");
}

#[tokio::test]
async fn missing_and_malformed_secrets_say_which_and_what_is_wrong() {
    let moto = Moto::start();
    let store = store(&moto.url()).await;
    let missing = store.read("postgres/admin-credentials").await.unwrap_err().to_string();
    assert!(missing.contains("the secret `postgres/admin-credentials` does not exist"), "{missing}");
    let raw = raw_client(&moto.url()).await;
    for (name, value, expected) in [
        ("bad/json", "{\"username\": \"u\", \"password\": s3cr3t-value", "is not JSON"),
        ("bad/key", "{\"username\": \"u\"}", "has no `password`"),
    ] {
        raw.create_secret().name(name).secret_string(value).send().await.unwrap();
        let e = store.read(name).await.unwrap_err().to_string();
        assert!(e.contains(expected) && !e.contains("s3cr3t"), "{name}: {e}");
    }
}

#[tokio::test]
async fn no_region_is_refused_before_any_request() {
    test_credentials();
    let settings = AwsSettings { region: None, endpoint: Some("http://127.0.0.1:9".into()), profile: None };
    let e = AwsStore::connect(&settings).await.err().unwrap().to_string();
    assert!(e.contains("no AWS region") && e.contains("AWS_REGION"), "{e}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named() {
    let closed = support::moto::free_port();
    let store = store(&format!("http://127.0.0.1:{closed}")).await;
    let e = store.read("postgres/admin-credentials").await.unwrap_err().to_string();
    assert!(e.contains("cannot reach AWS Secrets Manager") && e.contains(&closed.to_string()), "{e}");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_and_named_when_it_persists() {
    let moto = Moto::start();
    store(&moto.url()).await.create("s", &alice("pw"), "c").await.unwrap();
    // Two throttled answers, then moto: the SDK's retries get through.
    let brief = FaultProxy::start(moto.port, "ThrottlingException", 400, 2);
    assert_eq!(store(&brief.url()).await.read("s").await.unwrap(), alice("pw"));
    assert_eq!(brief.seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    let persistent = FaultProxy::start(moto.port, "ThrottlingException", 400, usize::MAX);
    let e = store(&persistent.url()).await.read("s").await.unwrap_err().to_string();
    assert!(e.contains("kept throttling") && e.contains("4 attempts"), "{e}");
}

#[tokio::test]
async fn access_denied_names_the_permission() {
    let moto = Moto::start();
    let denied = FaultProxy::start(moto.port, "AccessDeniedException", 400, usize::MAX);
    let e = store(&denied.url()).await.read("postgres/admin-credentials").await.unwrap_err().to_string();
    assert!(e.contains("access denied") && e.contains("secretsmanager:GetSecretValue"), "{e}");
}

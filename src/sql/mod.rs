//! SQL against members and the pooler. Sessions pgdeck opens to observe are read-only.

pub mod admin;
pub mod collect;
pub mod pooler;
pub mod users;
pub mod workload;

use std::time::Duration;

use anyhow::{Context, Result};
use tokio_postgres::{Client, NoTls};

use crate::secrets::Login;

/// The `application_name` of every session pgdeck opens, so its cost can be measured.
pub const APPLICATION_NAME: &str = "pgdeck";

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub login: Login,
    /// Verified TLS, where the platform offers it; `None`: plain TCP.
    pub tls: Option<Tls>,
}

/// The CA a target's servers must chain to: sessions with it are encrypted and verify-full
/// (the certificate must also name the host connected to).
#[derive(Clone)]
pub struct Tls(pub std::sync::Arc<rustls::ClientConfig>);

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("verify-full")
    }
}

/// Opens a session; `read_only` makes every transaction read-only on the server side.
pub async fn connect(endpoint: &Endpoint, timeout: Duration, read_only: bool) -> Result<Client> {
    let credentials = tokio::time::timeout(timeout, endpoint.login.credentials())
        .await
        .with_context(|| format!("the credential store did not answer within {timeout:?}"))??;
    let mut config = tokio_postgres::Config::new();
    config
        .host(&endpoint.host)
        .port(endpoint.port)
        .dbname(&endpoint.database)
        .user(&credentials.username)
        .password(credentials.password.expose())
        .application_name(APPLICATION_NAME)
        .connect_timeout(timeout);
    if read_only {
        config.options("-c default_transaction_read_only=on -c statement_timeout=5000");
    }
    let late = || format!("{}:{} did not accept a connection within {timeout:?}", endpoint.host, endpoint.port);
    let connected = match &endpoint.tls {
        Some(tls) => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*tls.0).clone());
            tokio::time::timeout(timeout, config.connect(connector)).await.with_context(late)?.map(|(client, c)| {
                tokio::spawn(drive(c));
                client
            })
        }
        None => tokio::time::timeout(timeout, config.connect(NoTls)).await.with_context(late)?.map(|(client, c)| {
            tokio::spawn(drive(c));
            client
        }),
    };
    match connected {
        Ok(client) => Ok(client),
        Err(e) => {
            if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD) {
                endpoint.login.forget().await;
            }
            let tls = if endpoint.tls.is_some() { " over verified TLS" } else { "" };
            Err(e).with_context(|| {
                format!("cannot connect to {}:{} as {}{tls}", endpoint.host, endpoint.port, credentials.username)
            })
        }
    }
}

/// Runs a session's connection until it closes.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!("connection closed: {e}");
    }
}

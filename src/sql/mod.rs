//! SQL against members and the pooler. Sessions pgdeck opens to observe are read-only.

pub mod admin;
pub mod collect;
pub mod pooler;
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
    let connected = tokio::time::timeout(timeout, config.connect(NoTls)).await.with_context(|| {
        format!("{}:{} did not accept a connection within {timeout:?}", endpoint.host, endpoint.port)
    })?;
    let (client, connection) = match connected {
        Ok(pair) => pair,
        Err(e) => {
            if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD) {
                endpoint.login.forget().await;
            }
            return Err(e).with_context(|| {
                format!("cannot connect to {}:{} as {}", endpoint.host, endpoint.port, credentials.username)
            });
        }
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("connection closed: {e}");
        }
    });
    Ok(client)
}

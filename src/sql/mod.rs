//! SQL against members and the pooler. Sessions pgdeck opens to observe are read-only.

pub mod admin;
pub mod collect;
pub mod health;
pub mod pooler;
mod tls;
mod transport;
pub mod users;
pub mod workload;

use std::time::Duration;

use anyhow::{Context, Result};
use tokio_postgres::{Client, NoTls};

use crate::secrets::Login;

pub use tls::Tls;
pub use transport::{Stream, Transport, Tunnel, Tunnelled};

/// The `application_name` of every session pgdeck opens, so its cost can be measured.
pub const APPLICATION_NAME: &str = "pgdeck";

/// Where and as whom to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server's host: dialled over TCP, and the name its certificate is checked against
    /// unless `tls` names another.
    pub host: String,
    pub port: u16,
    pub database: String,
    pub login: Login,
    /// Verified TLS, where the platform offers it; `None`: plain TCP.
    pub tls: Option<Tls>,
    pub transport: Transport,
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
    if endpoint.tls.is_some() {
        config.ssl_mode(tokio_postgres::config::SslMode::Require);
    }
    let place = match &endpoint.transport {
        Transport::Tcp => format!("{}:{}", endpoint.host, endpoint.port),
        Transport::Tunnel(tunnel) => tunnel.describe(),
    };
    let late = || format!("{place} did not accept a connection within {timeout:?}");
    let connected = tokio::time::timeout(timeout, handshake(endpoint, &config)).await.with_context(late)?;
    match connected {
        Ok(client) => Ok(client),
        Err(Failure::Postgres(e)) => {
            if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_PASSWORD) {
                endpoint.login.forget().await;
            }
            let tls = match &endpoint.tls {
                Some(tls) => format!(" over verified TLS (server name {})", tls.name_for(&endpoint.host)),
                None => String::new(),
            };
            Err(e).with_context(|| format!("cannot connect to {place} as {}{tls}", credentials.username))
        }
        Err(Failure::Transport(e)) => Err(e.context(format!("cannot connect to {place}"))),
    }
}

/// How long a failed session over a tunnel waits for the tunnel's reason.
const REASON_GRACE: Duration = Duration::from_secs(1);

/// Why a session did not open: PostgreSQL's (or TLS's) refusal, or the transport's.
enum Failure {
    Postgres(tokio_postgres::Error),
    Transport(anyhow::Error),
}

/// Dials (or tunnels) and runs the startup handshake; the session's connection is spawned.
async fn handshake(endpoint: &Endpoint, config: &tokio_postgres::Config) -> Result<Client, Failure> {
    match (&endpoint.transport, &endpoint.tls) {
        (Transport::Tcp, None) => config.connect(NoTls).await.map(spawned).map_err(Failure::Postgres),
        // tokio-postgres checks the certificate against the host it dials.
        (Transport::Tcp, Some(tls)) if tls.server_name.is_none() => {
            let connector = tokio_postgres_rustls::MakeRustlsConnect::new((*tls.config).clone());
            config.connect(connector).await.map(spawned).map_err(Failure::Postgres)
        }
        (Transport::Tcp, Some(_)) => {
            let stream = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| Failure::Transport(e.into()))?;
            over(stream, endpoint, config).await.map_err(Failure::Postgres)
        }
        (Transport::Tunnel(tunnel), _) => {
            let tunnelled = tunnel.open().await.map_err(Failure::Transport)?;
            let mut failure = tunnelled.failure;
            let mut session = over(tunnelled.stream, endpoint, config);
            // The far end's reason, when it gives one, says more than the end of stream it causes.
            let session_ended = tokio::select! {
                biased;
                reason = &mut failure => match reason {
                    Some(reason) => return Err(Failure::Transport(anyhow::anyhow!(reason))),
                    // Closed without a reason: the session's own outcome tells.
                    None => return session.await.map_err(Failure::Postgres),
                },
                result = &mut session => result,
            };
            match session_ended {
                Ok(client) => Ok(client),
                // The reason may arrive just after the end of stream it caused; once the session
                // has dropped the stream, the tunnel resolves promptly either way.
                Err(e) => match tokio::time::timeout(REASON_GRACE, failure).await {
                    Ok(Some(reason)) => Err(Failure::Transport(anyhow::anyhow!(reason))),
                    _ => Err(Failure::Postgres(e)),
                },
            }
        }
    }
}

/// A session over a stream already open, with TLS as the endpoint asks. Boxed: left generic over
/// the stream, `connect_raw`'s future keeps its callers' futures from proving they are `Send`.
fn over<'a, S>(
    stream: S,
    endpoint: &'a Endpoint,
    config: &'a tokio_postgres::Config,
) -> futures::future::BoxFuture<'a, Result<Client, tokio_postgres::Error>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match &endpoint.tls {
        None => Box::pin(async move { config.connect_raw(stream, NoTls).await.map(spawned) }),
        Some(tls) => {
            use tokio_postgres::tls::MakeTlsConnect;
            let mut maker = tokio_postgres_rustls::MakeRustlsConnect::new((*tls.config).clone());
            let Ok(connector) = MakeTlsConnect::<S>::make_tls_connect(&mut maker, tls.name_for(&endpoint.host));
            Box::pin(async move { config.connect_raw(stream, connector).await.map(spawned) })
        }
    }
}

fn spawned<S, T>((client, connection): (Client, tokio_postgres::Connection<S, T>)) -> Client
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(drive(connection));
    client
}

/// Runs a session's connection until it closes.
async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::debug!("connection closed: {e}");
    }
}

//! How a session's bytes reach the server: TCP to the endpoint's host, or a tunnel a platform
//! opens for each session (the Kubernetes API server's pod port-forward), whose far end can say
//! why it failed, which is then the session's error rather than a bare end of stream.

use std::sync::Arc;

use anyhow::Result;
use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream a session can run over.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One opened tunnel: the stream, and the far end's reason should it give up.
pub struct Tunnelled {
    pub stream: Box<dyn Stream>,
    /// Resolves with the far end's reason when the tunnel fails, or `None` when it closes
    /// without giving one.
    pub failure: BoxFuture<'static, Option<String>>,
}

#[async_trait]
pub trait Tunnel: Send + Sync {
    /// Opens a tunnel for one session; the error says why the platform refused it.
    async fn open(&self) -> Result<Tunnelled>;
    /// Where it leads, for messages: `port-forward to postgres/pg-1:5432`.
    fn describe(&self) -> String;
}

/// TCP to `host:port`, or a tunnel opened anew for each session.
#[derive(Clone, Default)]
pub enum Transport {
    #[default]
    Tcp,
    Tunnel(Arc<dyn Tunnel>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp => f.write_str("tcp"),
            Self::Tunnel(tunnel) => f.write_str(&tunnel.describe()),
        }
    }
}

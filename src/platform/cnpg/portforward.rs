//! A session's tunnel through the API server's pod port-forward (`pods/portforward`, the
//! WebSocket protocol kube-rs speaks): one forward per session, opened when the session is.

use anyhow::{anyhow, Result};
use async_trait::async_trait;
use futures::FutureExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use super::client;
use crate::sql::{Tunnel, Tunnelled};

/// The API server refused a port-forward for want of RBAC. Typed, because it is the same for
/// every pod: the SQL source says it once for the cluster rather than once per instance.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "opening a port-forward to {}: forbidden by RBAC ({reason}); SQL through port-forward needs `get` and `create` \
     on pods/portforward in namespace {namespace} (or sql = \"direct\" where pod IPs are reachable)",
    pod.as_ref().map_or_else(|| "the instances".to_owned(), |pod| format!("pod {namespace}/{pod}"))
)]
pub struct ForwardForbidden {
    pub namespace: String,
    /// `None`: said of every instance at once.
    pub pod: Option<String>,
    pub reason: String,
}

impl ForwardForbidden {
    /// The refusal `error` carries, if it is one.
    pub fn of(error: &anyhow::Error) -> Option<&Self> {
        error.chain().find_map(|cause| cause.downcast_ref::<Self>())
    }
}

pub struct PodForward {
    pods: Api<Pod>,
    namespace: String,
    pod: String,
    port: u16,
}

impl PodForward {
    pub fn new(client: &kube::Client, namespace: &str, pod: &str, port: u16) -> Self {
        Self { pods: Api::namespaced(client.clone(), namespace), namespace: namespace.into(), pod: pod.into(), port }
    }
}

#[async_trait]
impl Tunnel for PodForward {
    async fn open(&self) -> Result<Tunnelled> {
        let mut forwarder = self.pods.portforward(&self.pod, &[self.port]).await.map_err(|e| match &e {
            kube::Error::Api(status) if status.code == 403 => anyhow!(ForwardForbidden {
                namespace: self.namespace.clone(),
                pod: Some(self.pod.clone()),
                reason: status.message.clone(),
            }),
            _ => {
                anyhow!(client::explain(&e, &format!("opening a port-forward to pod {}/{}", self.namespace, self.pod)))
            }
        })?;
        let stream = forwarder.take_stream(self.port).ok_or_else(|| anyhow!("the port-forward has no stream"))?;
        let failure =
            forwarder.take_error(self.port).ok_or_else(|| anyhow!("the port-forward has no error channel"))?;
        // Dropping the forwarder leaves its task running: it ends when the session drops the stream.
        drop(forwarder);
        let failure = failure.map(|reason| reason.map(|r| format!("the API server reports: {r}")));
        Ok(Tunnelled { stream: Box::new(stream), failure: failure.boxed() })
    }

    fn describe(&self) -> String {
        format!("{}/{}:{} through port-forward", self.namespace, self.pod, self.port)
    }
}

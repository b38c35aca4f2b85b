//! The Kubernetes client for a target: its kubeconfig context, and errors worded for operators.

use std::path::Path;

use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A client for `context` (the kubeconfig's current context when `None`), read from `$KUBECONFIG`
/// or `~/.kube/config` as kubectl reads it; in a pod without a kubeconfig, its service account.
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<(kube::Client, String)> {
    let options = KubeConfigOptions { context: context.map(str::to_owned), ..KubeConfigOptions::default() };
    let file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    let config = match file {
        Ok(file) => kube::Config::from_custom_kubeconfig(file, &options).await.with_context(|| {
            format!(
                "cannot use kube context `{}` from the kubeconfig; `kubectl config get-contexts` lists those there",
                context.unwrap_or("<current>")
            )
        })?,
        Err(read_error) if context.is_none() => kube::Config::incluster().map_err(|_| {
            anyhow::anyhow!("no kubeconfig ({read_error}) and not running in a pod; set KUBECONFIG or pass --context")
        })?,
        Err(e) => return Err(e).context("cannot read the kubeconfig ($KUBECONFIG or ~/.kube/config)"),
    };
    let url = config.cluster_url.to_string().trim_end_matches('/').to_owned();
    let client = kube::Client::try_from(config).context("cannot build a Kubernetes client from the kubeconfig")?;
    Ok((client, url))
}

/// The API server's own words for a failed call, plus what to do when it is a missing permission.
pub fn explain(error: &kube::Error, what: &str) -> String {
    match error {
        kube::Error::Api(status) if status.code == 403 => format!(
            "{what}: forbidden by RBAC ({}); grant pgdeck's user that permission in the namespace",
            status.message
        ),
        kube::Error::Api(status) => format!("{what}: {} ({} {})", status.message, status.code, status.reason),
        other => format!("{what}: {other}"),
    }
}

/// Whether the API server refused `error` for lack of a permission.
pub fn is_forbidden(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 403)
}

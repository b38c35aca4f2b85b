//! `pgdeck apply`: server-side apply of the manifests, field manager `pgdeck`, as
//! `kubectl apply --server-side` does it. Applying what is already there changes nothing.

use std::fmt;

use anyhow::{Context, Result};
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::Api;
use serde_json::Value;

use super::client;

pub const FIELD_MANAGER: &str = "pgdeck";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        })
    }
}

fn text<'a>(object: &'a Value, pointer: &str) -> Result<&'a str> {
    object.pointer(pointer).and_then(Value::as_str).with_context(|| format!("a manifest has no {pointer}"))
}

/// Applies one object; the outcome compares resourceVersions, as the server bumps it only on a change.
pub async fn apply_one(client: &kube::Client, object: &Value) -> Result<(String, Outcome)> {
    let (api_version, kind, name) =
        (text(object, "/apiVersion")?, text(object, "/kind")?, text(object, "/metadata/name")?);
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk).await.map_err(|e| {
        anyhow::anyhow!(
            "{}; the API server does not serve {kind} ({api_version}): install the operator that defines it (CNPG, \
             External Secrets) first",
            client::explain(&e, "discovery")
        )
    })?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), text(object, "/metadata/namespace")?, &resource),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let shown = format!("{}/{name}", resource.plural);
    let before = api
        .get_opt(name)
        .await
        .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("reading {shown}"))))?
        .and_then(|o| o.metadata.resource_version);
    let after = api
        .patch(name, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(object))
        .await
        .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("applying {shown}"))))?;
    let outcome = match before {
        None => Outcome::Created,
        Some(rv) if Some(&rv) == after.metadata.resource_version.as_ref() => Outcome::Unchanged,
        Some(_) => Outcome::Configured,
    };
    Ok((shown, outcome))
}

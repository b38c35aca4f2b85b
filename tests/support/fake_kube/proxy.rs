//! What the API server proxies rather than stores: the pod proxy (the CNPG instance manager's
//! `/pg/status`, metrics) and the kubelet's stats summary through the node proxy.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use super::http::{error, json_response, Target};
use super::resources;
use super::status;
use super::{lock, Inner};

/// `[scheme:]name[:port]`, as the pod proxy path spells its target.
fn split_proxy_name(raw: &str) -> (String, Option<u16>) {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        [name] | ["http" | "https", name] => ((*name).to_string(), None),
        ["http" | "https", name, port] | [name, port] => ((*name).to_string(), port.parse().ok()),
        _ => (raw.to_string(), None),
    }
}

pub fn serve(inner: &Arc<Inner>, target: &Target, method: &Method) -> Response {
    if *method != Method::GET {
        return error(&status::method_not_allowed());
    }
    if target.rt.plural == "nodes" {
        return node(inner, target);
    }
    let ns = target.namespace.clone().unwrap_or_default();
    let (pod, port) = split_proxy_name(target.name.as_deref().unwrap_or(""));
    let Some(pod_obj) = lock(&inner.store).get(target.rt, &ns, &pod).cloned() else {
        return error(&status::not_found(target.rt, &pod));
    };
    let port = port.unwrap_or(80);
    let reply = lock(&inner.proxy).get(&(ns, pod, port, target.rest.clone())).cloned();
    if let Some(r) = reply {
        return Response::builder()
            .status(r.status)
            .header("content-type", r.content_type)
            .body(Body::from(r.body))
            .unwrap_or_else(|_| Response::new(Body::empty()));
    }
    // Registered nowhere: what the proxy says when nothing listens on the pod's port.
    let ip = pod_obj.pointer("/status/podIP").and_then(Value::as_str).unwrap_or("");
    error(&status::service_unavailable(&format!(
        "error trying to reach service: dial tcp {ip}:{port}: connect: connection refused"
    )))
}

/// `/api/v1/nodes/{node}/proxy/stats/summary`: the kubelet's summary, with per-pod volume stats
/// for every PVC a pod on that node mounts.
fn node(inner: &Arc<Inner>, target: &Target) -> Response {
    let node = target.name.clone().unwrap_or_default();
    let store = lock(&inner.store);
    if store.get(target.rt, "", &node).is_none() {
        return error(&status::not_found(target.rt, &node));
    }
    if target.rest != "stats/summary" {
        return error(&status::service_unavailable(
            "error trying to reach service: the fake kubelet serves stats/summary only",
        ));
    }
    let Some(pods_rt) = resources::find("", "v1", "pods") else {
        return error(&status::not_found_path());
    };
    let volumes = lock(&inner.volumes);
    let pods: Vec<Value> = store
        .list(pods_rt, None)
        .into_iter()
        .filter(|p| p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node.as_str()))
        .map(|p| {
            let ns = p.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
            let vols: Vec<Value> = p
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| {
                    let claim = v.pointer("/persistentVolumeClaim/claimName")?.as_str()?;
                    let (used, capacity) = volumes.get(&(ns.to_string(), claim.to_string())).copied().unwrap_or((0, 0));
                    Some(json!({
                        "time": super::store::now(), "name": v["name"], "usedBytes": used, "capacityBytes": capacity,
                        "availableBytes": capacity.saturating_sub(used), "inodesFree": 1_000_000, "inodes": 1_048_576,
                        "inodesUsed": 48_576, "pvcRef": {"name": claim, "namespace": ns},
                    }))
                })
                .collect();
            json!({
                "podRef": {"name": p["metadata"]["name"], "namespace": ns, "uid": p["metadata"]["uid"]},
                "startTime": p["metadata"]["creationTimestamp"], "containers": [], "volume": vols,
            })
        })
        .collect();
    json_response(
        200,
        &json!({"node": {"nodeName": node, "systemContainers": [], "startTime": super::store::now()}, "pods": pods}),
    )
}

/// The OpenAPI that kubectl asks for before `apply`/`create`/`patch`, no more.
///
/// kubectl 1.27+ reads `/openapi/v3`, then the group-version document, only to learn whether
/// PATCH takes `fieldValidation`; told yes, it leaves validation to the server and needs no
/// schemas. Older kubectls (Debian bookworm's 1.20) download `/openapi/v2` as protobuf for
/// client-side validation: an empty document is a valid message, and with no definitions in it
/// they validate nothing.
pub fn openapi(segs: &[&str]) -> Response {
    match segs {
        ["openapi", "v2"] => Response::builder()
            .status(200)
            .header("content-type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            .body(Body::empty())
            .unwrap_or_else(|_| Response::new(Body::empty())),
        ["openapi", "v3"] => {
            let mut paths = serde_json::Map::new();
            for (group, version) in group_versions() {
                let key = if group.is_empty() { format!("api/{version}") } else { format!("apis/{group}/{version}") };
                paths.insert(key.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash=fake")}));
            }
            json_response(200, &json!({"paths": paths}))
        }
        ["openapi", "v3", "api", version] => gv_document("", version),
        ["openapi", "v3", "apis", group, version] => gv_document(group, version),
        _ => error(&status::not_found_path()),
    }
}

fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for r in resources::RESOURCES {
        for v in r.versions {
            if !out.contains(&(r.group, *v)) {
                out.push((r.group, *v));
            }
        }
    }
    out
}

fn gv_document(group: &str, version: &str) -> Response {
    let served: Vec<_> = resources::RESOURCES.iter().filter(|r| r.group == group && r.serves(version)).collect();
    if served.is_empty() {
        return error(&status::not_found_path());
    }
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        {"name": "force", "in": "query", "schema": {"type": "boolean"}}
    ]);
    let mut paths = serde_json::Map::new();
    for r in served {
        let prefix = if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
        let scope = if r.namespaced { "/namespaces/{namespace}" } else { "" };
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        let op = json!({"x-kubernetes-group-version-kind": gvk, "parameters": params,
                        "responses": {"200": {"description": "OK"}}});
        paths.insert(format!("{prefix}{scope}/{}/{{name}}", r.plural), json!({"patch": op, "put": op, "get": op}));
        paths.insert(format!("{prefix}{scope}/{}", r.plural), json!({"post": op}));
    }
    json_response(
        200,
        &json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths,
                "components": {"schemas": {}}}),
    )
}

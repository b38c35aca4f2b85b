//! Routing: the API server's URL scheme, parsed by hand because Kubernetes paths are data
//! (group, version, resource, namespace, name, subresource), then the REST verbs on the store.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

use super::managed::{self, Operation};
use super::resources::{self, ResourceType};
use super::status::{self, Status};
use super::store::Writer;
use super::{lock, portforward, proxy, watch, Inner, RecordedRequest};

pub fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/api/v1/namespaces/{namespace}/pods/{name}/portforward", any(portforward::serve))
        .fallback(handle)
        .with_state(inner)
}

pub type Query = HashMap<String, String>;

/// A request on a resource: `/api/v1/namespaces/{ns}/pods/{name}/{sub}/{rest…}` and the like.
pub struct Target {
    pub rt: &'static ResourceType,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    pub rest: String,
}

pub fn json_response(code: u16, v: &Value) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, [("content-type", "application/json")], v.to_string()).into_response()
}

pub fn error(s: &Status) -> Response {
    json_response(s.code, &s.body)
}

pub fn parse_query(uri: &Uri) -> Query {
    let mut q = Query::new();
    for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        q.insert(decode(k), decode(v));
    }
    q
}

/// Percent-decoding (and `+` as space), enough for selectors and continue tokens.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    lock(&inner.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        content_type: content_type.clone(),
        body: body.to_vec(),
    });
    if inner.down.load(std::sync::atomic::Ordering::SeqCst) {
        return error(&status::status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
            None,
        ));
    }
    let query = parse_query(&uri);
    let segments: Vec<String> = uri.path().split('/').filter(|s| !s.is_empty()).map(decode).collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let server = lock(&inner.addr).map(|a| a.to_string()).unwrap_or_default();
    if method == Method::GET {
        let discovery = match segs.as_slice() {
            ["version"] => Some(resources::version()),
            ["api"] => Some(resources::core_versions(&server)),
            ["apis"] => Some(resources::group_list()),
            ["api", v] => resources::resource_list("", v),
            ["apis", g] => resources::group(g),
            ["apis", g, v] => resources::resource_list(g, v),
            ["healthz" | "livez" | "readyz"] => return (StatusCode::OK, "ok").into_response(),
            ["openapi", ..] => return super::proxy::openapi(&segs),
            _ => None,
        };
        if let Some(doc) = discovery {
            return json_response(200, &doc);
        }
    }
    let Some(target) = parse_target(&segs) else {
        return error(&status::not_found_path());
    };
    if lock(&inner.hidden).iter().any(|plural| plural == target.rt.plural) {
        return error(&status::not_found_path());
    }
    if let Some(denied) = forbidden(&inner, &method, &target, &query) {
        return error(&denied);
    }
    if let Some(conflict) = injected_conflict(&inner, &method, &target) {
        return error(&conflict);
    }
    let user_agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    match dispatch(&inner, &method, &target, &query, content_type.as_deref(), user_agent, &body) {
        Ok(Reply::Json(code, v)) => json_response(code, &v),
        Ok(Reply::Raw(r)) => r,
        Err(s) => error(&s),
    }
}

pub enum Reply {
    Json(u16, Value),
    Raw(Response),
}

pub fn parse_target(segs: &[&str]) -> Option<Target> {
    let (group, version, rest) = match segs {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] if *plural != "status" && *plural != "finalize" => {
            (Some((*ns).to_string()), [&[*plural][..], more].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let plural = rest.first()?;
    let rt = resources::find(group, version, plural)?;
    if namespace.is_some() && !rt.namespaced {
        return None;
    }
    Some(Target {
        rt,
        version: version.to_string(),
        namespace,
        name: rest.get(1).map(|s| (*s).to_string()),
        sub: rest.get(2).map(|s| (*s).to_string()),
        rest: rest.get(3..).map(|r| r.join("/")).unwrap_or_default(),
    })
}

fn verb(method: &Method, target: &Target, query: &Query) -> &'static str {
    match *method {
        Method::GET if query.get("watch").is_some_and(|w| w == "true" || w == "1") => "watch",
        Method::GET if target.name.is_none() => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

pub fn forbidden(inner: &Inner, method: &Method, target: &Target, query: &Query) -> Option<Status> {
    let resource = match &target.sub {
        Some(sub) => format!("{}/{sub}", target.rt.plural),
        None => target.rt.plural.to_string(),
    };
    if !lock(&inner.forbidden).contains(&resource) {
        return None;
    }
    let name = target.name.as_deref().unwrap_or("");
    let name = name.rsplit(':').nth(1).filter(|_| target.sub.as_deref() == Some("proxy")).unwrap_or(name);
    Some(status::forbidden(&resource, target.rt.group, name, verb(method, target, query), target.namespace.as_deref()))
}

fn injected_conflict(inner: &Inner, method: &Method, target: &Target) -> Option<Status> {
    if *method != Method::PATCH && *method != Method::PUT {
        return None;
    }
    let resource = match &target.sub {
        Some(sub) => format!("{}/{sub}", target.rt.plural),
        None => target.rt.plural.to_string(),
    };
    let mut conflicts = lock(&inner.conflicts);
    let left = conflicts.get_mut(&resource).filter(|n| **n > 0)?;
    *left -= 1;
    Some(status::conflict(target.rt, target.name.as_deref().unwrap_or("")))
}

/// The object as served at the requested version: one storage, several names for it.
pub fn present(rt: &ResourceType, version: &str, mut obj: Value) -> Value {
    obj["apiVersion"] = json!(rt.api_version(version));
    obj["kind"] = json!(rt.kind);
    obj
}

fn parse_body(body: &[u8], yaml: bool) -> Result<Value, Status> {
    let parsed: Result<Value, String> = if yaml {
        std::str::from_utf8(body)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_saphyr::from_str::<Value>(t).map_err(|e| e.to_string()))
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    let v = parsed.map_err(|e| status::bad_request(&format!("error decoding request body: {e}")))?;
    if !v.is_object() {
        return Err(status::bad_request("the request body must be an object"));
    }
    Ok(v)
}

/// Checks what the path says against what the body says, as the real server does.
fn check_identity(target: &Target, obj: &Value) -> Result<(), Status> {
    let want_av = target.rt.api_version(&target.version);
    let av = obj["apiVersion"].as_str().unwrap_or("");
    let kind = obj["kind"].as_str().unwrap_or("");
    if (!av.is_empty() && av != want_av) || (!kind.is_empty() && kind != target.rt.kind) {
        return Err(status::bad_request(&format!(
            "the API version in the data ({av}) does not match the expected API version ({want_av})"
        )));
    }
    if let (Some(ns), Some(body_ns)) = (&target.namespace, obj.pointer("/metadata/namespace").and_then(Value::as_str)) {
        if ns != body_ns {
            return Err(status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    if let (Some(name), Some(body_name)) = (&target.name, obj.pointer("/metadata/name").and_then(Value::as_str)) {
        if name != body_name {
            return Err(status::bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
    }
    Ok(())
}

fn dispatch(
    inner: &Arc<Inner>,
    method: &Method,
    target: &Target,
    query: &Query,
    content_type: Option<&str>,
    user_agent: &str,
    body: &[u8],
) -> Result<Reply, Status> {
    let rt = target.rt;
    let ns = target.namespace.clone().unwrap_or_default();
    if rt.namespaced && target.namespace.is_none() && (target.name.is_some() || *method != Method::GET) {
        return Err(status::not_found_path());
    }
    match target.sub.as_deref() {
        None => {}
        Some("status") if rt.status => {}
        Some("proxy") if rt.plural == "pods" || rt.plural == "nodes" => {
            return Ok(Reply::Raw(proxy::serve(inner, target, method)));
        }
        Some("portforward" | "exec" | "attach") if rt.plural == "pods" => {
            return Err(status::bad_request("Upgrade request required"));
        }
        Some(_) => return Err(status::not_found_path()),
    }
    let manager = query.get("fieldManager").cloned().unwrap_or_else(|| {
        // The real default: the user agent up to its first slash.
        user_agent.split('/').next().unwrap_or("unknown").to_string()
    });
    let writer = Writer { manager, status: target.sub.is_some(), http: true };
    match query.get("dryRun").map(String::as_str) {
        None => {}
        Some("All")
            if *method == Method::PATCH && content_type.is_some_and(|c| !c.starts_with("application/apply")) => {}
        // The real server dry-runs every write; this fake only what pgdeck sends, and says so
        // rather than writing what was meant as a dry run.
        Some("All") => return Err(status::bad_request("this fake API server dry-runs merge and JSON patches only")),
        Some(other) => return Err(status::bad_request(&format!("Invalid dry run value: {other}"))),
    }
    match (method.clone(), target.name.as_deref()) {
        (Method::GET, None) if verb(method, target, query) == "watch" => {
            Ok(Reply::Raw(watch::serve(inner, target, query)?))
        }
        (Method::GET, None) => list(inner, target, query),
        (Method::GET, Some(name)) => {
            let store = lock(&inner.store);
            let obj = store.get(rt, &ns, name).cloned().ok_or_else(|| status::not_found(rt, name))?;
            Ok(Reply::Json(200, present(rt, &target.version, obj)))
        }
        (Method::POST, None) => {
            let mut obj = parse_body(body, false)?;
            check_identity(target, &obj)?;
            prune(inner, rt, &mut obj);
            let created = lock(&inner.store).create(rt, &ns, obj, &writer, Operation::Update)?;
            Ok(Reply::Json(201, present(rt, &target.version, created)))
        }
        (Method::PUT, Some(name)) => {
            let mut obj = parse_body(body, false)?;
            check_identity(target, &obj)?;
            prune(inner, rt, &mut obj);
            let updated = lock(&inner.store).update(rt, &ns, name, obj, &writer, Operation::Update)?;
            Ok(Reply::Json(200, present(rt, &target.version, updated)))
        }
        (Method::PATCH, Some(name)) => patch(inner, target, query, content_type, &writer, name, body),
        (Method::DELETE, Some(name)) => {
            let gone = lock(&inner.store).delete(rt, &ns, name)?;
            Ok(Reply::Json(200, present(rt, &target.version, gone)))
        }
        _ => Err(status::method_not_allowed()),
    }
}

fn list(inner: &Inner, target: &Target, query: &Query) -> Result<Reply, Status> {
    let rt = target.rt;
    let selector = super::selectors::Selector::parse(
        rt,
        query.get("labelSelector").map(String::as_str),
        query.get("fieldSelector").map(String::as_str),
    )?;
    let store = lock(&inner.store);
    let mut items: Vec<Value> = store
        .list(rt, target.namespace.as_deref())
        .into_iter()
        .filter(|o| selector.matches(o))
        .map(|o| list_item(rt, &target.version, o.clone()))
        .collect();
    let mut metadata = json!({"resourceVersion": store.resource_version().to_string()});
    if let Some(start) = query.get("continue").filter(|c| !c.is_empty()) {
        items.retain(|o| item_key(o).as_str() > start.as_str());
    }
    if let Some(limit) = query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0) {
        if items.len() > limit {
            let remaining = items.len() - limit;
            items.truncate(limit);
            metadata["continue"] = json!(items.last().map(item_key).unwrap_or_default());
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    Ok(Reply::Json(
        200,
        json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(&target.version),
            "metadata": metadata, "items": items}),
    ))
}

/// Items of a built-in list carry no apiVersion/kind; those of a custom resource list do.
fn list_item(rt: &ResourceType, version: &str, obj: Value) -> Value {
    let mut obj = present(rt, version, obj);
    if rt.group.is_empty() || rt.group == "apps" || rt.group == "policy" {
        if let Some(m) = obj.as_object_mut() {
            m.remove("apiVersion");
            m.remove("kind");
        }
    }
    obj
}

/// The continue token: opaque to clients, here the last item's namespace and name.
fn item_key(obj: &Value) -> String {
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    format!("{ns}/{name}")
}

fn patch(
    inner: &Inner,
    target: &Target,
    query: &Query,
    content_type: Option<&str>,
    writer: &Writer,
    name: &str,
    body: &[u8],
) -> Result<Reply, Status> {
    let rt = target.rt;
    let ns = target.namespace.clone().unwrap_or_default();
    let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
    let mut store = lock(&inner.store);
    let current = store.get(rt, &ns, name).cloned();
    let result = match media.as_str() {
        "application/apply-patch+yaml" => {
            let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) else {
                return Err(status::invalid(
                    rt,
                    name,
                    "metadata.managedFields: Required value: is required for apply patch",
                ));
            };
            let config = parse_body(body, true)?;
            check_identity(target, &config)?;
            let force = query.get("force").is_some_and(|f| f == "true");
            let mut applied = managed::apply(current.as_ref(), &config, manager, force, writer.status, rt)
                .map_err(|conflicts| status::apply_conflict(rt, name, &conflicts))?;
            prune(inner, rt, &mut applied);
            match current {
                Some(_) => store.update(rt, &ns, name, applied, writer, Operation::Apply)?,
                None if writer.status => return Err(status::not_found(rt, name)),
                None => {
                    let created = store.create(rt, &ns, applied, writer, Operation::Apply)?;
                    return Ok(Reply::Json(201, present(rt, &target.version, created)));
                }
            }
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" | "application/json-patch+json" => {
            let mut obj = current.ok_or_else(|| status::not_found(rt, name))?;
            let patch: Value =
                serde_json::from_slice(body).map_err(|e| status::bad_request(&format!("error decoding patch: {e}")))?;
            if media == "application/json-patch+json" {
                let ops: json_patch::Patch = serde_json::from_value(patch)
                    .map_err(|e| status::bad_request(&format!("error decoding JSON patch: {e}")))?;
                json_patch::patch(&mut obj, &ops).map_err(|e| status::invalid(rt, name, &e.to_string()))?;
            } else {
                // Strategic merge is plain merge here: right for custom resources, which is
                // what the real server does for them too; close enough for built-in types.
                json_patch::merge(&mut obj, &patch);
            }
            prune(inner, rt, &mut obj);
            if query.get("dryRun").is_some() {
                // Checked and pruned as a write would be, then answered without being stored.
                return Ok(Reply::Json(200, present(rt, &target.version, obj)));
            }
            store.update(rt, &ns, name, obj, writer, Operation::Update)?
        }
        other => return Err(status::unsupported_media_type(other)),
    };
    Ok(Reply::Json(200, present(rt, &target.version, result)))
}

/// Drops the fields `FakeKube::prune` named for this resource, as the real server prunes what a
/// CRD's structural schema does not know: silently, on every write.
fn prune(inner: &Inner, rt: &ResourceType, obj: &mut Value) {
    for (plural, pointer) in lock(&inner.pruned).iter() {
        if plural != rt.plural {
            continue;
        }
        let Some((parent, field)) = pointer.rsplit_once('/') else { continue };
        if let Some(Value::Object(map)) = obj.pointer_mut(parent) {
            map.remove(field);
        }
    }
}

//! `Status` objects: every error the fake returns has the real server's shape and wording, since
//! clients branch on `code` and `reason` (kube-rs on 409 and 410, kubectl on 404).

use serde_json::{json, Value};

use super::resources::ResourceType;

#[derive(Debug, Clone)]
pub struct Status {
    pub code: u16,
    pub body: Value,
}

pub fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Status {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if let Some(d) = details {
        body["details"] = d;
    }
    Status { code, body }
}

/// `pods` for the core group, `clusters.postgresql.cnpg.io` otherwise: how messages name a type.
pub fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.plural.to_string()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    }
}

fn details(rt: &ResourceType, name: &str) -> Value {
    json!({"name": name, "group": rt.group, "kind": rt.plural})
}

pub fn not_found(rt: &ResourceType, name: &str) -> Status {
    status(404, "NotFound", &format!("{} \"{name}\" not found", qualified(rt)), Some(details(rt, name)))
}

pub fn not_found_namespace(ns: &str) -> Status {
    status(404, "NotFound", &format!("namespaces \"{ns}\" not found"), Some(json!({"name": ns, "kind": "namespaces"})))
}

pub fn not_found_path() -> Status {
    status(404, "NotFound", "the server could not find the requested resource", Some(json!({})))
}

pub fn already_exists(rt: &ResourceType, name: &str) -> Status {
    status(409, "AlreadyExists", &format!("{} \"{name}\" already exists", qualified(rt)), Some(details(rt, name)))
}

pub fn conflict(rt: &ResourceType, name: &str) -> Status {
    status(
        409,
        "Conflict",
        &format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            qualified(rt)
        ),
        Some(details(rt, name)),
    )
}

pub fn apply_conflict(rt: &ResourceType, name: &str, conflicts: &[(String, String)]) -> Status {
    let listed: Vec<String> =
        conflicts.iter().map(|(manager, field)| format!("conflict with \"{manager}\": {field}")).collect();
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, field)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{manager}\""), "field": field}))
        .collect();
    let mut d = details(rt, name);
    d["causes"] = json!(causes);
    status(
        409,
        "Conflict",
        &format!("Apply failed with {} conflict(s): {}", conflicts.len(), listed.join(", ")),
        Some(d),
    )
}

pub fn invalid(rt: &ResourceType, name: &str, why: &str) -> Status {
    status(422, "Invalid", &format!("{} \"{name}\" is invalid: {why}", rt.kind), Some(details(rt, name)))
}

pub fn bad_request(message: &str) -> Status {
    status(400, "BadRequest", message, None)
}

pub fn unsupported_media_type(content_type: &str) -> Status {
    status(415, "UnsupportedMediaType", &format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type}"), None)
}

pub fn method_not_allowed() -> Status {
    status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", None)
}

pub fn forbidden(resource: &str, group: &str, name: &str, verb: &str, namespace: Option<&str>) -> Status {
    let plural = resource.split('/').next().unwrap_or(resource);
    let subject = if name.is_empty() { plural.to_string() } else { format!("{plural} \"{name}\"") };
    let place = namespace.map_or_else(|| "at the cluster scope".to_string(), |ns| format!("in the namespace \"{ns}\""));
    status(
        403,
        "Forbidden",
        &format!(
            "{subject} is forbidden: User \"system:serviceaccount:pgdeck:pgdeck\" cannot {verb} resource \"{resource}\" in API group \"{group}\" {place}"
        ),
        Some(json!({"name": name, "group": group, "kind": plural})),
    )
}

pub fn expired(rv: u64, oldest: u64) -> Status {
    status(410, "Expired", &format!("too old resource version: {rv} ({oldest})"), None)
}

pub fn service_unavailable(message: &str) -> Status {
    status(503, "ServiceUnavailable", message, None)
}

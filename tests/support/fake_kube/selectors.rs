//! `labelSelector` and `fieldSelector` as the API server parses them.

use serde_json::Value;

use super::resources::ResourceType;
use super::status::{self, Status};

#[derive(Debug, Clone)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

#[derive(Debug, Clone, Default)]
pub struct Selector {
    labels: Vec<Requirement>,
    /// (field path, value, wanted equal)
    fields: Vec<(String, String, bool)>,
}

/// Splits on commas outside parentheses: `a in (x,y),b` is two requirements.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

fn set_of(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

fn parse_label(part: &str) -> Result<Requirement, Status> {
    let bad =
        || status::bad_request(&format!("unable to parse requirement: found '{part}', expected: valid label selector"));
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(key.trim().to_string()));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(k.trim().into(), v.trim().into()));
    }
    if let Some((k, rest)) = part.split_once(" notin ") {
        return Ok(Requirement::NotIn(k.trim().into(), set_of(rest).ok_or_else(bad)?));
    }
    if let Some((k, rest)) = part.split_once(" in ") {
        return Ok(Requirement::In(k.trim().into(), set_of(rest).ok_or_else(bad)?));
    }
    if part.contains(|c: char| c.is_whitespace() || c == '(') {
        return Err(bad());
    }
    Ok(Requirement::Exists(part.to_string()))
}

/// Field selectors the real server accepts for every type, plus the per-type ones pgdeck uses;
/// anything else is refused as the server refuses it.
fn field_supported(rt: &ResourceType, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace")
        || (rt.plural == "pods" && matches!(field, "spec.nodeName" | "status.phase" | "status.podIP"))
        || (rt.plural == "events" && (field.starts_with("involvedObject.") || matches!(field, "reason" | "type")))
        || (rt.plural == "secrets" && field == "type")
}

impl Selector {
    pub fn parse(rt: &ResourceType, labels: Option<&str>, fields: Option<&str>) -> Result<Self, Status> {
        let mut sel = Selector::default();
        for part in split_top(labels.unwrap_or("")) {
            sel.labels.push(parse_label(part)?);
        }
        for part in split_top(fields.unwrap_or("")) {
            let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, v, true)
            } else {
                return Err(status::bad_request(&format!("invalid selector: '{part}'; can't understand '{part}'")));
            };
            let field = field.trim();
            if !field_supported(rt, field) {
                return Err(status::bad_request(&format!("field label not supported: {field}")));
            }
            sel.fields.push((field.to_string(), value.trim().to_string(), equal));
        }
        Ok(sel)
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let label = |k: &str| obj.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::In(k, set) => label(k).is_some_and(|l| set.iter().any(|s| s == l)),
            Requirement::NotIn(k, set) => label(k).is_none_or(|l| !set.iter().any(|s| s == l)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
        });
        labels_ok
            && self.fields.iter().all(|(field, want, equal)| {
                let pointer = format!("/{}", field.replace('.', "/"));
                let have = match obj.pointer(&pointer) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                (have == *want) == *equal
            })
    }
}

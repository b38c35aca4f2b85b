//! `metadata.managedFields` and server-side apply, close enough to structured-merge-diff for a
//! client to see the real behaviour: ownership per field manager, conflicts (409) unless forced,
//! fields dropped from an applied configuration removed from the object, and a repeated apply
//! that changes nothing leaving the object (and its resourceVersion) alone.
//!
//! Simplification: every list is atomic (a leaf), where the real server merges some lists by key
//! (containers by name, conditions by type).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::resources::ResourceType;
use super::store::now;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

type Path = Vec<String>;
type Fields = BTreeSet<Path>;

struct Entry {
    raw: Value,
    manager: String,
    operation: String,
    status: bool,
    fields: Fields,
}

/// The fields a writer through this door can own: metadata's labels, annotations, finalizers and
/// owner references, then everything but status (main resource) or status only (subresource).
fn paths(obj: &Value, status_door: bool, rt: &ResourceType) -> Fields {
    let mut out = Fields::new();
    let Some(map) = obj.as_object() else { return out };
    for (k, v) in map {
        let wanted = match k.as_str() {
            "apiVersion" | "kind" => false,
            "status" => status_door || !rt.status,
            _ => !status_door,
        };
        if !wanted {
            continue;
        }
        if k == "metadata" {
            for sub in ["labels", "annotations", "finalizers", "ownerReferences"] {
                if let Some(v) = v.get(sub) {
                    leaves(v, vec![k.clone(), sub.to_string()], &mut out);
                }
            }
        } else {
            leaves(v, vec![k.clone()], &mut out);
        }
    }
    out
}

fn leaves(v: &Value, at: Path, out: &mut Fields) {
    match v.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, child) in map {
                let mut p = at.clone();
                p.push(k.clone());
                leaves(child, p, out);
            }
        }
        _ => {
            out.insert(at);
        }
    }
}

fn value_at<'a>(obj: &'a Value, path: &Path) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn to_fields_v1(fields: &Fields) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for k in path {
            let entry = node.entry(format!("f:{k}")).or_insert_with(|| json!({}));
            node = entry.as_object_mut().unwrap_or_else(|| unreachable!("fieldsV1 nodes are objects"));
        }
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value, at: &Path, out: &mut Fields) {
    match v.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, child) in map {
                let Some(key) = k.strip_prefix("f:") else { continue };
                let mut p = at.clone();
                p.push(key.to_string());
                from_fields_v1(child, &p, out);
            }
        }
        _ if !at.is_empty() => {
            out.insert(at.clone());
        }
        _ => {}
    }
}

fn entries(obj: Option<&Value>) -> Vec<Entry> {
    let list =
        obj.and_then(|o| o.pointer("/metadata/managedFields")).and_then(Value::as_array).cloned().unwrap_or_default();
    list.into_iter()
        .map(|raw| {
            let mut fields = Fields::new();
            from_fields_v1(raw.get("fieldsV1").unwrap_or(&Value::Null), &Vec::new(), &mut fields);
            Entry {
                manager: raw["manager"].as_str().unwrap_or("").to_string(),
                operation: raw["operation"].as_str().unwrap_or("").to_string(),
                status: raw.get("subresource").and_then(Value::as_str) == Some("status"),
                fields,
                raw,
            }
        })
        .collect()
}

fn store_entries(obj: &mut Value, list: Vec<Entry>, api_version: &str) {
    let out: Vec<Value> = list
        .into_iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut raw = e.raw;
            let fields_v1 = to_fields_v1(&e.fields);
            if raw.get("fieldsV1") != Some(&fields_v1) || raw.get("time").is_none() {
                raw["time"] = json!(now());
            }
            raw["manager"] = json!(e.manager);
            raw["operation"] = json!(e.operation);
            if raw.get("apiVersion").is_none() {
                raw["apiVersion"] = json!(api_version);
            }
            raw["fieldsType"] = json!("FieldsV1");
            raw["fieldsV1"] = fields_v1;
            if e.status {
                raw["subresource"] = json!("status");
            }
            raw
        })
        .collect();
    let meta = super::store::metadata_mut(obj);
    if out.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(out));
    }
}

fn own_entry<'a>(list: &'a mut Vec<Entry>, manager: &str, op: Operation, status: bool) -> &'a mut Entry {
    let at = list.iter().position(|e| e.manager == manager && e.operation == op.as_str() && e.status == status);
    let at = at.unwrap_or_else(|| {
        list.push(Entry {
            raw: json!({}),
            manager: manager.to_string(),
            operation: op.as_str().to_string(),
            status,
            fields: Fields::new(),
        });
        list.len() - 1
    });
    &mut list[at]
}

/// Records an Update by `manager`: it now owns every field it changed, and nobody else does.
pub fn record(
    obj: &mut Value,
    previous: Option<&Value>,
    manager: &str,
    op: Operation,
    status: bool,
    rt: &ResourceType,
) {
    let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let changed: Fields = paths(obj, status, rt)
        .into_iter()
        .filter(|p| previous.is_none_or(|prev| value_at(prev, p) != value_at(obj, p)))
        .collect();
    let mut list = entries(previous);
    if !changed.is_empty() {
        for e in &mut list {
            e.fields.retain(|f| !changed.iter().any(|c| overlaps(f, c)));
        }
        own_entry(&mut list, manager, op, status).fields.extend(changed);
    }
    store_entries(obj, list, &api_version);
}

/// Server-side apply of `config` over `current` (None: the object is created). Err lists the
/// conflicts as (manager, `.field.path`).
pub fn apply(
    current: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    status: bool,
    rt: &ResourceType,
) -> Result<Value, Vec<(String, String)>> {
    let applied = paths(config, status, rt);
    let mut list = entries(current);
    let mut conflicts = Vec::new();
    for e in list.iter().filter(|e| e.manager != manager && e.status == status) {
        for p in &applied {
            // An empty map merges into the live one and changes nothing: nothing to clash over.
            if value_at(config, p).is_some_and(|v| v.as_object().is_some_and(Map::is_empty)) {
                continue;
            }
            let clash = e.fields.iter().any(|f| overlaps(f, p));
            if clash && current.and_then(|c| value_at(c, p)) != value_at(config, p) {
                conflicts.push((e.manager.clone(), format!(".{}", p.join("."))));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let mut result = current.cloned().unwrap_or_else(|| json!({}));
    merge_into(&mut result, config, status, rt);
    let previously = list
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply" && e.status == status)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for dropped in previously.difference(&applied) {
        let kept_by_other =
            list.iter().any(|e| !(e.manager == manager && e.operation == "Apply") && e.fields.contains(dropped));
        if !kept_by_other && !applied.iter().any(|a| overlaps(a, dropped)) {
            remove_at(&mut result, dropped);
        }
    }
    if force {
        for e in list.iter_mut().filter(|e| e.manager != manager) {
            e.fields.retain(|f| !applied.iter().any(|a| overlaps(f, a)));
        }
    }
    own_entry(&mut list, manager, Operation::Apply, status).fields = applied;
    let api_version = config["apiVersion"].as_str().unwrap_or("").to_string();
    store_entries(&mut result, list, &api_version);
    Ok(result)
}

fn merge_into(target: &mut Value, config: &Value, status: bool, rt: &ResourceType) {
    let Some(cfg) = config.as_object() else { return };
    for (k, v) in cfg {
        let wanted = match k.as_str() {
            "apiVersion" | "kind" | "metadata" => true,
            "status" => status || !rt.status,
            _ => !status,
        };
        if !wanted {
            continue;
        }
        if k == "metadata" {
            let meta = super::store::metadata_mut(target);
            for (mk, mv) in v.as_object().into_iter().flatten() {
                if matches!(mk.as_str(), "labels" | "annotations") {
                    let slot = meta.entry(mk.clone()).or_insert_with(|| json!({}));
                    merge_value(slot, mv);
                } else if matches!(
                    mk.as_str(),
                    "name" | "namespace" | "finalizers" | "ownerReferences" | "generateName"
                ) {
                    meta.insert(mk.clone(), mv.clone());
                }
            }
        } else {
            merge_value(&mut target[k], v);
        }
    }
}

fn merge_value(target: &mut Value, v: &Value) {
    match (target.as_object_mut(), v.as_object()) {
        (Some(t), Some(m)) => {
            for (k, child) in m {
                merge_value(t.entry(k.clone()).or_insert(Value::Null), child);
            }
        }
        _ => *target = v.clone(),
    }
}

fn remove_at(obj: &mut Value, path: &Path) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = obj;
    for k in parents {
        match node.get_mut(k) {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last);
    }
}

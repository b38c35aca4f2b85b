//! The object store: what etcd plus the API server's registry strategies do for the fake.
//!
//! One global resourceVersion counter, as etcd's revision: every write that changes an object
//! bumps it and stamps it on the object, and every change is kept (bounded) as a watch event so a
//! watch can resume from any resourceVersion still in the window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::managed::{self, Operation};
use super::resources::ResourceType;
use super::status::{self, Status};

/// How many changes a watch can resume across, as the watch cache's window.
const HISTORY: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: EventType,
    pub resource: String,
    pub namespace: String,
    pub object: Value,
    /// The object before the change: a watch with a label selector turns an object that stops
    /// (or starts) matching into DELETED (or ADDED), as the real watch cache does.
    pub previous: Option<Value>,
}

/// Who writes, and through which door: the door decides which parts of the object may change.
#[derive(Debug, Clone)]
pub struct Writer {
    pub manager: String,
    /// Through the `/status` subresource: only `.status` changes.
    pub status: bool,
    /// Through HTTP rather than a test hook: `.status` of a type with a status subresource is not
    /// writable through the main resource.
    pub http: bool,
}

impl Writer {
    pub fn hook() -> Self {
        // controller-runtime operators such as CNPG's show up under this name.
        Writer { manager: "manager".into(), status: false, http: false }
    }
}

type Key = (String, String, String);

pub struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// A watch from a resourceVersion below this is too old (410 Gone).
    compacted: u64,
    uids: u64,
    pub events: broadcast::Sender<Arc<Change>>,
}

impl Store {
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        Store { objects: BTreeMap::new(), rv: 1, history: VecDeque::new(), compacted: 1, uids: 0, events }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(rt.key(), scope(rt, namespace), name.to_string()))
    }

    /// Objects of one type, in one namespace or (with `None`) in all, in name order.
    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>) -> Vec<&Value> {
        let key = rt.key();
        self.objects
            .iter()
            .filter(|((r, ns, _), _)| *r == key && namespace.is_none_or(|want| !rt.namespaced || ns == want))
            .map(|(_, v)| v)
            .collect()
    }

    /// Changes after `rv` (to resume a watch), or None when `rv` has left the window.
    pub fn changes_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if rv < self.compacted {
            return None;
        }
        Some(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    /// Stricter than an etcd compaction, so that a test can count on it: every resourceVersion
    /// handed out so far becomes too old, even the latest. The counter moves on (with no event,
    /// as writes to other types move it) so that a fresh LIST yields a resourceVersion a watch can
    /// start from.
    pub fn expire_history(&mut self) {
        self.history.clear();
        self.rv += 1;
        self.compacted = self.rv;
    }

    pub fn create(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        mut obj: Value,
        writer: &Writer,
        operation: Operation,
    ) -> Result<Value, Status> {
        let ns = scope(rt, namespace);
        if rt.namespaced && rt.plural != "namespaces" && !self.namespace_exists(&ns) {
            return Err(status::not_found_namespace(&ns));
        }
        let name = match obj.pointer("/metadata/name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match obj.pointer("/metadata/generateName").and_then(Value::as_str) {
                Some(prefix) => format!("{prefix}{}", self.generated_suffix()),
                None => {
                    return Err(status::invalid(
                        rt,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ))
                }
            },
        };
        let key = (rt.key(), ns.clone(), name.clone());
        fold_string_data(rt, &mut obj);
        if self.objects.contains_key(&key) {
            return Err(status::already_exists(rt, &name));
        }
        if writer.http && rt.status {
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
        self.uids += 1;
        self.rv += 1;
        let meta = metadata_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        if rt.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), json!(format!("00000000-0000-4000-8000-{:012x}", self.uids)));
        meta.insert("creationTimestamp".into(), json!(now()));
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        if rt.status {
            meta.insert("generation".into(), json!(1));
        }
        for server_owned in ["deletionTimestamp", "selfLink"] {
            meta.remove(server_owned);
        }
        if operation == Operation::Update {
            managed::record(&mut obj, None, &writer.manager, Operation::Update, writer.status, rt);
        }
        self.objects.insert(key, obj.clone());
        self.publish(EventType::Added, rt, &ns, obj.clone(), None);
        Ok(obj)
    }

    /// Replaces an existing object with `desired` as the door allows; a no-op when nothing
    /// changes (no new resourceVersion, no event), as the real server skips an unchanged write.
    pub fn update(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        mut desired: Value,
        writer: &Writer,
        operation: Operation,
    ) -> Result<Value, Status> {
        let ns = scope(rt, namespace);
        let key = (rt.key(), ns.clone(), name.to_string());
        let Some(current) = self.objects.get(&key).cloned() else {
            return Err(status::not_found(rt, name));
        };
        let current_rv = current.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("");
        if let Some(asked) = desired.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
            if !asked.is_empty() && asked != current_rv {
                return Err(status::conflict(rt, name));
            }
        }
        fold_string_data(rt, &mut desired);
        if writer.status {
            let mut next = current.clone();
            next["status"] = desired.get("status").cloned().unwrap_or(Value::Null);
            if next["status"].is_null() {
                next.as_object_mut().map(|m| m.remove("status"));
            }
            desired = next;
        } else if writer.http && rt.status {
            match current.get("status") {
                Some(s) => desired["status"] = s.clone(),
                None => {
                    desired.as_object_mut().map(|m| m.remove("status"));
                }
            }
        }
        let meta = metadata_mut(&mut desired);
        for server_owned in ["uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace", "name"] {
            match current["metadata"].get(server_owned) {
                Some(v) => meta.insert(server_owned.into(), v.clone()),
                None => meta.remove(server_owned),
            };
        }
        meta.insert("resourceVersion".into(), json!(current_rv));
        if rt.status && spec_of(&desired) != spec_of(&current) {
            let generation = current.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
            metadata_mut(&mut desired).insert("generation".into(), json!(generation));
        }
        if operation == Operation::Update {
            managed::record(&mut desired, Some(&current), &writer.manager, Operation::Update, writer.status, rt);
        }
        if desired == current {
            return Ok(current);
        }
        self.rv += 1;
        metadata_mut(&mut desired).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let finished = desired.pointer("/metadata/deletionTimestamp").is_some()
            && desired.pointer("/metadata/finalizers").and_then(Value::as_array).is_none_or(Vec::is_empty);
        if finished {
            self.objects.remove(&key);
            self.publish(EventType::Deleted, rt, &ns, desired.clone(), Some(current));
        } else {
            self.objects.insert(key, desired.clone());
            self.publish(EventType::Modified, rt, &ns, desired.clone(), Some(current));
        }
        Ok(desired)
    }

    /// Deletes at once, or (with finalizers) marks for deletion as the real server does.
    pub fn delete(&mut self, rt: &ResourceType, namespace: &str, name: &str) -> Result<Value, Status> {
        let ns = scope(rt, namespace);
        let key = (rt.key(), ns.clone(), name.to_string());
        let Some(current) = self.objects.get(&key).cloned() else {
            return Err(status::not_found(rt, name));
        };
        let mut gone = current.clone();
        self.rv += 1;
        let meta = metadata_mut(&mut gone);
        meta.insert("resourceVersion".into(), json!(self.rv.to_string()));
        let has_finalizers =
            current.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if has_finalizers {
            if current.pointer("/metadata/deletionTimestamp").is_some() {
                self.rv -= 1;
                return Ok(current);
            }
            meta.insert("deletionTimestamp".into(), json!(now()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            self.objects.insert(key, gone.clone());
            self.publish(EventType::Modified, rt, &ns, gone.clone(), Some(current));
        } else {
            self.objects.remove(&key);
            self.publish(EventType::Deleted, rt, &ns, gone.clone(), Some(current));
        }
        Ok(gone)
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.objects.contains_key(&("/namespaces".to_string(), String::new(), ns.to_string()))
    }

    fn generated_suffix(&self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self.rv * 7919 + self.uids;
        (0..5)
            .map(|_| {
                let c = ALPHABET[usize::try_from(n % 27).unwrap_or(0)] as char;
                n /= 27;
                c
            })
            .collect()
    }

    fn publish(&mut self, kind: EventType, rt: &ResourceType, ns: &str, object: Value, previous: Option<Value>) {
        let change =
            Arc::new(Change { rv: self.rv, kind, resource: rt.key(), namespace: ns.to_string(), object, previous });
        if self.history.len() == HISTORY {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        self.history.push_back(Arc::clone(&change));
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(change);
    }
}

fn scope(rt: &ResourceType, namespace: &str) -> String {
    if rt.namespaced {
        namespace.to_string()
    } else {
        String::new()
    }
}

/// What `generation` follows: everything but metadata and status.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

pub fn metadata_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().unwrap_or_else(|| unreachable!("metadata was just made an object"))
}

/// Standard base64 with padding, as Secret `data` holds it.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A Secret's `stringData` is write-only: the server folds it into `data`, base64-encoded.
fn fold_string_data(rt: &ResourceType, obj: &mut Value) {
    if rt.plural != "secrets" {
        return;
    }
    let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) else { return };
    for (k, v) in string_data.as_object().into_iter().flatten() {
        obj["data"][k] = json!(base64(v.as_str().unwrap_or("").as_bytes()));
    }
}

/// Wall-clock time, as a real server stamps it; tests never assert on it.
#[allow(clippy::disallowed_methods)]
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

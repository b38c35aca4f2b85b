//! The resource types the fake serves, and the discovery documents built from them.
//!
//! Discovery is the legacy (unaggregated) form: kubectl asks for the aggregated
//! `apidiscovery.k8s.io/v2` form first but falls back when the answer is a plain `APIGroupList`,
//! which is also all that kube-rs and older kubectls understand.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    pub group: &'static str,
    /// Versions served, preferred first; one storage for all of them, as with a real CRD
    /// whose versions differ only in name.
    pub versions: &'static [&'static str],
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub status: bool,
}

impl ResourceType {
    /// The storage key: version-independent, so every served version sees the same objects.
    pub fn key(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn preferred_version(&self) -> &'static str {
        self.versions[0]
    }

    pub fn serves(&self, version: &str) -> bool {
        self.versions.contains(&version)
    }
}

const fn rt(
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceType {
    ResourceType {
        group,
        versions,
        plural,
        singular,
        kind,
        namespaced,
        short_names: &[],
        categories: &[],
        status: true,
    }
}

const V1: &[&str] = &["v1"];

pub const RESOURCES: &[ResourceType] = &[
    ResourceType { short_names: &["po"], categories: &["all"], ..rt("", V1, "pods", "pod", "Pod", true) },
    ResourceType { short_names: &["svc"], categories: &["all"], ..rt("", V1, "services", "service", "Service", true) },
    ResourceType { status: false, ..rt("", V1, "secrets", "secret", "Secret", true) },
    ResourceType { status: false, short_names: &["cm"], ..rt("", V1, "configmaps", "configmap", "ConfigMap", true) },
    ResourceType {
        short_names: &["pvc"],
        ..rt("", V1, "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true)
    },
    ResourceType { status: false, short_names: &["ev"], ..rt("", V1, "events", "event", "Event", true) },
    ResourceType { short_names: &["ns"], ..rt("", V1, "namespaces", "namespace", "Namespace", false) },
    ResourceType { short_names: &["no"], ..rt("", V1, "nodes", "node", "Node", false) },
    ResourceType {
        short_names: &["deploy"],
        categories: &["all"],
        ..rt("apps", V1, "deployments", "deployment", "Deployment", true)
    },
    ResourceType {
        short_names: &["pdb"],
        ..rt("policy", V1, "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true)
    },
    rt("postgresql.cnpg.io", V1, "clusters", "cluster", "Cluster", true),
    rt("postgresql.cnpg.io", V1, "backups", "backup", "Backup", true),
    rt("postgresql.cnpg.io", V1, "scheduledbackups", "scheduledbackup", "ScheduledBackup", true),
    rt("postgresql.cnpg.io", V1, "poolers", "pooler", "Pooler", true),
    rt("postgresql.cnpg.io", V1, "databases", "database", "Database", true),
    ResourceType {
        short_names: &["es"],
        ..rt("external-secrets.io", &["v1", "v1beta1"], "externalsecrets", "externalsecret", "ExternalSecret", true)
    },
];

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.group == group && r.plural == plural && r.serves(version))
}

pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    let (group, version) = split_api_version(api_version);
    RESOURCES.iter().find(|r| r.group == group && r.kind == kind && r.serves(version))
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

fn groups() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !out.contains(&r.group) {
            out.push(r.group);
        }
    }
    out
}

fn group_versions(group: &str) -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        for v in r.versions {
            if !out.contains(v) {
                out.push(v);
            }
        }
    }
    out
}

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-fake", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.0",
        "compiler": "gc", "platform": "linux/amd64"
    })
}

pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}]
    })
}

fn group_doc(group: &str) -> Value {
    let versions: Vec<Value> =
        group_versions(group).iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
}

pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(group_doc).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub fn group(group: &str) -> Option<Value> {
    groups().contains(&group).then(|| {
        let mut doc = group_doc(group);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        doc
    })
}

pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceType> = RESOURCES.iter().filter(|r| r.group == group && r.serves(version)).collect();
    if served.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for r in served {
        let verbs = ["create", "delete", "get", "list", "patch", "update", "watch"];
        resources.push(json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
            "verbs": verbs, "shortNames": r.short_names, "categories": r.categories,
        }));
        if r.status {
            resources.push(json!({
                "name": format!("{}/status", r.plural), "singularName": "", "namespaced": r.namespaced,
                "kind": r.kind, "verbs": ["get", "patch", "update"],
            }));
        }
        if r.plural == "pods" {
            for (sub, kind, verbs) in [
                ("proxy", "PodProxyOptions", json!(["create", "delete", "get", "patch", "update"])),
                ("portforward", "PodPortForwardOptions", json!(["create", "get"])),
                ("exec", "PodExecOptions", json!(["create", "get"])),
                ("log", "Pod", json!(["get"])),
            ] {
                resources.push(json!({"name": format!("pods/{sub}"), "singularName": "", "namespaced": true,
                    "kind": kind, "verbs": verbs}));
            }
        }
        if r.plural == "nodes" {
            resources.push(json!({"name": "nodes/proxy", "singularName": "", "namespaced": false,
                "kind": "NodeProxyOptions", "verbs": ["create", "delete", "get", "patch", "update"]}));
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}))
}

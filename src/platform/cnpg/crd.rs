//! CNPG's custom resources, as much of them as pgdeck reads. Hand-written partial models: every
//! field is optional (CNPG omits empty ones) and unknown fields are ignored, so any operator
//! release from 1.22 on deserialises. Field meanings are in `../shared/reference/cnpg-api.md`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::NamespaceResourceScope;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "postgresql.cnpg.io";
pub const VERSION: &str = "v1";
pub const API_VERSION: &str = "postgresql.cnpg.io/v1";

/// Implements `kube::Resource` for a CNPG kind, so `Api<Kind>` and the runtime watcher take it.
macro_rules! cnpg_resource {
    ($kind:ident, $plural:literal) => {
        impl kube::Resource for $kind {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;
            fn kind((): &()) -> Cow<'_, str> {
                Cow::Borrowed(stringify!($kind))
            }
            fn group((): &()) -> Cow<'_, str> {
                Cow::Borrowed(GROUP)
            }
            fn version((): &()) -> Cow<'_, str> {
                Cow::Borrowed(VERSION)
            }
            fn plural((): &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Cluster {
    pub metadata: ObjectMeta,
    pub spec: ClusterSpec,
    pub status: ClusterStatus,
}
cnpg_resource!(Cluster, "clusters");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterSpec {
    pub instances: u32,
    pub image_name: Option<String>,
    pub backup: Option<ClusterBackup>,
    /// Barman Cloud Plugin and other CNPG-I plugins; a WAL-archiver plugin means `method: plugin`.
    pub plugins: Vec<PluginSpec>,
    /// User-provided certificates; absent, the operator makes its own.
    pub certificates: Option<CertificatesSpec>,
    /// The Secret holding the superuser's login, where not CNPG's own `<cluster>-superuser`.
    pub superuser_secret: Option<LocalObjectReference>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalObjectReference {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CertificatesSpec {
    /// The Secret whose `ca.crt` signed the servers' certificates (default `<cluster>-ca`).
    #[serde(rename = "serverCASecret")]
    pub server_ca_secret: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterBackup {
    pub retention_policy: Option<String>,
    pub barman_object_store: Option<Value>,
    pub volume_snapshot: Option<Value>,
    pub target: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginSpec {
    pub name: String,
    pub enabled: Option<bool>,
    #[serde(rename = "isWALArchiver")]
    pub is_wal_archiver: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterStatus {
    pub phase: Option<String>,
    pub phase_reason: Option<String>,
    pub instances: Option<u32>,
    pub ready_instances: Option<u32>,
    pub instances_status: BTreeMap<String, Vec<String>>,
    pub instance_names: Vec<String>,
    pub instances_reported_state: BTreeMap<String, ReportedState>,
    pub current_primary: Option<String>,
    pub target_primary: Option<String>,
    #[serde(rename = "timelineID")]
    pub timeline_id: Option<u32>,
    pub first_recoverability_point: Option<String>,
    /// Kept as raw JSON: a promote copies and edits them, and a merge patch replaces the array.
    pub conditions: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportedState {
    pub is_primary: bool,
    #[serde(rename = "timeLineID")]
    pub timeline_id: Option<u32>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterRef {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Backup {
    /// Set on the objects pgdeck creates, as the API server expects of a request body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
    pub spec: BackupSpec,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BackupStatus>,
}
cnpg_resource!(Backup, "backups");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupSpec {
    pub cluster: ClusterRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_configuration: Option<PluginConfiguration>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginConfiguration {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BackupStatus {
    pub phase: Option<String>,
    pub method: Option<String>,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    pub begin_wal: Option<String>,
    pub end_wal: Option<String>,
    pub backup_id: Option<String>,
    /// The name the backup was archived under; a restore from the object store must ask for it.
    pub server_name: Option<String>,
    pub error: Option<String>,
    pub command_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduledBackup {
    pub metadata: ObjectMeta,
    pub spec: ScheduledBackupSpec,
    pub status: ScheduledBackupStatus,
}
cnpg_resource!(ScheduledBackup, "scheduledbackups");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduledBackupSpec {
    pub cluster: ClusterRef,
    pub schedule: String,
    pub suspend: Option<bool>,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduledBackupStatus {
    pub last_schedule_time: Option<String>,
    pub next_schedule_time: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Pooler {
    pub metadata: ObjectMeta,
    pub spec: PoolerSpec,
    pub status: PoolerStatus,
}
cnpg_resource!(Pooler, "poolers");

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolerSpec {
    pub cluster: ClusterRef,
    /// `rw` (the default), `ro` or `r`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub instances: Option<u32>,
    pub pgbouncer: PgBouncerSpec,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PgBouncerSpec {
    pub pool_mode: Option<String>,
    pub paused: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PoolerStatus {
    pub instances: Option<u32>,
    /// Since CNPG 1.30: `active`, `paused`, `inactive`, `failed`.
    pub phase: Option<String>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_cluster_fixture_deserialises() {
        let text = include_str!("../../../tests/fixtures/cnpg/cluster.json");
        let cluster: Cluster = serde_json::from_str(text).unwrap();
        assert_eq!(cluster.status.current_primary.as_deref(), Some("postgres-cluster-1"));
        assert_eq!(cluster.status.instances_status["healthy"].len(), 3);
        assert_eq!(cluster.status.instances_reported_state["postgres-cluster-1"].timeline_id, Some(1));
        assert_eq!(cluster.status.timeline_id, Some(1));
        assert_eq!(cluster.spec.backup.unwrap().retention_policy.as_deref(), Some("30d"));
        let backups: Vec<Backup> =
            serde_json::from_str(include_str!("../../../tests/fixtures/cnpg/backups.json")).unwrap();
        assert_eq!(backups[2].status.as_ref().unwrap().phase.as_deref(), Some("failed"));
    }
}

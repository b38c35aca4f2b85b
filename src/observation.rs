//! Everything the console learns arrives as an `Observation`, in past tense.
//! A source error is an Observation too, never a `Result` the loop has to handle.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::action::{ActionOutcome, ActionRequest};
use crate::model::{
    Backend, BackupCatalog, ClusterPhase, DatabaseRow, MemberReport, MemberSample, PlatformEvent, PoolerReport,
    RoleRow, StatementRow, VolumeUsage,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub at: DateTime<Utc>,
    /// Which source said it.
    pub source: SourceId,
    pub kind: ObservationKind,
}

/// Which source said something: one set shared by both platforms, compared as values (never as
/// text), and serialised under stable names. Recordings made before these names were fixed used
/// the platforms' own (`patroni`, `cnpg`, `pgbackrest`, `kubelet`); they read as the same sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceId {
    /// The HA manager's view of the members: Patroni's REST API, or the CNPG Cluster and its pods.
    HaManager,
    /// SQL on the members: one source per member (Patroni), or one for all (CNPG, `member: None`).
    Sql {
        member: Option<String>,
    },
    /// A new connection to a member, tried now and then: a member whose open session still
    /// answers may accept no new one.
    Connect {
        member: String,
    },
    /// Volume usage: a member's data directory (Patroni), or the kubelets' stats (CNPG, `member: None`).
    Volumes {
        member: Option<String>,
    },
    Pooler,
    /// The backup catalog: pgBackRest's, or CNPG's Backup objects.
    Backups,
    /// The Kubernetes Events about the cluster's objects.
    KubeEvents,
    Dispatcher,
    Clock,
    /// A name this version does not know (a recording from a newer one), kept as it was.
    Other(String),
}

impl SourceId {
    pub fn sql(member: &str) -> Self {
        SourceId::Sql { member: Some(member.to_owned()) }
    }
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceId::HaManager => f.write_str("ha-manager"),
            SourceId::Sql { member: Some(m) } => write!(f, "sql:{m}"),
            SourceId::Sql { member: None } => f.write_str("sql"),
            SourceId::Connect { member } => write!(f, "connect:{member}"),
            SourceId::Volumes { member: Some(m) } => write!(f, "volume:{m}"),
            SourceId::Volumes { member: None } => f.write_str("volumes"),
            SourceId::Pooler => f.write_str("pooler"),
            SourceId::Backups => f.write_str("backups"),
            SourceId::KubeEvents => f.write_str("kube-events"),
            SourceId::Dispatcher => f.write_str("dispatcher"),
            SourceId::Clock => f.write_str("clock"),
            SourceId::Other(name) => f.write_str(name),
        }
    }
}

impl From<&str> for SourceId {
    fn from(name: &str) -> Self {
        let member = |rest: &str| rest.to_owned();
        match name {
            "ha-manager" | "patroni" | "cnpg" => SourceId::HaManager,
            "sql" => SourceId::Sql { member: None },
            "volumes" | "kubelet" => SourceId::Volumes { member: None },
            "pooler" => SourceId::Pooler,
            "backups" | "pgbackrest" => SourceId::Backups,
            "kube-events" => SourceId::KubeEvents,
            "dispatcher" => SourceId::Dispatcher,
            "clock" => SourceId::Clock,
            _ => {
                if let Some(m) = name.strip_prefix("sql:") {
                    SourceId::Sql { member: Some(member(m)) }
                } else if let Some(m) = name.strip_prefix("connect:") {
                    SourceId::Connect { member: member(m) }
                } else if let Some(m) = name.strip_prefix("volume:") {
                    SourceId::Volumes { member: Some(member(m)) }
                } else {
                    SourceId::Other(name.to_owned())
                }
            }
        }
    }
}

impl Serialize for SourceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(SourceId::from(name.as_ref()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ObservationKind {
    /// The cluster's identity, once per source start.
    ClusterIdentified {
        cluster: String,
        platform: String,
        configured_members: Vec<String>,
    },
    /// The HA manager's full member list at one moment; members missing from it are gone.
    MembersListed {
        members: Vec<MemberReport>,
    },
    /// Whether the HA manager acts on its own (false) or is in maintenance mode (true).
    MaintenanceModeObserved {
        paused: bool,
    },
    /// SQL on one member answered.
    MemberSampled {
        member: String,
        sample: MemberSample,
    },
    /// A member's health facts: archiving, slots, locks, transactions, connections, xid age,
    /// pending restarts, checkpoints (read every few seconds, not every refresh).
    HealthSampled {
        member: String,
        health: Box<crate::health::HealthSample>,
    },
    /// A member accepted a new session (and it was closed again).
    NewConnectionAccepted {
        member: String,
    },
    /// What runs on a member now, and its busiest statements (cumulative counters).
    WorkloadSampled {
        member: String,
        backends: Vec<Backend>,
        statements: Vec<StatementRow>,
    },
    /// Databases and roles as one member's catalog lists them.
    CatalogListed {
        member: String,
        databases: Vec<DatabaseRow>,
        roles: Vec<RoleRow>,
    },
    VolumeSampled {
        member: String,
        usage: VolumeUsage,
    },
    PoolerObserved {
        pooler: PoolerReport,
    },
    /// The operator's view of the whole cluster: phase and conditions (CNPG).
    ClusterPhaseObserved {
        phase: ClusterPhase,
    },
    /// The platform's own events about the cluster's objects (Kubernetes Events), newest last.
    PlatformEventsObserved {
        events: Vec<PlatformEvent>,
    },
    BackupsListed {
        catalog: BackupCatalog,
    },
    /// A source could not do its job; `member` when it concerns one member.
    SourceFailed {
        member: Option<String>,
        error: String,
        /// Recordings made before sources said what kind of failure it was read as `other`.
        #[serde(default, skip_serializing_if = "FailureKind::is_other")]
        failure: FailureKind,
    },
    ActionRequested {
        request: ActionRequest,
    },
    ActionFinished {
        request: ActionRequest,
        outcome: ActionOutcome,
    },
    /// The Dispatcher refused a request (read-only, unconfirmed, already running, a precondition):
    /// nothing was started, but an incident's timeline must show that it was asked for.
    ActionRefused {
        request: ActionRequest,
        reason: String,
    },
    /// The clock moved; nothing else happened.
    Tick,
}

/// How a source failed. A refusal is definite (nothing listens there now); a timeout may be a
/// slow member or a dead one, so it counts as definite only when it repeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The connection was refused: no server listens on the member's address.
    Refused,
    /// No answer within the source's timeout.
    Timeout,
    #[default]
    Other,
}

impl FailureKind {
    pub fn is_other(&self) -> bool {
        *self == FailureKind::Other
    }
}

impl ObservationKind {
    /// A source's failure of no particular kind.
    pub fn failed(member: Option<String>, error: String) -> Self {
        Self::SourceFailed { member, error, failure: FailureKind::Other }
    }
}

impl Observation {
    pub fn new(at: DateTime<Utc>, source: SourceId, kind: ObservationKind) -> Self {
        Self { at, source, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_keep_their_names_and_old_recordings_read_as_the_same_sources() {
        for id in [
            SourceId::HaManager,
            SourceId::sql("m1"),
            SourceId::Sql { member: None },
            SourceId::Connect { member: "m1".into() },
            SourceId::Volumes { member: Some("m1".into()) },
            SourceId::Volumes { member: None },
            SourceId::Pooler,
            SourceId::Backups,
            SourceId::KubeEvents,
            SourceId::Dispatcher,
            SourceId::Clock,
            SourceId::Other("from-a-newer-pgdeck".into()),
        ] {
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<SourceId>(&json).unwrap(), id, "{json}");
        }
        for (old, now) in [
            ("patroni", SourceId::HaManager),
            ("cnpg", SourceId::HaManager),
            ("pgbackrest", SourceId::Backups),
            ("kubelet", SourceId::Volumes { member: None }),
            ("volume:m2", SourceId::Volumes { member: Some("m2".into()) }),
        ] {
            assert_eq!(serde_json::from_str::<SourceId>(&format!("\"{old}\"")).unwrap(), now, "{old}");
        }
        // A failure written before failures had a kind reads as `other`, and `other` is not written.
        let old = r#"{"type":"source_failed","member":"m1","error":"refused"}"#;
        let kind: ObservationKind = serde_json::from_str(old).unwrap();
        assert_eq!(kind, ObservationKind::failed(Some("m1".into()), "refused".into()));
        assert_eq!(serde_json::to_string(&kind).unwrap(), old);
    }
}

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
    /// Which source said it: `patroni`, `sql:member-1`, `pgbackrest`, `pooler`, `dispatcher`, `clock`.
    pub source: String,
    pub kind: ObservationKind,
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
    },
    ActionRequested {
        request: ActionRequest,
    },
    ActionFinished {
        request: ActionRequest,
        outcome: ActionOutcome,
    },
    /// The clock moved; nothing else happened.
    Tick,
}

impl Observation {
    pub fn new(at: DateTime<Utc>, source: impl Into<String>, kind: ObservationKind) -> Self {
        Self { at, source: source.into(), kind }
    }
}

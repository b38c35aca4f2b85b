//! The timeline: what happened, in the order it was learnt.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::action::{ActionOutcome, ActionRequest};
use crate::model::{BackupStatus, PlatformEvent, Role};
use crate::state::{Finding, Severity};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    RoleObserved {
        member: String,
        role: Role,
        before: Option<Role>,
    },
    LeaderChanged {
        from: Option<String>,
        to: Option<String>,
    },
    MemberLeft {
        member: String,
    },
    MaintenanceModeChanged {
        paused: bool,
    },
    FindingRaised {
        finding: Finding,
    },
    FindingCleared {
        finding: Finding,
    },
    /// A finding still in force became more or less severe (a blocker past 60 s, say).
    FindingSeverityChanged {
        finding: Finding,
        before: Severity,
    },
    BackupAppeared {
        id: String,
        status: BackupStatus,
    },
    ActionRequested {
        request: ActionRequest,
    },
    ActionFinished {
        request: ActionRequest,
        outcome: ActionOutcome,
    },
    ActionRefused {
        request: ActionRequest,
        reason: String,
    },
    /// The operator moved the cluster to another phase (CNPG's `status.phase`).
    ClusterPhaseChanged {
        from: String,
        to: String,
        reason: Option<String>,
    },
    /// The platform's own event (a Kubernetes Event) about one of the cluster's objects.
    PlatformEvent {
        event: PlatformEvent,
    },
}

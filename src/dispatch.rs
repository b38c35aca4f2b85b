//! The Dispatcher: the only code that calls a mutating platform method. It enforces read-only,
//! re-checks the confirmation and the preconditions against the current State, writes the audit
//! record, then runs the call in a task whose outcome comes back as an Observation.
//!
//! It also remembers what it started until that outcome is written: the State learns of a
//! request only when its `ActionRequested` comes round the observation queue, and keys queued
//! behind the first confirmation are handled before that, so only the Dispatcher can tell that a
//! second press would start the same thing twice. Every accepted request ends in the audit trail
//! with exactly one `finished` (its outcome, or its timeout) or `abandoned` (the console gave up
//! waiting for it) line.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::action::{Action, ActionOutcome, ActionRequest};
use crate::audit::{AuditLog, Entry};
use crate::clock;
use crate::observation::{Observation, ObservationKind, SourceId};
use crate::platform::Platform;
use crate::secrets::Revealed;
use crate::state::State;

pub use crate::preconditions::{check_recovery_target, preconditions};

/// Why an action was not started. Shown to the operator as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    ReadOnly,
    NoPlatform,
    Unconfirmed {
        expected: String,
    },
    /// The same kind of action (or another move of the leader) is still running.
    AlreadyRunning {
        action: String,
        request_id: u64,
        since: DateTime<Utc>,
    },
    Precondition(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ReadOnly => f.write_str("refused: pgdeck runs read-only; restart it without --read-only to act"),
            Refusal::NoPlatform => {
                f.write_str("refused: this session has no cluster to act on (a replay is read-only)")
            }
            Refusal::Unconfirmed { expected } => write!(f, "refused: not confirmed; type `{expected}` to confirm"),
            Refusal::AlreadyRunning { action, request_id, since } => write!(
                f,
                "refused: {action} is already running (request {request_id}, since {} UTC); its outcome appears in Events",
                since.format("%H:%M:%S")
            ),
            Refusal::Precondition(why) => write!(f, "refused: {why}"),
        }
    }
}

pub struct Dispatcher {
    platform: Option<Arc<dyn Platform>>,
    read_only: bool,
    audit: AuditLog,
    user: String,
    next_id: u64,
    outcomes: mpsc::Sender<Observation>,
    /// Where a revealed password goes: the console's screen, and nowhere else.
    reveals: Option<mpsc::Sender<Revealed>>,
    running: Vec<Running>,
    /// How long each kind of action may take; tests shorten it.
    timeout_for: fn(&Action) -> Duration,
}

/// An accepted request whose last audit line is not written yet.
struct Running {
    request: ActionRequest,
    /// When its task stops waiting for the platform and reports a timeout.
    deadline: tokio::time::Instant,
    /// Claimed by whoever writes the request's last audit line, its task (the outcome) or
    /// [`Dispatcher::abandon_all`]: exactly one of them writes it.
    ended: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Running {
    fn ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }
}

/// A request still running, as the console lists it while it waits on quitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub request: ActionRequest,
    /// How long its task may still wait for the platform before it reports a timeout.
    pub left: Duration,
}

impl Dispatcher {
    pub fn new(
        platform: Option<Arc<dyn Platform>>,
        read_only: bool,
        audit: AuditLog,
        user: String,
        outcomes: mpsc::Sender<Observation>,
    ) -> Self {
        Self { platform, read_only, audit, user, next_id: 1, outcomes, reveals: None, running: Vec::new(), timeout_for }
    }

    /// Lets this Dispatcher serve `RevealPassword`, handing the password to `reveals` alone.
    #[must_use]
    pub fn revealing_to(mut self, reveals: mpsc::Sender<Revealed>) -> Self {
        self.reveals = Some(reveals);
        self
    }

    /// Requests still running (their outcome not written yet), oldest first.
    pub fn pending(&mut self) -> Vec<Pending> {
        self.running.retain(|r| !r.ended());
        let now = tokio::time::Instant::now();
        self.running
            .iter()
            .map(|r| Pending { request: r.request.clone(), left: r.deadline.saturating_duration_since(now) })
            .collect()
    }

    /// When the last running request's own timeout ends, if any runs.
    pub fn last_deadline(&self) -> Option<tokio::time::Instant> {
        self.running.iter().filter(|r| !r.ended()).map(|r| r.deadline).max()
    }

    /// Why `action` cannot start while what runs now runs: the same kind (a second backup, a
    /// second restore), or a second move of the leader.
    pub fn already_running(&self, action: &Action) -> Option<Refusal> {
        let leadership = |a: &Action| matches!(a, Action::Switchover { .. } | Action::Failover { .. });
        let clash = |running: &Action| {
            std::mem::discriminant(running) == std::mem::discriminant(action)
                || (leadership(running) && leadership(action))
        };
        self.running.iter().find(|r| !r.ended() && clash(&r.request.action)).map(|r| Refusal::AlreadyRunning {
            action: r.request.action.to_string(),
            request_id: r.request.id,
            since: r.request.requested_at,
        })
    }

    /// Gives up on every request still running: each gets its `abandoned` audit line with
    /// `reason`, and its task is dropped where it is (a pgbackrest it runs dies with it, being
    /// spawned kill-on-drop; a REST call already sent is not undone). Returns them.
    pub fn abandon_all(&mut self, reason: &str) -> Vec<ActionRequest> {
        let identity = self.identity();
        let mut abandoned = Vec::new();
        for running in self.running.drain(..) {
            // A task that wrote its outcome meanwhile keeps it; the others' outcome is unknown.
            if !running.ended.swap(true, Ordering::SeqCst) {
                let request = &running.request;
                let entry = Entry {
                    at: clock::now(),
                    user: &request.requested_by,
                    target: &identity,
                    request_id: Some(request.id),
                    action: &request.action,
                };
                self.audit.abandoned(&entry, reason);
                abandoned.push(running.request.clone());
            }
            running.task.abort();
        }
        abandoned
    }

    fn identity(&self) -> String {
        self.platform.as_ref().map_or_else(|| "none".to_owned(), |p| p.identity())
    }

    /// Checks and starts `action`; the outcome arrives later as `ActionFinished`.
    pub fn submit(
        &mut self,
        action: Action,
        confirmation: Option<String>,
        state: &State,
    ) -> Result<ActionRequest, Refusal> {
        self.running.retain(|r| !r.ended());
        let request = ActionRequest {
            id: self.next_id,
            action,
            requested_at: clock::now(),
            requested_by: self.user.clone(),
            confirmation,
        };
        self.next_id += 1;
        let identity = self.identity();
        let entry = Entry {
            at: request.requested_at,
            user: &request.requested_by,
            target: &identity,
            request_id: Some(request.id),
            action: &request.action,
        };
        if let Err(refusal) = self.check(&request, state) {
            self.audit.refused(&entry, &refusal.to_string());
            self.tell_refused(request, &refusal);
            return Err(refusal);
        }
        let Some(platform) = self.platform.clone() else { return Err(Refusal::NoPlatform) };
        self.audit.requested(&entry);
        let leader = state.leader_name().map(str::to_owned);
        let (audit, tx, req, target) = (self.audit.clone(), self.outcomes.clone(), request.clone(), identity.clone());
        let reveals = self.reveals.clone();
        let timeout = (self.timeout_for)(&request.action);
        let ended = Arc::new(AtomicBool::new(false));
        let claimed = ended.clone();
        let task = tokio::spawn(async move {
            // Sent from the task, awaited: a full queue delays the request's observation rather
            // than dropping it (submit cannot wait), and it always precedes its outcome.
            let requested = ObservationKind::ActionRequested { request: req.clone() };
            let _ = tx.send(Observation::new(req.requested_at, SourceId::Dispatcher, requested)).await;
            // A panic in platform code still ends the request with an outcome line.
            let call = AssertUnwindSafe(run(platform.as_ref(), &req.action, leader.as_deref(), reveals)).catch_unwind();
            let outcome = match tokio::time::timeout(timeout, call).await {
                Ok(Ok(Ok(detail))) => ActionOutcome::Succeeded { detail },
                Ok(Ok(Err(e))) => ActionOutcome::Failed { error: format!("{e:#}") },
                Ok(Err(_)) => ActionOutcome::Failed {
                    error: "pgdeck failed inside the action (see pgdeck.log); check the cluster".into(),
                },
                Err(_) => ActionOutcome::Failed {
                    error: format!("no outcome within {}s; check the cluster", timeout.as_secs()),
                },
            };
            if claimed.swap(true, Ordering::SeqCst) {
                return; // abandoned meanwhile: that is its last audit line
            }
            let at = clock::now();
            audit.finished(
                &Entry { at, user: &req.requested_by, target: &target, request_id: Some(req.id), action: &req.action },
                &outcome,
            );
            let _ = tx
                .send(Observation::new(
                    at,
                    SourceId::Dispatcher,
                    ObservationKind::ActionFinished { request: req, outcome },
                ))
                .await;
        });
        let deadline = tokio::time::Instant::now() + timeout;
        self.running.push(Running { request: request.clone(), deadline, ended, task });
        Ok(request)
    }

    /// The operator closed a confirmation without confirming: nothing is started, but it is audited.
    pub fn cancelled(&self, action: &Action) {
        let identity = self.identity();
        let entry = Entry { at: clock::now(), user: &self.user, target: &identity, request_id: None, action };
        self.audit.cancelled(&entry);
    }

    fn check(&self, request: &ActionRequest, state: &State) -> Result<(), Refusal> {
        self.check_unconfirmed(&request.action, state)?;
        if let Some(expected) = request.action.confirmation_phrase(&state.cluster) {
            if request.confirmation.as_deref() != Some(expected.as_str()) {
                return Err(Refusal::Unconfirmed { expected });
            }
        }
        preconditions(&request.action, state).map_err(Refusal::Precondition)
    }

    /// Everything but the typed confirmation.
    fn check_unconfirmed(&self, action: &Action, state: &State) -> Result<(), Refusal> {
        if self.read_only {
            return Err(Refusal::ReadOnly);
        }
        if self.platform.is_none() {
            return Err(Refusal::NoPlatform);
        }
        if let Some(busy) = self.already_running(action) {
            return Err(busy);
        }
        preconditions(action, state).map_err(Refusal::Precondition)
    }

    /// Before a confirmation opens: an action that cannot succeed now is refused, and audited as
    /// a refused request, before anyone types a name for it. [`Self::submit`] asks again against
    /// the State as it is when the confirmation arrives.
    pub fn precheck(&mut self, action: &Action, state: &State) -> Result<(), Refusal> {
        self.running.retain(|r| !r.ended());
        let Err(refusal) = self.check_unconfirmed(action, state) else { return Ok(()) };
        let request = ActionRequest {
            id: self.next_id,
            action: action.clone(),
            requested_at: clock::now(),
            requested_by: self.user.clone(),
            confirmation: None,
        };
        self.next_id += 1;
        let identity = self.identity();
        let entry = Entry {
            at: request.requested_at,
            user: &self.user,
            target: &identity,
            request_id: Some(request.id),
            action,
        };
        self.audit.refused(&entry, &refusal.to_string());
        self.tell_refused(request, &refusal);
        Err(refusal)
    }

    /// A refusal joins the observations too, so the timeline, recordings and `report` show what
    /// was asked for and why it was not done. Sent by a task, awaited, as `ActionRequested` is:
    /// a full queue delays it rather than dropping it.
    fn tell_refused(&self, request: ActionRequest, refusal: &Refusal) {
        let at = request.requested_at;
        let refused = Observation::new(
            at,
            SourceId::Dispatcher,
            ObservationKind::ActionRefused { request, reason: refusal.to_string() },
        );
        let tx = self.outcomes.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = tx.send(refused).await;
                });
            }
            // Outside a runtime nothing awaits the queue; a full one loses only the timeline's line,
            // the audit trail has it.
            Err(_) => {
                let _ = tx.try_send(refused);
            }
        }
    }
}

async fn run(
    platform: &dyn Platform,
    action: &Action,
    leader: Option<&str>,
    reveals: Option<mpsc::Sender<Revealed>>,
) -> anyhow::Result<String> {
    match action {
        Action::Switchover { candidate } => {
            let leader = leader.ok_or_else(|| anyhow::anyhow!("no leader"))?;
            platform.switchover(leader, candidate.as_deref()).await
        }
        Action::Failover { candidate } => platform.failover(candidate).await,
        Action::Backup { kind } => platform.backup(*kind).await,
        Action::CancelBackend { member, pid } => platform.signal_backend(member, *pid, false).await,
        Action::TerminateBackend { member, pid } => platform.signal_backend(member, *pid, true).await,
        Action::Restore { backup, target_time, new_cluster } => {
            platform.restore(backup, *target_time, new_cluster).await
        }
        Action::CreateDatabase { name, owner } => platform.create_database(name, owner).await,
        Action::CreateUser { name, database } => platform.create_user(name, database).await,
        Action::RotatePassword { user } => platform.rotate_password(user).await,
        Action::Apply { objects, .. } => platform.apply(objects).await,
        Action::RevealPassword { user } => {
            let Some(reveals) = reveals else {
                anyhow::bail!("a password is shown only in the console, on its reveal key")
            };
            let revealed = platform.reveal_password(user).await?;
            let detail = format!("the password of {} (from {}) shown on screen", revealed.username, revealed.location);
            reveals.send(revealed).await.map_err(|_| anyhow::anyhow!("the console closed before it could show it"))?;
            Ok(detail)
        }
    }
}

fn timeout_for(action: &Action) -> Duration {
    match action {
        Action::Switchover { .. } | Action::Failover { .. } => Duration::from_secs(120),
        // A restore copies the backup, replays WAL and builds two replicas.
        Action::Backup { .. } | Action::Restore { .. } => Duration::from_secs(3600),
        Action::CancelBackend { .. } | Action::TerminateBackend { .. } | Action::RevealPassword { .. } => {
            Duration::from_secs(30)
        }
        Action::CreateDatabase { .. }
        | Action::CreateUser { .. }
        | Action::RotatePassword { .. }
        | Action::Apply { .. } => Duration::from_secs(60),
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;

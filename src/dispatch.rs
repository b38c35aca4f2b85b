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
use crate::model::{BackupReport, BackupStatus, Role};
use crate::names::{check_cluster_name, check_identifier, NameKind};
use crate::observation::{Observation, ObservationKind};
use crate::platform::Platform;
use crate::secrets::Revealed;
use crate::state::State;

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
            let _ = tx.send(Observation::new(req.requested_at, "dispatcher", requested)).await;
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
                .send(Observation::new(at, "dispatcher", ObservationKind::ActionFinished { request: req, outcome }))
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
        if self.read_only {
            return Err(Refusal::ReadOnly);
        }
        if self.platform.is_none() {
            return Err(Refusal::NoPlatform);
        }
        if let Some(busy) = self.already_running(&request.action) {
            return Err(busy);
        }
        if let Some(expected) = request.action.confirmation_phrase(&state.cluster) {
            if request.confirmation.as_deref() != Some(expected.as_str()) {
                return Err(Refusal::Unconfirmed { expected });
            }
        }
        preconditions(&request.action, state).map_err(Refusal::Precondition)
    }
}

/// What must hold in the current State for `action` to make sense. Whether one like it runs
/// already is [`Dispatcher::already_running`]'s to say, not the State's, which hears of a
/// request only after the keys queued behind it were handled.
pub fn preconditions(action: &Action, state: &State) -> Result<(), String> {
    let members = state.member_views();
    match action {
        Action::Switchover { candidate } => {
            let Some(leader) = state.leader_name() else {
                return Err("there is no leader to switch over from; use failover".into());
            };
            let Some(candidate) = candidate else { return Ok(()) };
            if candidate == leader {
                return Err(format!("{candidate} is already the leader"));
            }
            let Some(member) = members.iter().find(|m| &m.name == candidate) else {
                return Err(format!("{candidate} is not a member of {}", state.cluster));
            };
            if member.role != Role::Replica {
                return Err(format!("{candidate} is not a running replica"));
            }
            if member.replication_state.as_deref() != Some("streaming") {
                return Err(format!("{candidate} is not streaming from the leader"));
            }
            let limit = state.thresholds.switchover_max_lag_bytes;
            match member.lag_bytes {
                Some(lag) if lag <= limit => Ok(()),
                Some(lag) => Err(format!("{candidate} lags {lag} bytes, more than the {limit} bytes allowed")),
                None => Err(format!("{candidate}'s lag is unknown")),
            }
        }
        Action::Failover { candidate } => {
            if let Some(leader) = state.leader_name() {
                return Err(format!("{leader} is a healthy leader; use switchover"));
            }
            match members.iter().find(|m| &m.name == candidate) {
                Some(m) if m.role == Role::Replica => Ok(()),
                Some(_) => Err(format!("{candidate} is not a running replica")),
                None => Err(format!("{candidate} is not a member of {}", state.cluster)),
            }
        }
        Action::CancelBackend { member, pid } | Action::TerminateBackend { member, pid } => {
            let running = state
                .workload
                .get(member)
                .and_then(|w| w.backends.as_ref())
                .is_some_and(|b| b.value.iter().any(|b| b.pid == *pid));
            if running {
                Ok(())
            } else {
                Err(format!("backend {pid} is not running on {member} (it may have ended)"))
            }
        }
        Action::CreateDatabase { .. } | Action::CreateUser { .. } => creation_preconditions(action, state),
        Action::RotatePassword { user } | Action::RevealPassword { user } => {
            let catalog = state.leader_catalog()?;
            match catalog.roles.iter().find(|r| &r.name == user) {
                Some(role) if role.login => Ok(()),
                Some(_) => Err(format!("{user} cannot log in: it has no password")),
                None => Err(format!("there is no role `{user}` on the leader")),
            }
        }
        Action::Restore { backup, target_time, new_cluster } => {
            restore_preconditions(backup, *target_time, new_cluster, state)
        }
        Action::Backup { .. } => {
            let running = state
                .backups
                .as_ref()
                .is_some_and(|b| b.value.backups.iter().any(|b| b.status == BackupStatus::Running));
            if running {
                return Err("a backup is already running".into());
            }
            Ok(())
        }
        // Applying is idempotent and may find nothing there yet: there is nothing to check first.
        Action::Apply { .. } => Ok(()),
    }
}

/// New names must be valid and free on the leader; the owner and the database must exist there.
fn creation_preconditions(action: &Action, state: &State) -> Result<(), String> {
    match action {
        Action::CreateDatabase { name, owner } => {
            let catalog = state.leader_catalog()?;
            check_identifier(NameKind::Database, name, catalog.databases.iter().map(|d| d.name.as_str()))?;
            if catalog.roles.iter().any(|r| &r.name == owner) {
                Ok(())
            } else {
                Err(format!("the owner `{owner}` is not a role on the leader"))
            }
        }
        Action::CreateUser { name, database } => {
            let catalog = state.leader_catalog()?;
            check_identifier(NameKind::Role, name, catalog.roles.iter().map(|r| r.name.as_str()))?;
            if catalog.databases.iter().any(|d| &d.name == database) {
                Ok(())
            } else {
                Err(format!("there is no database `{database}` on the leader"))
            }
        }
        _ => Ok(()),
    }
}

/// A restore needs a complete backup, a new cluster name and a time it can reach.
fn restore_preconditions(
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
    state: &State,
) -> Result<(), String> {
    check_cluster_name(new_cluster, &state.cluster)?;
    let backups = state.backups.as_ref().map(|b| b.value.backups.as_slice()).unwrap_or_default();
    let Some(chosen) = backups.iter().find(|b| b.id == backup) else {
        return Err(format!("there is no backup `{backup}` in the repository"));
    };
    if chosen.status != BackupStatus::Completed {
        return Err(format!("backup {backup} is not complete"));
    }
    match target_time {
        Some(target) => check_recovery_target(chosen, target, state.now),
        None => Ok(()),
    }
}

/// A point in time a restore of `backup` can reach: after the backup ended, and not in the future.
pub fn check_recovery_target(
    backup: &BackupReport,
    target: DateTime<Utc>,
    now: Option<DateTime<Utc>>,
) -> Result<(), String> {
    if let Some(stopped) = backup.stopped_at.filter(|stopped| target < *stopped) {
        return Err(format!(
            "{} is before backup {} finished ({}); choose a later time or an older backup",
            target.format("%Y-%m-%d %H:%M:%S UTC"),
            backup.id,
            stopped.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if now.is_some_and(|now| target > now) {
        return Err("that time is in the future".into());
    }
    Ok(())
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
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::action::BackupKind;
    use crate::model::MemberSample;
    use crate::source::Source;
    use crate::spec::ThresholdsSpec;
    use crate::testing::{backup_catalog, completed_backup, database, report, role, sample, streaming};

    /// Counts the mutating calls that reach it: the Dispatcher's guard is what is under test.
    /// Held, its backups and switchovers wait for `release` before they answer.
    #[derive(Default)]
    struct CountingPlatform {
        calls: AtomicUsize,
        held: bool,
        release: tokio::sync::Notify,
    }

    impl CountingPlatform {
        async fn hold(&self) {
            if self.held {
                self.release.notified().await;
            }
        }
    }

    #[async_trait]
    impl Platform for CountingPlatform {
        fn identity(&self) -> String {
            "test-platform".into()
        }
        fn sources(&self) -> Vec<Box<dyn Source>> {
            Vec::new()
        }
        fn describe(&self, action: &Action, _: Option<&str>) -> String {
            action.to_string()
        }
        async fn switchover(&self, _: &str, candidate: Option<&str>) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.hold().await;
            Ok(format!("switched to {candidate:?}"))
        }
        async fn failover(&self, _: &str) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok("failed over".into())
        }
        async fn signal_backend(&self, _: &str, _: i32, _: bool) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok("signalled".into())
        }
        async fn backup(&self, _: BackupKind) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.hold().await;
            anyhow::bail!("disk full")
        }
        async fn restore(&self, _: &str, _: Option<DateTime<Utc>>, _: &str) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok("restored".into())
        }
        async fn create_database(&self, _: &str, _: &str) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok("created".into())
        }
        async fn create_user(&self, _: &str, _: &str) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok("created".into())
        }
        async fn rotate_password(&self, _: &str) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok("rotated".into())
        }
        async fn apply(&self, objects: &[serde_json::Value]) -> anyhow::Result<String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(format!("{} applied", objects.len()))
        }
        async fn reveal_password(&self, user: &str) -> anyhow::Result<Revealed> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let password = crate::secrets::Secret::new(REVEALED_PASSWORD);
            Ok(Revealed { username: user.into(), location: "the test store".into(), password })
        }
    }

    const REVEALED_PASSWORD: &str = "revealed-Pa55word";

    /// m1 leads; m2 streams and is caught up; m3 is a replica 100 MiB behind and not streaming.
    fn state() -> State {
        let mut s = State::new(ThresholdsSpec::default());
        let at = clock::now();
        let apply = |s: &mut State, source: &str, kind| s.apply(&Observation::new(at, source, kind));
        apply(
            &mut s,
            "patroni",
            ObservationKind::MembersListed {
                members: vec![
                    report("m1", Role::Primary, 1),
                    report("m2", Role::Replica, 2),
                    report("m3", Role::Replica, 3),
                ],
            },
        );
        let big = 200 * 1024 * 1024;
        let leader = sample(true, big, vec![streaming("m2")]);
        apply(&mut s, "sql:m1", ObservationKind::MemberSampled { member: "m1".into(), sample: leader });
        apply(
            &mut s,
            "sql:m2",
            ObservationKind::MemberSampled { member: "m2".into(), sample: sample(false, big, vec![]) },
        );
        // m3 is far behind and has no WAL receiver: it does not stream.
        let disconnected = MemberSample { receiver_status: None, ..sample(false, 0, vec![]) };
        apply(&mut s, "sql:m3", ObservationKind::MemberSampled { member: "m3".into(), sample: disconnected });
        s.cluster = "c".into();
        s
    }

    fn dispatcher(
        read_only: bool,
        audit: AuditLog,
    ) -> (Dispatcher, Arc<CountingPlatform>, mpsc::Receiver<Observation>) {
        let platform = Arc::new(CountingPlatform::default());
        let (tx, rx) = mpsc::channel(8);
        let d = Dispatcher::new(Some(platform.clone()), read_only, audit, "tester".into(), tx);
        (d, platform, rx)
    }

    fn switch_to(name: &str) -> Action {
        Action::Switchover { candidate: Some(name.into()) }
    }

    #[tokio::test]
    async fn a_full_queue_delays_the_requests_observation_but_never_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        let platform = Arc::new(CountingPlatform::default());
        let (tx, mut rx) = mpsc::channel(1);
        tx.send(Observation::new(clock::now(), "sql:m1", ObservationKind::Tick)).await.unwrap();
        let audit = AuditLog::daily(dir.path(), "local").unwrap();
        let mut d = Dispatcher::new(Some(platform.clone()), false, audit, "tester".into(), tx);
        let request = d.submit(switch_to("m2"), Some("m2".into()), &state()).unwrap();
        tokio::task::yield_now().await;
        let mut kinds = Vec::new();
        while kinds.len() < 3 {
            let next = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
            let observation = next.unwrap_or_else(|_| panic!("only {kinds:?} arrived")).unwrap();
            kinds.push(match observation.kind {
                ObservationKind::Tick => "tick".to_owned(),
                ObservationKind::ActionRequested { request: r } => format!("requested {}", r.id),
                ObservationKind::ActionFinished { request: r, .. } => format!("finished {}", r.id),
                other => format!("{other:?}"),
            });
        }
        let id = request.id;
        assert_eq!(kinds, ["tick".to_owned(), format!("requested {id}"), format!("finished {id}")]);
    }

    #[tokio::test]
    async fn read_only_refuses_every_action_audits_it_and_never_reaches_the_platform() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, platform, _rx) = dispatcher(true, AuditLog::daily(dir.path(), "local").unwrap());
        let every_action = [
            (switch_to("m2"), Some("m2".to_owned())),
            (Action::Switchover { candidate: None }, Some("c".to_owned())),
            (Action::Failover { candidate: "m2".into() }, Some("m2".to_owned())),
            (Action::Backup { kind: BackupKind::Full }, None),
            (Action::Backup { kind: BackupKind::Differential }, None),
            (Action::Backup { kind: BackupKind::Incremental }, None),
            (Action::CancelBackend { member: "m1".into(), pid: 7 }, None),
            (Action::TerminateBackend { member: "m1".into(), pid: 7 }, Some("7".to_owned())),
            (restore_to("orders-copy"), Some("orders-copy".to_owned())),
            (Action::CreateDatabase { name: "orders".into(), owner: "app".into() }, None),
            (Action::CreateUser { name: "alice".into(), database: "app".into() }, None),
            (Action::RotatePassword { user: "app".into() }, Some("app".to_owned())),
            (Action::RevealPassword { user: "app".into() }, None),
        ];
        for (action, confirmation) in every_action.clone() {
            assert_eq!(d.submit(action, confirmation, &state()).unwrap_err(), Refusal::ReadOnly);
        }
        tokio::task::yield_now().await;
        assert_eq!(platform.calls.load(Ordering::SeqCst), 0);
        let audit = crate::audit::read_all(dir.path());
        assert_eq!(audit.lines().filter(|l| l.contains("\"refused\"")).count(), every_action.len());
        d.cancelled(&switch_to("m2"));
        let last: serde_json::Value =
            serde_json::from_str(crate::audit::read_all(dir.path()).lines().last().unwrap()).unwrap();
        assert_eq!((last["event"].as_str(), last["action"].as_str()), (Some("cancelled"), Some("switchover")));
        assert_eq!((last["target"].as_str(), last["platform"].as_str()), (Some("local"), Some("test-platform")));
        assert_eq!(last["parameters"]["candidate"], "m2");
    }

    #[tokio::test]
    async fn disruptive_actions_need_the_typed_name() {
        let (mut d, platform, _rx) = dispatcher(false, AuditLog::disabled());
        let s = state();
        assert_eq!(d.submit(switch_to("m2"), None, &s).unwrap_err(), Refusal::Unconfirmed { expected: "m2".into() });
        assert_eq!(
            d.submit(switch_to("m2"), Some("m3".into()), &s).unwrap_err(),
            Refusal::Unconfirmed { expected: "m2".into() }
        );
        let any = Action::Switchover { candidate: None };
        assert_eq!(d.submit(any, Some("m2".into()), &s).unwrap_err(), Refusal::Unconfirmed { expected: "c".into() });
        assert_eq!(platform.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn preconditions_are_checked_against_the_state() {
        let s = state();
        assert!(preconditions(&switch_to("m1"), &s).unwrap_err().contains("already the leader"));
        assert!(preconditions(&switch_to("m9"), &s).unwrap_err().contains("not a member"));
        assert!(preconditions(&switch_to("m3"), &s).unwrap_err().contains("not streaming"));
        assert!(preconditions(&switch_to("m2"), &s).is_ok());
        assert!(preconditions(&Action::Failover { candidate: "m2".into() }, &s)
            .unwrap_err()
            .contains("use switchover"));
    }

    fn restore_to(name: &str) -> Action {
        Action::Restore { backup: "20261125-020000F".into(), target_time: None, new_cluster: name.into() }
    }

    /// The state above, with the leader's catalog (database `app` owned by `app`) and one backup.
    fn state_with_catalog() -> State {
        let mut s = state();
        let listed = ObservationKind::CatalogListed {
            member: "m1".into(),
            databases: vec![database("app", "app")],
            roles: vec![role("app"), role("postgres")],
        };
        let stopped = clock::now() - chrono::Duration::hours(1);
        let backups = ObservationKind::BackupsListed {
            catalog: backup_catalog(vec![completed_backup("20261125-020000F", stopped)]),
        };
        s.apply(&Observation::new(clock::now(), "sql:m1", listed));
        s.apply(&Observation::new(clock::now(), "pgbackrest", backups));
        s
    }

    #[test]
    fn new_names_are_checked_against_the_leaders_catalog() {
        let create_db = |name: &str, owner: &str| Action::CreateDatabase { name: name.into(), owner: owner.into() };
        let create_user = |name: &str, db: &str| Action::CreateUser { name: name.into(), database: db.into() };
        let unknown = preconditions(&create_db("orders", "app"), &state()).unwrap_err();
        assert!(unknown.contains("have not been read yet"), "{unknown}");
        let s = state_with_catalog();
        assert!(preconditions(&create_db("orders", "app"), &s).is_ok());
        assert!(preconditions(&create_db("app", "app"), &s).unwrap_err().contains("already exists"));
        assert!(preconditions(&create_db("orders", "nobody"), &s).unwrap_err().contains("not a role"));
        let injected = preconditions(&create_db("x\"; DROP DATABASE postgres; --", "app"), &s).unwrap_err();
        assert!(injected.contains("is not allowed"), "{injected}");
        assert!(preconditions(&create_user("alice", "app"), &s).is_ok());
        assert!(preconditions(&create_user("app", "app"), &s).unwrap_err().contains("already exists"));
        assert!(preconditions(&create_user("alice", "nope"), &s).unwrap_err().contains("no database `nope`"));
    }

    #[test]
    fn a_restore_needs_a_complete_backup_a_new_name_and_a_reachable_time() {
        let s = state_with_catalog();
        assert!(preconditions(&restore_to("orders-copy"), &s).is_ok());
        assert!(preconditions(&restore_to("c"), &s).unwrap_err().contains("never replaces"));
        let missing = Action::Restore { backup: "nope".into(), target_time: None, new_cluster: "x".into() };
        assert!(preconditions(&missing, &s).unwrap_err().contains("no backup `nope`"));
        let before = Action::Restore {
            backup: "20261125-020000F".into(),
            target_time: Some(clock::now() - chrono::Duration::hours(2)),
            new_cluster: "x".into(),
        };
        assert!(preconditions(&before, &s).unwrap_err().contains("before backup"));
        let future = Action::Restore {
            backup: "20261125-020000F".into(),
            target_time: Some(clock::now() + chrono::Duration::hours(2)),
            new_cluster: "x".into(),
        };
        assert!(preconditions(&future, &s).unwrap_err().contains("in the future"));
    }

    #[test]
    fn a_backend_that_is_gone_is_not_signalled() {
        let s = state();
        let refused = preconditions(&Action::TerminateBackend { member: "m1".into(), pid: 99 }, &s).unwrap_err();
        assert!(refused.contains("not running on m1"), "{refused}");
    }

    #[tokio::test]
    async fn a_revealed_password_goes_to_the_console_alone_and_the_audit_says_who_looked() {
        let dir = tempfile::tempdir().unwrap();
        let (d, platform, mut rx) = dispatcher(false, AuditLog::daily(dir.path(), "local").unwrap());
        let s = state_with_catalog();
        let reveal = |user: &str| Action::RevealPassword { user: user.into() };
        assert!(preconditions(&reveal("nobody"), &s).unwrap_err().contains("no role `nobody`"));

        // Without a screen to show it on (the CLI), nothing is read.
        let (mut cli, _, mut cli_rx) = dispatcher(false, AuditLog::disabled());
        cli.submit(reveal("app"), None, &s).unwrap();
        let outcome = loop {
            if let ObservationKind::ActionFinished { outcome, .. } = cli_rx.recv().await.unwrap().kind {
                break outcome;
            }
        };
        assert!(matches!(&outcome, ActionOutcome::Failed { error } if error.contains("only in the console")));

        let (screen_tx, mut screen) = mpsc::channel(1);
        let mut d = d.revealing_to(screen_tx);
        d.submit(reveal("app"), None, &s).unwrap();
        let shown = screen.recv().await.unwrap();
        assert_eq!((shown.username.as_str(), shown.password.expose()), ("app", REVEALED_PASSWORD));
        let mut observed = String::new();
        while let Some(o) = rx.recv().await {
            observed.push_str(&serde_json::to_string(&o.kind).unwrap());
            if let ObservationKind::ActionFinished { outcome, .. } = o.kind {
                assert!(matches!(&outcome, ActionOutcome::Succeeded { detail } if detail.contains("shown on screen")));
                break;
            }
        }
        assert_eq!(platform.calls.load(Ordering::SeqCst), 1);
        let audit = crate::audit::read_all(dir.path());
        assert!(audit.contains("reveal-password") && audit.contains("\"tester\""), "{audit}");
        for text in [&observed, &audit] {
            assert!(!text.contains(REVEALED_PASSWORD), "the password leaked: {text}");
        }
    }

    #[tokio::test]
    async fn accepted_action_runs_once_reports_its_outcome_and_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, platform, mut rx) = dispatcher(false, AuditLog::daily(dir.path(), "local").unwrap());
        let request = d.submit(Action::Backup { kind: BackupKind::Full }, None, &state()).unwrap();
        let mut finished = None;
        while let Some(o) = rx.recv().await {
            if let ObservationKind::ActionFinished { request: r, outcome } = o.kind {
                finished = Some((r, outcome));
                break;
            }
        }
        let (r, outcome) = finished.unwrap();
        assert_eq!(r.id, request.id);
        assert_eq!(outcome, ActionOutcome::Failed { error: "disk full".into() });
        assert_eq!(platform.calls.load(Ordering::SeqCst), 1);
        let audit = crate::audit::read_all(dir.path());
        let events: Vec<String> = audit
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events, ["requested", "finished"]);
        assert!(audit.contains("\"user\":\"tester\"") && audit.contains("test-platform"));
    }

    /// A dispatcher whose backups and switchovers wait for `release`.
    fn held(audit: AuditLog) -> (Dispatcher, Arc<CountingPlatform>, mpsc::Receiver<Observation>) {
        let platform = Arc::new(CountingPlatform { held: true, ..CountingPlatform::default() });
        let (tx, rx) = mpsc::channel(8);
        let d = Dispatcher::new(Some(platform.clone()), false, audit, "tester".into(), tx);
        (d, platform, rx)
    }

    async fn finished(rx: &mut mpsc::Receiver<Observation>) -> (ActionRequest, ActionOutcome) {
        while let Some(o) = rx.recv().await {
            if let ObservationKind::ActionFinished { request, outcome } = o.kind {
                return (request, outcome);
            }
        }
        panic!("the dispatcher's queue closed without an outcome")
    }

    /// The audit trail as (event, request id) pairs.
    fn events(dir: &std::path::Path) -> Vec<(String, Option<u64>)> {
        crate::audit::read_all(dir)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| (v["event"].as_str().unwrap().to_owned(), v["request_id"].as_u64()))
            .collect()
    }

    /// The State hears of a request only when its `ActionRequested` comes round the queue; a
    /// second confirmation handled before that must still be refused.
    #[tokio::test]
    async fn a_second_backup_while_one_runs_is_refused_until_the_first_has_its_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, platform, mut rx) = held(AuditLog::daily(dir.path(), "local").unwrap());
        let s = state();
        let first = d.submit(Action::Backup { kind: BackupKind::Full }, None, &s).unwrap();
        let again = d.submit(Action::Backup { kind: BackupKind::Incremental }, None, &s).unwrap_err();
        assert!(matches!(again, Refusal::AlreadyRunning { request_id, .. } if request_id == first.id), "{again:?}");
        assert!(again.to_string().contains("full backup is already running (request 1, since "), "{again}");
        assert_eq!(d.already_running(&Action::Backup { kind: BackupKind::Full }), Some(again));
        // Another kind of action is not held up by it.
        assert_eq!(d.already_running(&switch_to("m2")), None);
        assert_eq!(d.pending().len(), 1);

        platform.release.notify_one();
        let (done, _) = finished(&mut rx).await;
        assert_eq!(done.id, first.id);
        assert!(d.pending().is_empty());
        let third = d.submit(Action::Backup { kind: BackupKind::Full }, None, &s).unwrap();
        platform.release.notify_one();
        assert_eq!(finished(&mut rx).await.0.id, third.id);
        assert_eq!(platform.calls.load(Ordering::SeqCst), 2);
        let trail = events(dir.path());
        let expected = [("requested", 1), ("refused", 2), ("finished", 1), ("requested", 3), ("finished", 3)];
        assert_eq!(trail, expected.map(|(e, id)| (e.to_owned(), Some(id))));
    }

    #[tokio::test]
    async fn a_failover_is_refused_while_a_switchover_runs() {
        let (mut d, platform, _rx) = held(AuditLog::disabled());
        d.submit(switch_to("m2"), Some("m2".into()), &state()).unwrap();
        let failover = Action::Failover { candidate: "m2".into() };
        let refused = d.submit(failover, Some("m2".into()), &state()).unwrap_err();
        assert!(refused.to_string().contains("switchover to m2 is already running"), "{refused}");
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(platform.calls.load(Ordering::SeqCst), 1, "only the switchover reached the platform");
    }

    #[tokio::test]
    async fn a_platform_that_never_answers_ends_in_a_timeout_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let (d, _platform, mut rx) = held(AuditLog::daily(dir.path(), "local").unwrap());
        let mut d = Dispatcher { timeout_for: |_| Duration::from_millis(50), ..d };
        let request = d.submit(Action::Backup { kind: BackupKind::Full }, None, &state()).unwrap();
        let (done, outcome) = finished(&mut rx).await;
        assert_eq!(done.id, request.id);
        assert_eq!(outcome, ActionOutcome::Failed { error: "no outcome within 0s; check the cluster".into() });
        assert_eq!(events(dir.path()), [("requested".to_owned(), Some(1)), ("finished".to_owned(), Some(1))]);
        assert!(d.pending().is_empty(), "a timed-out request no longer holds up another");
    }

    #[tokio::test]
    async fn abandoning_ends_each_running_request_with_one_line_and_stops_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, platform, mut rx) = held(AuditLog::daily(dir.path(), "local").unwrap());
        let done = d.submit(switch_to("m2"), Some("m2".into()), &state()).unwrap();
        platform.release.notify_one();
        finished(&mut rx).await;
        let running = d.submit(Action::Backup { kind: BackupKind::Full }, None, &state()).unwrap();
        let abandoned = d.abandon_all("the operator quit");
        assert_eq!(abandoned, vec![running.clone()], "{done:?} had its outcome already");
        assert!(d.pending().is_empty());
        // Released after it was given up on, the call reports nothing more.
        platform.release.notify_one();
        tokio::task::yield_now().await;
        let trail = crate::audit::read_all(dir.path());
        let last: serde_json::Value = serde_json::from_str(trail.lines().last().unwrap()).unwrap();
        assert_eq!((last["event"].as_str(), last["request_id"].as_u64()), (Some("abandoned"), Some(running.id)));
        assert_eq!(last["reason"], "the operator quit");
        let ends = events(dir.path()).into_iter().filter(|(e, _)| e == "finished" || e == "abandoned").count();
        assert_eq!(ends, 2, "{trail}");
    }
}

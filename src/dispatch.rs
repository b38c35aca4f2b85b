//! The Dispatcher: the only code that calls a mutating platform method. It enforces read-only,
//! re-checks the confirmation and the preconditions against the current State, writes the audit
//! record, then runs the call in a task whose outcome comes back as an Observation.

use std::fmt;

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

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
    Unconfirmed { expected: String },
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
}

impl Dispatcher {
    pub fn new(
        platform: Option<Arc<dyn Platform>>,
        read_only: bool,
        audit: AuditLog,
        user: String,
        outcomes: mpsc::Sender<Observation>,
    ) -> Self {
        Self { platform, read_only, audit, user, next_id: 1, outcomes, reveals: None }
    }

    /// Lets this Dispatcher serve `RevealPassword`, handing the password to `reveals` alone.
    #[must_use]
    pub fn revealing_to(mut self, reveals: mpsc::Sender<Revealed>) -> Self {
        self.reveals = Some(reveals);
        self
    }

    /// Checks and starts `action`; the outcome arrives later as `ActionFinished`.
    pub fn submit(
        &mut self,
        action: Action,
        confirmation: Option<String>,
        state: &State,
    ) -> Result<ActionRequest, Refusal> {
        let request = ActionRequest {
            id: self.next_id,
            action,
            requested_at: clock::now(),
            requested_by: self.user.clone(),
            confirmation,
        };
        self.next_id += 1;
        let identity = self.platform.as_ref().map_or_else(|| "none".to_owned(), |p| p.identity());
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
        let _ = self.outcomes.try_send(Observation::new(
            request.requested_at,
            "dispatcher",
            ObservationKind::ActionRequested { request: request.clone() },
        ));
        tokio::spawn(async move {
            let call = run(platform.as_ref(), &req.action, leader.as_deref(), reveals);
            let outcome = match tokio::time::timeout(timeout_for(&req.action), call).await {
                Ok(Ok(detail)) => ActionOutcome::Succeeded { detail },
                Ok(Err(e)) => ActionOutcome::Failed { error: format!("{e:#}") },
                Err(_) => ActionOutcome::Failed {
                    error: format!("no outcome within {}s; check the cluster", timeout_for(&req.action).as_secs()),
                },
            };
            let at = clock::now();
            audit.finished(
                &Entry { at, user: &req.requested_by, target: &target, request_id: Some(req.id), action: &req.action },
                &outcome,
            );
            let _ = tx
                .send(Observation::new(at, "dispatcher", ObservationKind::ActionFinished { request: req, outcome }))
                .await;
        });
        Ok(request)
    }

    /// The operator closed a confirmation without confirming: nothing is started, but it is audited.
    pub fn cancelled(&self, action: &Action) {
        let identity = self.platform.as_ref().map_or_else(|| "none".to_owned(), |p| p.identity());
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
        if let Some(expected) = request.action.confirmation_phrase(&state.cluster) {
            if request.confirmation.as_deref() != Some(expected.as_str()) {
                return Err(Refusal::Unconfirmed { expected });
            }
        }
        preconditions(&request.action, state).map_err(Refusal::Precondition)
    }
}

/// What must hold in the current State for `action` to make sense.
pub fn preconditions(action: &Action, state: &State) -> Result<(), String> {
    let busy =
        state.actions_in_flight.values().find(|r| std::mem::discriminant(&r.action) == std::mem::discriminant(action));
    if let Some(running) = busy {
        return Err(format!("{} is already in progress (request {})", running.action, running.id));
    }
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
        Action::CreateDatabase { .. } | Action::CreateUser { .. } | Action::RotatePassword { .. } => {
            Duration::from_secs(60)
        }
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
    #[derive(Default)]
    struct CountingPlatform {
        calls: AtomicUsize,
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

    #[test]
    fn an_action_in_flight_is_not_started_twice() {
        let mut s = state();
        let request = ActionRequest {
            id: 7,
            action: Action::Backup { kind: BackupKind::Full },
            requested_at: clock::now(),
            requested_by: "x".into(),
            confirmation: None,
        };
        s.apply(&Observation::new(clock::now(), "dispatcher", ObservationKind::ActionRequested { request }));
        let again = preconditions(&Action::Backup { kind: BackupKind::Incremental }, &s).unwrap_err();
        assert!(again.contains("already in progress"), "{again}");
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
}

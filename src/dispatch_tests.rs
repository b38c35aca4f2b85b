//! The Dispatcher's guard, tested against a platform that counts the calls that reach it.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::action::BackupKind;
use crate::model::{MemberSample, Role};
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
    let apply = |s: &mut State, source: &str, kind| s.apply(&Observation::new(at, source.into(), kind));
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
    apply(&mut s, "sql:m2", ObservationKind::MemberSampled { member: "m2".into(), sample: sample(false, big, vec![]) });
    // m3 is far behind and has no WAL receiver: it does not stream.
    let disconnected = MemberSample { receiver_status: None, ..sample(false, 0, vec![]) };
    apply(&mut s, "sql:m3", ObservationKind::MemberSampled { member: "m3".into(), sample: disconnected });
    s.cluster = "c".into();
    s
}

fn dispatcher(read_only: bool, audit: AuditLog) -> (Dispatcher, Arc<CountingPlatform>, mpsc::Receiver<Observation>) {
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
    tx.send(Observation::new(clock::now(), "sql:m1".into(), ObservationKind::Tick)).await.unwrap();
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

#[tokio::test]
async fn what_cannot_succeed_is_refused_and_audited_before_a_confirmation_opens() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, platform, mut rx) = dispatcher(false, AuditLog::daily(dir.path(), "local").unwrap());
    let s = state();
    // A healthy leader: no failover, said at the key.
    let failover = Action::Failover { candidate: "m2".into() };
    let refusal = d.precheck(&failover, &s).unwrap_err();
    assert!(refusal.to_string().contains("m1 is a healthy leader; use switchover"), "{refusal}");
    assert!(d.precheck(&switch_to("m3"), &s).unwrap_err().to_string().contains("m3 is not streaming"));
    // What can succeed opens its confirmation: nothing is audited yet, and no name was needed.
    assert_eq!(d.precheck(&switch_to("m2"), &s), Ok(()));
    assert_eq!(events(dir.path()), [("refused".to_owned(), Some(1)), ("refused".to_owned(), Some(2))]);
    // The refusals join the timeline too, with the request as asked and the reason as shown.
    for id in [1, 2] {
        let next = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        let ObservationKind::ActionRefused { request, reason } = next.kind else { panic!("{next:?}") };
        assert_eq!((request.id, request.requested_by.as_str(), request.confirmation), (id, "tester", None));
        assert!(reason.starts_with("refused: m"), "{reason}");
    }
    // A leader SQL cannot reach still holds its lock: the refusal says so, not "healthy".
    let mut dead = state();
    let at = clock::now();
    let refused = ObservationKind::SourceFailed {
        member: Some("m1".into()),
        error: "connection refused".into(),
        failure: crate::observation::FailureKind::Refused,
    };
    dead.apply(&Observation::new(at, "sql:m1".into(), refused));
    let refusal = d.precheck(&failover, &dead).unwrap_err().to_string();
    assert!(refusal.contains("m1 still holds the leader lock, though SQL cannot reach it"), "{refusal}");
    assert_eq!(platform.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_candidate_whose_streaming_is_not_known_yet_is_not_called_not_streaming() {
    let mut s = State::new(ThresholdsSpec::default());
    let members = vec![report("m1", Role::Primary, 1), report("m2", Role::Replica, 2)];
    s.apply(&Observation::new(clock::now(), "patroni".into(), ObservationKind::MembersListed { members }));
    let why = preconditions(&switch_to("m2"), &s).unwrap_err();
    assert!(why.contains("whether m2 streams is not known yet"), "{why}");
}

#[test]
fn preconditions_are_checked_against_the_state() {
    let s = state();
    assert!(preconditions(&switch_to("m1"), &s).unwrap_err().contains("already the leader"));
    assert!(preconditions(&switch_to("m9"), &s).unwrap_err().contains("not a member"));
    assert!(preconditions(&switch_to("m3"), &s).unwrap_err().contains("not streaming"));
    assert!(preconditions(&switch_to("m2"), &s).is_ok());
    assert!(preconditions(&Action::Failover { candidate: "m2".into() }, &s).unwrap_err().contains("use switchover"));
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
    let backups =
        ObservationKind::BackupsListed { catalog: backup_catalog(vec![completed_backup("20261125-020000F", stopped)]) };
    s.apply(&Observation::new(clock::now(), "sql:m1".into(), listed));
    s.apply(&Observation::new(clock::now(), "pgbackrest".into(), backups));
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

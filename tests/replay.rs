//! Recordings without a cluster: written by the Recorder, damaged on purpose, replayed headless
//! by the real binary at 60x, and reported.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DateTime, Duration, TimeZone, Utc};
use pgdeck::action::{Action, ActionOutcome, ActionRequest, BackupKind};
use pgdeck::model::{Backend, BackupCatalog, BackupReport, BackupStatus, MemberReport, Role};
use pgdeck::observation::{Observation, ObservationKind};
use pgdeck::record::{Header, Recorder, SCHEMA_VERSION};
use pgdeck::spec::ThresholdsSpec;
use serde_json::Value;

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn member(name: &str, role: Role) -> MemberReport {
    MemberReport {
        name: name.into(),
        role,
        state: if role == Role::Primary { "running" } else { "streaming" }.into(),
        host: "127.0.0.1".into(),
        port: 5432,
        api_url: None,
        timeline: Some(1),
        manager_lag_bytes: Some(0),
        sync_standby: false,
        pending_restart: false,
    }
}

fn backup(id: &str, started: i64) -> BackupReport {
    BackupReport {
        id: id.into(),
        kind: "full".into(),
        method: "pgbackrest".into(),
        status: BackupStatus::Completed,
        started_at: Some(t(started)),
        stopped_at: Some(t(started + 5)),
        size_bytes: Some(1 << 20),
        repository_bytes: None,
        wal_start: None,
        wal_stop: None,
        error: None,
    }
}

fn request(id: u64, action: Action, at: i64) -> ActionRequest {
    ActionRequest { id, action, requested_at: t(at), requested_by: "sre".into(), confirmation: None }
}

/// Two minutes of a 3-member cluster: a switchover to m2 asked for at 60 s, seen at 63 s; a
/// backup asked for at 80 s, listed at 90 s; a password caught in a query text at 30 s.
fn session() -> Vec<Observation> {
    let obs = |s, source: &str, kind| Observation::new(t(s), source.into(), kind);
    let switchover = request(1, Action::Switchover { candidate: Some("m2".into()) }, 60);
    let backup_request = request(2, Action::Backup { kind: BackupKind::Full }, 80);
    let mut out = vec![obs(
        0,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: vec!["m1".into(), "m2".into(), "m3".into()],
        },
    )];
    for s in 0..120 {
        let leader = if s < 63 { "m1" } else { "m2" };
        let members = ["m1", "m2", "m3"]
            .iter()
            .map(|m| member(m, if *m == leader { Role::Primary } else { Role::Replica }))
            .collect();
        out.push(obs(s, "patroni", ObservationKind::MembersListed { members }));
        let backups = if s < 90 { vec![backup("old", -3600)] } else { vec![backup("old", -3600), backup("new", 81)] };
        if s % 10 == 0 {
            let catalog = BackupCatalog { backups, ..BackupCatalog::default() };
            out.push(obs(s, "pgbackrest", ObservationKind::BackupsListed { catalog }));
        }
        match s {
            30 => out.push(obs(
                s,
                "sql:m1",
                ObservationKind::WorkloadSampled {
                    member: "m1".into(),
                    backends: vec![Backend {
                        pid: 7,
                        user: Some("postgres".into()),
                        database: None,
                        application: None,
                        client: None,
                        state: Some("active".into()),
                        wait_event_type: None,
                        wait_event: None,
                        running_seconds: Some(0.1),
                        query: Some("ALTER ROLE app PASSWORD 'hunter2-secret'".into()),
                        blocked_by: vec![],
                    }],
                    statements: vec![],
                },
            )),
            60 => out.push(obs(s, "dispatcher", ObservationKind::ActionRequested { request: switchover.clone() })),
            64 => {
                let outcome = ActionOutcome::Succeeded { detail: "switched over to m2".into() };
                let kind = ObservationKind::ActionFinished { request: switchover.clone(), outcome };
                out.push(obs(s, "dispatcher", kind));
            }
            80 => out.push(obs(s, "dispatcher", ObservationKind::ActionRequested { request: backup_request.clone() })),
            88 => {
                let outcome = ActionOutcome::Succeeded { detail: "full backup completed".into() };
                let kind = ObservationKind::ActionFinished { request: backup_request.clone(), outcome };
                out.push(obs(s, "dispatcher", kind));
            }
            _ => {}
        }
        out.push(obs(s, "clock", ObservationKind::Tick));
    }
    out
}

fn record(path: &Path) {
    let header = Header::new("local", "patroni http://127.0.0.1:8008", t(0), 1000, ThresholdsSpec::default());
    let recorder = Recorder::create(path, &header).unwrap();
    for observation in session() {
        recorder.record(&observation);
    }
    drop(recorder);
}

fn pgdeck(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgdeck")).args(args).env("PGDECK_HOME", home).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_recording_with_a_corrupted_middle_line_replays_with_the_skip_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incident.jsonl");
    record(&file);
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(!written.contains("hunter2"), "a password reached the recording");
    assert!(written.contains("PASSWORD '***'"));
    let mut lines: Vec<String> = written.lines().map(str::to_owned).collect();
    // A clock tick in the middle: the facts around it replay the same without it.
    let middle = (lines.len() / 2..lines.len()).find(|i| lines[*i].contains("\"tick\"")).unwrap();
    lines[middle].truncate(25);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let out = pgdeck(dir.path(), &["replay", file.to_str().unwrap(), "--headless", "--speed", "60", "--dump-state"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = format!("{}:{}: not an observation (", file.display(), middle + 1);
    assert!(text(&out.stderr).contains(&expected) && text(&out.stderr).contains("); skipped"), "{}", text(&out.stderr));
    let dump: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dump["replayed"], dump["observations"]);
    assert_eq!(dump["skipped"].as_array().unwrap().len(), 1);
    let roles: Vec<(String, String)> = dump["status"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_owned(), m["role"].as_str().unwrap().to_owned()))
        .collect();
    assert!(roles.contains(&("m2".into(), "primary".into())) && roles.contains(&("m1".into(), "replica".into())));
    assert_eq!(dump["status"]["backups"]["count"], 2);
    let events = dump["events"].as_array().unwrap();
    let kinds: Vec<&Value> = events.iter().map(|e| &e["kind"]).collect();
    let leader_changed = kinds.iter().any(|e| e["type"] == "leader_changed" && e["from"] == "m1" && e["to"] == "m2");
    let backup_appeared = kinds.iter().any(|e| e["type"] == "backup_appeared" && e["id"] == "new");
    let finished = kinds.iter().filter(|e| e["type"] == "action_finished").count();
    assert!(leader_changed && backup_appeared && finished == 2, "{events:#?}");

    let report = pgdeck(dir.path(), &["report", file.to_str().unwrap()]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let markdown = text(&report.stdout);
    assert!(markdown.contains("| switchover (#1) | m1 | m2 | 2026-11-25 12:01:00 UTC"), "{markdown}");
    assert!(markdown.contains("| 3.0 s |"), "{markdown}");
    assert!(markdown.contains("full backup | succeeded: full backup completed | 8.0 s"), "{markdown}");
    assert!(markdown.contains(&expected), "the report names the skipped line:\n{markdown}");
    let json = pgdeck(dir.path(), &["report", file.to_str().unwrap(), "--format", "json"]);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["leader_changes"][0]["duration_seconds"], 3.0);
    assert_eq!(report["backups"][0]["id"], "new");
    assert_eq!(report["actions"].as_array().unwrap().len(), 2);
}

#[test]
fn a_recording_from_another_schema_version_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("future.jsonl");
    record(&file);
    let current = format!("\"schema_version\":{SCHEMA_VERSION}");
    let newer = format!("\"schema_version\":{}", SCHEMA_VERSION + 1);
    let written = std::fs::read_to_string(&file).unwrap().replacen(&current, &newer, 1);
    std::fs::write(&file, written).unwrap();
    for args in [vec!["replay", file.to_str().unwrap(), "--headless"], vec!["report", file.to_str().unwrap()]] {
        let out = pgdeck(dir.path(), &args);
        assert!(!out.status.success());
        let e = text(&out.stderr);
        assert!(e.contains(&format!("schema version {}", SCHEMA_VERSION + 1)) && e.contains("newer pgdeck"), "{e}");
    }
}

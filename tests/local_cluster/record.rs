//! Incident walkthroughs against the real cluster: a console session recorded through a manual
//! backup and a switchover (plus an action refused and one cancelled), replayed headless at 60x
//! into the same State, reported with the switchover's duration, and audited without a password.
//! Then a recording console killed outright keeps all but its last second.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::{healthy, wait_for_sql_facts, SETTLE};
use crate::support::local_cluster::{describe, leader, members, LocalCluster};
use crate::support::tmux::Tmux;

fn console(cluster: &LocalCluster, record: &Path) -> Tmux {
    let home = cluster.root.join("home");
    Tmux::start(
        Path::new(env!("CARGO_BIN_EXE_pgdeck")),
        &["--dir", cluster.dir().to_str().unwrap(), "--record", record.to_str().unwrap()],
        &[("PGDECK_HOME", home.to_str().unwrap()), ("TERM", "xterm-256color")],
        160,
        48,
    )
}

fn three_members(console: &Tmux) -> String {
    console.wait_for("three members with their roles", SETTLE, |screen| {
        let rows = |role: &str| screen.lines().filter(|l| l.contains("│postgres-cluster-") && l.contains(role)).count();
        rows(" primary ") == 1 && rows(" replica ") == 2
    })
}

fn roles(doc: &Value) -> BTreeMap<String, String> {
    members(doc).iter().map(|m| (m["name"].as_str().unwrap().to_owned(), m["role"].to_string())).collect()
}

/// Every string under a `password` key of the cluster's credentials file.
fn passwords(cluster: &LocalCluster) -> Vec<String> {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match v.as_str() {
                        Some(s) if key.contains("password") => out.push(s.to_owned()),
                        _ => collect(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    collect(&cluster.credentials(), &mut out);
    assert!(!out.is_empty(), "the credentials file has passwords to look for");
    out
}

/// What the live session did, to hold the replay to.
struct Live {
    old_leader: String,
    target: String,
    backup_id: String,
    status: Value,
}

pub fn session_is_recorded_replayed_and_reported(cluster: &LocalCluster) {
    let file = cluster.root.join("recordings").join("walkthrough.jsonl");
    let live = live_session(cluster, &file);
    let recording = std::fs::read_to_string(&file).unwrap();
    check_header_and_size(&recording);
    check_replay(cluster, &file, &live);
    check_report(cluster, &file, &live);
    check_audit(cluster, &recording);
    replay_in_the_console(cluster, &file, &live);
}

/// The same console over the recording: the bar, pause, seek to the leader change and to the end,
/// and a mutating key refused with the reason.
fn replay_in_the_console(cluster: &LocalCluster, file: &Path, live: &Live) {
    let home = cluster.root.join("home");
    let console = Tmux::start(
        Path::new(env!("CARGO_BIN_EXE_pgdeck")),
        &["replay", file.to_str().unwrap()],
        &[("PGDECK_HOME", home.to_str().unwrap()), ("TERM", "xterm-256color")],
        160,
        48,
    );
    console.wait_for("the replay bar, playing", SETTLE, |s| s.contains("▶ PLAY 1x") && s.contains(" REPLAY"));
    console.keys(&["p"]);
    console.wait_for("the replay paused", Duration::from_secs(10), |s| s.contains("⏸ PAUSED"));
    console.keys(&["f"]);
    console.wait_for("the first role change", Duration::from_secs(10), |s| {
        s.contains(&format!("leader {}", live.target)) || s.contains("NO LEADER")
    });
    console.keys(&["J"]);
    console.type_text("end");
    console.keys(&["Enter"]);
    let screen = console.wait_for("the end of the recording", Duration::from_secs(10), |s| s.contains("■ END"));
    assert!(screen.contains(&format!("leader {}", live.target)), "{screen}");
    console.keys(&["B"]);
    console.wait_for("the backup refused", Duration::from_secs(10), |s| s.contains("a replay is read-only"));
    console.keys(&["C-c"]);
    let audit = pgdeck::audit::read_all(&home.join("state"));
    let refused = audit.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).any(|e| {
        e["event"] == "refused"
            && e["action"] == "backup"
            && e["target"].as_str().is_some_and(|t| t.starts_with("replay:"))
    });
    assert!(refused, "the refusal in the replay is audited:\n{audit}");
}

/// Cancelled and confirmed backups, a refused failover and a switchover, typed into the console.
fn live_session(cluster: &LocalCluster, file: &Path) -> Live {
    let doc = healthy(cluster);
    let old_leader = leader(&doc).unwrap();
    let console = console(cluster, file);
    three_members(&console);

    // Cancelled: B opens the backup dialog, Esc closes it.
    console.keys(&["B"]);
    console.wait_for("the backup dialog", Duration::from_secs(10), |s| s.contains("Enter to confirm"));
    console.keys(&["Escape"]);
    // Wait for it to close: an Esc followed at once by B reads as alt-B.
    console.wait_for("the dialog closed", Duration::from_secs(10), |s| !s.contains("Enter to confirm"));
    // The manual backup: B, Enter; its outcome in Events.
    console.keys(&["B"]);
    console.wait_for("the backup dialog", Duration::from_secs(10), |s| s.contains("Enter to confirm"));
    console.keys(&["Enter"]);
    console.keys(&["8"]);
    console.wait_for("the backup's outcome", SETTLE, |s| s.contains("full backup (#1) succeeded"));
    let backup_id = cluster.status()["backups"]["last_successful"]["id"].as_str().unwrap().to_owned();
    console.keys(&["4"]);
    console.wait_for("the new backup listed", SETTLE, |s| s.contains(&backup_id));

    // Refused (validation): a failover while the leader is healthy, at the key, before any typing.
    console.keys(&["1", "g"]);
    let screen = wait_for_sql_facts(&console);
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("│postgres-cluster-")).collect();
    let target_row = rows.iter().position(|l| l.contains(" replica ")).unwrap();
    let target = rows[target_row].split_whitespace().next().unwrap().trim_start_matches('│').to_owned();
    for _ in 0..target_row {
        console.keys(&["j"]);
    }
    console.keys(&["F"]);
    let refused = console.wait_for("the refusal", Duration::from_secs(10), |s| s.contains("use switchover"));
    assert!(!refused.contains(&format!("Type {target}")), "no dialog opens for a refused failover:\n{refused}");

    // The switchover: S on the replica, its name typed.
    console.keys(&["S"]);
    console.wait_for("the switchover dialog", Duration::from_secs(10), |s| s.contains(&format!("Type {target}")));
    console.type_text(&target);
    console.keys(&["Enter"]);
    console.wait_for("the new leader", SETTLE, |s| s.contains(&format!("leader {target}")));
    // Stop once the old leader streams again, so the recording ends where the cluster rests.
    console.wait_for("the old leader back as a streaming replica", SETTLE, |s| {
        s.lines().any(|l| l.contains(&format!("│{old_leader} ")) && l.contains(" replica ") && l.contains("streaming"))
    });
    console.keys(&["8"]);
    console.wait_for("the switchover's outcome", SETTLE, |s| {
        s.contains(&format!("switchover to {target} (#3) succeeded"))
    });
    let status = healthy(cluster);
    console.keys(&["C-c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !console.pane_dead() {
        assert!(Instant::now() < deadline, "ctrl-c did not end the console:\n{}", console.capture());
        std::thread::sleep(Duration::from_millis(100));
    }
    Live { old_leader, target, backup_id, status }
}

fn check_header_and_size(recording: &str) {
    let header: Value = serde_json::from_str(recording.lines().next().unwrap()).unwrap();
    assert_eq!(
        (header["schema_version"].as_u64(), header["target"].as_str()),
        (Some(u64::from(pgdeck::record::SCHEMA_VERSION)), Some("local"))
    );
    assert!(header["platform"].as_str().unwrap().starts_with("patroni http://"), "{header}");
    let (first, last) = {
        let at = |line: &str| serde_json::from_str::<Value>(line).unwrap()["at"].as_str().unwrap().to_owned();
        let lines: Vec<&str> = recording.lines().skip(1).collect();
        (at(lines[0]), at(lines[lines.len() - 1]))
    };
    let span =
        chrono::DateTime::parse_from_rfc3339(&last).unwrap() - chrono::DateTime::parse_from_rfc3339(&first).unwrap();
    #[allow(clippy::cast_precision_loss)]
    let per_minute = recording.len() as f64 / (span.num_milliseconds() as f64 / 60_000.0);
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for line in recording.lines().skip(1) {
        let value = serde_json::from_str::<Value>(line).unwrap();
        let kind = match (value["kind"]["type"].as_str(), value["repeat"]["type"].as_str()) {
            (Some(kind), _) => kind.to_owned(),
            (None, Some(repeated)) => format!("repeat:{repeated}"),
            (None, None) => "workload_delta".to_owned(),
        };
        *by_kind.entry(kind).or_default() += line.len() + 1;
    }
    eprintln!(
        "recording: {} bytes over {} s: {:.0} KiB per minute; bytes by kind: {by_kind:?}",
        recording.len(),
        span.num_seconds(),
        per_minute / 1024.0
    );
}

/// Replayed at 60x: the same roles, backups and events as live.
fn check_replay(cluster: &LocalCluster, file: &Path, live: &Live) {
    let Live { old_leader, target, backup_id, status } = live;
    let out = cluster.pgdeck(&["replay", file.to_str().unwrap(), "--headless", "--speed", "60", "--dump-state"]);
    assert!(out.status.success(), "{}", describe(&out));
    let dump: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dump["skipped"].as_array().unwrap().len(), 0);
    assert_eq!(dump["status"]["leader"].as_str(), Some(target.as_str()));
    assert_eq!(roles(&dump["status"]), roles(status));
    assert_eq!(dump["status"]["backups"]["count"], status["backups"]["count"]);
    assert_eq!(dump["status"]["backups"]["last_successful"]["id"], backup_id.as_str());
    let events: Vec<&Value> = dump["events"].as_array().unwrap().iter().map(|e| &e["kind"]).collect();
    let has = |check: &dyn Fn(&Value) -> bool| events.iter().any(|e| check(e));
    assert!(has(&|e| e["type"] == "leader_changed" && e["from"] == old_leader.as_str() && e["to"] == target.as_str()));
    assert!(has(&|e| e["type"] == "backup_appeared" && e["id"] == backup_id.as_str()));
    for (id, action) in [(1, "backup"), (3, "switchover")] {
        assert!(
            has(&|e| e["type"] == "action_finished"
                && e["request"]["id"] == id
                && e["request"]["action"]["action"] == action
                && e["outcome"]["result"] == "succeeded"),
            "{action} finished in the replay: {events:#?}"
        );
    }
}

/// The timeline names the switchover and how long it took.
fn check_report(cluster: &LocalCluster, file: &Path, live: &Live) {
    let Live { old_leader, target, .. } = live;
    let out = cluster.pgdeck(&["report", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = report.lines().find(|l| l.starts_with("| switchover (#3) |")).unwrap_or_else(|| panic!("{report}"));
    assert!(row.contains(&format!("| {old_leader} | {target} |")) && row.contains(" s |"), "{report}");
    let out = cluster.pgdeck(&["report", file.to_str().unwrap(), "--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = &json["leader_changes"][0];
    assert_eq!(change["kind"], "switchover");
    assert!(change["duration_seconds"].as_f64().unwrap() > 0.0, "{change}");
}

/// The audit trail: each action of this session, and no password in it or in the recording.
fn check_audit(cluster: &LocalCluster, recording: &str) {
    let audit = pgdeck::audit::read_all(&cluster.root.join("home/state"));
    let entries: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let entry = |event: &str, action: &str| {
        entries.iter().any(|e| e["event"] == event && e["action"] == action && e["target"] == "local")
    };
    for (event, action) in [
        ("cancelled", "backup"),
        ("requested", "backup"),
        ("finished", "backup"),
        ("refused", "failover"),
        ("requested", "switchover"),
        ("finished", "switchover"),
    ] {
        assert!(entry(event, action), "no `{event}` {action} in the audit trail:\n{audit}");
    }
    // A read-only CLI refusal is made before connecting to anything: it names no platform.
    let unconnected = |e: &Value| {
        e["event"] == "refused"
            && e["platform"] == "none"
            && e["reason"].as_str().is_some_and(|r| r.contains("read-only"))
    };
    assert!(
        entries.iter().all(|e| e["user"].is_string()
            && (e["platform"].as_str().is_some_and(|p| p.starts_with("patroni")) || unconnected(e))),
        "{audit}"
    );
    for password in passwords(cluster) {
        assert!(!audit.contains(&password), "a password is in the audit trail");
        assert!(!recording.contains(&password), "a password is in the recording");
    }
}

/// A console killed with SIGKILL has flushed all but (about) its last second.
pub fn killed_console_keeps_its_recording(cluster: &LocalCluster) {
    healthy(cluster);
    let file = cluster.root.join("recordings").join("killed.jsonl");
    let console = console(cluster, &file);
    three_members(&console);
    let lines = || std::fs::read_to_string(&file).unwrap_or_default().lines().count();
    let deadline = Instant::now() + SETTLE;
    while lines() < 50 {
        assert!(Instant::now() < deadline, "the recording does not grow: {} lines", lines());
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid: i32 = console.pane_var("pane_pid").parse().unwrap();
    let killed_at = pgdeck::clock::now();
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !console.pane_dead() {
        assert!(Instant::now() < deadline, "SIGKILL did not end the console");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let newest = text
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["at"].as_str().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok()))
        .max()
        .unwrap();
    // One poll interval (1 s) plus the recorder's flush period; the rest is the machine's slack.
    let lost = killed_at.signed_duration_since(newest);
    assert!(lost < chrono::Duration::seconds(3), "the last {lost} before the kill were lost");
    let out = cluster.pgdeck(&["replay", file.to_str().unwrap(), "--headless", "--speed", "60"]);
    assert!(out.status.success(), "a killed console's recording replays: {}", describe(&out));
}

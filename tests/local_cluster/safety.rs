//! Actions are safe to press twice and to walk away from, on the real cluster in tmux: a backup
//! or a switchover whose keys are pressed twice in one burst starts once (the second is refused
//! and audited as such), and a console closed while a backup runs (its quit key, or SIGTERM)
//! gives the terminal back, waits for the backup and writes its outcome to the audit trail.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::{healthy, open_console, wait_for_sql_facts, SETTLE};
use crate::support::local_cluster::{leader, LocalCluster};
use crate::support::tmux::Tmux;

fn audit_dir(cluster: &LocalCluster) -> std::path::PathBuf {
    cluster.root.join("home").join("state")
}

/// How many lines the audit trail holds now: the scenario reads only what comes after.
fn audit_mark(cluster: &LocalCluster) -> usize {
    pgdeck::audit::read_all(&audit_dir(cluster)).lines().count()
}

fn audit_since(cluster: &LocalCluster, mark: usize) -> Vec<Value> {
    pgdeck::audit::read_all(&audit_dir(cluster)).lines().skip(mark).map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn wait_for_audit(cluster: &LocalCluster, mark: usize, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let lines = audit_since(cluster, mark);
        if check(&lines) {
            return lines;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what} in the audit trail: {lines:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn with_event<'a>(lines: &'a [Value], event: &str, action: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == event && l["action"] == action).collect()
}

/// One request of `action`, ended by one succeeded outcome; the lines' request ids must match.
fn one_request_one_outcome(lines: &[Value], action: &str) -> u64 {
    let requested = with_event(lines, "requested", action);
    assert_eq!(requested.len(), 1, "exactly one {action} started: {lines:#?}");
    let id = requested[0]["request_id"].as_u64().unwrap();
    let ended: Vec<&Value> = lines
        .iter()
        .filter(|l| (l["event"] == "finished" || l["event"] == "abandoned") && l["action"] == action)
        .collect();
    assert_eq!(ended.len(), 1, "one outcome line for the one request: {lines:#?}");
    assert_eq!(ended[0]["request_id"].as_u64(), Some(id));
    assert_eq!(ended[0]["outcome"]["result"], "succeeded", "{lines:#?}");
    id
}

fn wait_until_dead(console: &Tmux, what: &str) {
    let deadline = Instant::now() + SETTLE;
    while !console.pane_dead() {
        assert!(Instant::now() < deadline, "{what}: the console did not end:\n{}", console.capture());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Healthy, and quiet enough that the next scenario's screens look as on a fresh cluster: the
/// findings a switchover or a backup raises for a while (a member catching up, say) would take
/// room from the Overview's members panel.
fn settled(cluster: &LocalCluster) {
    healthy(cluster);
    cluster.wait_for_status("no findings", SETTLE, |doc| doc["findings"].as_array().is_some_and(Vec::is_empty));
}

fn backups(cluster: &LocalCluster) -> u64 {
    cluster.status()["backups"]["count"].as_u64().unwrap()
}

/// B and Enter, twice in one burst: the second confirmation reaches the Dispatcher before the
/// State has heard of the first request, and must still be refused.
pub fn backup_pressed_twice_starts_one(cluster: &LocalCluster) {
    let before = healthy(cluster)["backups"]["count"].as_u64().unwrap();
    let mark = audit_mark(cluster);
    let console = open_console(cluster, 160, 48);
    console.wait_for("the members", SETTLE, |s| s.contains(" Members "));
    console.keys(&["B", "Enter", "B", "Enter", "Enter"]);
    console.wait_for("the second backup refused", SETTLE, |s| s.contains("refused: full backup is already running"));
    console.keys(&["8"]);
    console.wait_for("the backup's outcome in Events", SETTLE, |s| s.contains("full backup (#1) succeeded"));
    let lines = wait_for_audit(cluster, mark, "the backup's outcome", |lines| {
        lines.iter().any(|l| l["event"] == "finished" || l["event"] == "abandoned")
    });
    one_request_one_outcome(&lines, "backup");
    let refused = with_event(&lines, "refused", "backup");
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert!(refused[0]["reason"].as_str().unwrap().contains("already running (request 1"), "{lines:#?}");
    // pgBackRest's own list: one backup more, and none still running.
    let doc = cluster.wait_for_status("the backup listed", SETTLE, |doc| doc["backups"]["running"] == false);
    assert_eq!(doc["backups"]["count"].as_u64(), Some(before + 1), "{doc:#}");
    console.keys(&["C-c"]);
    wait_until_dead(&console, "ctrl-c with nothing running");
    settled(cluster);
}

/// A backup confirmed and the console quit at once (ctrl-c, in the same burst), then another
/// with SIGTERM: each time the terminal is given back, the console says what it waits for, and
/// the backup's outcome reaches the audit trail before the process ends.
pub fn closed_console_audits_the_outcome(cluster: &LocalCluster) {
    let before = healthy(cluster)["backups"]["count"].as_u64().unwrap();
    let mark = audit_mark(cluster);
    let console = open_console(cluster, 160, 48);
    console.wait_for("the members", SETTLE, |s| s.contains(" Members "));
    console.keys(&["B"]);
    console.wait_for("the backup dialog", Duration::from_secs(10), |s| s.contains("Enter to confirm"));
    console.keys(&["Enter", "C-c"]);
    console.wait_for("the console waiting on the normal screen", SETTLE, |s| {
        s.contains("pgdeck: waiting for full backup (request 1) to finish")
    });
    assert_eq!(console.pane_var("alternate_on"), "0", "the terminal is given back before the wait");
    wait_until_dead(&console, "quit with a backup running");
    let screen = console.capture();
    assert!(screen.contains("full backup (request 1): succeeded"), "{screen}");
    one_request_one_outcome(&audit_since(cluster, mark), "backup");
    assert_eq!(backups(cluster), before + 1);

    // SIGTERM races the backup's own end; a try where the backup won proves nothing, so again.
    let mut proved = false;
    for _ in 0..3 {
        let mark = audit_mark(cluster);
        let (console, pid) = console_in_shell(cluster);
        console.keys(&["B"]);
        console.wait_for("the backup dialog", Duration::from_secs(10), |s| s.contains("Enter to confirm"));
        console.keys(&["Enter"]);
        wait_for_audit(cluster, mark, "the backup started", |lines| {
            !with_event(lines, "requested", "backup").is_empty()
        });
        kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
        let screen = console.wait_for("the console to end", SETTLE, |s| s.contains("console exited"));
        assert!(screen.contains("console exited with 0"), "SIGTERM with a backup running:\n{screen}");
        one_request_one_outcome(&audit_since(cluster, mark), "backup");
        if screen.contains("pgdeck: waiting for full backup (request 1) to finish") {
            assert!(screen.contains("full backup (request 1): succeeded"), "{screen}");
            proved = true;
            break;
        }
    }
    assert!(proved, "the backup always ended before SIGTERM arrived; nothing was waited for");
    settled(cluster);
}

/// The console run by a shell that prints how it exited; returns the tmux session and its pid.
fn console_in_shell(cluster: &LocalCluster) -> (Tmux, i32) {
    let script = format!(
        "PGDECK_HOME='{}' TERM=xterm-256color '{}' --dir '{}'; echo \"console exited with $?\"; sleep 60",
        cluster.root.join("home").display(),
        env!("CARGO_BIN_EXE_pgdeck"),
        cluster.dir().display()
    );
    let console = Tmux::start(Path::new("/bin/sh"), &["-c", &script], &[], 160, 48);
    console.wait_for("the members", SETTLE, |s| s.contains(" Members "));
    let shell: i32 = console.pane_var("pane_pid").parse().unwrap();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    (console, children.split_whitespace().next().unwrap().parse().unwrap())
}

/// S, the replica's name and Enter, twice in one burst: one switchover, one refusal, and the
/// timeline moves on by exactly one.
pub fn switchover_pressed_twice_switches_once(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let old_leader = leader(&doc).unwrap();
    let timeline = doc["timeline"].as_u64().unwrap();
    let mark = audit_mark(cluster);
    let console = open_console(cluster, 160, 48);
    console.keys(&["1", "g"]);
    let screen = wait_for_sql_facts(&console);
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("│postgres-cluster-")).collect();
    let row = rows.iter().position(|l| l.contains(" replica ")).unwrap();
    let target = rows[row].split_whitespace().next().unwrap().trim_start_matches('│').to_owned();
    for _ in 0..row {
        console.keys(&["j"]);
    }
    console.keys(&["S"]);
    console.wait_for("the switchover dialog", Duration::from_secs(10), |s| {
        s.contains(&format!("Type {target} to confirm"))
    });
    // tmux sends an argument that is no key name as its characters.
    console.keys(&[&target, "Enter", "S", &target, "Enter"]);
    console.wait_for("the second switchover refused", SETTLE, |s| {
        s.contains(&format!("refused: switchover to {target} is already running"))
    });
    console.wait_for("the new leader on screen", SETTLE, |s| s.contains(&format!("leader {target}")));
    let lines = wait_for_audit(cluster, mark, "the switchover's outcome", |lines| {
        lines.iter().any(|l| l["event"] == "finished" || l["event"] == "abandoned")
    });
    one_request_one_outcome(&lines, "switchover");
    let refused = with_event(&lines, "refused", "switchover");
    assert_eq!(refused.len(), 1, "{lines:#?}");
    assert!(refused[0]["reason"].as_str().unwrap().contains("already running (request 1"), "{lines:#?}");
    let after = healthy(cluster);
    assert_eq!(leader(&after).as_deref(), Some(target.as_str()), "from {old_leader}");
    assert_eq!(after["timeline"].as_u64(), Some(timeline + 1), "one switchover, one new timeline: {after:#}");
    console.keys(&["C-c"]);
    wait_until_dead(&console, "ctrl-c after the switchover");
    settled(cluster);
}

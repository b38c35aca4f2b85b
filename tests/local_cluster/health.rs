//! The findings an incident starts from, each caused for real on the shared cluster: WAL
//! archiving failing (the pgBackRest repository made unwritable), an unused slot retaining WAL,
//! a session idle in transaction blocking another, a setting waiting for a restart. Each is seen
//! in `pgdeck status --output json` with its member and evidence, then clears once the fault is
//! undone; each undoes its fault even when it fails, and leaves the cluster healthy.
//!
//! Thresholds are lowered where the defaults would need too much (1 GiB of WAL, a minute idle)
//! through config.toml's `[thresholds]` in a config dir of the scenario's own
//! (`PGDECK_CONFIG_DIR`), so other scenarios keep the spec's.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{admin_password, healthy, port_of, SETTLE};
use crate::support::local_cluster::{describe, leader, member, LocalCluster};
use crate::support::sql::{query, Login};

/// `status --output json` with `config_dir` as the config dir (its `[thresholds]`), parsed.
fn status_with(cluster: &LocalCluster, config_dir: &Path) -> Value {
    let env = [("PGDECK_CONFIG_DIR", config_dir.display().to_string())];
    let out = cluster.pgdeck_in_env(&cluster.dir(), &["status", "--output", "json"], &env);
    assert!(out.status.success(), "status failed: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("status prints JSON")
}

/// Polls `status_with` until `check` holds; panics with the last document after `SETTLE`.
fn wait_with(cluster: &LocalCluster, config_dir: &Path, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let doc = status_with(cluster, config_dir);
        if check(&doc) {
            return doc;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {doc:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A config dir holding only `config.toml` with `thresholds`, under the run's directory.
fn config_dir(cluster: &LocalCluster, name: &str, thresholds: &str) -> PathBuf {
    let dir = cluster.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), format!("[thresholds]\n{thresholds}")).unwrap();
    dir
}

fn findings<'a>(doc: &'a Value, code: &str) -> Vec<&'a Value> {
    doc["findings"].as_array().unwrap().iter().filter(|f| f["code"] == code).collect()
}

fn evidence(finding: &Value) -> &str {
    finding["evidence"].as_str().unwrap()
}

/// The superuser on the leader.
fn on_leader<'a>(doc: &Value, password: &'a str) -> Login<'a> {
    Login { port: port_of(doc, &leader(doc).unwrap()), database: "postgres", user: "postgres", password }
}

/// Gives the archive's directories their modes back, however the scenario ends.
struct ArchiveModes(Vec<(PathBuf, u32)>);

impl ArchiveModes {
    /// Takes write permission from every directory of the repository's archive.
    fn unwritable(archive: &Path) -> Self {
        let mut dirs = vec![archive.to_owned()];
        let mut i = 0;
        while i < dirs.len() {
            for entry in std::fs::read_dir(&dirs[i]).unwrap().flatten() {
                if entry.file_type().unwrap().is_dir() {
                    dirs.push(entry.path());
                }
            }
            i += 1;
        }
        let modes: Vec<(PathBuf, u32)> = dirs
            .into_iter()
            .map(|d| (d.clone(), std::fs::metadata(&d).unwrap().permissions().mode() & 0o7777))
            .collect();
        for (dir, mode) in &modes {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o222)).unwrap();
        }
        Self(modes)
    }
}

impl Drop for ArchiveModes {
    fn drop(&mut self) {
        for (dir, mode) in &self.0 {
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(*mode));
        }
    }
}

/// Writes a little and switches to a new WAL segment: the finished one goes to the archiver.
fn switch_wal(login: &Login<'_>) {
    query(login, "CREATE TABLE IF NOT EXISTS health_wal (at timestamptz DEFAULT now())").unwrap();
    query(login, "INSERT INTO health_wal DEFAULT VALUES").unwrap();
    query(login, "SELECT pg_switch_wal()").unwrap();
}

pub fn archiving_failing_is_a_finding_and_clears(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let leader = leader(&doc).unwrap();
    let password = admin_password(cluster);
    let login = on_leader(&doc, &password);
    let archive = cluster.dir().join("pgbackrest/repo/archive");
    let modes = ArchiveModes::unwritable(&archive);
    switch_wal(&login);
    let raised =
        cluster.wait_for_status("archiving failing", SETTLE, |doc| !findings(doc, "archiving_failing").is_empty());
    let f = findings(&raised, "archiving_failing")[0];
    assert_eq!((f["member"].as_str(), f["subject"].as_str()), (Some(leader.as_str()), Some(leader.as_str())), "{f:#}");
    assert!(f["message"].as_str().unwrap().starts_with(&format!("WAL archiving is failing on {leader}: ")), "{f:#}");
    let e = evidence(f);
    for part in ["pg_stat_archiver.failed_count ", ", last_failed_wal 0000", " .ready in archive_status (oldest 0000"] {
        assert!(e.contains(part), "`{part}` in {e}");
    }
    eprintln!("archiving_failing: {} [{e}]", f["message"]);

    drop(modes);
    switch_wal(&login);
    cluster.wait_for_status("archiving back", SETTLE, |doc| findings(doc, "archiving_failing").is_empty());
    healthy(cluster);
}

/// Drops the slot, however the scenario ends.
struct Slot<'a> {
    login: &'a Login<'a>,
    name: &'static str,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let _ = query(self.login, &format!("SELECT pg_drop_replication_slot('{}')", self.name));
    }
}

pub fn unused_slot_retaining_wal_is_a_finding_and_clears(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let leader = leader(&doc).unwrap();
    let password = admin_password(cluster);
    let login = on_leader(&doc, &password);
    // 48 MiB instead of 1 GiB: four segment switches retain about 64 MiB.
    let config = config_dir(cluster, "health-slot-config", "slot_retained_warn_bytes = 50331648\n");
    query(&login, "SELECT pg_create_physical_replication_slot('pgdeck_test_slot', true)").unwrap();
    let slot = Slot { login: &login, name: "pgdeck_test_slot" };
    for _ in 0..4 {
        switch_wal(&login);
    }
    let raised = wait_with(cluster, &config, "the slot's finding", |doc| {
        findings(doc, "slot_retaining_wal").iter().any(|f| f["subject"] == "slot pgdeck_test_slot")
    });
    let f = findings(&raised, "slot_retaining_wal")[0];
    assert_eq!((f["member"].as_str(), f["severity"].as_str()), (Some(leader.as_str()), Some("warning")), "{f:#}");
    let e = evidence(f);
    assert!(
        e.starts_with("pg_replication_slots: physical slot pgdeck_test_slot, active false, wal_status ")
            && e.contains("; pg_current_wal_lsn() - restart_lsn = "),
        "{e}"
    );
    eprintln!("slot_retaining_wal: {} [{e}]", f["message"]);
    // The spec's own threshold (1 GiB) is not reached: the lower one came from [thresholds].
    assert!(findings(&cluster.status(), "slot_retaining_wal").is_empty());

    drop(slot);
    wait_with(cluster, &config, "the slot's finding cleared", |doc| findings(doc, "slot_retaining_wal").is_empty());
    healthy(cluster);
}

/// A `psql` session on `port` as `application`, reading its statements from stdin.
fn psql_session(port: u16, password: &str, application: &str, command: Option<&str>) -> Child {
    let conninfo = format!("host=127.0.0.1 port={port} dbname=postgres user=postgres application_name={application}");
    let mut psql = Command::new("psql");
    psql.args([conninfo.as_str(), "-q", "-X"]).env("PGPASSWORD", password);
    if let Some(sql) = command {
        psql.args(["-c", sql]);
    }
    psql.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("psql runs")
}

/// Ends both sessions, however the scenario ends.
struct Sessions(Vec<Child>);

impl Drop for Sessions {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn idle_in_transaction_session_blocking_another_is_a_finding_and_clears(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let leader = leader(&doc).unwrap();
    let password = admin_password(cluster);
    let login = on_leader(&doc, &password);
    // The blocking thresholds stay the spec's (10 s, 60 s); idle in transaction after 5 s, not 60.
    let config = config_dir(cluster, "health-locks-config", "idle_in_transaction_warn_seconds = 5\n");
    query(&login, "CREATE TABLE IF NOT EXISTS health_locks (id int)").unwrap();
    let mut holder = psql_session(login.port, &password, "pgdeck-holder", None);
    let stdin = holder.stdin.as_mut().unwrap();
    stdin.write_all(b"BEGIN;\nLOCK TABLE health_locks IN ACCESS EXCLUSIVE MODE;\n").unwrap();
    stdin.flush().unwrap();
    // The waiter starts once the lock is held, else it would read the table and be gone.
    let held = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                WHERE a.application_name = 'pgdeck-holder' AND l.relation = 'health_locks'::regclass AND l.granted";
    let deadline = Instant::now() + SETTLE;
    while query(&login, held).unwrap()[0][0].as_deref() != Some("1") {
        assert!(Instant::now() < deadline, "the holder never took its lock");
        std::thread::sleep(Duration::from_millis(200));
    }
    let waiter = psql_session(login.port, &password, "pgdeck-waiter", Some("SELECT count(*) FROM health_locks"));
    let mut sessions = Sessions(vec![holder, waiter]);

    let raised = wait_with(cluster, &config, "the blocking session", |doc| {
        !findings(doc, "blocking_session").is_empty() && !findings(doc, "idle_in_transaction").is_empty()
    });
    let f = findings(&raised, "blocking_session")[0];
    let holder_pid = query(&login, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgdeck-holder'")
        .unwrap()[0][0]
        .clone()
        .unwrap();
    assert_eq!(f["subject"].as_str(), Some(format!("{leader} pid {holder_pid}").as_str()), "{f:#}");
    assert_eq!(f["member"].as_str(), Some(leader.as_str()));
    let e = evidence(f);
    for part in [
        format!("pg_blocking_pids(): pid {holder_pid} (user postgres, database postgres, application pgdeck-holder"),
        "idle in transaction, transaction ".to_owned(),
        "blocks pid ".to_owned(),
        "(pg_locks.waitstart)".to_owned(),
    ] {
        assert!(e.contains(&part), "`{part}` in {e}");
    }
    eprintln!("blocking_session: {} [{e}]", f["message"]);
    let idle = findings(&raised, "idle_in_transaction")[0];
    assert!(evidence(idle).contains(&format!("pid {holder_pid} (user postgres")), "{idle:#}");
    eprintln!("idle_in_transaction: {} [{}]", idle["message"], evidence(idle));

    // The holder rolls back and leaves; the waiter gets its lock and ends.
    let holder = &mut sessions.0[0];
    let stdin = holder.stdin.as_mut().unwrap();
    stdin.write_all(b"ROLLBACK;\n\\q\n").unwrap();
    stdin.flush().unwrap();
    assert!(holder.wait().unwrap().success());
    assert!(sessions.0[1].wait().unwrap().success(), "the waiter got its lock");
    wait_with(cluster, &config, "the blocking session gone", |doc| {
        findings(doc, "blocking_session").is_empty() && findings(doc, "idle_in_transaction").is_empty()
    });
    drop(sessions);
    healthy(cluster);
}

/// Resets the setting and reloads, however the scenario ends.
struct Setting<'a>(&'a Login<'a>);

impl Drop for Setting<'_> {
    fn drop(&mut self) {
        // ALTER SYSTEM refuses the implicit transaction of a multi-statement string.
        let _ = query(self.0, "ALTER SYSTEM RESET shared_buffers");
        let _ = query(self.0, "SELECT pg_reload_conf()");
    }
}

pub fn setting_waiting_for_a_restart_is_a_finding_and_clears(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let leader = leader(&doc).unwrap();
    let password = admin_password(cluster);
    let login = on_leader(&doc, &password);
    // 2 MB more than now: a value that needs a restart, reverted before one happens.
    let rows =
        query(&login, "SELECT (setting::int8 + 256) * 8 FROM pg_settings WHERE name = 'shared_buffers'").unwrap();
    let kb = rows[0][0].clone().unwrap();
    query(&login, &format!("ALTER SYSTEM SET shared_buffers = '{kb}kB'")).unwrap();
    let setting = Setting(&login);
    query(&login, "SELECT pg_reload_conf()").unwrap();
    let raised =
        cluster.wait_for_status("the pending restart", SETTLE, |doc| !findings(doc, "pending_restart").is_empty());
    let f = findings(&raised, "pending_restart")[0];
    assert_eq!((f["member"].as_str(), f["severity"].as_str()), (Some(leader.as_str()), Some("warning")), "{f:#}");
    assert_eq!(f["message"].as_str(), Some(format!("{leader} needs a restart to apply shared_buffers").as_str()));
    assert!(evidence(f).starts_with("pg_settings.pending_restart: shared_buffers"), "{f:#}");
    assert_eq!(member(&raised, &leader)["pending_restart"], serde_json::json!(["shared_buffers"]));
    eprintln!("pending_restart: {} [{}]", f["message"], evidence(f));

    drop(setting);
    let cleared = cluster.wait_for_status("nothing pending", SETTLE, |doc| findings(doc, "pending_restart").is_empty());
    assert_eq!(member(&cleared, &leader)["pending_restart"], serde_json::json!([]));
    healthy(cluster);
}

//! Against one real local cluster per test run: Patroni, etcd, PgBouncer and pgBackRest from the
//! OS packages, brought up by `pgdeck local up`. The tests run one at a time, in this order,
//! because several change the cluster (pause replay, switch over, kill the leader, stop it).

// A custom harness: its checks panic on failure as #[test] functions do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod aws;
mod faults;
mod health;
mod record;
mod restore;
mod safety;
mod targets;
mod tls;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use support::local_cluster::{describe, leader, member, members, replicas, LocalCluster};
use support::sql::{query, Login};
use support::tmux::Tmux;

type Shared = Arc<OnceLock<Result<LocalCluster, String>>>;
type Scenario = (&'static str, fn(&LocalCluster));

fn main() {
    let mut args = Arguments::from_args();
    args.test_threads = Some(1);
    let shared: Shared = Arc::new(OnceLock::new());
    let tests: Vec<Scenario> = vec![
        ("cluster_has_one_leader_and_two_streaming_replicas", one_leader_two_streaming_replicas),
        ("local_up_on_a_running_cluster_changes_nothing", up_again_changes_nothing),
        ("row_written_through_pgbouncer_is_read_on_both_replicas", row_through_pgbouncer_on_replicas),
        ("lag_grows_while_replay_is_paused_and_returns_to_zero", lag_grows_while_paused),
        ("health_archiving_failing_is_a_finding_and_clears", health::archiving_failing_is_a_finding_and_clears),
        (
            "health_unused_slot_retaining_wal_is_a_finding_and_clears",
            health::unused_slot_retaining_wal_is_a_finding_and_clears,
        ),
        (
            "health_idle_in_transaction_session_blocking_another_is_a_finding_and_clears",
            health::idle_in_transaction_session_blocking_another_is_a_finding_and_clears,
        ),
        (
            "health_setting_waiting_for_a_restart_is_a_finding_and_clears",
            health::setting_waiting_for_a_restart_is_a_finding_and_clears,
        ),
        ("switchover_needs_confirmation_and_moves_leader_and_pooler", switchover_moves_leader_and_pooler),
        ("console_in_tmux_shows_members_backs_up_and_switches_over", console_in_tmux),
        ("console_creates_a_database_and_a_user_who_logs_in", console_creates_database_and_user),
        ("credentials_in_secrets_manager_create_and_rotate_users", aws::credentials_in_secrets_manager),
        ("read_only_refuses_actions", read_only_refuses_actions),
        ("console_switches_between_targets", targets::console_switches_targets),
        ("no_password_in_process_arguments_or_environments", no_password_in_processes),
        ("pgdeck_sessions_use_tls_verified_against_the_clusters_ca", tls::sessions_use_verified_tls),
        ("injected_names_are_refused_and_nothing_runs", injected_names_are_refused),
        ("console_cancels_a_query_and_terminates_a_session", console_cancels_and_terminates),
        ("console_restores_the_terminal_on_sigterm_and_sighup", console_restores_terminal_on_signals),
        ("console_keeps_up_through_a_resize_storm", console_survives_resize_storm),
        ("backup_keys_pressed_twice_start_one_backup", safety::backup_pressed_twice_starts_one),
        ("console_closed_during_a_backup_still_audits_its_outcome", safety::closed_console_audits_the_outcome),
        ("switchover_keys_pressed_twice_switch_over_once", safety::switchover_pressed_twice_switches_once),
        ("manual_backup_appears_in_status", manual_backup_appears),
        ("console_session_is_recorded_replayed_and_reported", record::session_is_recorded_replayed_and_reported),
        ("killed_console_keeps_its_recording", record::killed_console_keeps_its_recording),
        ("restore_comes_up_as_a_new_cluster_at_the_target_time", restore::restored_as_new_cluster_to_a_point_in_time),
        ("hung_member_is_reported_and_status_returns", hung_member_is_reported),
        ("stopped_pooler_and_patroni_are_findings_and_recover", faults::stopped_parts_are_findings_and_recover),
        ("stopped_etcd_is_a_finding_and_recovers", faults::stopped_dcs_is_a_finding_and_recovers),
        ("killed_leader_fails_over_and_rejoins_as_replica", killed_leader_fails_over),
        ("scheduled_backup_is_taken_by_the_agent", scheduled_backup_by_agent),
        ("down_stops_everything_and_up_serves_the_old_data", down_then_up_keeps_data),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, test)| {
            let shared = shared.clone();
            Trial::test(name, move || {
                let cluster = shared.get_or_init(LocalCluster::up).as_ref().map_err(|e| Failed::from(e.as_str()))?;
                test(cluster);
                Ok(())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(Ok(cluster)) = shared.get() {
        if conclusion.has_failed() {
            cluster.keep_logs(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
        }
        cluster.teardown();
    }
    conclusion.exit();
}

const SETTLE: Duration = Duration::from_secs(120);

pub(crate) fn admin_password(cluster: &LocalCluster) -> String {
    cluster.credentials()["postgres/admin-credentials"]["password"].as_str().unwrap().to_owned()
}

fn app_login(cluster: &LocalCluster) -> (String, String) {
    let c = &cluster.credentials()["postgres/app-credentials"];
    (c["username"].as_str().unwrap().to_owned(), c["password"].as_str().unwrap().to_owned())
}

/// The real console on the shared cluster, in a tmux window of `width` x `height`.
pub(crate) fn open_console(cluster: &LocalCluster, width: u16, height: u16) -> Tmux {
    let (home, dir) = (cluster.root.join("home"), cluster.dir());
    Tmux::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_pgdeck")),
        &["--dir", dir.to_str().unwrap()],
        &[("PGDECK_HOME", home.to_str().unwrap()), ("TERM", "xterm-256color")],
        width,
        height,
    )
}

/// Waits until the console has every member's SQL facts (each row shows its LSN), so that what
/// an action key is refused or allowed for is what is true, not what is not known yet.
pub(crate) fn wait_for_sql_facts(console: &Tmux) -> String {
    console.wait_for("every member's SQL facts", SETTLE, |s| {
        let rows: Vec<&str> = s.lines().filter(|l| l.contains("│postgres-cluster-")).collect();
        s.contains(" Members ") && rows.len() >= 3 && rows.iter().all(|l| l.contains(" 0/"))
    })
}

pub(crate) fn port_of(doc: &Value, name: &str) -> u16 {
    u16::try_from(member(doc, name)["port"].as_u64().unwrap()).unwrap()
}

/// Waits for a healthy cluster: one leader, two streaming replicas, the pooler on the leader.
pub(crate) fn healthy(cluster: &LocalCluster) -> Value {
    cluster.wait_for_status("a healthy cluster", SETTLE, |doc| {
        let Some(leader) = leader(doc) else { return false };
        let streaming = members(doc)
            .iter()
            .filter(|m| m["role"] == "replica" && m["replication_state"] == "streaming" && m["lag_bytes"] == 0)
            .count();
        streaming == 2 && doc["pooler"]["target_member"] == leader.as_str()
    })
}

fn one_leader_two_streaming_replicas(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    assert_eq!(doc["platform"], "patroni");
    assert_eq!(doc["cluster"], "postgres-cluster");
    assert_eq!(members(&doc).len(), 3);
    assert_eq!(replicas(&doc).len(), 2);
    for m in members(&doc) {
        assert_eq!(m["host"], "127.0.0.1");
        assert!(m["port"].as_u64().is_some());
        assert_eq!(m["timeline"], doc["timeline"]);
        assert!(m["volume_used_bytes"].as_u64().unwrap() > 0);
        assert!(m["version"].as_str().unwrap().starts_with(char::is_numeric));
    }
    assert_eq!(doc["pooler"]["state"], "up");
    assert_eq!(doc["pooler"]["pool_mode"], "transaction");
    let last = &doc["backups"]["last_successful"];
    assert_eq!(last["type"], "full", "the first full backup is taken by local up: {doc:#}");
    assert!(doc["backups"]["next_scheduled_at"].as_str().unwrap().contains("T02:00:00"));
    assert_eq!(doc["findings"], Value::Array(vec![]), "a fresh cluster has no findings");
    // pg_stat_statements is preloaded and created; data checksums are on.
    let leader_port = port_of(&doc, &leader(&doc).unwrap());
    let password = admin_password(cluster);
    let login = Login { port: leader_port, database: "postgres", user: "postgres", password: &password };
    let rows = query(&login, "SELECT count(*) FROM pg_stat_statements; SHOW data_checksums; SHOW password_encryption")
        .unwrap();
    assert_eq!(rows[1][0].as_deref(), Some("on"));
    assert_eq!(rows[2][0].as_deref(), Some("scram-sha-256"));
    let shown = query(&login, "SHOW max_connections; SHOW work_mem; SHOW checkpoint_timeout").unwrap();
    assert_eq!(shown.iter().map(|r| r[0].clone().unwrap()).collect::<Vec<_>>(), ["200", "8MB", "5min"]);
}

fn up_again_changes_nothing(cluster: &LocalCluster) {
    let before: Vec<Option<i32>> = ["etcd", "pgbouncer", "agent"].iter().map(|c| cluster.pid_of(c)).collect();
    let out = cluster.pgdeck(&["local", "up"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already running"), "{}", describe(&out));
    let after: Vec<Option<i32>> = ["etcd", "pgbouncer", "agent"].iter().map(|c| cluster.pid_of(c)).collect();
    assert_eq!(before, after);
}

fn row_through_pgbouncer_on_replicas(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let (user, password) = app_login(cluster);
    let pooled = Login { port: cluster.pgbouncer_port(), database: "app", user: &user, password: &password };
    let marker = format!("written-{}", std::process::id());
    query(&pooled, "CREATE TABLE IF NOT EXISTS notes (id serial PRIMARY KEY, body text NOT NULL)").unwrap();
    query(&pooled, &format!("INSERT INTO notes (body) VALUES ('{marker}')")).unwrap();
    let admin = admin_password(cluster);
    for replica in replicas(&doc) {
        let login = Login { port: port_of(&doc, &replica), database: "app", user: "postgres", password: &admin };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows = query(&login, &format!("SELECT count(*) FROM notes WHERE body = '{marker}'"));
            if rows.as_ref().is_ok_and(|r| r[0][0].as_deref() == Some("1")) {
                break;
            }
            assert!(Instant::now() < deadline, "the row never reached {replica}: {rows:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
        let ro = query(&login, "SELECT pg_is_in_recovery()").unwrap();
        assert_eq!(ro[0][0].as_deref(), Some("t"), "{replica} is a standby");
    }
}

fn lag_grows_while_paused(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let replica = replicas(&doc)[0].clone();
    let leader = leader(&doc).unwrap();
    let admin = admin_password(cluster);
    let on_replica = Login { port: port_of(&doc, &replica), database: "postgres", user: "postgres", password: &admin };
    let on_leader = Login { port: port_of(&doc, &leader), database: "postgres", user: "postgres", password: &admin };
    // Patroni resumes a paused replay on PostgreSQL 14+ unless it is in maintenance mode.
    let maintenance = Maintenance::on(cluster);
    cluster.wait_for_status("maintenance mode", SETTLE, |doc| {
        doc["maintenance_mode"] == true
            && doc["findings"].as_array().unwrap().iter().any(|f| f["code"] == "maintenance_mode")
    });
    query(&on_replica, "SELECT pg_wal_replay_pause()").unwrap();
    query(&on_leader, "CREATE TABLE IF NOT EXISTS lag_probe AS SELECT 1 AS x WITH NO DATA").unwrap();
    query(&on_leader, "INSERT INTO lag_probe SELECT generate_series(1, 20000)").unwrap();
    let paused = cluster.wait_for_status("lag on the paused replica", SETTLE, |doc| {
        let m = member(doc, &replica);
        m["lag_bytes"].as_u64().is_some_and(|b| b > 0) && m["replay_paused"] == true
    });
    let m = member(&paused, &replica);
    assert!(m["lag_seconds"].as_f64().is_some_and(|s| s > 0.0), "lag in seconds grows too: {m:#}");
    assert!(paused["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "replay_paused" && f["subject"] == replica.as_str()));
    query(&on_replica, "SELECT pg_wal_replay_resume()").unwrap();
    drop(maintenance);
    cluster.wait_for_status("the lag back at zero, out of maintenance mode", SETTLE, |doc| {
        let m = member(doc, &replica);
        m["lag_bytes"] == 0 && m["replay_paused"] == false && doc["maintenance_mode"] == false
    });
}

/// The real binary in tmux at 160x48: the members with their roles, a backup from its key seen
/// through to completion, a switchover typed into its dialog, and a clean exit on ctrl-c.
fn console_in_tmux(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let old_leader = leader(&doc).unwrap();
    let backups_before = doc["backups"]["count"].as_u64().unwrap();
    let console = open_console(cluster, 160, 48);
    let screen = console.wait_for("three members with their roles", SETTLE, |screen| {
        let primaries = screen.lines().filter(|l| l.contains("postgres-cluster-") && l.contains(" primary ")).count();
        let replicas = screen.lines().filter(|l| l.contains("postgres-cluster-") && l.contains(" replica ")).count();
        primaries == 1 && replicas == 2
    });
    assert!(screen.contains(&format!("leader {old_leader}")), "{screen}");

    // A manual backup: B opens the dialog showing the pgbackrest command; Enter confirms.
    console.keys(&["B"]);
    console.wait_for("the backup dialog", Duration::from_secs(10), |s| {
        s.contains("pgbackrest") && s.contains("Enter to confirm")
    });
    console.keys(&["Enter"]);
    console.keys(&["8"]);
    console.wait_for("the backup's outcome in Events", SETTLE, |s| s.contains("full backup (#1) succeeded"));
    console.keys(&["4"]);
    assert!(cluster.status()["backups"]["count"].as_u64().unwrap() > backups_before);

    // A switchover: select a replica on Overview, S, type its name, Enter.
    console.keys(&["1", "g"]);
    let screen = wait_for_sql_facts(&console);
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("│postgres-cluster-")).collect();
    let target_row = rows.iter().position(|l| l.contains(" replica ")).unwrap();
    let target = rows[target_row].split_whitespace().next().unwrap().trim_start_matches('│').to_owned();
    for _ in 0..target_row {
        console.keys(&["j"]);
    }
    console.keys(&["S"]);
    console.wait_for("the switchover dialog", Duration::from_secs(10), |s| {
        s.contains(&format!("Type {target} to confirm"))
    });
    console.type_text(&target);
    console.keys(&["Enter"]);
    console.wait_for("the new leader on screen", SETTLE, |s| s.contains(&format!("leader {target}")));
    assert_eq!(leader(&healthy(cluster)).as_deref(), Some(target.as_str()));

    // The workload views read real pg_stat_statements, pg_stat_activity and the catalog.
    console.keys(&["5"]);
    console.wait_for("top queries", SETTLE, |s| s.contains("Top queries on") && s.contains("current_setting"));
    console.keys(&["6"]);
    console.wait_for("activity", SETTLE, |s| s.contains("Activity on") && s.contains("sessions"));
    console.keys(&["7"]);
    console.wait_for("the catalog", SETTLE, |s| s.contains("Databases on") && s.contains("replicator"));
    // y copies the selected database's name through OSC 52, which tmux keeps as its buffer.
    console.set_clipboard_on();
    console.keys(&["g", "y"]);
    let copied = console.wait_for_buffer(Duration::from_secs(10));
    assert!(["app", "postgres"].contains(&copied.as_str()), "copied `{copied}`");

    console.keys(&["C-c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !console.pane_dead() {
        assert!(Instant::now() < deadline, "ctrl-c did not end the console:\n{}", console.capture());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// At 80x24: D opens the create-database form, U the create-user form; each is confirmed with
/// Enter after its SQL is shown. The user then logs in with the password pgdeck stored, and the
/// grants let it write to a table the database's owner creates later.
fn console_creates_database_and_user(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let leader_port = port_of(&doc, &leader(&doc).unwrap());
    let console = open_console(cluster, 80, 24);
    console.keys(&["7"]);
    console.wait_for("the catalog", SETTLE, |s| s.contains("Databases on") && s.contains("app"));

    console.keys(&["D"]);
    console.wait_for("the create-database form", Duration::from_secs(10), |s| s.contains("Create database"));
    console.type_text("App");
    console.wait_for("the name refused as typed", Duration::from_secs(10), |s| {
        s.contains("✗ a database name starts with a lowercase letter")
    });
    console.keys(&["BSpace", "BSpace", "BSpace"]);
    console.type_text("shop");
    console.keys(&["Tab"]);
    console.type_text("app");
    console.wait_for("both fields valid", Duration::from_secs(10), |s| s.matches('✓').count() == 2);
    console.keys(&["Enter"]);
    console.wait_for("the SQL before confirming", Duration::from_secs(10), |s| {
        s.contains(r#"CREATE DATABASE "shop" OWNER "app""#) && s.contains("Enter to confirm")
    });
    console.keys(&["Enter"]);
    console.keys(&["8"]);
    console.wait_for("the database created", SETTLE, |s| s.contains("owned by app (#1) succeeded"));

    console.keys(&["7"]);
    console.wait_for("the new database listed", SETTLE, |s| {
        s.contains("Databases on") && s.lines().any(|l| l.starts_with("│shop "))
    });
    console.keys(&["U"]);
    console.wait_for("the create-user form", Duration::from_secs(10), |s| s.contains("Create user"));
    console.type_text("alice");
    console.keys(&["Tab"]);
    console.keys(&["BSpace"; 20]);
    console.type_text("shop");
    console.keys(&["Enter"]);
    console.wait_for("the user's SQL before confirming", Duration::from_secs(10), |s| {
        s.contains(r#"CREATE ROLE "alice" LOGIN"#) && s.contains("postgres/alice-credentials")
    });
    console.keys(&["Enter"]);
    console.keys(&["8"]);
    console
        .wait_for("the user created", SETTLE, |s| s.contains("create user alice with access to shop (#2) succeeded"));
    let screen = console.capture();

    // A secret that is already there cannot be stored again: the role is rolled back with it.
    let mut credentials = cluster.credentials();
    credentials["postgres/bob-credentials"] = serde_json::json!({ "username": "bob", "password": "taken" });
    std::fs::write(cluster.dir().join("credentials.json"), credentials.to_string()).unwrap();
    console.keys(&["7"]);
    console.wait_for("the catalog", SETTLE, |s| s.contains("Databases on"));
    console.keys(&["U"]);
    console.type_text("bob");
    console.keys(&["Tab"]);
    console.keys(&["BSpace"; 20]);
    console.type_text("shop");
    console.keys(&["Enter"]);
    console.wait_for("bob's SQL before confirming", Duration::from_secs(10), |s| s.contains(r#"CREATE ROLE "bob""#));
    console.keys(&["Enter", "8"]);
    console.wait_for("bob refused", SETTLE, |s| s.contains("create user bob with access to shop (#3) FAILED"));

    // The password is shown only on the reveal key, confirmed, and goes with the next key.
    let password = cluster.credentials()["postgres/alice-credentials"]["password"].as_str().unwrap().to_owned();
    console.keys(&["7"]);
    console.wait_for("alice listed", SETTLE, |s| s.lines().any(|l| l.starts_with("│alice ")));
    console.keys(&["V"]);
    console.type_text("alice");
    console.wait_for("a login to reveal", Duration::from_secs(10), |s| s.contains('✓'));
    console.keys(&["Enter"]);
    console.wait_for("where it will be read", Duration::from_secs(10), |s| {
        s.contains("read postgres/alice-credentials") && s.contains("Enter to confirm") && !s.contains(&password)
    });
    console.keys(&["Enter"]);
    console.wait_for("the password shown", SETTLE, |s| s.contains("Password of alice") && s.contains(&password));
    console.keys(&["x"]);
    console.wait_for("the password hidden by a key", Duration::from_secs(10), |s| {
        !s.contains(&password) && s.contains("Databases on")
    });
    console.keys(&["C-c"]);
    let audit = pgdeck::audit::read_all(&cluster.root.join("home/state"));
    assert!(audit.contains("reveal-password"), "who looked is audited: {audit}");
    assert!(!audit.contains(&password), "the password reached the audit trail");
    let admin = Login { port: leader_port, database: "postgres", user: "postgres", password: &admin_password(cluster) };
    let bob = query(&admin, "SELECT count(*) FROM pg_roles WHERE rolname = 'bob'").unwrap();
    assert_eq!(bob, vec![vec![Some("0".into())]], "the role was left behind without its secret");

    assert_eq!(cluster.credentials()["postgres/alice-credentials"]["username"], "alice");
    assert!(!screen.contains(&password), "the password reached the screen before it was asked for");
    let (app_user, app_password) = app_login(cluster);
    let as_owner = Login { port: leader_port, database: "shop", user: &app_user, password: &app_password };
    query(&as_owner, "CREATE TABLE orders (id int PRIMARY KEY, item text)").unwrap();
    let as_alice = Login { port: leader_port, database: "shop", user: "alice", password: &password };
    query(&as_alice, "INSERT INTO orders VALUES (1, 'pgdeck')").unwrap();
    let rows = query(&as_alice, "SELECT current_user, item FROM orders").unwrap();
    assert_eq!(rows, vec![vec![Some("alice".into()), Some("pgdeck".into())]]);
    let wrong = Login { password: "not-the-password", ..as_alice };
    assert!(query(&wrong, "SELECT 1").is_err(), "a wrong password must not log in");
    // Through the pooler too: PgBouncer looks the new login up in PostgreSQL (auth_query).
    let pooled = Login { port: cluster.pgbouncer_port(), ..as_alice };
    assert_eq!(query(&pooled, "SELECT count(*) FROM orders").unwrap(), vec![vec![Some("1".into())]]);
    assert!(query(&Login { password: "not-the-password", ..pooled }, "SELECT 1").is_err());
}

/// Sixty resizes without a pause, down to 1x1 and up to 240x70: the console neither dies nor
/// stalls, says when it is too small, and then draws the right view at the final size.
fn console_survives_resize_storm(cluster: &LocalCluster) {
    let console = open_console(cluster, 160, 48);
    console.wait_for("the members", SETTLE, |s| s.contains(" Members "));
    let sizes: [(u16, u16); 6] = [(1, 1), (240, 70), (39, 9), (80, 24), (13, 40), (200, 12)];
    for round in 0..60 {
        let (w, h) = sizes[round % sizes.len()];
        console.resize(w, h);
    }
    console.resize(30, 8);
    console.wait_for("the too-small notice", Duration::from_secs(10), |s| s.contains("too small (30x8)"));
    console.resize(100, 30);
    console.keys(&["2"]);
    let screen = console.wait_for("Replication at 100x30", Duration::from_secs(10), |s| {
        s.contains("Replication") && s.lines().count() >= 29
    });
    assert!(!console.pane_dead(), "the console died in the storm:\n{screen}");
    let widest = screen.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(widest <= 100, "drawn wider than the terminal:\n{screen}");
    assert!(screen.lines().any(|l| l.starts_with('┌') && l.trim_end().ends_with('┐') && l.chars().count() == 100));
    console.keys(&["C-c"]);
}

/// A name built to break out of its quotes is refused before any SQL is sent, with the rule it
/// breaks; the database it aimed at is still there and no role or statement of it exists.
fn injected_names_are_refused(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let port = port_of(&doc, &leader(&doc).unwrap());
    let evil = r#"x"; DROP DATABASE postgres; --"#;
    let out = cluster.pgdeck(&["user", "create", evil, "--database", "app"]);
    let text = describe(&out);
    assert!(!out.status.success() && text.contains("is not allowed: use lowercase letters"), "{text}");
    let password = admin_password(cluster);
    let admin = Login { port, database: "postgres", user: "postgres", password: &password };
    let databases = query(&admin, "SELECT count(*) FROM pg_database WHERE datname = 'postgres'").unwrap();
    assert_eq!(databases, vec![vec![Some("1".into())]]);
    let roles = query(&admin, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'x%'").unwrap();
    assert_eq!(roles, vec![vec![Some("0".into())]]);
    let ran = "SELECT count(*) FROM pg_stat_statements WHERE query ILIKE '%DROP DATABASE%'";
    assert_eq!(query(&admin, ran).unwrap(), vec![vec![Some("0".into())]], "a DROP DATABASE reached the server");
}

/// `ps` shows no password: none of the cluster's processes (etcd, Patroni, PostgreSQL and its
/// children, PgBouncer, the agent) has one in its arguments or its environment.
fn no_password_in_processes(cluster: &LocalCluster) {
    let credentials = cluster.credentials();
    let passwords: Vec<&str> =
        credentials.as_object().unwrap().values().map(|c| c["password"].as_str().unwrap()).collect();
    assert!(passwords.len() >= 3, "{credentials:#}");
    let processes = cluster.processes();
    assert!(processes.len() >= 8, "too few processes found to mean anything: {processes:?}");
    for (pid, cmdline) in processes {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        for password in &passwords {
            assert!(!cmdline.contains(password), "a password is in the arguments of {pid}: {cmdline}");
            assert!(!environ.contains(password), "a password is in the environment of {pid} ({cmdline})");
        }
    }
}

/// A long query started by the test, seen in Activity, cancelled with C (Enter confirms) and its
/// session then terminated with T (the pid typed to confirm).
fn console_cancels_and_terminates(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let leader_port = port_of(&doc, &leader(&doc).unwrap());
    let password = admin_password(cluster);
    let sleeper = {
        let password = password.clone();
        std::thread::spawn(move || {
            let login = Login { port: leader_port, database: "postgres", user: "postgres", password: &password };
            let first = query(&login, "SELECT pg_sleep(300)");
            let second = query(&login, "SELECT pg_sleep(301)");
            (first, second)
        })
    };
    let console = open_console(cluster, 160, 48);
    console.keys(&["6"]);
    let select = |needle: &str| {
        let screen = console.wait_for(needle, SETTLE, |s| s.contains("Activity on") && s.contains(needle));
        let rows: Vec<&str> =
            screen.lines().skip_while(|l| !l.contains("│PID")).skip(1).take_while(|l| l.starts_with('│')).collect();
        let index = rows.iter().position(|l| l.contains(needle)).unwrap();
        let pid = rows[index].trim_start_matches('│').split_whitespace().next().unwrap().to_owned();
        console.keys(&["g"]);
        for _ in 0..index {
            console.keys(&["j"]);
        }
        pid
    };
    select("pg_sleep(300)");
    console.keys(&["C"]);
    console.wait_for("the cancel dialog", Duration::from_secs(10), |s| s.contains("SELECT pg_cancel_backend("));
    console.keys(&["Enter"]);
    let pid = select("pg_sleep(301)");
    console.keys(&["T"]);
    console
        .wait_for("the terminate dialog", Duration::from_secs(10), |s| s.contains(&format!("Type {pid} to confirm")));
    console.type_text(&pid);
    console.keys(&["Enter"]);
    let (first, second) = sleeper.join().unwrap();
    assert!(first.as_ref().is_err_and(|e| e.contains("canceling statement due to user request")), "{first:?}");
    assert!(second.as_ref().is_err_and(|e| e.contains("terminating connection")), "{second:?}");
    console.keys(&["8"]);
    console.wait_for("both outcomes in Events", SETTLE, |s| s.contains("was cancelled") && s.contains("terminated"));
}

/// SIGTERM and SIGHUP end the console cleanly: it leaves the alternate screen and exits 0.
fn console_restores_terminal_on_signals(cluster: &LocalCluster) {
    healthy(cluster);
    let home = cluster.root.join("home");
    let dir = cluster.dir();
    let pgdeck = env!("CARGO_BIN_EXE_pgdeck");
    for signal in [Signal::SIGTERM, Signal::SIGHUP] {
        // A shell runs the console and then prints how it ended on the normal screen: tmux's own
        // record of a dead pane's status proved unreliable.
        let script = format!(
            "PGDECK_HOME='{}' '{pgdeck}' --dir '{}'; echo \"console exited with $?\"; sleep 60",
            home.display(),
            dir.display()
        );
        let console = Tmux::start(std::path::Path::new("/bin/sh"), &["-c", &script], &[], 100, 30);
        console.wait_for("the console", SETTLE, |s| s.contains(" Members "));
        assert_eq!(console.pane_var("alternate_on"), "1", "the console draws on the alternate screen");
        let shell: i32 = console.pane_var("pane_pid").parse().unwrap();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
        let pid: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
        kill(Pid::from_raw(pid), signal).unwrap();
        let screen = console.wait_for("the console to end", Duration::from_secs(10), |s| s.contains("console exited"));
        assert!(screen.contains("console exited with 0"), "{signal}: not a clean exit:\n{screen}");
        assert_eq!(console.pane_var("alternate_on"), "0", "{signal}: the alternate screen was left");
    }
}

/// Maintenance mode for the length of a test, ended even when the test fails.
struct Maintenance<'a>(&'a LocalCluster);

impl<'a> Maintenance<'a> {
    fn on(cluster: &'a LocalCluster) -> Self {
        cluster.set_maintenance_mode(true);
        Self(cluster)
    }
}

impl Drop for Maintenance<'_> {
    fn drop(&mut self) {
        self.0.set_maintenance_mode(false);
    }
}

fn switchover_moves_leader_and_pooler(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let old = leader(&doc).unwrap();
    let candidate = replicas(&doc)[0].clone();
    let unconfirmed = cluster.pgdeck(&["switchover", "--to", &candidate]);
    assert!(!unconfirmed.status.success());
    assert!(
        String::from_utf8_lossy(&unconfirmed.stderr).contains(&format!("type `{candidate}` to confirm")),
        "{}",
        describe(&unconfirmed)
    );
    let to_leader = cluster.pgdeck(&["switchover", "--to", &old, "--confirm", &old]);
    assert!(String::from_utf8_lossy(&to_leader.stderr).contains("already the leader"), "{}", describe(&to_leader));
    let out = cluster.pgdeck(&["switchover", "--to", &candidate, "--confirm", &candidate]);
    assert!(out.status.success(), "{}", describe(&out));
    let after = cluster.wait_for_status("the new leader with the pooler on it", SETTLE, |doc| {
        leader(doc).as_deref() == Some(candidate.as_str()) && doc["pooler"]["target_member"] == candidate.as_str()
    });
    assert_eq!(member(&after, &old)["role"], "replica");
    let audit = pgdeck::audit::read_all(&cluster.root.join("home/state"));
    assert!(audit.lines().any(|l| l.contains("\"refused\"") && l.contains("switchover")), "{audit}");
    assert!(audit.lines().any(|l| l.contains("\"finished\"") && l.contains("succeeded")), "{audit}");
    let (user, password) = app_login(cluster);
    let pooled = Login { port: cluster.pgbouncer_port(), database: "app", user: &user, password: &password };
    wait_for_write(&pooled);
}

/// PgBouncer may hand out a stale server connection once right after the leader moved.
fn wait_for_write(pooled: &Login<'_>) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let result = query(pooled, "INSERT INTO notes (body) VALUES ('after leader change')");
        if result.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "PgBouncer does not take writes: {result:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn read_only_refuses_actions(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let replica = replicas(&doc)[0].clone();
    let backup = doc["backups"]["last_successful"]["id"].as_str().unwrap().to_owned();
    // Every subcommand that changes something, each refused with the reason.
    let mutating = [
        vec!["switchover", "--to", &replica, "--confirm", &replica],
        vec!["failover", "--to", &replica, "--confirm", &replica],
        vec!["backup"],
        vec!["restore", "--backup", &backup, "--name", "ro-copy", "--confirm", "ro-copy"],
        vec!["user", "create", "ro_user", "--database", "app"],
        vec!["user", "rotate", "app", "--confirm", "app"],
        vec!["local", "up"],
        vec!["local", "down"],
    ];
    for args in &mutating {
        let out = cluster.pgdeck(&[&["--read-only"], args.as_slice()].concat());
        assert!(!out.status.success(), "{args:?} must refuse");
        assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"), "{}", describe(&out));
    }
    // The same from `read_only = true` in config.toml, as an observer's machine would have it.
    let config = cluster.root.join("home").join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "read_only = true\n").unwrap();
    for args in &mutating {
        let out = cluster.pgdeck(args);
        assert!(!out.status.success() && describe(&out).contains("read-only"), "{args:?}: {}", describe(&out));
    }
    std::fs::remove_file(config.join("config.toml")).unwrap();
    let after = cluster.status();
    assert_eq!(leader(&after), leader(&doc), "nothing changed");
    assert_eq!(after["backups"]["count"], doc["backups"]["count"]);
    assert!(!cluster.dir().with_file_name("ro-copy").exists());
    let password = admin_password(cluster);
    let port = port_of(&after, &leader(&after).unwrap());
    let admin = Login { port, database: "postgres", user: "postgres", password: &password };
    assert_eq!(
        query(&admin, "SELECT count(*) FROM pg_roles WHERE rolname = 'ro_user'").unwrap()[0][0].as_deref(),
        Some("0")
    );
}

fn manual_backup_appears(cluster: &LocalCluster) {
    let before = healthy(cluster)["backups"]["count"].as_u64().unwrap();
    let out = cluster.pgdeck(&["backup", "--type", "incr"]);
    assert!(out.status.success(), "{}", describe(&out));
    let doc = cluster.status();
    assert_eq!(doc["backups"]["count"].as_u64().unwrap(), before + 1);
    assert_eq!(doc["backups"]["last_successful"]["type"], "incr");
}

fn hung_member_is_reported(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let replica = replicas(&doc)[1].clone();
    let pids: Vec<i32> = [cluster.pid_of(&replica), cluster.postmaster_pid(&replica)].into_iter().flatten().collect();
    assert_eq!(pids.len(), 2);
    for pid in &pids {
        kill(Pid::from_raw(*pid), Signal::SIGSTOP).unwrap();
    }
    let out = cluster.pgdeck(&["status", "--output", "json"]);
    for pid in &pids {
        kill(Pid::from_raw(*pid), Signal::SIGCONT).unwrap();
    }
    assert!(out.status.success(), "{}", describe(&out));
    let hung: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = member(&hung, &replica);
    assert!(m["error"].as_str().is_some_and(|e| e.contains("no answer") || e.contains("did not")), "{m:#}");
    assert!(hung["findings"].as_array().unwrap().iter().any(|f| f["subject"] == replica.as_str()), "{hung:#}");
    assert!(leader(&hung).is_some(), "the other members are still reported");
    healthy(cluster);
}

fn killed_leader_fails_over(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let old = leader(&doc).unwrap();
    let patroni = cluster.pid_of(&old).unwrap();
    let postmaster = cluster.postmaster_pid(&old).unwrap();
    let console = open_console(cluster, 160, 48);
    console.wait_for("a quiet overview", SETTLE, |s| s.contains(" Members ") && !s.contains("CRIT"));
    kill(Pid::from_raw(patroni), Signal::SIGKILL).unwrap();
    kill(Pid::from_raw(postmaster), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    // While Patroni still holds the dead leader's key it lists it as the leader, `running`:
    // SQL's refusal is what the console must show, and no row may claim the leader runs.
    let crit = format!("CRIT leader {old} unreachable by SQL");
    let row_of_old = format!("│{old} ");
    let screen = console.wait_for("the dead leader shown as such", SETTLE, |s| {
        s.contains(&crit) || s.lines().any(|l| l.contains(&row_of_old) && !l.contains(" primary "))
    });
    eprintln!("the dead leader's CRIT on the console {:.1}s after the kill", killed.elapsed().as_secs_f64());
    let row = screen.lines().find(|l| l.contains(&row_of_old)).unwrap_or_default();
    assert!(!row.contains("running"), "the dead leader's row claims it runs: {row}\n{screen}");
    if row.contains(" primary ") {
        assert!(screen.contains(&crit) && row.contains("unreachable"), "{screen}");
    }
    console.keys(&["C-c"]);
    let failed_over = cluster.wait_for_status("a new leader and the old one down", SETTLE, |doc| {
        leader(doc).is_some_and(|l| l != old) && member(doc, &old)["state"] == "down"
    });
    let new_leader = leader(&failed_over).unwrap();
    assert!(member(&failed_over, &old)["role"].is_null());
    assert!(failed_over["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "member_down" && f["subject"] == old.as_str()));
    cluster.wait_for_status("the pooler on the new leader", SETTLE, |doc| {
        doc["pooler"]["target_member"] == new_leader.as_str()
    });
    let (user, password) = app_login(cluster);
    wait_for_write(&Login { port: cluster.pgbouncer_port(), database: "app", user: &user, password: &password });
    // `local up` starts what is not running: the old leader comes back and rejoins as a replica.
    let out = cluster.pgdeck(&["local", "up"]);
    assert!(out.status.success(), "{}", describe(&out));
    let rejoined = healthy(cluster);
    assert_eq!(member(&rejoined, &old)["role"], "replica");
    assert_eq!(leader(&rejoined).as_deref(), Some(new_leader.as_str()));
}

/// Moves the recorded schedule to a few seconds from now, restarts the agent through `local up`
/// (which starts what is not running), and waits for the agent's own backup.
#[allow(clippy::disallowed_methods)] // the test schedules against the wall clock the agent reads
fn scheduled_backup_by_agent(cluster: &LocalCluster) {
    let before = healthy(cluster)["backups"]["count"].as_u64().unwrap();
    let due = chrono::Utc::now() + chrono::Duration::seconds(12);
    let schedule = due.format("%S %M %H * * *").to_string();
    let original = set_schedule(cluster, &schedule);
    let agent = cluster.pid_of("agent").unwrap();
    kill(Pid::from_raw(agent), Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.processes().iter().any(|(pid, _)| *pid == agent) {
        assert!(Instant::now() < deadline, "the agent ignores SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = cluster.pgdeck(&["local", "up"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("starting the existing local cluster"), "{}", describe(&out));
    assert_ne!(cluster.pid_of("agent"), Some(agent));
    let doc = cluster
        .wait_for_status("the scheduled backup", SETTLE, |doc| doc["backups"]["count"].as_u64().unwrap() > before);
    let started: chrono::DateTime<chrono::Utc> =
        doc["backups"]["last_successful"]["started_at"].as_str().unwrap().parse().unwrap();
    assert!(
        started >= due - chrono::Duration::seconds(1),
        "the backup started at {started}, before it was due at {due}"
    );
    let log = std::fs::read_to_string(cluster.dir().join("logs/agent.log")).unwrap();
    assert!(log.contains("scheduled backup due"), "{log}");
    set_schedule(cluster, &original);
}

/// Rewrites the schedule recorded in `cluster.json`; returns the one it replaced.
fn set_schedule(cluster: &LocalCluster, schedule: &str) -> String {
    let path = cluster.dir().join("cluster.json");
    let mut file = cluster.cluster_file();
    let original = file["spec"]["backup"]["schedule"].as_str().unwrap().to_owned();
    file["spec"]["backup"]["schedule"] = Value::from(schedule);
    std::fs::write(path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    original
}

fn down_then_up_keeps_data(cluster: &LocalCluster) {
    healthy(cluster);
    let (user, password) = app_login(cluster);
    let pooled = Login { port: cluster.pgbouncer_port(), database: "app", user: &user, password: &password };
    query(&pooled, "INSERT INTO notes (body) VALUES ('survives down')").unwrap();
    assert!(!cluster.processes().is_empty());
    let out = cluster.pgdeck(&["local", "down"]);
    assert!(out.status.success(), "{}", describe(&out));
    let left = cluster.processes();
    assert!(left.is_empty(), "processes left after down: {left:#?}");
    for component in ["etcd", "pgbouncer", "agent"] {
        assert_eq!(cluster.pid_of(component), None, "{component}'s pid file is removed");
    }
    let out = cluster.pgdeck(&["local", "up"]);
    assert!(out.status.success(), "{}", describe(&out));
    healthy(cluster);
    let rows = query(&pooled, "SELECT count(*) FROM notes WHERE body = 'survives down'").unwrap();
    assert_eq!(rows[0][0].as_deref(), Some("1"));
}

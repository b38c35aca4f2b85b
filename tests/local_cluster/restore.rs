//! `pgdeck restore`: a backup of the shared cluster, rolled forward to a time, comes up as a new
//! local cluster beside it, and the shared cluster is left as it was.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{admin_password, healthy, port_of, SETTLE};
use crate::support::local_cluster::{describe, leader, members, processes_in, purge_args, LocalCluster};
use crate::support::sql::{query, Login};

const NAME: &str = "pitr-copy";

/// The restored cluster, stopped and removed however the test ends; its logs are kept on a panic.
struct Restored<'a> {
    source: &'a LocalCluster,
    dir: PathBuf,
}

impl Drop for Restored<'_> {
    fn drop(&mut self) {
        if !self.dir.exists() {
            return;
        }
        if std::thread::panicking() {
            let kept =
                Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("restored-cluster-logs-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&kept);
            for entry in std::fs::read_dir(self.dir.join("logs")).into_iter().flatten().flatten() {
                let _ = std::fs::copy(entry.path(), kept.join(entry.file_name()));
            }
            eprintln!("the restored cluster's logs are kept in {}", kept.display());
        }
        let purge = purge_args(&self.dir);
        let out = self.source.pgdeck_in(&self.dir, &purge.iter().map(String::as_str).collect::<Vec<_>>());
        if !out.status.success() {
            eprintln!("teardown of {}: {}", self.dir.display(), describe(&out));
        }
    }
}

pub fn restored_as_new_cluster_to_a_point_in_time(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let source_leader = leader(&doc).unwrap();
    let admin = admin_password(cluster);
    let on_source = Login { port: port_of(&doc, &source_leader), database: "app", user: "postgres", password: &admin };
    let pid = std::process::id();
    let (before, after) = (format!("before-target-{pid}"), format!("after-target-{pid}"));
    query(&on_source, "CREATE TABLE IF NOT EXISTS restore_markers (body text NOT NULL)").unwrap();
    query(&on_source, &format!("INSERT INTO restore_markers VALUES ('{before}')")).unwrap();
    let backup = doc["backups"]["last_successful"]["id"].as_str().unwrap().to_owned();
    // The target is read from PostgreSQL's clock, which stamps the commits recovery compares it
    // with; a second on either side keeps it clear of both markers and of the backup's end.
    std::thread::sleep(Duration::from_secs(1));
    let clock = "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    let target = query(&on_source, clock).unwrap()[0][0].clone().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    query(&on_source, &format!("INSERT INTO restore_markers VALUES ('{after}')")).unwrap();
    // Recovery stops at the first commit after the target, so that commit's WAL must be archived.
    let segment = query(&on_source, "SELECT pg_walfile_name(pg_switch_wal())").unwrap()[0][0].clone().unwrap();
    let deadline = Instant::now() + SETTLE;
    loop {
        let archived = query(&on_source, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").unwrap();
        if archived[0][0].as_deref().is_some_and(|wal| wal >= segment.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "{segment} was never archived: {archived:?}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let dir = cluster.dir().with_file_name(NAME);
    let restored = Restored { source: cluster, dir: dir.clone() };
    let args = ["restore", "--backup", &backup, "--target-time", &target, "--name", NAME, "--confirm", NAME];
    let started = Instant::now();
    let out = cluster.pgdeck(&args);
    eprintln!("restore of {backup} to {target} took {:.0?}", started.elapsed());
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("open it with `pgdeck --dir {}`", dir.display())), "{stdout}");

    // A whole cluster of its own: one leader, two streaming replicas, the pooler, a first backup.
    let new = cluster.wait_for_status_in(&dir, "the restored cluster healthy", SETTLE, |doc| {
        let Some(leader) = leader(doc) else { return false };
        let streaming =
            members(doc).iter().filter(|m| m["role"] == "replica" && m["replication_state"] == "streaming").count();
        streaming == 2 && doc["pooler"]["target_member"] == leader.as_str()
    });
    assert_eq!(new["cluster"], NAME);
    let mut names: Vec<&str> = members(&new).iter().map(|m| m["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, [format!("{NAME}-1"), format!("{NAME}-2"), format!("{NAME}-3")]);
    assert_eq!(new["backups"]["last_successful"]["type"], "full", "{new:#}");
    assert_ne!(new["timeline"], Value::Null);

    // Point in time: the row written before the target is there, the one after it is not.
    let new_leader = leader(&new).unwrap();
    let on_new = Login { port: port_of(&new, &new_leader), database: "app", user: "postgres", password: &admin };
    let rows = query(&on_new, "SELECT body FROM restore_markers WHERE body LIKE '%-target-%' ORDER BY body").unwrap();
    assert_eq!(rows, [[Some(before.clone())]], "only the row before {target} is restored");
    let credentials = |d: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("credentials.json")).unwrap()).unwrap()
    };
    assert_eq!(credentials(&dir), credentials(&cluster.dir()), "the restored roles keep their passwords");

    // It archives into its own repository and never into the source's.
    let archive_command = query(&on_new, "SHOW archive_command").unwrap()[0][0].clone().unwrap();
    let own_config = dir.join("pgbackrest/pgbackrest.conf");
    assert!(
        archive_command.contains(&format!("--config={} --stanza={NAME} ", own_config.display())),
        "{archive_command}"
    );
    let stanzas = |repo: &Path| -> Vec<String> {
        let mut found: Vec<String> = std::fs::read_dir(repo.join("archive"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        found
    };
    assert_eq!(stanzas(&dir.join("pgbackrest/repo")), [NAME]);
    assert_eq!(stanzas(&cluster.dir().join("pgbackrest/repo")), ["postgres-cluster"]);
    let patroni_yml = std::fs::read_to_string(dir.join(format!("members/{NAME}-1/patroni.yml"))).unwrap();
    assert!(!patroni_yml.contains(&cluster.dir().display().to_string()), "the configs no longer name the source");

    // The source is as it was: the same leader, both rows.
    let source_after = healthy(cluster);
    assert_eq!(leader(&source_after).as_deref(), Some(source_leader.as_str()));
    let both = query(&on_source, "SELECT count(*) FROM restore_markers WHERE body LIKE '%-target-%'").unwrap();
    assert_eq!(both[0][0].as_deref(), Some("2"));

    // The same name again is refused, and nothing is touched.
    let again = cluster.pgdeck(&args);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists") && stderr.contains("never writes over anything"), "{stderr}");
    assert_eq!(leader(&cluster.wait_for_status_in(&dir, "the restored cluster", SETTLE, |_| true)), Some(new_leader));

    drop(restored);
    assert!(!dir.exists(), "local down --purge removes the restored cluster");
    let left = processes_in(&dir);
    assert!(left.is_empty(), "processes of the restored cluster left: {left:#?}");
}

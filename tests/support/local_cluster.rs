//! A real local cluster (etcd, three Patroni members, PgBouncer, pgBackRest) brought up by the
//! tests through the real `pgdeck local up`, in a directory of their own, torn down at the end.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct LocalCluster {
    /// Holds `home/` (PGDECK_HOME) and `made/by/pgdeck/cluster/` (the cluster's --dir).
    pub root: PathBuf,
}

impl LocalCluster {
    /// Creates the run's directory (one the `postgres` user may pass through, as /tmp is, when
    /// tests run as root) and runs `local up` as a hardened host would: umask 077, a PGDECK_HOME
    /// that does not exist yet, and a --dir under directories that do not exist yet, so the
    /// whole suite runs on directories pgdeck made itself.
    pub fn up() -> Result<Self, String> {
        let root = std::env::temp_dir().join(format!("pgdeck-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).map_err(|e| e.to_string())?;
        let cluster = Self { root };
        let out = Command::new("sh")
            .arg("-c")
            .arg(r#"umask 077 && exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_pgdeck"))
            .env("PGDECK_HOME", cluster.root.join("home"))
            .arg("--dir")
            .arg(cluster.dir())
            .args(["local", "up"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            let text = describe(&out);
            cluster.teardown();
            return Err(format!("local up failed: {text}"));
        }
        Ok(cluster)
    }

    pub fn dir(&self) -> PathBuf {
        self.root.join("made/by/pgdeck/cluster")
    }

    /// Runs the real pgdeck binary against this cluster.
    pub fn pgdeck(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pgdeck"))
            .env("PGDECK_HOME", self.root.join("home"))
            .arg("--dir")
            .arg(self.dir())
            .args(args)
            .output()
            .expect("pgdeck runs")
    }

    /// `status --output json`, parsed.
    pub fn status(&self) -> Value {
        let out = self.pgdeck(&["status", "--output", "json"]);
        assert!(out.status.success(), "status failed: {}", describe(&out));
        serde_json::from_slice(&out.stdout).expect("status prints JSON")
    }

    /// Polls `status` until `check` holds; panics with the last document after `timeout`.
    pub fn wait_for_status(&self, what: &str, timeout: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let doc = self.status();
            if check(&doc) {
                return doc;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {doc:#}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn credentials(&self) -> Value {
        let text = std::fs::read_to_string(self.dir().join("credentials.json")).expect("credentials file");
        serde_json::from_str(&text).expect("credentials JSON")
    }

    pub fn cluster_file(&self) -> Value {
        let text = std::fs::read_to_string(self.dir().join("cluster.json")).expect("cluster.json");
        serde_json::from_str(&text).expect("cluster.json parses")
    }

    pub fn pgbouncer_port(&self) -> u16 {
        u16::try_from(self.cluster_file()["ports"]["pgbouncer"].as_u64().unwrap()).unwrap()
    }

    /// Puts Patroni into maintenance mode (`patronictl pause`) or takes it out, through its REST API.
    pub fn set_maintenance_mode(&self, paused: bool) {
        let rest = self.cluster_file()["ports"]["members"][0]["rest"].as_u64().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = runtime.block_on(async {
            reqwest::Client::new()
                .patch(format!("http://127.0.0.1:{rest}/config"))
                .json(&serde_json::json!({ "pause": paused }))
                .send()
                .await
                .map(|r| r.status())
        });
        assert!(status.as_ref().is_ok_and(reqwest::StatusCode::is_success), "PATCH /config: {status:?}");
    }

    pub fn pid_of(&self, component: &str) -> Option<i32> {
        std::fs::read_to_string(self.dir().join("run").join(format!("{component}.pid"))).ok()?.trim().parse().ok()
    }

    pub fn postmaster_pid(&self, member: &str) -> Option<i32> {
        let path = self.dir().join("members").join(member).join("data").join("postmaster.pid");
        std::fs::read_to_string(path).ok()?.lines().next()?.trim().parse().ok()
    }

    /// Every live process whose command line mentions this cluster's directory.
    pub fn processes(&self) -> Vec<(i32, String)> {
        processes_in(&self.dir())
    }

    /// Copies the cluster's logs under `into` and prints their tails, for a failed run.
    pub fn keep_logs(&self, into: &Path) {
        let target = into.join(format!("local-cluster-logs-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&target);
        for entry in std::fs::read_dir(self.dir().join("logs")).into_iter().flatten().flatten() {
            let _ = std::fs::copy(entry.path(), target.join(entry.file_name()));
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().filter(|l| !l.contains("no action. I am")).collect();
            eprintln!("==== {} (last 40 lines) ====", entry.path().display());
            for line in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{line}");
            }
        }
        eprintln!("cluster logs kept in {}", target.display());
    }

    /// Runs the real pgdeck binary against another local cluster in `dir`, with this run's home.
    pub fn pgdeck_in(&self, dir: &Path, args: &[&str]) -> Output {
        self.pgdeck_in_env(dir, args, &[])
    }

    /// As [`Self::pgdeck_in`], with extra environment (an AWS endpoint, say).
    pub fn pgdeck_in_env(&self, dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pgdeck"))
            .env("PGDECK_HOME", self.root.join("home"))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("--dir")
            .arg(dir)
            .args(args)
            .output()
            .expect("pgdeck runs")
    }

    /// Polls `status --output json` of the cluster in `dir` until `check` holds.
    pub fn wait_for_status_in(
        &self,
        dir: &Path,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.pgdeck_in(dir, &["status", "--output", "json"]);
            assert!(out.status.success(), "status of {} failed: {}", dir.display(), describe(&out));
            let doc: Value = serde_json::from_slice(&out.stdout).expect("status prints JSON");
            if check(&doc) {
                return doc;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {doc:#}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn teardown(&self) {
        let purge = purge_args(&self.dir());
        let out = self.pgdeck(&purge.iter().map(String::as_str).collect::<Vec<_>>());
        if !out.status.success() {
            eprintln!("teardown: {}", describe(&out));
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `local down --purge` of the cluster in `dir`, confirmed with its name as its cluster.json
/// holds it (without one, `down` deletes nothing and the default name does).
pub fn purge_args(dir: &Path) -> Vec<String> {
    let name = std::fs::read_to_string(dir.join("cluster.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|file| file["spec"]["name"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "postgres-cluster".to_owned());
    ["local", "down", "--purge", "--confirm", &name].map(str::to_owned).to_vec()
}

/// Every live process whose command line mentions `dir`.
pub fn processes_in(dir: &Path) -> Vec<(i32, String)> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(&needle) && !is_zombie(pid) {
            found.push((pid, cmdline));
        }
    }
    found
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()))
        == Some('Z')
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The member objects of a status document.
pub fn members(doc: &Value) -> &Vec<Value> {
    doc["members"].as_array().expect("members array")
}

pub fn member<'a>(doc: &'a Value, name: &str) -> &'a Value {
    members(doc).iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no member {name} in {doc:#}"))
}

pub fn leader(doc: &Value) -> Option<String> {
    let primaries: Vec<&Value> = members(doc).iter().filter(|m| m["role"] == "primary").collect();
    (primaries.len() == 1).then(|| primaries[0]["name"].as_str().unwrap().to_owned())
}

pub fn replicas(doc: &Value) -> Vec<String> {
    members(doc).iter().filter(|m| m["role"] == "replica").map(|m| m["name"].as_str().unwrap().to_owned()).collect()
}

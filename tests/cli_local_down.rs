//! `pgdeck local down --purge` through the real binary, on a crafted cluster directory: its
//! cluster.json (as `local up` writes it) names the cluster, its pid file tracks a stand-in
//! process, and no cluster runs. A purge wants the cluster's name: without a terminal and without
//! `--confirm`, or with a wrong one, it refuses before it stops or deletes anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use pgdeck::platform::patroni::local::layout::{ClusterFile, Layout, MemberPorts, Ports};
use pgdeck::platform::patroni::run_as::RunAs;
use pgdeck::secrets::CredentialSource;
use pgdeck::spec::ClusterSpec;

const NAME: &str = "orders-local";

/// A cluster directory as `local up` leaves it, with a stand-in for its PgBouncer: a `sleep`
/// whose command line says `pgbouncer`, tracked by the pid file `down` stops it by.
struct Crafted {
    _home: tempfile::TempDir,
    home: PathBuf,
    dir: PathBuf,
    pooler: Child,
}

impl Crafted {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("cluster");
        let layout = Layout::new(dir.clone());
        std::fs::create_dir_all(layout.run_dir()).unwrap();
        std::fs::create_dir_all(layout.member_data_dir("orders-local-1")).unwrap();
        // Port 1: nothing answers there, so `down` finds no Patroni to ask for the leader.
        let member = MemberPorts { name: "orders-local-1".into(), postgres: 1, rest: 1 };
        let file = ClusterFile {
            spec: ClusterSpec { name: NAME.into(), ..ClusterSpec::default() },
            credentials: CredentialSource::File,
            ports: Ports { etcd_client: 1, etcd_peer: 1, pgbouncer: 1, members: vec![member] },
            run_as: RunAs { user: "nobody".into(), uid: 65534, gid: 65534, home: "/nonexistent".into() },
            postgres_bin_dir: "/usr/lib/postgresql/16/bin".into(),
            postgres_major: 16,
            scaled_parameters: Vec::new(),
            stanza: NAME.into(),
            pgdeck_exe: env!("CARGO_BIN_EXE_pgdeck").into(),
            unfinished_restore: None,
        };
        file.save(&layout).unwrap();
        let sleep = ["/usr/bin/sleep", "/bin/sleep"].into_iter().find(|p| Path::new(p).exists()).expect("sleep");
        let stand_in = home.path().join("pgbouncer");
        symlink(sleep, &stand_in).unwrap();
        let pooler = Command::new(&stand_in).arg("300").stdin(Stdio::null()).spawn().unwrap();
        std::fs::write(layout.pid_file("pgbouncer"), format!("{}\n", pooler.id())).unwrap();
        Self { home: home.path().to_owned(), _home: home, dir, pooler }
    }

    /// `pgdeck --dir DIR ARGS`, stdin not a terminal (`output()` gives it none).
    fn pgdeck(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pgdeck"))
            .env("PGDECK_HOME", self.home.join("home"))
            .arg("--dir")
            .arg(&self.dir)
            .args(args)
            .output()
            .unwrap()
    }

    fn pooler_runs(&mut self) -> bool {
        self.pooler.try_wait().unwrap().is_none()
    }

    fn untouched(&mut self) -> bool {
        self.dir.join("cluster.json").exists()
            && self.dir.join("members/orders-local-1/data").exists()
            && self.pooler_runs()
    }
}

impl Drop for Crafted {
    fn drop(&mut self) {
        let _ = self.pooler.kill();
        let _ = self.pooler.wait();
    }
}

#[test]
fn a_purge_without_a_terminal_or_confirm_refuses_and_says_how() {
    let mut cluster = Crafted::new();
    let out = cluster.pgdeck(&["local", "down", "--purge"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "purged unconfirmed: {stderr}");
    let how = format!("pgdeck --dir {} local down --purge --confirm {NAME}", cluster.dir.display());
    assert!(stderr.contains(&how), "says how to confirm: {stderr}");
    assert!(
        stderr.contains("stdin is not a terminal") && stderr.contains("nothing was stopped or deleted"),
        "{stderr}"
    );
    assert!(cluster.untouched(), "a refused purge stopped or deleted something");
}

#[test]
fn a_purge_with_the_wrong_name_refuses() {
    let mut cluster = Crafted::new();
    for wrong in ["postgres-cluster", "orders", ""] {
        let out = cluster.pgdeck(&["local", "down", "--purge", "--confirm", wrong]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "purged with --confirm {wrong:?}: {stderr}");
        assert!(stderr.contains("refused") && stderr.contains(&format!("--confirm {NAME}")), "{stderr}");
        assert!(cluster.untouched(), "a purge refused for {wrong:?} stopped or deleted something");
    }
}

#[test]
fn confirm_needs_purge_and_plain_down_needs_no_confirmation() {
    let mut cluster = Crafted::new();
    let out = cluster.pgdeck(&["local", "down", "--confirm", NAME]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--purge"));
    assert!(cluster.untouched());

    let out = cluster.pgdeck(&["local", "down"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("stopped: pgbouncer") && stdout.contains("data kept"), "{stdout}");
    assert!(!cluster.pooler_runs(), "down stops what the cluster started");
    assert!(cluster.dir.join("cluster.json").exists());
}

#[test]
fn a_purge_confirmed_with_the_name_stops_and_deletes() {
    let mut cluster = Crafted::new();
    let out = cluster.pgdeck(&["local", "down", "--purge", "--confirm", NAME]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("stopped: pgbouncer") && stdout.contains("and all its data"), "{stdout}");
    assert!(!cluster.pooler_runs());
    assert!(!cluster.dir.exists());
}

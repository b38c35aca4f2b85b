//! `--read-only` (and `read_only = true` in config.toml) refuses every subcommand that changes a
//! cluster, before it connects to anything. The subcommands are read from clap's own tree, so a
//! new one fails here until it is listed with what it does.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use clap::CommandFactory;
use pgdeck::cli::{Cli, Reach};

/// Every leaf subcommand, with arguments that would make it act. None of them can reach a
/// cluster here: the home is empty, PATH holds no tools and KUBECONFIG points nowhere.
const EVERY_SUBCOMMAND: &[&[&str]] = &[
    &["manifests"],
    &["apply"],
    &["spec", "show"],
    &["local", "up"],
    &["local", "down", "--purge", "--confirm", "postgres-cluster"],
    &["local", "status"],
    &["local", "agent"],
    &["status"],
    &["switchover", "--to", "m2", "--confirm", "m2"],
    &["failover", "--to", "m2", "--confirm", "m2"],
    &["backup", "--type", "incr"],
    &["database", "create", "shop", "--owner", "app"],
    &["user", "create", "alice", "--database", "app"],
    &["user", "rotate", "app", "--confirm", "app"],
    &["restore", "--backup", "20261125-020000F", "--name", "copy", "--confirm", "copy"],
    &["replay", "recording.jsonl"],
    &["report", "recording.jsonl"],
];

/// The subcommand paths of clap's tree that take no further subcommand.
fn leaves(command: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
    let children: Vec<&clap::Command> = command.get_subcommands().filter(|c| c.get_name() != "help").collect();
    if children.is_empty() {
        out.push(path.to_vec());
    }
    for child in children {
        let mut deeper = path.to_vec();
        deeper.push(child.get_name().to_owned());
        leaves(child, &deeper, out);
    }
}

fn pgdeck(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgdeck"))
        .env_clear()
        .env("PGDECK_HOME", home)
        .env("PATH", home.join("no-tools"))
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .env("USER", "observer")
        .arg("--dir")
        .arg(home.join("no-cluster"))
        .args(args)
        .output()
        .unwrap()
}

fn reach(args: &[&str]) -> Reach {
    let cli = <Cli as clap::Parser>::try_parse_from(std::iter::once("pgdeck").chain(args.iter().copied())).unwrap();
    cli.command.unwrap().reach()
}

#[test]
fn every_subcommand_is_listed_here() {
    let mut found = Vec::new();
    leaves(&Cli::command(), &[], &mut found);
    let listed: Vec<Vec<String>> = EVERY_SUBCOMMAND
        .iter()
        .map(|args| args.iter().take_while(|a| !a.starts_with('-')).map(|a| (*a).to_owned()).collect())
        .map(|words: Vec<String>| {
            // Positional arguments (names, files) follow the subcommand path.
            let path_len = (1..=words.len()).rev().find(|n| found.contains(&words[..*n].to_vec())).unwrap_or(0);
            words[..path_len].to_vec()
        })
        .collect();
    for leaf in &found {
        assert!(listed.contains(leaf), "`pgdeck {}` is new: add it to EVERY_SUBCOMMAND", leaf.join(" "));
    }
    assert_eq!(listed.len(), found.len(), "a subcommand is listed twice or is gone: {listed:?} vs {found:?}");
}

#[test]
fn read_only_refuses_every_subcommand_that_changes_the_cluster_before_connecting() {
    let mut refused = 0;
    for config in [false, true] {
        let home = tempfile::tempdir().unwrap();
        let mut flags = vec!["--read-only"];
        if config {
            std::fs::create_dir_all(home.path().join("config")).unwrap();
            std::fs::write(home.path().join("config/config.toml"), "read_only = true\n").unwrap();
            flags.clear();
        }
        for args in EVERY_SUBCOMMAND.iter().filter(|args| reach(args) != Reach::Observes) {
            let out = pgdeck(home.path(), &[flags.as_slice(), args].concat());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} ran read-only");
            assert!(stderr.contains("read-only"), "{args:?} (config: {config}) was not refused as read-only: {stderr}");
            refused += 1;
        }
        // Each refused action is in the audit trail; nothing else is.
        let audit = pgdeck::audit::read_all(&home.path().join("state"));
        let actions = EVERY_SUBCOMMAND.iter().filter(|args| reach(args) == Reach::Acts).count();
        assert_eq!(audit.lines().filter(|l| l.contains("\"refused\"")).count(), actions, "{audit}");
        assert_eq!(audit.lines().count(), actions, "{audit}");
        assert!(!home.path().join("no-cluster").exists(), "a refused `local up` created the cluster's directory");
    }
    assert!(refused >= 2 * 10, "too few mutating subcommands found to mean anything: {refused}");
}

/// The current user's name as `id -un` gives it (from the uid), or `uid N` without one.
fn current_user() -> String {
    let id = |flag: &str| Command::new("id").arg(flag).output().ok().filter(|o| o.status.success());
    match id("-un") {
        Some(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        None => format!("uid {}", String::from_utf8_lossy(&id("-u").unwrap().stdout).trim()),
    }
}

#[test]
fn the_audit_trail_names_the_os_user_from_the_uid_without_user_or_logname() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pgdeck"))
        .env_clear()
        .env("PGDECK_HOME", home.path())
        .env("PATH", home.path().join("no-tools"))
        .env("KUBECONFIG", home.path().join("no-kubeconfig"))
        .args(["--dir", home.path().join("no-cluster").to_str().unwrap()])
        .args(["--read-only", "switchover", "--to", "m2", "--confirm", "m2"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
    let audit = pgdeck::audit::read_all(&home.path().join("state"));
    let record: serde_json::Value = serde_json::from_str(audit.lines().next().expect("one record")).unwrap();
    assert_eq!((record["event"].as_str(), record["user"].as_str()), (Some("refused"), Some(current_user().as_str())));
    assert_ne!(record["user"], "unknown");
}

#[test]
fn observing_subcommands_are_not_refused_for_being_read_only() {
    let home = tempfile::tempdir().unwrap();
    for args in EVERY_SUBCOMMAND.iter().filter(|args| reach(args) == Reach::Observes) {
        let out = pgdeck(home.path(), &[&["--read-only"], *args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        // They may fail for want of a cluster or a file, but not because of read-only.
        assert!(!stderr.contains("read-only"), "{args:?}: {stderr}");
    }
}

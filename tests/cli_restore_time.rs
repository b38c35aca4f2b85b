//! `pgdeck restore --target-time` through the real binary: the forms the console's restore form
//! takes, and a time without a zone is said to be UTC. Read-only, so nothing is restored: the
//! time is parsed and reported before the refusal.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn restore_read_only(target_time: &str) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_pgdeck"))
        .env("PGDECK_HOME", home.path())
        .arg("--dir")
        .arg(home.path().join("no-cluster"))
        .args(["--read-only", "restore", "--backup", "20261205-020000F", "--name", "copy", "--confirm", "copy"])
        .args(["--target-time", target_time])
        .output()
        .unwrap()
}

#[test]
fn a_time_without_a_zone_is_taken_as_utc_and_the_output_says_so() {
    let out = restore_read_only("2026-12-05 01:33:20");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2026-12-05 01:33:20 UTC (UTC assumed"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"), "refused read-only, after the parse");
}

#[test]
fn a_time_with_its_zone_is_not_said_to_be_assumed() {
    let out = restore_read_only("2026-12-05T02:33:20+01:00");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("UTC assumed"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("read-only"));
}

#[test]
fn a_time_that_is_not_one_says_how_to_write_it() {
    let out = restore_read_only("yesterday");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`yesterday` is not a time") && stderr.contains("a time without a zone is UTC"),
        "{stderr}"
    );
}

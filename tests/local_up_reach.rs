//! `local up` as root where the cluster's OS user (`postgres`) cannot reach the chosen directory:
//! refused before anything is created or started, naming the directory, its owner and mode.
//! (That it comes up in a tree it makes itself under umask 077 is the shared cluster's own
//! start in tests/local_cluster.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

#[test]
fn a_closed_directory_pgdeck_did_not_create_is_named_before_anything_starts() {
    if !nix::unistd::geteuid().is_root() {
        // Only root runs the cluster as another user; as anyone else the cluster is theirs.
        eprintln!("skipped: needs root, as CI runs it");
        return;
    }
    let top = tempfile::tempdir().unwrap();
    std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let closed = top.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let nobody = User::from_name("nobody").unwrap().expect("the nobody user exists");
    nix::unistd::chown(&closed, Some(nobody.uid), Some(Gid::from_raw(nobody.gid.as_raw()))).unwrap();
    let dir = closed.join("not/yet/cluster");
    let entries = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };

    let out = Command::new(env!("CARGO_BIN_EXE_pgdeck"))
        .env("PGDECK_HOME", top.path().join("home"))
        .arg("--dir")
        .arg(&dir)
        .args(["local", "up"])
        .output()
        .unwrap();

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "local up must refuse: {stderr}");
    let shown = closed.display().to_string();
    for part in [
        format!("`postgres`, which cannot enter {shown}:"),
        "owned by nobody:".to_owned(),
        "mode 0700".to_owned(),
        format!("chmod o+x {shown}"),
        "choose a --dir".to_owned(),
    ] {
        assert!(stderr.contains(&part), "`{part}` missing from: {stderr}");
    }
    assert!(!stderr.contains("etcd"), "no pointer to a log of something that never started: {stderr}");
    // Nothing was made inside it, so nothing was started either (every component logs and keeps its pid there).
    assert!(entries(&closed).is_empty(), "created {:?}", entries(&closed));
    assert_eq!(std::fs::metadata(&closed).unwrap().permissions().mode() & 0o777, 0o700, "its mode is left alone");
    assert_eq!(Uid::from_raw(std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&closed).unwrap())), nobody.uid);
}

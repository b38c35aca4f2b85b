//! Parts of the cluster stopped under a running console: each shows as a finding while the rest
//! keeps updating and keys keep answering, and each clears by itself once the part is back —
//! the console is never restarted.

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{healthy, open_console, SETTLE};
use crate::support::local_cluster::{describe, replicas, LocalCluster};

pub fn stopped_parts_are_findings_and_recover(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let replica = replicas(&doc)[0].clone();
    let console = open_console(cluster, 160, 48);
    console.wait_for("the healthy overview", SETTLE, |s| s.contains(" Members ") && s.contains("Pooler "));

    // PgBouncer dies.
    let pgbouncer = cluster.pid_of("pgbouncer").unwrap();
    kill(Pid::from_raw(pgbouncer), Signal::SIGKILL).unwrap();
    console.wait_for("the pooler down", SETTLE, |s| s.contains("Pooler DOWN") && s.contains("CRIT pooler"));

    // One replica's Patroni dies; its PostgreSQL goes on streaming, but nothing manages it.
    let patroni = cluster.pid_of(&replica).unwrap();
    kill(Pid::from_raw(patroni), Signal::SIGKILL).unwrap();
    let down = format!("{replica} is down");
    console.wait_for("the unmanaged replica", SETTLE, |s| s.contains(&down));
    // Keys still answer while two parts are failing.
    console.keys(&["2"]);
    console.wait_for("the replication view", SETTLE, |s| s.contains(" Replication from ") && s.contains("REPLAY"));
    console.keys(&["1"]);

    // `local up` starts what is missing; the console sees both come back by itself.
    let out = cluster.pgdeck(&["local", "up"]);
    assert!(out.status.success(), "{}", describe(&out));
    console.wait_for("everything back", SETTLE, |s| {
        s.contains(" Members ") && !s.contains("Pooler DOWN") && !s.contains(&down) && !s.contains("CRIT")
    });
    assert!(!console.pane_dead());
    console.keys(&["C-c"]);
    healthy(cluster);
}

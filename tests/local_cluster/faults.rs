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

/// etcd, Patroni's DCS, killed under a running console: the console says so (Patroni's view is
/// stale or refused) while the SQL panels keep updating; after `local up` restarts etcd the
/// cluster settles with one leader again and the findings clear by themselves.
pub fn stopped_dcs_is_a_finding_and_recovers(cluster: &LocalCluster) {
    healthy(cluster);
    let console = open_console(cluster, 160, 48);
    console.wait_for("a quiet overview", SETTLE, |s| {
        s.contains(" Members ") && !s.contains("CRIT") && !s.contains("WARN")
    });
    let etcd = cluster.pid_of("etcd").unwrap();
    kill(Pid::from_raw(etcd), Signal::SIGKILL).unwrap();
    // Patroni's REST API blocks on the unreachable DCS: the member list stops answering, while
    // the members' SQL sides (LSN, connections) keep being sampled. Patroni demotes the leader
    // it can no longer hold the lock for: SQL's word, that no member takes writes, is a CRIT
    // whatever Patroni last listed, and the last-listed leader's row says it is in recovery.
    let screen = console.wait_for("the DCS outage shown", SETTLE, |s| {
        s.contains("WARN ha-manager: ") && s.contains(" 0/") && s.contains("CRIT no member accepts writes")
    });
    assert!(
        screen.lines().filter(|l| l.contains(" primary ")).all(|l| l.contains("in recovery")),
        "a leader in recovery is shown as such:\n{screen}"
    );
    let out = cluster.pgdeck(&["local", "up"]);
    assert!(out.status.success(), "{}", describe(&out));
    console.wait_for("everything back", SETTLE, |s| {
        s.contains(" Members ") && !s.contains("CRIT") && !s.contains("WARN") && s.matches(" primary ").count() == 1
    });
    console.keys(&["C-c"]);
    healthy(cluster);
}

//! `pgdeck local down`: stop every process the cluster started, by pid; keep the data unless purged.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::Signal;

use crate::model::Role;
use crate::platform::patroni::local::layout::{ClusterFile, Layout};
use crate::platform::patroni::local::process::{postmaster_pid, stop_pid};
use crate::platform::patroni::local::LocalCluster;
use crate::platform::patroni::rest::PatroniRest;

/// Patroni shuts PostgreSQL down before it exits; a busy member may need this long.
const MEMBER_STOP_GRACE: Duration = Duration::from_secs(60);
const OTHER_STOP_GRACE: Duration = Duration::from_secs(15);

pub async fn down(layout: &Layout, purge: bool, out: &mut (dyn Write + Send)) -> Result<()> {
    let Some(file) = ClusterFile::load(layout)? else {
        writeln!(out, "there is no local cluster in {}; nothing to stop", layout.root.display())?;
        return Ok(());
    };
    let cluster = LocalCluster { layout: layout.clone(), file };
    let leader = current_leader(&cluster).await;
    let mut stopped = Vec::new();
    for component in ["agent", "pgbouncer"] {
        let program = if component == "agent" { "pgdeck" } else { "pgbouncer" };
        if cluster.tracked(component, program).stop(Signal::SIGTERM, OTHER_STOP_GRACE)? {
            stopped.push(component.to_owned());
        }
    }
    // Replicas first, so stopping the leader does not hand its role to a member about to stop.
    let mut members = cluster.file.member_names();
    members.sort_by_key(|name| Some(name) == leader.as_ref());
    for name in &members {
        if cluster.tracked(name, "patroni").stop(Signal::SIGTERM, MEMBER_STOP_GRACE)? {
            stopped.push(name.clone());
        }
    }
    // A postmaster whose Patroni was killed outlives it: stop it with a fast shutdown.
    for name in &members {
        if let Some(pid) = postmaster_pid(&layout.member_data_dir(name)) {
            stop_pid(pid, "postgres", Signal::SIGINT, MEMBER_STOP_GRACE);
            stopped.push(format!("{name} postmaster"));
        }
    }
    if cluster.tracked("etcd", "etcd").stop(Signal::SIGTERM, OTHER_STOP_GRACE)? {
        stopped.push("etcd".into());
    }
    if stopped.is_empty() {
        writeln!(out, "the local cluster in {} was not running", layout.root.display())?;
    } else {
        writeln!(out, "stopped: {}", stopped.join(", "))?;
    }
    if purge {
        std::fs::remove_dir_all(&layout.root).with_context(|| format!("cannot remove {}", layout.root.display()))?;
        writeln!(out, "removed {} and all its data", layout.root.display())?;
    } else {
        writeln!(out, "data kept in {}; `pgdeck local up` starts the same cluster again", layout.root.display())?;
    }
    Ok(())
}

async fn current_leader(cluster: &LocalCluster) -> Option<String> {
    let rest = PatroniRest::new(Duration::from_secs(1)).ok()?;
    for member in &cluster.file.ports.members {
        if let Ok(view) = rest.cluster(&ClusterFile::api_url(member)).await {
            return view.members.into_iter().find(|r| r.role == Role::Primary).map(|r| r.name);
        }
    }
    None
}

//! The local cluster's own small daemon: keeps PgBouncer on the Patroni leader and takes the
//! scheduled backups (the spec's cron, daily 02:00 UTC by default) while the cluster runs.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::action::BackupKind;
use crate::clock;
use crate::model::Role;
use crate::platform::patroni::local::configs;
use crate::platform::patroni::local::layout::{ClusterFile, Layout};
use crate::platform::patroni::local::LocalCluster;
use crate::platform::patroni::pgbackrest::PgTarget;
use crate::platform::patroni::rest::PatroniRest;
use crate::state::next_after;

const FOLLOW_INTERVAL: Duration = Duration::from_millis(500);

pub async fn run(layout: Layout) -> Result<()> {
    let cluster = LocalCluster::open(layout)?;
    let rest = PatroniRest::new(Duration::from_secs(1))?;
    let schedule = cluster.file.spec.backup.schedule.clone();
    let mut next_backup = next_after(&schedule, clock::now());
    tracing::info!("agent started; next scheduled backup at {next_backup:?}");
    println!("{} agent started; next scheduled backup {next_backup:?}", clock::now());
    let mut ticker = tokio::time::interval(FOLLOW_INTERVAL);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = terminate.recv() => {
                println!("{} agent stopping", clock::now());
                return Ok(());
            }
            _ = ticker.tick() => {}
        }
        let leader = leader(&cluster, &rest).await;
        if let Some((name, port)) = &leader {
            if let Err(e) = follow_leader(&cluster, *port) {
                println!("{} cannot point pgbouncer at {name}: {e:#}", clock::now());
            }
        }
        if let Some(due) = next_backup.filter(|due| clock::now() >= *due) {
            next_backup = next_after(&schedule, clock::now());
            scheduled_backup(&cluster, leader.as_ref(), due).await;
        }
    }
}

async fn leader(cluster: &LocalCluster, rest: &PatroniRest) -> Option<(String, u16)> {
    for member in &cluster.file.ports.members {
        if let Ok(view) = rest.cluster(&ClusterFile::api_url(member)).await {
            return view
                .members
                .into_iter()
                .find(|r| r.role == Role::Primary && r.state == "running")
                .map(|r| (r.name, r.port));
        }
    }
    None
}

/// Rewrites `pgbouncer.ini` and reloads PgBouncer when the leader moved.
fn follow_leader(cluster: &LocalCluster, leader_port: u16) -> Result<()> {
    let ini_path = cluster.layout.pgbouncer_ini();
    let current = std::fs::read_to_string(&ini_path).unwrap_or_default();
    if configs::pgbouncer_target_port(&current) == Some(leader_port) {
        return Ok(());
    }
    let ini = configs::pgbouncer_ini(&cluster.layout, &cluster.file, leader_port, super::SUPERUSER);
    let tmp = ini_path.with_extension("ini.tmp");
    std::fs::write(&tmp, ini)?;
    cluster.file.run_as.chown(&tmp)?;
    std::fs::rename(&tmp, &ini_path)?;
    if let Some(pid) = cluster.tracked("pgbouncer", "pgbouncer").pid() {
        kill(Pid::from_raw(pid), Signal::SIGHUP)?;
    }
    println!("{} pgbouncer now sends clients to port {leader_port}", clock::now());
    Ok(())
}

async fn scheduled_backup(cluster: &LocalCluster, leader: Option<&(String, u16)>, due: DateTime<Utc>) {
    let Some((name, port)) = leader else {
        println!("{} scheduled backup due {due} skipped: no leader", clock::now());
        return;
    };
    let data_dir = cluster.layout.member_data_dir(name);
    let target = PgTarget { data_dir: &data_dir, port: *port };
    match cluster.pgbackrest().backup(&target, BackupKind::Full).await {
        Ok(done) => println!("{} scheduled backup due {due}: {done}", clock::now()),
        Err(e) => println!("{} scheduled backup due {due} failed: {e:#}", clock::now()),
    }
}

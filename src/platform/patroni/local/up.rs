//! `pgdeck local up`: create the local cluster, or start it again with the data it had.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::action::BackupKind;
use crate::model::Role;
use crate::platform::patroni::local::configs::{self, Secrets};
use crate::platform::patroni::local::layout::{ClusterFile, Layout, MemberPorts, Ports, LOOPBACK};
use crate::platform::patroni::local::process::{self, spawn_detached};
use crate::platform::patroni::local::restore::RestoreSource;
use crate::platform::patroni::local::{
    prereq, ClusterSecrets, LocalCluster, REPLICATION_SECRET, REPLICATION_USER, SUPERUSER,
};
use crate::platform::patroni::pgbackrest::PgTarget;
use crate::platform::patroni::rest::PatroniRest;
use crate::platform::patroni::run_as::RunAs;
use crate::secrets::file::CredentialFile;
use crate::secrets::{CredentialSource, Credentials, Secret};
use crate::spec::ClusterSpec;
use crate::sql::admin::{quote_ident, quote_literal, scram_verifier};
use crate::sql::{connect, Endpoint};

const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(240);
const ETCD_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Copying a backup and replaying its WAL; the restore action as a whole has an hour.
const RESTORE_READY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Brings the local cluster up; says so and changes nothing when it already runs.
/// `credentials` says where a new cluster's credentials go; an existing cluster keeps its own.
pub async fn up(
    layout: &Layout,
    spec: &ClusterSpec,
    credentials: &CredentialSource,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let installed = prereq::check()?;
    let cluster = if let Some(file) = ClusterFile::load(layout)? {
        if let Some(restoring) = &file.unfinished_restore {
            bail!(
                "the cluster in {} is a restore of {restoring} that did not finish; remove it with {} and \
                 restore again",
                layout.root.display(),
                layout.purge_command(&file.spec.name)
            );
        }
        super::reach::check(&layout.root, &file.run_as)?;
        let cluster = LocalCluster { layout: layout.clone(), file };
        let components = cluster.components();
        if components.iter().all(process::Tracked::is_running) {
            writeln!(out, "the local cluster in {} is already running; nothing changed", layout.root.display())?;
            return Ok(());
        }
        if &cluster.file.spec != spec {
            writeln!(
                out,
                "note: the cluster keeps the spec it was created with; to apply another, remove it first with {}",
                layout.purge_command(&cluster.file.spec.name)
            )?;
        }
        if &cluster.file.credentials != credentials {
            writeln!(out, "note: the cluster keeps its credentials where they were created")?;
        }
        check_ports_free(&cluster)?;
        writeln!(out, "starting the existing local cluster in {}", layout.root.display())?;
        cluster
    } else {
        let source = credentials.with_resolved_region().await?;
        let cluster = create(layout, spec, &installed, &source, &NewCredentials::Generate, out).await?;
        writeln!(out, "created a new local cluster in {}", layout.root.display())?;
        cluster
    };
    start(&cluster, &Bootstrap::Initdb, out).await
}

/// Where a new cluster's first member gets its data from.
pub(super) enum Bootstrap<'a> {
    /// initdb, or the data the members already have.
    Initdb,
    /// Patroni's custom bootstrap restores another cluster's backup (see `configs::patroni_config`).
    Restore(&'a RestoreSource),
}

impl Bootstrap<'_> {
    fn restore(&self) -> Option<&RestoreSource> {
        match self {
            Bootstrap::Initdb => None,
            Bootstrap::Restore(source) => Some(source),
        }
    }
}

/// Where a new cluster's credentials come from.
pub(super) enum NewCredentials<'a> {
    Generate,
    /// A copy of another cluster's credential file, for data restored from it: that data holds
    /// its roles. `restoring` says what is restored, until the restore is done.
    CopyFrom {
        file: &'a Path,
        restoring: String,
    },
    /// The restored data's logins are the source's, in a store both clusters read (Secrets
    /// Manager): nothing to copy.
    Shared {
        restoring: String,
    },
}

/// Starts every component that is not running, from etcd to the agent, and prepares the
/// databases and the backups; with [`Bootstrap::Restore`], the first member restores alone first.
pub(super) async fn start(
    cluster: &LocalCluster,
    bootstrap: &Bootstrap<'_>,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let secrets = cluster.secrets().await?;
    write_configs(cluster, &secrets, bootstrap)?;
    start_etcd(cluster).await?;
    let restore = bootstrap.restore();
    if let Some(source) = restore {
        restore_first_member(cluster, source, out).await?;
    }
    start_members(cluster)?;
    let leader_port = wait_for_cluster(cluster, &secrets.superuser, out).await?;
    if restore.is_some() {
        super::restore::check_archiving(cluster, &secrets.superuser).await?;
    }
    prepare_databases(cluster, &secrets, leader_port).await?;
    prepare_backups(cluster, leader_port, out).await?;
    start_pgbouncer(cluster, leader_port)?;
    start_agent(cluster)?;
    wait_for_port(cluster.file.ports.pgbouncer, Duration::from_secs(15), "pgbouncer").await?;
    report(cluster, out)?;
    Ok(())
}

/// Records a new cluster in `layout` (its directory may exist, empty or just claimed).
pub(super) async fn create(
    layout: &Layout,
    spec: &ClusterSpec,
    installed: &prereq::Installed,
    source: &CredentialSource,
    credentials: &NewCredentials<'_>,
    out: &mut (dyn Write + Send),
) -> Result<LocalCluster> {
    let run_as = RunAs::for_this_process()?;
    super::reach::prepare(&layout.root, &run_as)?;
    let names = member_names(spec);
    let (_, scaled_parameters) = configs::local_parameters(&spec.postgresql.parameters);
    let file = ClusterFile {
        spec: spec.clone(),
        credentials: source.clone(),
        ports: Ports::choose(&names)?,
        run_as,
        postgres_bin_dir: installed.postgres_bin_dir.clone(),
        postgres_major: installed.postgres_major,
        scaled_parameters,
        stanza: spec.name.clone(),
        pgdeck_exe: std::env::current_exe().context("cannot find the pgdeck binary's own path")?,
        unfinished_restore: match credentials {
            NewCredentials::Generate => None,
            NewCredentials::CopyFrom { restoring, .. } | NewCredentials::Shared { restoring } => {
                Some(restoring.clone())
            }
        },
    };
    let cluster = LocalCluster { layout: layout.clone(), file };
    make_dirs(&cluster)?;
    match credentials {
        NewCredentials::Generate => generate_credentials(&cluster, out).await?,
        NewCredentials::CopyFrom { file, .. } => copy_credentials(file, &layout.credentials_file())?,
        NewCredentials::Shared { .. } => {}
    }
    // Every secret the configs need must be there before cluster.json says the cluster exists.
    cluster.secrets().await?;
    cluster.file.save(layout)?;
    Ok(cluster)
}

/// New logins for the superuser, replication and the application, in the cluster's store. A
/// secret that is already in Secrets Manager (from an earlier cluster of the same name) is used
/// as it is, as the reference's ExternalSecret would: the store is the source of truth.
async fn generate_credentials(cluster: &LocalCluster, out: &mut (dyn Write + Send)) -> Result<()> {
    let secrets = &cluster.file.spec.secrets;
    let wanted = [
        (secrets.admin.as_str(), SUPERUSER),
        (REPLICATION_SECRET, REPLICATION_USER),
        (secrets.app.as_str(), secrets.app_user.as_str()),
    ];
    if cluster.file.credentials == CredentialSource::File {
        let mut file = CredentialFile::new(cluster.layout.credentials_file());
        for (name, user) in wanted {
            file.insert(name, Credentials { username: user.into(), password: Secret::generate() });
        }
        return file.save();
    }
    let store = cluster.store();
    for (name, user) in wanted {
        if store.exists(name).await? {
            let existing = store.read(name).await?;
            if existing.username != user {
                bail!(
                    "{name} in {} is for the login `{}`, not `{user}`; remove it or name another secret in the spec",
                    store.location(),
                    existing.username
                );
            }
            writeln!(out, "using the existing secret {name} in {}", store.location())?;
        } else {
            let credentials = Credentials { username: user.into(), password: Secret::generate() };
            store.create(name, &credentials, &cluster.file.spec.name).await?;
            writeln!(out, "created the secret {name} in {}", store.location())?;
        }
    }
    Ok(())
}

/// The members of a cluster with this spec: `<name>-1..n`.
pub(super) fn member_names(spec: &ClusterSpec) -> Vec<String> {
    (1..=spec.instances).map(|i| format!("{}-{i}", spec.name)).collect()
}

/// Copies a credential file byte for byte, mode 0600 from the first byte, never over another.
fn copy_credentials(source: &Path, target: &Path) -> Result<()> {
    // Opening checks the source's mode and shape before anything is copied.
    CredentialFile::open(source)?;
    let text = fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    file.write_all(&text)?;
    file.sync_all()?;
    Ok(())
}

fn make_dirs(cluster: &LocalCluster) -> Result<()> {
    let layout = &cluster.layout;
    let mut dirs = vec![
        layout.root.clone(),
        layout.run_dir(),
        layout.run_dir().join("pgbackrest"),
        layout.logs_dir(),
        layout.etcd_dir(),
        layout.root.join("members"),
        layout.pgbouncer_dir(),
        layout.pgbackrest_dir(),
        layout.pgbackrest_repo(),
        layout.pgbackrest_dir().join("spool"),
        layout.tls_dir(),
    ];
    dirs.extend(cluster.file.ports.members.iter().map(|m| layout.member_dir(&m.name)));
    for dir in dirs {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        cluster.file.run_as.chown(&dir)?;
    }
    Ok(())
}

/// A file only the cluster's OS user can read, written whole.
fn write_private(path: &Path, text: &str, run_as: &RunAs) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    run_as.chown(path)
}

pub(super) fn write_configs(cluster: &LocalCluster, logins: &ClusterSecrets, bootstrap: &Bootstrap<'_>) -> Result<()> {
    let (layout, file) = (&cluster.layout, &cluster.file);
    make_dirs(cluster)?;
    let (superuser, app) = (&logins.superuser, &logins.app);
    let secrets = Secrets { superuser, replication: &logins.replication, app };
    for member in &file.ports.members {
        let text = configs::patroni_config(layout, file, member, &secrets, bootstrap.restore());
        write_private(&layout.patroni_config(&member.name), &text, &file.run_as)?;
    }
    super::tls::ensure(layout, &file.spec.name, |path, text| write_private(path, text, &file.run_as))?;
    write_private(&layout.pgbouncer_userlist(), &configs::pgbouncer_userlist(&[superuser]), &file.run_as)?;
    write_private(&layout.pgbackrest_config(), &configs::pgbackrest_conf(layout, file), &file.run_as)?;
    Ok(())
}

fn check_ports_free(cluster: &LocalCluster) -> Result<()> {
    let running: Vec<String> =
        cluster.components().iter().filter(|c| c.is_running()).map(|c| c.component.clone()).collect();
    for (what, port) in cluster.file.ports.all() {
        // Port names start with their component's name (`etcd client`, `<member> patroni`).
        let owner_running = running.iter().any(|c| what.starts_with(c.as_str()));
        // A member whose Patroni died leaves its PostgreSQL running on the member's port: that is
        // ours, and the Patroni that `up` starts takes it over.
        let own_postmaster = cluster
            .file
            .ports
            .members
            .iter()
            .any(|m| m.postgres == port && postmaster_running(&cluster.layout.member_data_dir(&m.name)));
        if !owner_running && !own_postmaster && super::layout::port_in_use(port) {
            bail!(
                "port {port} ({what}) of the local cluster is taken by another process; stop that process, \
                 or remove this cluster with {} and create a new one",
                cluster.layout.purge_command(&cluster.file.spec.name)
            );
        }
    }
    Ok(())
}

/// Whether the postmaster recorded in `data_dir/postmaster.pid` is alive.
fn postmaster_running(data_dir: &Path) -> bool {
    let Ok(text) = fs::read_to_string(data_dir.join("postmaster.pid")) else { return false };
    let Some(pid) = text.lines().next().and_then(|l| l.trim().parse::<i32>().ok()) else { return false };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

async fn start_etcd(cluster: &LocalCluster) -> Result<()> {
    let tracked = cluster.tracked("etcd", "etcd");
    if !tracked.is_running() {
        let (layout, ports) = (&cluster.layout, &cluster.file.ports);
        let client = format!("http://{LOOPBACK}:{}", ports.etcd_client);
        let peer = format!("http://{LOOPBACK}:{}", ports.etcd_peer);
        let mut command = cluster.file.run_as.command(prereq::find_program("etcd").context("etcd is not installed")?);
        command
            .arg("--name=pgdeck")
            .arg(format!("--data-dir={}", layout.etcd_dir().join("data").display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=pgdeck={peer}"))
            .arg("--initial-cluster-state=new")
            .arg("--initial-cluster-token=pgdeck-local");
        spawn_detached(command, &layout.log_file("etcd"), &tracked.pid_file)?;
    }
    let url = format!("http://{LOOPBACK}:{}/health", cluster.file.ports.etcd_client);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).no_proxy().build()?;
    let deadline = Instant::now() + ETCD_READY_TIMEOUT;
    loop {
        if let Ok(response) = http.get(&url).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() > deadline || !tracked.is_running() {
            bail!("etcd did not become healthy; see {}", cluster.layout.log_file("etcd").display());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn start_members(cluster: &LocalCluster) -> Result<()> {
    for member in &cluster.file.ports.members {
        start_member(cluster, member)?;
    }
    Ok(())
}

fn start_member(cluster: &LocalCluster, member: &MemberPorts) -> Result<()> {
    let tracked = cluster.tracked(&member.name, "patroni");
    if tracked.is_running() {
        return Ok(());
    }
    let patroni = prereq::find_program("patroni").context("patroni is not installed")?;
    let mut command = cluster.file.run_as.command(&patroni);
    command.arg(cluster.layout.patroni_config(&member.name)).current_dir(cluster.layout.member_dir(&member.name));
    spawn_detached(command, &cluster.layout.log_file(&member.name), &tracked.pid_file)?;
    Ok(())
}

/// Starts the first member alone, so that it and no other initialises the cluster from the
/// backup, and waits until it leads; the others then join it as replicas by basebackup.
async fn restore_first_member(
    cluster: &LocalCluster,
    source: &RestoreSource,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    let first = cluster.file.ports.members.first().context("the cluster has no members")?;
    let data_dir = cluster.layout.member_data_dir(&first.name);
    // pgbackrest restores only into a directory that exists, and PostgreSQL wants it 0700.
    // Not recursive: a data directory that is already there is never restored over.
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&data_dir)
        .with_context(|| format!("cannot create {} for the restore", data_dir.display()))?;
    cluster.file.run_as.chown(&data_dir)?;
    writeln!(out, "{} restores backup {} (Patroni custom bootstrap)…", first.name, source.backup)?;
    start_member(cluster, first)?;
    let tracked = cluster.tracked(&first.name, "patroni");
    let rest = PatroniRest::new(Duration::from_secs(2))?;
    let deadline = Instant::now() + RESTORE_READY_TIMEOUT;
    let mut last = String::from("Patroni has not answered yet");
    while Instant::now() < deadline {
        if !tracked.is_running() {
            bail!(
                "the restore on {} failed and Patroni stopped; see {} and pgBackRest's {}-restore.log in {}",
                first.name,
                cluster.layout.log_file(&first.name).display(),
                source.stanza,
                cluster.layout.logs_dir().display()
            );
        }
        if let Ok(view) = rest.cluster(&ClusterFile::api_url(first)).await {
            if let Some(me) = view.members.iter().find(|m| m.name == first.name) {
                if me.role == Role::Primary && me.state == "running" {
                    writeln!(out, "{} has restored the backup and leads", first.name)?;
                    return Ok(());
                }
                if me.state != last {
                    writeln!(out, "  {}: {}", first.name, me.state)?;
                    last.clone_from(&me.state);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "{} did not finish restoring within {} minutes (last state: {last}); see {}",
        first.name,
        RESTORE_READY_TIMEOUT.as_secs() / 60,
        cluster.layout.log_file(&first.name).display()
    )
}

/// Waits for one leader and every replica streaming; returns the leader's port.
async fn wait_for_cluster(
    cluster: &LocalCluster,
    superuser: &Credentials,
    out: &mut (dyn Write + Send),
) -> Result<u16> {
    writeln!(out, "waiting for Patroni to elect a leader and the replicas to stream…")?;
    let rest = PatroniRest::new(Duration::from_secs(2))?;
    let deadline = Instant::now() + CLUSTER_READY_TIMEOUT;
    let expected = cluster.file.ports.members.len();
    let mut last = String::from("no member answered yet");
    while Instant::now() < deadline {
        for member in &cluster.file.ports.members {
            let Ok(view) = rest.cluster(&ClusterFile::api_url(member)).await else { continue };
            let reports = view.members;
            let leader = reports.iter().find(|r| r.role == Role::Primary && r.state == "running");
            let running = reports.iter().filter(|r| r.state == "running" || r.state == "streaming").count();
            last =
                format!("{running}/{expected} members running, leader: {}", leader.map_or("none", |l| l.name.as_str()));
            if let (Some(leader), true) = (leader, running == expected) {
                let streaming = streaming_replicas(leader.port, superuser).await.unwrap_or(0);
                last = format!("{last}, {streaming}/{} replicas streaming", expected - 1);
                if streaming == expected - 1 {
                    return Ok(leader.port);
                }
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "the cluster did not become ready within {}s ({last}); see the logs in {}",
        CLUSTER_READY_TIMEOUT.as_secs(),
        cluster.layout.logs_dir().display()
    )
}

async fn streaming_replicas(port: u16, superuser: &Credentials) -> Result<usize> {
    let endpoint = Endpoint {
        host: LOOPBACK.into(),
        port,
        database: "postgres".into(),
        login: superuser.clone().into(),
        tls: None,
        transport: crate::sql::Transport::Tcp,
    };
    let client = connect(&endpoint, Duration::from_secs(2), true).await?;
    let row = client.query_one("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", &[]).await?;
    Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// `pg_stat_statements`, the application role and its database; idempotent.
async fn prepare_databases(cluster: &LocalCluster, logins: &ClusterSecrets, leader_port: u16) -> Result<()> {
    let secrets = &cluster.file.spec.secrets;
    let (superuser, app) = (&logins.superuser, &logins.app);
    let endpoint = Endpoint {
        host: LOOPBACK.into(),
        port: leader_port,
        database: "postgres".into(),
        login: superuser.clone().into(),
        tls: None,
        transport: crate::sql::Transport::Tcp,
    };
    let client = connect(&endpoint, Duration::from_secs(5), false).await?;
    client
        .batch_execute("SET standard_conforming_strings = on; CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await?;
    let role_exists = client.query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&app.username]).await?.is_some();
    let verb = if role_exists { "ALTER" } else { "CREATE" };
    client
        .batch_execute(&format!(
            "{verb} ROLE {} LOGIN PASSWORD {}",
            quote_ident(&app.username),
            // A SCRAM verifier: the cleartext never reaches the server or its logs.
            quote_literal(&scram_verifier(&app.password))
        ))
        .await
        .context("cannot create the application role")?;
    let db_exists =
        client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&secrets.app_database]).await?.is_some();
    if !db_exists {
        client
            .batch_execute(&format!(
                "CREATE DATABASE {} OWNER {}",
                quote_ident(&secrets.app_database),
                quote_ident(&app.username)
            ))
            .await
            .context("cannot create the application database")?;
    }
    Ok(())
}

/// The pgBackRest stanza and, on a new repository, the first full backup.
async fn prepare_backups(cluster: &LocalCluster, leader_port: u16, out: &mut (dyn Write + Send)) -> Result<()> {
    let pgbackrest = cluster.pgbackrest();
    let leader = cluster
        .file
        .ports
        .members
        .iter()
        .find(|m| m.postgres == leader_port)
        .context("the leader is not one of the configured members")?;
    let data_dir = cluster.layout.member_data_dir(&leader.name);
    let target = PgTarget { data_dir: &data_dir, port: leader_port };
    pgbackrest.stanza_create(&target).await?;
    let info = pgbackrest.info().await?;
    if info.backups.is_empty() {
        writeln!(out, "taking the first full backup…")?;
        pgbackrest.backup(&target, BackupKind::Full).await?;
    }
    Ok(())
}

fn start_pgbouncer(cluster: &LocalCluster, leader_port: u16) -> Result<()> {
    let tracked = cluster.tracked("pgbouncer", "pgbouncer");
    if tracked.is_running() {
        return Ok(());
    }
    let ini = configs::pgbouncer_ini(&cluster.layout, &cluster.file, leader_port, SUPERUSER);
    write_private(&cluster.layout.pgbouncer_ini(), &ini, &cluster.file.run_as)?;
    let mut command =
        cluster.file.run_as.command(prereq::find_program("pgbouncer").context("pgbouncer is not installed")?);
    command.arg(cluster.layout.pgbouncer_ini());
    spawn_detached(command, &cluster.layout.log_file("pgbouncer-stderr"), &tracked.pid_file)?;
    Ok(())
}

fn start_agent(cluster: &LocalCluster) -> Result<()> {
    let tracked = cluster.tracked("agent", "pgdeck");
    if tracked.is_running() {
        return Ok(());
    }
    let mut command = std::process::Command::new(&cluster.file.pgdeck_exe);
    command
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("LANG", "C.UTF-8")
        .envs(std::env::var_os("HOME").map(|h| ("HOME", h)))
        .arg("local")
        .arg("--dir")
        .arg(&cluster.layout.root)
        .arg("agent");
    spawn_detached(command, &cluster.layout.log_file("agent"), &tracked.pid_file)?;
    Ok(())
}

async fn wait_for_port(port: u16, timeout: Duration, what: &str) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect((LOOPBACK, port)).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{what} is not listening on {LOOPBACK}:{port} after {}s", timeout.as_secs())
}

fn report(cluster: &LocalCluster, out: &mut (dyn Write + Send)) -> Result<()> {
    let file = &cluster.file;
    writeln!(out, "local cluster `{}` is up (PostgreSQL {}):", file.spec.name, file.postgres_major)?;
    for member in &file.ports.members {
        writeln!(
            out,
            "  {:<22} postgres {LOOPBACK}:{:<6} patroni {}",
            member.name,
            member.postgres,
            ClusterFile::api_url(member)
        )?;
    }
    writeln!(out, "  pooler                 pgbouncer {LOOPBACK}:{}", file.ports.pgbouncer)?;
    writeln!(out, "  credentials            {}", cluster.layout.credentials_file().display())?;
    writeln!(out, "watch it with `pgdeck status`; stop it with `pgdeck local down`")?;
    Ok(())
}

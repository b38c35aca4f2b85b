//! Restore a backup of a local cluster as a new local cluster beside it: a sibling directory
//! named after the new cluster, with its own etcd, members, PgBouncer, agent and pgBackRest
//! repository. The running cluster is only read: its repository through pgbackrest, its
//! `cluster.json` and its credentials.

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, SubsecRound, Utc};

use crate::platform::patroni::local::layout::{ClusterFile, Layout, LOOPBACK};
use crate::platform::patroni::local::up::{self, Bootstrap, NewCredentials};
use crate::platform::patroni::local::{configs, prereq, LocalCluster};
use crate::secrets::{CredentialSource, Credentials};
use crate::spec::ClusterSpec;
use crate::sql::{connect, Endpoint};

/// The backup a new cluster's first member restores, from the source cluster's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSource {
    /// The pgbackrest program.
    pub program: PathBuf,
    /// The source cluster's `pgbackrest.conf`: its repository, which the restore only reads.
    pub config: PathBuf,
    pub stanza: String,
    pub backup: String,
    pub target_time: Option<DateTime<Utc>>,
}

impl RestoreSource {
    /// `pgbackrest restore` into `data_dir` of the new cluster in `new`, one argument per element.
    pub fn argv(&self, new: &Layout, data_dir: &Path) -> Vec<String> {
        let mut argv = vec![
            self.program.display().to_string(),
            format!("--config={}", self.config.display()),
            format!("--stanza={}", self.stanza),
            format!("--pg1-path={}", data_dir.display()),
            // The source's config would put the log and the lock in the source's directory.
            format!("--log-path={}", new.logs_dir().display()),
            format!("--lock-path={}", new.run_dir().join("pgbackrest").display()),
            format!("--set={}", self.backup),
        ];
        match self.target_time {
            Some(at) => {
                argv.push("--type=time".into());
                argv.push(format!("--target={}", recovery_target(at)));
            }
            // "Restore this backup" means the data as the backup holds it: recovery stops as
            // soon as the backup is consistent. The default type would replay the archive to
            // its end instead, giving whatever the source had archived by the time the restore
            // ran: not what the operator picked, and different on every run. The newest state
            // is one target time away.
            None => argv.push("--type=immediate".into()),
        }
        // The default, pause, acts as shutdown while Patroni runs recovery with hot_standby off.
        argv.push("--target-action=promote".into());
        argv.push("restore".into());
        argv
    }
}

/// A time as PostgreSQL's `recovery_target_time` reads it, to the microsecond it keeps.
pub fn recovery_target(at: DateTime<Utc>) -> String {
    at.trunc_subsecs(6).format("%Y-%m-%d %H:%M:%S%.f+00").to_string()
}

/// Arguments joined so that a POSIX shell, and Python's `shlex.split` (which Patroni uses on
/// a bootstrap command), read them back unchanged.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter().map(|arg| shell_quote(arg)).collect::<Vec<_>>().join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+%@".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Where a restore as `new_cluster` puts the new cluster: beside the source's directory.
pub fn new_cluster_dir(source_dir: &Path, new_cluster: &str) -> Result<PathBuf> {
    let parent = source_dir.parent().with_context(|| {
        format!("{} has no parent directory to put the new cluster in; use another --dir", source_dir.display())
    })?;
    Ok(parent.join(new_cluster))
}

/// What a restore will do, computed from the source cluster alone (nothing is created).
struct Plan {
    source_name: String,
    source_dir: PathBuf,
    credentials: PathBuf,
    new_cluster: String,
    layout: Layout,
    members: Vec<String>,
    restore: RestoreSource,
}

impl Plan {
    fn new(source: &LocalCluster, backup: &str, target_time: Option<DateTime<Utc>>, new_cluster: &str) -> Result<Self> {
        let layout = Layout::new(new_cluster_dir(&source.layout.root, new_cluster)?);
        let spec = new_spec(&source.file.spec, new_cluster);
        Ok(Self {
            source_name: source.file.spec.name.clone(),
            source_dir: source.layout.root.clone(),
            credentials: source.layout.credentials_file(),
            new_cluster: new_cluster.to_owned(),
            members: up::member_names(&spec),
            layout,
            restore: RestoreSource {
                program: prereq::find_program("pgbackrest").unwrap_or_else(|| "pgbackrest".into()),
                config: source.layout.pgbackrest_config(),
                stanza: source.file.stanza.clone(),
                backup: backup.to_owned(),
                target_time,
            },
        })
    }

    fn first_member(&self) -> &str {
        self.members.first().map_or("", String::as_str)
    }

    /// The preview: what runs, where the new cluster goes, and how to open it.
    fn render(&self) -> String {
        let root = &self.layout.root;
        let mut text = String::new();
        let until = match self.restore.target_time {
            Some(at) => format!("rolled forward to {} UTC", at.trunc_subsecs(6).format("%Y-%m-%d %H:%M:%S%.f")),
            None => "as it was when the backup finished".to_owned(),
        };
        let _ = writeln!(
            text,
            "Restore backup {} of `{}`, {until}, as a NEW local cluster `{}`.",
            self.restore.backup, self.source_name, self.new_cluster
        );
        let _ = writeln!(text, "The running cluster in {} is only read, never changed.", self.source_dir.display());
        let _ = writeln!(text, "new directory  {} (refused if it exists)", root.display());
        let data_dir = self.layout.member_data_dir(self.first_member());
        let _ = writeln!(
            text,
            "{:<14} restores the backup through Patroni's custom bootstrap, running:",
            self.first_member()
        );
        let _ = writeln!(text, "  {}", shell_words(&self.restore.argv(&self.layout, &data_dir)));
        let others = self.members.iter().skip(1).map(String::as_str).collect::<Vec<_>>().join(", ");
        if !others.is_empty() {
            let _ = writeln!(text, "{others} join as replicas (pg_basebackup)");
        }
        let _ = writeln!(
            text,
            "then its own etcd, PgBouncer and agent on free ports, and pgBackRest stanza `{}` in {} with a first \
             full backup; credentials copied from {}",
            self.new_cluster,
            self.layout.pgbackrest_repo().display(),
            self.credentials.display()
        );
        let _ = write!(text, "open it with   pgdeck --dir {}", root.display());
        text
    }

    /// Nothing is ever restored over: not a directory that exists, not a cluster of that name.
    fn refuse_taken(&self) -> Result<()> {
        let root = &self.layout.root;
        if root.symlink_metadata().is_ok() {
            bail!(
                "{} already exists; a restore never writes over anything: choose another cluster name, or remove \
                 that cluster first with {}",
                root.display(),
                self.layout.purge_command(&self.new_cluster)
            );
        }
        let parent = root.parent().unwrap_or(root);
        for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
            let layout = Layout::new(entry.path());
            let Ok(Some(file)) = ClusterFile::load(&layout) else { continue };
            if file.spec.name == self.new_cluster {
                bail!(
                    "a local cluster named `{}` already lives in {}; choose another name",
                    self.new_cluster,
                    layout.root.display()
                );
            }
        }
        Ok(())
    }
}

/// The source's spec under the new name: its members become `<new_cluster>-1..n`.
fn new_spec(source: &ClusterSpec, new_cluster: &str) -> ClusterSpec {
    ClusterSpec { name: new_cluster.to_owned(), ..source.clone() }
}

/// What [`restore`] will do, shown before the operator confirms it.
pub fn describe(dir: &Path, backup: &str, target_time: Option<DateTime<Utc>>, new_cluster: &str) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
    let plan =
        LocalCluster::open(Layout::new(dir)).and_then(|source| Plan::new(&source, backup, target_time, new_cluster));
    match plan {
        Ok(plan) => {
            let mut text = plan.render();
            if let Err(e) = plan.refuse_taken() {
                let _ = write!(text, "\nthis restore will be refused: {e:#}");
            }
            text
        }
        Err(e) => format!("this restore will fail: {e:#}"),
    }
}

/// Restores `backup` of the cluster in `dir` (rolled forward to `target_time`, if given) as a new
/// local cluster `new_cluster` beside it, and brings that up. Blocks for minutes; its progress
/// goes to `logs/restore.log` in the new cluster's directory.
pub async fn restore(
    dir: &Path,
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
) -> Result<String> {
    let started = Instant::now();
    prereq::check()?;
    let dir =
        dir.canonicalize().with_context(|| format!("cannot find the running cluster's directory {}", dir.display()))?;
    let source = LocalCluster::open(Layout::new(dir))?;
    let plan = Plan::new(&source, backup, target_time, new_cluster)?;
    plan.refuse_taken()?;
    let run_as = crate::platform::patroni::run_as::RunAs::for_this_process()?;
    if run_as != source.file.run_as {
        bail!(
            "{} runs as OS user `{}`, but this restore would run the new cluster as `{}`, who may not read its \
             backups; run pgdeck as the user who created it",
            source.file.spec.name,
            source.file.run_as.user,
            run_as.user
        );
    }
    let root = &plan.layout.root;
    // Claiming the directory is the last check: creating it fails if another restore, or
    // anything else, took the name since.
    fs::create_dir(root)
        .with_context(|| format!("cannot create {}; a restore never writes over anything", root.display()))?;
    let installed = prereq::Installed {
        postgres_bin_dir: source.file.postgres_bin_dir.clone(),
        postgres_major: source.file.postgres_major,
    };
    let spec = new_spec(&source.file.spec, new_cluster);
    let restoring = format!("backup {backup} of {}", source.file.spec.name);
    let source_file = source.layout.credentials_file();
    let credentials = match source.file.credentials {
        CredentialSource::File => NewCredentials::CopyFrom { file: &source_file, restoring },
        CredentialSource::Aws(_) => NewCredentials::Shared { restoring },
    };
    let mut sink = std::io::sink();
    let created = up::create(&plan.layout, &spec, &installed, &source.file.credentials, &credentials, &mut sink).await;
    let mut cluster = match created {
        Ok(cluster) => cluster,
        Err(e) => {
            // Nothing runs yet and nothing in the directory is worth keeping.
            let _ = fs::remove_dir_all(root);
            return Err(e.context(format!("cannot create the new cluster in {}", root.display())));
        }
    };
    let log_path = plan.layout.log_file("restore");
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot write {}", log_path.display()))?;
    writeln!(log, "{}", plan.render())?;
    if let Err(e) = up::start(&cluster, &Bootstrap::Restore(&plan.restore), &mut log).await {
        let _ = writeln!(log, "the restore failed: {e:#}");
        let cause = last_failure(&plan.layout.log_file(plan.first_member()))
            .map(|line| {
                let hint = if line.contains("before configured recovery target") {
                    "; the source has not archived WAL up to the target time yet: choose an earlier time, or wait \
                     for its next WAL segment to be archived"
                } else {
                    ""
                };
                format!(" ({} logged: {line}{hint})", plan.first_member())
            })
            .unwrap_or_default();
        let _ = super::down(&plan.layout, false, &mut log).await;
        bail!(
            "{e:#}{cause}. The new cluster's processes were stopped; its directory {} is kept for its logs; \
             remove it with {}",
            root.display(),
            plan.layout.purge_command(&plan.new_cluster)
        );
    }
    // From now on the new cluster needs nothing of the source: its configs stop naming the
    // source's repository (Patroni reads the bootstrap section only when it initialises),
    // and `up` may start it again.
    up::write_configs(&cluster, &cluster.secrets().await?, &Bootstrap::Initdb)?;
    cluster.file.unfinished_restore = None;
    cluster.file.save(&cluster.layout)?;
    let until = match target_time {
        Some(at) => format!(" to {} UTC", at.trunc_subsecs(6).format("%Y-%m-%d %H:%M:%S%.f")),
        None => String::new(),
    };
    let outcome = format!(
        "backup {backup} of {} restored{until} as the new local cluster `{new_cluster}` in {} in {}s: 1 leader, {} \
         streaming replicas, PgBouncer on {LOOPBACK}:{}, its own pgBackRest stanza with a first full backup; open \
         it with `pgdeck --dir {}`",
        source.file.spec.name,
        root.display(),
        started.elapsed().as_secs(),
        cluster.file.ports.members.len().saturating_sub(1),
        cluster.file.ports.pgbouncer,
        root.display()
    );
    writeln!(log, "{outcome}")?;
    Ok(outcome)
}

/// The last error PostgreSQL or pgbackrest wrote to a member's log, e.g. that recovery ended
/// before the target time (no archived WAL reaches it yet).
fn last_failure(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains("FATAL:") || l.starts_with("ERROR: ["))?;
    let message = line.split_once("FATAL:").map_or(line, |(_, m)| m).trim();
    Some(message.to_owned())
}

/// Every member archives into the new cluster's own stanza, never into the source's: the
/// restored data came from there, and a `postgresql.auto.conf` setting would override Patroni's.
pub(super) async fn check_archiving(cluster: &LocalCluster, superuser: &Credentials) -> Result<()> {
    for member in &cluster.file.ports.members {
        let expected = configs::archive_command(&cluster.layout, &cluster.file, member);
        let endpoint = Endpoint {
            host: LOOPBACK.into(),
            port: member.postgres,
            database: "postgres".into(),
            login: superuser.clone().into(),
            tls: None,
            transport: crate::sql::Transport::Tcp,
        };
        let client = connect(&endpoint, Duration::from_secs(5), true)
            .await
            .with_context(|| format!("cannot check where {} archives its WAL", member.name))?;
        let row = client
            .query_one("SELECT setting, coalesce(sourcefile, '') FROM pg_settings WHERE name = 'archive_command'", &[])
            .await?;
        let (setting, file): (String, String) = (row.get(0), row.get(1));
        if setting != expected {
            bail!(
                "{} archives with `{setting}` (set in {file}), not into its own repository; remove that setting \
                 from {} before anything else archives",
                member.name,
                cluster.layout.member_data_dir(&member.name).join("postgresql.auto.conf").display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn source(target_time: Option<DateTime<Utc>>) -> RestoreSource {
        RestoreSource {
            program: "/usr/bin/pgbackrest".into(),
            config: "/var/lib/pgdeck/local/pgbackrest/pgbackrest.conf".into(),
            stanza: "postgres-cluster".into(),
            backup: "20261125-020000F".into(),
            target_time,
        }
    }

    fn new_layout() -> Layout {
        Layout::new("/var/lib/pgdeck/orders-copy".into())
    }

    #[test]
    fn point_in_time_restore_reads_the_source_repo_and_writes_only_the_new_dir() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap() + chrono::Duration::nanoseconds(123_456_789);
        let layout = new_layout();
        let argv = source(Some(at)).argv(&layout, &layout.member_data_dir("orders-copy-1"));
        assert_eq!(
            shell_words(&argv),
            "/usr/bin/pgbackrest --config=/var/lib/pgdeck/local/pgbackrest/pgbackrest.conf --stanza=postgres-cluster \
             --pg1-path=/var/lib/pgdeck/orders-copy/members/orders-copy-1/data \
             --log-path=/var/lib/pgdeck/orders-copy/logs --lock-path=/var/lib/pgdeck/orders-copy/run/pgbackrest \
             --set=20261125-020000F --type=time '--target=2026-11-25 17:00:00.123456+00' --target-action=promote \
             restore"
        );
    }

    #[test]
    fn without_a_time_the_backup_itself_is_restored() {
        let layout = new_layout();
        let argv = source(None).argv(&layout, &layout.member_data_dir("orders-copy-1"));
        assert!(argv.ends_with(&["--type=immediate".into(), "--target-action=promote".into(), "restore".into()]));
        assert!(!argv.iter().any(|a| a.starts_with("--target=")));
    }

    #[test]
    fn whole_seconds_have_no_fraction() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
        assert_eq!(recovery_target(at), "2026-11-25 17:00:00+00");
    }

    #[test]
    fn quoting_survives_spaces_and_quotes() {
        let words = shell_words(&["a b".into(), "it's".into(), String::new(), "--x=/p/q".into()]);
        assert_eq!(words, r"'a b' 'it'\''s' '' --x=/p/q");
    }

    #[test]
    fn the_cause_of_a_failed_restore_is_read_from_the_member_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("m.log");
        fs::write(
            &log,
            "2026-11-25 17:48:30,511 INFO: Running custom bootstrap script\n\
             2026-11-25 17:48:31.412 UTC [26216] FATAL:  recovery ended before configured recovery target was reached\n\
             2026-11-25 17:48:33,236 ERROR: postmaster is not running\n",
        )
        .unwrap();
        assert_eq!(last_failure(&log).as_deref(), Some("recovery ended before configured recovery target was reached"));
        fs::write(&log, "ERROR: [075]: backup set 1 is not valid\n").unwrap();
        assert_eq!(last_failure(&log).as_deref(), Some("ERROR: [075]: backup set 1 is not valid"));
        assert_eq!(last_failure(&dir.path().join("none")), None);
    }

    #[test]
    fn the_new_cluster_goes_beside_the_source() {
        let dir = new_cluster_dir(Path::new("/var/lib/pgdeck/local"), "orders-copy").unwrap();
        assert_eq!(dir, Path::new("/var/lib/pgdeck/orders-copy"));
        assert!(new_cluster_dir(Path::new("/"), "x").is_err());
    }

    fn plan(dir: &Path, target_time: Option<DateTime<Utc>>) -> Plan {
        let layout = Layout::new(dir.join("orders-copy"));
        Plan {
            source_name: "postgres-cluster".into(),
            source_dir: dir.join("local"),
            credentials: dir.join("local/credentials.json"),
            new_cluster: "orders-copy".into(),
            members: vec!["orders-copy-1".into(), "orders-copy-2".into(), "orders-copy-3".into()],
            restore: RestoreSource { config: dir.join("local/pgbackrest/pgbackrest.conf"), ..source(target_time) },
            layout,
        }
    }

    #[test]
    fn the_preview_shows_the_command_the_directory_and_the_name() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 17, 0, 0).unwrap();
        let text = plan(Path::new("/var/lib/pgdeck"), Some(at)).render();
        assert!(text.starts_with(
            "Restore backup 20261125-020000F of `postgres-cluster`, rolled forward to 2026-11-25 17:00:00 UTC, as a \
             NEW local cluster `orders-copy`."
        ));
        assert!(text.contains("new directory  /var/lib/pgdeck/orders-copy (refused if it exists)"), "{text}");
        assert!(text.contains(
            "  /usr/bin/pgbackrest --config=/var/lib/pgdeck/local/pgbackrest/pgbackrest.conf --stanza=postgres-cluster \
             --pg1-path=/var/lib/pgdeck/orders-copy/members/orders-copy-1/data"
        ));
        assert!(text.contains("orders-copy-2, orders-copy-3 join as replicas"), "{text}");
        assert!(text.contains("stanza `orders-copy` in /var/lib/pgdeck/orders-copy/pgbackrest/repo"), "{text}");
        assert!(text.ends_with("open it with   pgdeck --dir /var/lib/pgdeck/orders-copy"), "{text}");
        let plain = plan(Path::new("/var/lib/pgdeck"), None).render();
        assert!(plain.contains("as it was when the backup finished"), "{plain}");
        assert!(plain.contains("--type=immediate"), "{plain}");
    }

    #[test]
    fn an_existing_directory_or_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path(), None);
        assert!(plan.refuse_taken().is_ok());
        fs::create_dir(dir.path().join("orders-copy")).unwrap();
        let e = plan.refuse_taken().unwrap_err().to_string();
        assert!(e.contains("already exists") && e.contains("choose another cluster name"), "{e}");
    }

    #[test]
    fn the_preview_of_a_missing_cluster_says_it_will_fail() {
        let dir = tempfile::tempdir().unwrap();
        let text = describe(&dir.path().join("local"), "x", None, "orders-copy");
        assert!(text.starts_with("this restore will fail: there is no local cluster in"), "{text}");
    }
}

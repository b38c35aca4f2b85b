//! The command line: its arguments (clap) here, one function per subcommand in `commands.rs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::time_input::{parse_time, TypedTime};

mod commands;
mod confirm;

pub use commands::run;

#[derive(Parser, Debug)]
#[command(name = "pgdeck", version, about = "Provision and watch a highly available PostgreSQL cluster")]
pub struct Cli {
    /// The cluster to work on: `local` (the cluster `pgdeck local up` made; the default) or a
    /// `[targets.NAME]` of config.toml.
    #[arg(long, global = true)]
    pub target: Option<String>,
    /// A CNPG cluster's kubeconfig context (default: the current one); alone, it makes a CNPG target.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// A CNPG cluster's namespace (default: postgres).
    #[arg(long, global = true)]
    pub namespace: Option<String>,
    /// A CNPG cluster's name (default: postgres-cluster).
    #[arg(long, global = true)]
    pub cluster: Option<String>,
    /// The local cluster's directory (default: pgdeck's data dir, or $PGDECK_HOME/data).
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// Observe only: every mutating command refuses (also `read_only = true` in config.toml).
    #[arg(long, global = true)]
    pub read_only: bool,
    /// The console's theme: default, high-contrast, monochrome, or a file (NO_COLOR picks monochrome).
    #[arg(long)]
    pub theme: Option<String>,
    /// The console's keymap base: default or vim (keymap.toml in the config dir patches it).
    #[arg(long, value_enum, default_value = "default")]
    pub keymap: KeymapChoice,
    /// How often the console polls its sources, e.g. 1s or 500ms (+ and - change it live).
    #[arg(long, default_value = "1s", value_parser = parse_refresh)]
    pub refresh: Duration,
    /// Record the console session (every observation and action) to FILE as JSONL, for
    /// `pgdeck replay` and `pgdeck report` (also `record = true` in config.toml).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Without a subcommand, pgdeck opens the console on the target.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The target as the audit trail and recordings name it: `--target`, `--context` for an ad hoc
    /// CNPG target, else `local`.
    pub fn target_name(&self) -> &str {
        self.target.as_deref().or(self.context.as_deref()).unwrap_or("local")
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeymapChoice {
    /// Arrow keys and letters.
    Default,
    /// hjkl, g/G, / and the like.
    Vim,
}

fn parse_refresh(text: &str) -> Result<Duration, String> {
    crate::tui::ui::parse_interval(text)
        .ok_or_else(|| format!("`{text}` is not an interval from 100ms to 300s, such as 1s or 500ms"))
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The CNPG cluster's Kubernetes objects (Namespace, ExternalSecret, Cluster, Pooler,
    /// ScheduledBackup) from the spec, as YAML for `kubectl apply -f -`.
    Manifests {
        /// The spec file: a TOML patch over the built-in defaults (default: spec.toml in the
        /// config dir when there is one; `pgdeck spec show` prints every field).
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
    },
    /// Server-side apply of those objects to the CNPG target's API server (field manager pgdeck).
    Apply {
        /// The spec file: a TOML patch over the built-in defaults (default: spec.toml in the
        /// config dir when there is one; `pgdeck spec show` prints every field).
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
    },
    /// The desired cluster (ClusterSpec).
    Spec {
        #[command(subcommand)]
        command: SpecCommand,
    },
    /// The embedded local cluster: Patroni + etcd + PgBouncer + pgBackRest on this machine.
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// The cluster's members, roles, lag, pooler, backups and findings, from live sources.
    Status {
        /// `table` for people, `json` for scripts and monitoring.
        #[arg(long, value_enum, default_value = "table")]
        output: Output,
        /// Print again every this many seconds until interrupted.
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
    },
    /// Planned switchover: hand the primary role to a streaming replica.
    Switchover {
        /// The replica to promote (default: Patroni picks the healthiest).
        #[arg(long)]
        to: Option<String>,
        /// The member name (or, without --to, the cluster name), typed to confirm.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Unplanned failover: promote a replica when there is no healthy leader.
    Failover {
        /// The replica to promote (a failover names it: there is no healthy leader to choose one).
        #[arg(long)]
        to: String,
        /// The member name given to --to, typed again to confirm.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Take a backup now with pgBackRest.
    Backup {
        /// pgBackRest's backup type: a full copy, or what changed since the last full (diff) or
        /// since the last backup of any type (incr).
        #[arg(long = "type", value_name = "TYPE", value_enum, default_value = "full")]
        kind: BackupType,
    },
    /// Databases on the cluster (on CNPG: a Database object, applied by the operator).
    Database {
        #[command(subcommand)]
        command: DatabaseCommand,
    },
    /// Login roles whose passwords pgdeck generates and keeps in the credential store.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Restore a backup as a NEW cluster beside the running one (which it never changes).
    Restore {
        /// The backup's id, as `pgdeck status` and the Backups view show it.
        #[arg(long)]
        backup: String,
        /// Roll forward to this time: 2026-11-25 17:00:00 (a time without a zone is UTC), or RFC
        /// 3339 with its zone, such as 2026-11-25T18:00:00+01:00 (default: the backup as it finished).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        target_time: Option<TypedTime>,
        /// The new cluster's name; it lives in a directory of that name beside the running cluster's.
        #[arg(long)]
        name: String,
        /// The new cluster's name, typed again to confirm.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Open the console over a recording (read-only): pause, speed, step and seek through it.
    Replay {
        /// A recording made with `pgdeck --record FILE` (JSON lines).
        file: PathBuf,
        /// Recorded seconds per second, 1 to 60 (> and < change it live).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=60))]
        speed: u32,
        /// Replay without a terminal, to the end.
        #[arg(long)]
        headless: bool,
        /// With --headless: print the final State (status, events) as JSON.
        #[arg(long, requires = "headless")]
        dump_state: bool,
    },
    /// The incident timeline of a recording: leader changes with durations, lag peaks, findings,
    /// backups and every action.
    Report {
        /// A recording made with `pgdeck --record FILE` (JSON lines).
        file: PathBuf,
        /// `markdown` for people (an incident write-up), `json` for tools.
        #[arg(long, value_enum, default_value = "markdown")]
        format: crate::record::command::ReportFormat,
    },
}

/// What a subcommand does to the cluster. `--read-only` (and `read_only = true`) refuses every
/// one that is not [`Reach::Observes`] before it connects to anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Reads, prints, replays.
    Observes,
    /// An Action, through the Dispatcher, which refuses it and writes the refusal to the audit trail.
    Acts,
    /// Provisions, changes or stops the cluster itself.
    Changes,
}

impl Command {
    /// No wildcard arms, on purpose: a new subcommand does not compile until it says what it does.
    pub fn reach(&self) -> Reach {
        match self {
            Command::Manifests { .. }
            | Command::Spec { .. }
            | Command::Status { .. }
            | Command::Replay { .. }
            | Command::Report { .. } => Reach::Observes,
            Command::Switchover { .. }
            | Command::Failover { .. }
            | Command::Backup { .. }
            | Command::Database { command: DatabaseCommand::Create { .. } }
            | Command::User { command: UserCommand::Create { .. } | UserCommand::Rotate { .. } }
            | Command::Restore { .. }
            | Command::Apply { .. } => Reach::Acts,
            Command::Local { command } => match command {
                LocalCommand::Status => Reach::Observes,
                // The agent takes the scheduled backups and moves the pooler.
                LocalCommand::Up { .. } | LocalCommand::Down { .. } | LocalCommand::Agent => Reach::Changes,
            },
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum DatabaseCommand {
    /// `CREATE DATABASE NAME OWNER OWNER` on the primary, or its Database object on CNPG.
    Create {
        /// The new database's name: lowercase letters, digits and `_`, starting with a letter.
        name: String,
        /// An existing role that will own it.
        #[arg(long)]
        owner: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// A new login role with a generated password, stored as secrets.user_pattern says, with
    /// read-write use of DATABASE's public schema. If storing fails, the role is not created.
    Create {
        /// The new role's name: lowercase letters, digits and `_`, starting with a letter.
        name: String,
        /// The existing database it may use (read and write in its public schema).
        #[arg(long)]
        database: String,
    },
    /// A new password: staged in the store, set in PostgreSQL, tried, then made current.
    Rotate {
        /// The login role whose password is kept in the credential store.
        name: String,
        /// The user's name, typed again to confirm (its clients need the new secret).
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialChoice {
    /// `credentials.json` in the cluster's directory (mode 0600).
    File,
    /// AWS Secrets Manager, through the SDK's credential and region chains.
    Aws,
}

#[derive(Subcommand, Debug)]
pub enum SpecCommand {
    /// Print the effective spec: defaults patched by the spec file.
    Show {
        /// The spec file: a TOML patch over the built-in defaults (default: spec.toml in the
        /// config dir when there is one; `pgdeck spec show` prints every field).
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LocalCommand {
    /// Create (or start again) the local cluster.
    Up {
        /// The spec of a new cluster: a TOML patch over the built-in defaults (default: spec.toml
        /// in the config dir when there is one). An existing cluster keeps the spec it was made with.
        #[arg(long, value_name = "FILE")]
        spec: Option<PathBuf>,
        /// Where a new cluster's credentials go (an existing cluster keeps its own).
        #[arg(long, value_enum, default_value = "file")]
        credentials: CredentialChoice,
        /// Secrets Manager's region (else AWS_REGION, the profile, or [aws] in config.toml).
        #[arg(long)]
        aws_region: Option<String>,
        /// Secrets Manager's endpoint URL (else AWS_ENDPOINT_URL, or [aws] in config.toml).
        #[arg(long)]
        aws_endpoint: Option<String>,
    },
    /// Stop every process of the local cluster; keep its data unless --purge.
    Down {
        /// Also delete the cluster's directory: its data, WAL archive, backups and credentials.
        /// Asks for the cluster's name first; without a terminal, give it with --confirm.
        #[arg(long)]
        purge: bool,
        /// The local cluster's name (`pgdeck local status` shows it), typed to confirm --purge.
        #[arg(long, value_name = "NAME", requires = "purge")]
        confirm: Option<String>,
    },
    /// The local cluster's processes, ports and paths.
    Status,
    /// The local cluster's scheduler and pooler follower (started by `up`).
    #[command(hide = true)]
    Agent,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Aligned columns, for people.
    Table,
    /// The status document as JSON, for scripts.
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupType {
    /// A full copy of the cluster.
    Full,
    /// What changed since the last full backup.
    Diff,
    /// What changed since the last backup of any type.
    Incr,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument and subcommand under `command` without help text, as `pgdeck sub --arg`.
    fn undocumented(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            // clap's own --help and --version describe themselves.
            if ["help", "version"].contains(&arg.get_id().as_str()) {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                let name = arg.get_long().map_or_else(|| arg.get_id().to_string(), |long| format!("--{long}"));
                out.push(format!("{path} {name}"));
            }
        }
        for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
            let sub_path = format!("{path} {}", sub.get_name());
            if sub.get_about().is_none() && sub.get_long_about().is_none() {
                out.push(format!("{sub_path} (the subcommand)"));
            }
            undocumented(sub, &sub_path, out);
        }
    }

    #[test]
    fn every_argument_and_subcommand_says_what_it_is_for() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        undocumented(&command, "pgdeck", &mut missing);
        assert!(missing.is_empty(), "no help text in --help for:\n{}", missing.join("\n"));
    }

    #[test]
    fn target_times_take_the_forms_the_restore_form_takes() {
        let parse = |time: &str| {
            let args = ["pgdeck", "restore", "--backup", "b", "--name", "copy", "--target-time", time];
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Some(Command::Restore { target_time, .. }) => target_time,
                _ => None,
            })
        };
        let assumed = parse("2026-12-05 01:33:20").unwrap().unwrap();
        assert_eq!((assumed.at.to_rfc3339().as_str(), assumed.utc_assumed), ("2026-12-05T01:33:20+00:00", true));
        let zoned = parse("2026-12-05T02:33:20+01:00").unwrap().unwrap();
        assert_eq!((zoned.at, zoned.utc_assumed), (assumed.at, false));
        let e = parse("yesterday").unwrap_err().to_string();
        assert!(e.contains("`yesterday` is not a time") && e.contains("a time without a zone is UTC"), "{e}");
    }

    #[test]
    fn restore_takes_its_backup_time_name_and_confirmation() {
        let cli = Cli::try_parse_from([
            "pgdeck",
            "restore",
            "--backup",
            "20261125-020000F",
            "--target-time",
            "2026-11-25T17:00:00Z",
            "--name",
            "orders-copy",
            "--confirm",
            "orders-copy",
        ])
        .unwrap();
        let Some(Command::Restore { backup, target_time, name, confirm }) = cli.command else { panic!() };
        assert_eq!(
            (backup.as_str(), name.as_str(), confirm.as_deref()),
            ("20261125-020000F", "orders-copy", Some("orders-copy"))
        );
        assert_eq!(target_time.unwrap().at.to_rfc3339(), "2026-11-25T17:00:00+00:00");
    }
}

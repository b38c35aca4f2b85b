//! The command line: one function per subcommand.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use chrono::{DateTime, FixedOffset, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::action::{Action, ActionOutcome, BackupKind};
use crate::audit::AuditLog;
use crate::config::{Config, KubeOverrides, Paths, TargetChoice};
use crate::dispatch::Dispatcher;
use crate::observation::ObservationKind;
use crate::platform::cnpg::{self, CnpgPlatform, CnpgTarget};
use crate::platform::patroni::local::{self, layout::Layout, LocalCluster};
use crate::platform::patroni::PatroniPlatform;
use crate::platform::Platform;
use crate::secrets::aws::AwsSettings;
use crate::secrets::CredentialSource;
use crate::spec::{ClusterSpec, ThresholdsSpec};
use crate::state::State;
use crate::tui::app;
use crate::tui::keymap::{Keymap, KeymapBase};
use crate::tui::theme::{ColorDepth, Theme};
use crate::{source, status};

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
    Default,
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
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// Server-side apply of those objects to the CNPG target's API server (field manager pgdeck).
    Apply {
        #[arg(long)]
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
        #[arg(long)]
        to: String,
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Take a backup now with pgBackRest.
    Backup {
        #[arg(long = "type", value_enum, default_value = "full")]
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
        /// Roll forward to this time, e.g. 2026-11-25T17:00:00Z (default: the backup as it finished).
        #[arg(long, value_parser = parse_target_time)]
        target_time: Option<DateTime<Utc>>,
        /// The new cluster's name; it lives in a directory of that name beside the running cluster's.
        #[arg(long)]
        name: String,
        /// The new cluster's name, typed again to confirm.
        #[arg(long)]
        confirm: Option<String>,
    },
    /// Open the console over a recording (read-only): pause, speed, step and seek through it.
    Replay {
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
        file: PathBuf,
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

fn parse_target_time(text: &str) -> Result<DateTime<Utc>, String> {
    text.parse::<DateTime<FixedOffset>>().map(|at| at.with_timezone(&Utc)).map_err(|e| {
        format!("`{text}` is not a time with its zone ({e}); write it as RFC 3339, such as 2026-11-25T17:00:00Z")
    })
}

#[derive(Subcommand, Debug)]
pub enum DatabaseCommand {
    /// `CREATE DATABASE NAME OWNER OWNER` on the primary, or its Database object on CNPG.
    Create {
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
        name: String,
        #[arg(long)]
        database: String,
    },
    /// A new password: staged in the store, set in PostgreSQL, tried, then made current.
    Rotate {
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
        #[arg(long)]
        spec: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LocalCommand {
    /// Create (or start again) the local cluster.
    Up {
        #[arg(long)]
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
        #[arg(long)]
        purge: bool,
    },
    /// The local cluster's processes, ports and paths.
    Status,
    /// The local cluster's scheduler and pooler follower (started by `up`).
    #[command(hide = true)]
    Agent,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupType {
    Full,
    Diff,
    Incr,
}

pub fn run(mut cli: Cli) -> Result<ExitCode> {
    let paths = Paths::resolve()?;
    let config = Config::load(&paths.config_dir)?;
    cli.read_only |= config.read_only;
    if config.record && cli.record.is_none() && cli.command.is_none() {
        cli.record = Some(crate::record::default_file(&paths.state_dir, cli.target_name(), crate::clock::now()));
    }
    let _log_guard = init_logging(&paths);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let Some(command) = &cli.command else {
            return console(&cli, &paths).await;
        };
        if cli.read_only && command.reach() == Reach::Changes {
            bail!("this command changes the cluster and pgdeck runs read-only (--read-only, or read_only = true in config.toml); run it without that to act");
        }
        match command {
            Command::Spec { command: SpecCommand::Show { spec } } => spec_show(&paths, spec.as_deref()),
            Command::Manifests { spec } => manifests(&paths, spec.as_deref()),
            Command::Apply { spec } => apply(&cli, &paths, spec.as_deref()).await,
            Command::Local { command } => local_command(&cli, &paths, &config, command).await,
            Command::Status { output, watch } => status_command(&cli, &paths, *output, *watch).await,
            Command::Switchover { to, confirm } => {
                let action = Action::Switchover { candidate: to.clone() };
                act(&cli, &paths, action, confirm.clone()).await
            }
            Command::Failover { to, confirm } => {
                act(&cli, &paths, Action::Failover { candidate: to.clone() }, confirm.clone()).await
            }
            Command::Backup { kind } => {
                let kind = match kind {
                    BackupType::Full => BackupKind::Full,
                    BackupType::Diff => BackupKind::Differential,
                    BackupType::Incr => BackupKind::Incremental,
                };
                act(&cli, &paths, Action::Backup { kind }, None).await
            }
            Command::Database { command: DatabaseCommand::Create { name, owner } } => {
                act(&cli, &paths, Action::CreateDatabase { name: name.clone(), owner: owner.clone() }, None).await
            }
            Command::User { command: UserCommand::Create { name, database } } => {
                act(&cli, &paths, Action::CreateUser { name: name.clone(), database: database.clone() }, None).await
            }
            Command::User { command: UserCommand::Rotate { name, confirm } } => {
                act(&cli, &paths, Action::RotatePassword { user: name.clone() }, confirm.clone()).await
            }
            Command::Restore { backup, target_time, name, confirm } => {
                let action =
                    Action::Restore { backup: backup.clone(), target_time: *target_time, new_cluster: name.clone() };
                act(&cli, &paths, action, confirm.clone()).await
            }
            Command::Replay { file, speed, headless: true, dump_state } => {
                crate::record::command::replay_headless(file, *speed, *dump_state).await
            }
            Command::Replay { file, speed, headless: false, .. } => replay_console(&cli, &paths, file, *speed).await,
            Command::Report { file, format } => crate::record::command::report_command(file, *format),
        }
    })
}

/// Logs go to the state dir, never to the terminal (`PGDECK_LOG` sets the filter).
fn init_logging(paths: &Paths) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    std::fs::create_dir_all(&paths.state_dir).ok()?;
    let appender = tracing_appender::rolling::never(&paths.state_dir, "pgdeck.log");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("PGDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}

fn spec_show(paths: &Paths, file: Option<&Path>) -> Result<ExitCode> {
    let file = file.map(Path::to_owned).or_else(|| crate::spec::default_spec_file(&paths.config_dir));
    let spec = ClusterSpec::load(file.as_deref())?;
    let origin = file.map_or_else(|| "built-in defaults".to_owned(), |f| f.display().to_string());
    print!("# effective spec (defaults patched by {origin})\n{}", spec.to_toml());
    Ok(ExitCode::SUCCESS)
}

/// The effective spec for `manifests` and `apply`, having warned on stderr if it renders a
/// cluster without backups.
fn load_spec(paths: &Paths, file: Option<&Path>) -> Result<ClusterSpec> {
    let file = file.map(Path::to_owned).or_else(|| crate::spec::default_spec_file(&paths.config_dir));
    let spec = ClusterSpec::load(file.as_deref())?;
    let place = file.map_or_else(
        || format!("a spec file passed with --spec (or {})", paths.config_dir.join("spec.toml").display()),
        |f| f.display().to_string(),
    );
    if let Some(warning) = cnpg::manifests::backup_warning(&spec, &place) {
        eprintln!("pgdeck: {warning}");
    }
    Ok(spec)
}

fn manifests(paths: &Paths, file: Option<&Path>) -> Result<ExitCode> {
    print!("{}", cnpg::manifests::yaml(&load_spec(paths, file)?)?);
    Ok(ExitCode::SUCCESS)
}

/// The spec decides what is applied (names, namespace); the target decides where (its context).
/// An Action like any other: the Dispatcher refuses it read-only and audits it.
async fn apply(cli: &Cli, paths: &Paths, file: Option<&Path>) -> Result<ExitCode> {
    let spec = load_spec(paths, file)?;
    let overrides = KubeOverrides {
        context: cli.context.clone(),
        namespace: Some(spec.namespace.clone()),
        cluster: Some(spec.name.clone()),
    };
    let config = Config::load(&paths.config_dir)?;
    if !cli.read_only && matches!(config.choose_target(cli.target.as_deref(), &overrides)?, TargetChoice::Local) {
        bail!("`apply` provisions a CNPG cluster on Kubernetes; choose its API server with --context or --target")
    }
    let objects = cnpg::manifests::objects(&spec);
    let action = Action::Apply { namespace: spec.namespace.clone(), cluster: spec.name.clone(), objects };
    act_on(cli, paths, &overrides, action, None).await
}

async fn local_command(cli: &Cli, paths: &Paths, config: &Config, command: &LocalCommand) -> Result<ExitCode> {
    let layout = Layout::new(paths.local_cluster_dir(cli.dir.as_deref()));
    let mut out = std::io::stdout();
    match command {
        LocalCommand::Up { spec, credentials, aws_region, aws_endpoint } => {
            let file = spec.clone().or_else(|| crate::spec::default_spec_file(&paths.config_dir));
            let spec = ClusterSpec::load(file.as_deref())?;
            let source = match credentials {
                CredentialChoice::File => CredentialSource::File,
                CredentialChoice::Aws => CredentialSource::Aws(AwsSettings {
                    region: aws_region.clone().or_else(|| config.aws.region.clone()),
                    endpoint: aws_endpoint.clone().or_else(|| config.aws.endpoint.clone()),
                    profile: config.aws.profile.clone(),
                }),
            };
            local::up(&layout, &spec, &source, &mut out).await?;
        }
        LocalCommand::Down { purge } => {
            local::down(&layout, *purge, &mut out).await?;
        }
        LocalCommand::Status => local_status(layout, &mut out)?,
        LocalCommand::Agent => local::agent::run(layout).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn local_status(layout: Layout, out: &mut dyn Write) -> Result<()> {
    let cluster = LocalCluster::open(layout)?;
    let file = &cluster.file;
    writeln!(out, "local cluster `{}` in {}", file.spec.name, cluster.layout.root.display())?;
    writeln!(
        out,
        "PostgreSQL {} from {}, running as OS user `{}`",
        file.postgres_major,
        file.postgres_bin_dir.display(),
        file.run_as.user
    )?;
    for component in cluster.components() {
        let state = component.pid().map_or_else(|| "stopped".to_owned(), |pid| format!("running (pid {pid})"));
        writeln!(out, "  {:<22} {state}", component.component)?;
    }
    writeln!(out, "ports (127.0.0.1):")?;
    for (what, port) in file.ports.all() {
        writeln!(out, "  {what:<30} {port}")?;
    }
    if !file.scaled_parameters.is_empty() {
        writeln!(out, "memory parameters scaled down for this machine (spec value -> local value):")?;
        for p in &file.scaled_parameters {
            writeln!(out, "  {:<22} {} -> {}", p.name, p.spec_value, p.local_value)?;
        }
    }
    writeln!(out, "credentials: {} (mode 0600)", cluster.layout.credentials_file().display())?;
    writeln!(out, "logs:        {}", cluster.layout.logs_dir().display())?;
    Ok(())
}

async fn console(cli: &Cli, paths: &Paths) -> Result<ExitCode> {
    let (platform, thresholds) = platform_for(cli, paths).await?;
    let (theme, keymap) = look_and_keys(cli, paths)?;
    let options = app::Options {
        read_only: cli.read_only,
        refresh: cli.refresh,
        source_timeout: local::SOURCE_TIMEOUT,
        thresholds,
        theme,
        keymap,
        audit: AuditLog::daily(&paths.state_dir, cli.target_name())?,
        user: os_user(),
        audit_file: Some(AuditLog::file_pattern(&paths.state_dir).display().to_string()),
        notice: None,
        target: Some(cli.target_name().to_owned()),
        targets: Some(Arc::new(ConfiguredTargets { paths: paths.clone(), dir: cli.dir.clone() })),
    };
    let recorder = match &cli.record {
        Some(file) => {
            let header = crate::record::Header::new(
                cli.target_name(),
                &platform.identity(),
                crate::clock::now(),
                u64::try_from(cli.refresh.as_millis()).unwrap_or(u64::MAX),
                options.thresholds.clone(),
            );
            Some(crate::record::Recorder::create(file, &header)?)
        }
        None => None,
    };
    app::run(app::Session::Live { platform, recorder }, options).await?;
    Ok(ExitCode::SUCCESS)
}

/// The theme (`--theme`, NO_COLOR, the terminal's colours, the config dir's patch) and the keymap
/// (`--keymap` and the config dir's patch), as the live console and a replay both use them.
fn look_and_keys(cli: &Cli, paths: &Paths) -> Result<(Theme, Keymap)> {
    let env = |name: &str| std::env::var(name).ok();
    let no_color = env("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = Theme::load(cli.theme.as_deref(), Some(&paths.config_dir), no_color, ColorDepth::detect(&env))?;
    let base = match cli.keymap {
        KeymapChoice::Default => KeymapBase::Default,
        KeymapChoice::Vim => KeymapBase::Vim,
    };
    let keymap = Keymap::load(base, Some(&paths.config_dir.join("keymap.toml")))?;
    Ok((theme, keymap))
}

fn os_user() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into())
}

/// The target's platform and the thresholds its spec sets: the local cluster's from one read of
/// `cluster.json`, a CNPG cluster's from the spec file (or the reference's defaults).
async fn platform_for(cli: &Cli, paths: &Paths) -> Result<(Arc<dyn Platform>, ThresholdsSpec)> {
    platform_with(cli, paths, &cli_overrides(cli)).await
}

async fn platform_with(
    cli: &Cli,
    paths: &Paths,
    overrides: &KubeOverrides,
) -> Result<(Arc<dyn Platform>, ThresholdsSpec)> {
    let config = Config::load(&paths.config_dir)?;
    let choice = config.choose_target(cli.target.as_deref(), overrides)?;
    open_choice(&config, paths, cli.dir.as_deref(), choice).await
}

async fn open_choice(
    config: &Config,
    paths: &Paths,
    dir: Option<&Path>,
    choice: TargetChoice,
) -> Result<(Arc<dyn Platform>, ThresholdsSpec)> {
    match choice {
        TargetChoice::Local => {
            let cluster = LocalCluster::open(Layout::new(paths.local_cluster_dir(dir)))?;
            Ok((Arc::new(PatroniPlatform::new(cluster.target()?)?), cluster.file.spec.thresholds))
        }
        TargetChoice::Cnpg(target) => {
            let spec = ClusterSpec::load(crate::spec::default_spec_file(&paths.config_dir).as_deref())?;
            let target = CnpgTarget {
                config: target,
                kubeconfig: None,
                source_timeout: local::SOURCE_TIMEOUT,
                aws: config.aws.clone(),
                secrets: spec.secrets.clone(),
            };
            Ok((Arc::new(CnpgPlatform::connect(target).await?), spec.thresholds))
        }
    }
}

/// The configured targets, for the console's `:target NAME`: each opened as `--target NAME`
/// alone would open it (no --context/--namespace/--cluster carried over).
struct ConfiguredTargets {
    paths: Paths,
    dir: Option<PathBuf>,
}

#[async_trait::async_trait]
impl crate::tui::targets::Targets for ConfiguredTargets {
    fn names(&self) -> Vec<String> {
        let mut names = vec!["local".to_owned()];
        if let Ok(config) = Config::load(&self.paths.config_dir) {
            names.extend(config.targets.into_keys());
        }
        names
    }

    async fn open(&self, name: &str) -> Result<crate::tui::targets::Opened> {
        let config = Config::load(&self.paths.config_dir)?;
        let choice = config.choose_target(Some(name), &KubeOverrides::default())?;
        let (platform, thresholds) = open_choice(&config, &self.paths, self.dir.as_deref(), choice).await?;
        let audit = AuditLog::daily(&self.paths.state_dir, name)?;
        Ok(crate::tui::targets::Opened { name: name.to_owned(), platform, thresholds, audit })
    }
}

/// One observation round of every source, folded into a fresh State.
async fn observe(platform: &dyn Platform, thresholds: ThresholdsSpec) -> State {
    let mut state = State::new(thresholds);
    let timeout = local::SOURCE_TIMEOUT + Duration::from_secs(1);
    for observation in source::poll_all(platform.sources(), timeout).await {
        state.apply(&observation);
    }
    state
}

async fn status_command(cli: &Cli, paths: &Paths, output: Output, watch: Option<u64>) -> Result<ExitCode> {
    let (platform, thresholds) = platform_for(cli, paths).await?;
    loop {
        let state = observe(platform.as_ref(), thresholds.clone()).await;
        let doc = status::document(&state);
        let text = match output {
            Output::Json => serde_json::to_string_pretty(&doc)? + "\n",
            Output::Table => status::table(&doc),
        };
        let Some(seconds) = watch else {
            print!("{text}");
            return Ok(ExitCode::SUCCESS);
        };
        // Clear the screen and home the cursor, as `watch` does.
        print!("\x1b[2J\x1b[H{text}");
        std::io::stdout().flush()?;
        tokio::time::sleep(Duration::from_secs(seconds.max(1))).await;
    }
}

async fn act(cli: &Cli, paths: &Paths, action: Action, confirmation: Option<String>) -> Result<ExitCode> {
    act_on(cli, paths, &cli_overrides(cli), action, confirmation).await
}

fn cli_overrides(cli: &Cli) -> KubeOverrides {
    KubeOverrides { context: cli.context.clone(), namespace: cli.namespace.clone(), cluster: cli.cluster.clone() }
}

/// Submits `action` to a Dispatcher on the target `overrides` choose, and waits for its outcome.
async fn act_on(
    cli: &Cli,
    paths: &Paths,
    overrides: &KubeOverrides,
    action: Action,
    confirmation: Option<String>,
) -> Result<ExitCode> {
    let user = os_user();
    let audit = AuditLog::daily(&paths.state_dir, cli.target_name())?;
    let (tx, mut rx) = mpsc::channel(16);
    if cli.read_only {
        // Refused before connecting to anything, and audited as every refusal is.
        let mut dispatcher = Dispatcher::new(None, true, audit, user, tx);
        let refused = dispatcher.submit(action, confirmation, &State::new(ThresholdsSpec::default()));
        bail!("{}", refused.err().unwrap_or(crate::dispatch::Refusal::ReadOnly));
    }
    let (platform, thresholds) = platform_with(cli, paths, overrides).await?;
    let state = observe(platform.as_ref(), thresholds).await;
    // Interrupted, the action is given up on; the audit trail then says its outcome is unknown.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut dispatcher = Dispatcher::new(Some(platform), cli.read_only, audit, user, tx);
    let request = match dispatcher.submit(action, confirmation, &state) {
        Ok(request) => request,
        Err(refusal) => bail!("{refusal}"),
    };
    println!("{} requested (request {})…", request.action, request.id);
    let why = loop {
        tokio::select! {
            observation = rx.recv() => {
                let Some(observation) = observation else { break "the dispatcher ended without an outcome" };
                let ObservationKind::ActionFinished { request: done, outcome } = observation.kind else { continue };
                if done.id != request.id {
                    continue;
                }
                return match outcome {
                    ActionOutcome::Succeeded { detail } => {
                        println!("{}: {detail}", done.action);
                        Ok(ExitCode::SUCCESS)
                    }
                    ActionOutcome::Failed { error } => bail!("{} failed: {error}", done.action),
                };
            }
            _ = interrupt.recv() => break "ctrl-c",
            _ = terminate.recv() => break "SIGTERM",
            _ = hangup.recv() => break "SIGHUP",
        }
    };
    let reason = format!(
        "outcome unknown: `pgdeck` was interrupted ({why}) before the outcome; it may have completed, failed or \
         stopped part-way: check the cluster"
    );
    dispatcher.abandon_all(&reason);
    bail!("stopped waiting for {} (request {}): {reason}", request.action, request.id)
}

/// `pgdeck replay FILE`: the console's theme and keymap, over the recording.
async fn replay_console(cli: &Cli, paths: &Paths, file: &Path, speed: u32) -> Result<ExitCode> {
    let (theme, keymap) = look_and_keys(cli, paths)?;
    let console = crate::record::command::ReplayConsole { file, speed, paths, theme, keymap, user: os_user() };
    crate::record::command::replay_console(console).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_times_need_their_zone() {
        let at = parse_target_time("2026-11-25T17:00:00.25Z").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-25T17:00:00.250+00:00");
        assert_eq!(parse_target_time("2026-11-25T18:00:00+01:00").unwrap().to_rfc3339(), "2026-11-25T17:00:00+00:00");
        assert!(parse_target_time("2026-11-25 17:00:00").unwrap_err().contains("RFC 3339"));
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
        assert_eq!(target_time.unwrap().to_rfc3339(), "2026-11-25T17:00:00+00:00");
    }
}

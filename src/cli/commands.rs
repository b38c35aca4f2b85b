//! One function per subcommand, and what they share: the target's platform, the Dispatcher an
//! action goes through, the console.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use crate::action::{Action, ActionOutcome, BackupKind};
use crate::audit::AuditLog;
use crate::config::{Config, KubeOverrides, Paths, TargetChoice};
use crate::dispatch::Dispatcher;
use crate::observation::ObservationKind;
use crate::os_user::os_user;
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

use super::{
    BackupType, Cli, Command, CredentialChoice, DatabaseCommand, KeymapChoice, LocalCommand, Output, Reach,
    SpecCommand, UserCommand,
};

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
                if let Some(typed) = target_time.filter(|t| t.utc_assumed) {
                    let at = typed.at.format("%Y-%m-%d %H:%M:%S%.f");
                    println!("recovery target: {at} UTC (UTC assumed: --target-time was given without a zone)");
                }
                let target_time = target_time.map(|t| t.at);
                let action = Action::Restore { backup: backup.clone(), target_time, new_cluster: name.clone() };
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
    crate::dirs::create(&paths.state_dir, crate::dirs::PRIVATE).ok()?;
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
        LocalCommand::Down { purge, confirm } => {
            if *purge {
                // Before anything is stopped: a refused purge leaves the cluster as it was.
                super::confirm::confirm_purge(&layout, cli.dir.as_deref(), confirm.as_deref())?;
            }
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

/// The target's platform and the thresholds its spec sets: the local cluster's from one read of
/// `cluster.json`, a CNPG cluster's from the spec file (or the reference's defaults); config.toml's
/// `[thresholds]` over them.
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
            let thresholds = config.thresholds_over(&cluster.file.spec.thresholds)?;
            Ok((Arc::new(PatroniPlatform::new(cluster.target()?)?), thresholds))
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
            let thresholds = config.thresholds_over(&spec.thresholds)?;
            Ok((Arc::new(CnpgPlatform::connect(target).await?), thresholds))
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

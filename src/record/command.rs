//! `pgdeck replay` and `pgdeck report`: the subcommands that read a recording. Kept out of
//! `cli.rs` so the command line there stays one match arm per subcommand.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;

use crate::audit::AuditLog;
use crate::config::Paths;
use crate::record::replay::Replay;
use crate::record::{self, report, Header, Recording};
use crate::state::{Event, State};
use crate::tui::app::{self, Session};
use crate::tui::keymap::Keymap;
use crate::tui::theme::Theme;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Json,
}

/// Reads `file`, telling stderr (or the log, under the console) about every skipped line.
fn load(file: &Path, to_stderr: bool) -> Result<Recording> {
    let recording = record::read(file)?;
    for skipped in &recording.skipped {
        if to_stderr {
            eprintln!("pgdeck: {skipped}");
        }
        tracing::warn!("{skipped}");
    }
    Ok(recording)
}

fn replay_of(file: &Path, recording: Recording, speed: u32) -> Replay {
    let mut replay = Replay::new(
        file.display().to_string(),
        recording.observations,
        recording.header.thresholds.clone(),
        recording.skipped.len(),
    );
    replay.set_speed(speed);
    replay
}

/// The console over a recording, read-only by construction.
pub struct ReplayConsole<'a> {
    pub file: &'a Path,
    pub speed: u32,
    pub paths: &'a Paths,
    pub theme: Theme,
    pub keymap: Keymap,
    pub user: String,
}

pub async fn replay_console(console: ReplayConsole<'_>) -> Result<ExitCode> {
    let ReplayConsole { file, speed, paths, theme, keymap, user } = console;
    let recording = load(file, false)?;
    let notice = recording.skipped.first().map(|first| match recording.skipped.len() {
        1 => first.to_string(),
        n => format!("{first} (and {} more lines; see pgdeck.log)", n - 1),
    });
    let refresh = Duration::from_millis(recording.header.refresh_ms.max(100));
    let thresholds = recording.header.thresholds.clone();
    let audit = AuditLog::daily(&paths.state_dir, &format!("replay:{}", file.display()))?;
    let options = app::Options {
        read_only: true,
        refresh,
        source_timeout: Duration::from_secs(1),
        thresholds,
        theme,
        keymap,
        audit,
        user,
        audit_file: Some(AuditLog::file_pattern(&paths.state_dir).display().to_string()),
        notice,
        target: None,
        targets: None,
    };
    app::run(Session::Replay(replay_of(file, recording, speed)), options).await?;
    Ok(ExitCode::SUCCESS)
}

/// What `--dump-state` prints: the State as `pgdeck status --output json` shows it, plus the
/// timeline and where the replay stopped.
#[derive(Serialize)]
struct Dump<'a> {
    header: &'a Header,
    observations: usize,
    replayed: usize,
    skipped: Vec<String>,
    status: crate::status::StatusDoc,
    events: Vec<&'a Event>,
}

/// Replays without a terminal at `speed` (paced as the console would be), for scripts and tests.
pub async fn replay_headless(file: &Path, speed: u32, dump_state: bool) -> Result<ExitCode> {
    headless(file, Pace::Speed(speed), dump_state, &mut std::io::stdout()).await?;
    Ok(ExitCode::SUCCESS)
}

/// How a headless replay spends wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As the console would, at this many recorded seconds per second.
    Speed(u32),
    /// Not at all: straight to the end (the fuzz tests, which feed damaged times).
    Unpaced,
}

/// `replay --headless`: reads `file`, replays it to the end, tells stderr how far it got and,
/// with `dump_state`, writes the final State to `out` as JSON.
pub async fn headless(file: &Path, pace: Pace, dump_state: bool, out: &mut dyn std::io::Write) -> Result<()> {
    let recording = load(file, true)?;
    let header = recording.header.clone();
    let skipped: Vec<String> = recording.skipped.iter().map(ToString::to_string).collect();
    let speed = match pace {
        Pace::Speed(speed) => speed,
        Pace::Unpaced => 1,
    };
    let mut replay = replay_of(file, recording, speed);
    let mut state: State = replay.fresh_state();
    let mut last = Instant::now();
    while !replay.finished() {
        if pace == Pace::Unpaced {
            replay.run_to_end(&mut state);
            break;
        }
        let due = replay.next_due().unwrap_or(Duration::ZERO).min(Duration::from_millis(200));
        tokio::time::sleep(due).await;
        replay.advance(last.elapsed(), &mut state);
        last = Instant::now();
    }
    let status = replay.status();
    eprintln!(
        "pgdeck: replayed {} observations of {} ({} lines skipped) at {}x",
        status.position,
        file.display(),
        skipped.len(),
        status.speed
    );
    if dump_state {
        let dump = Dump {
            header: &header,
            observations: status.total,
            replayed: status.position,
            skipped,
            status: crate::status::document(&state),
            events: state.events.iter().collect(),
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&dump)?)?;
    }
    Ok(())
}

pub fn report_command(file: &Path, format: ReportFormat) -> Result<ExitCode> {
    let recording = load(file, true)?;
    let report = report::build(&recording, &file.display().to_string());
    match format {
        ReportFormat::Markdown => print!("{}", report::markdown(&report)),
        ReportFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report).context("cannot write the report as JSON")?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

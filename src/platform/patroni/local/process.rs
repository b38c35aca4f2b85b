//! Starting detached server processes with pid files, and stopping them by pid.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A process pgdeck started and recorded: its pid file and what its command line must contain.
#[derive(Debug, Clone)]
pub struct Tracked {
    pub component: String,
    pub pid_file: PathBuf,
    /// The program name expected in `/proc/<pid>/cmdline`, so a recycled pid is never signalled.
    pub program: String,
}

impl Tracked {
    pub fn pid(&self) -> Option<i32> {
        let pid: i32 = fs::read_to_string(&self.pid_file).ok()?.trim().parse().ok()?;
        is_our_process(pid, &self.program).then_some(pid)
    }

    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// Sends `signal`, waits up to `grace` for the process to exit, then kills it.
    pub fn stop(&self, signal: Signal, grace: Duration) -> Result<bool> {
        let Some(pid) = self.pid() else {
            let _ = fs::remove_file(&self.pid_file);
            return Ok(false);
        };
        stop_pid(pid, &self.program, signal, grace);
        let _ = fs::remove_file(&self.pid_file);
        Ok(true)
    }
}

/// Signals `pid` and waits for it to go; SIGKILL after `grace`.
pub fn stop_pid(pid: i32, program: &str, signal: Signal, grace: Duration) {
    let target = Pid::from_raw(pid);
    let _ = kill(target, signal);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_our_process(pid, program) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    tracing::warn!("{program} (pid {pid}) ignored {signal} for {grace:?}; killing it");
    let _ = kill(target, Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && is_our_process(pid, program) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Alive, not a zombie, and running the program we started.
pub fn is_our_process(pid: i32, program: &str) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // The state letter follows the parenthesised command name.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    if state == Some('Z') {
        return false;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    String::from_utf8_lossy(&cmdline).contains(program)
}

/// Starts `command` detached: its own process group (no terminal signals reach it), stdin from
/// /dev/null, output appended to `log`; records its pid in `pid_file`.
pub fn spawn_detached(mut command: Command, log: &Path, pid_file: &Path) -> Result<i32> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open the log {}", log.display()))?;
    let err = out.try_clone()?;
    command.stdin(Stdio::null()).stdout(out).stderr(err).process_group(0);
    let program = command.get_program().to_string_lossy().into_owned();
    let child = command.spawn().with_context(|| format!("cannot start {program}"))?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    fs::write(pid_file, format!("{pid}\n")).with_context(|| format!("cannot write {}", pid_file.display()))?;
    Ok(pid)
}

/// The postmaster pid of a data directory, if one runs (Patroni may have died and left it).
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    let pid: i32 = text.lines().next()?.trim().parse().ok()?;
    is_our_process(pid, "postgres").then_some(pid)
}

//! The recorder: a thread that appends JSON lines and flushes at least once a second, so a
//! console killed outright loses at most the last second. The event loop only hands it values.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::observation::{Observation, ObservationKind};
use crate::record::delta::Previous;
use crate::record::{Header, Repeat, RepeatKey};

const FLUSH_EVERY: Duration = Duration::from_millis(500);

pub struct Recorder {
    lines: Option<mpsc::Sender<Observation>>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Recorder {
    /// Creates `path` (mode 0600: query texts are in it), writes the header and starts the writer.
    pub fn create(path: &Path, header: &Header) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::dirs::create(dir, crate::dirs::PRIVATE)
                .with_context(|| format!("cannot create {} for the recording; choose another path", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create the recording {}; choose a writable path", path.display()))?;
        let mut out = BufWriter::new(file);
        writeln!(out, "{}", serde_json::to_string(header)?)?;
        out.flush()?;
        let (tx, rx) = mpsc::channel::<Observation>();
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || write_lines(&rx, out, &shown))
            .context("cannot start the recording thread")?;
        Ok(Self { lines: Some(tx), thread: Some(thread), path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues one observation; the thread redacts, compacts and writes it.
    pub fn record(&self, observation: &Observation) {
        if let Some(lines) = &self.lines {
            let _ = lines.send(observation.clone());
        }
    }
}

impl Drop for Recorder {
    /// Closing the channel lets the thread write what is queued, flush and end.
    fn drop(&mut self) {
        self.lines = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The line for `observation`: a [`Repeat`] when it equals the last of its key, else the whole
/// observation (with secrets taken out).
fn line_for(observation: &Observation, last: &mut Compaction) -> Result<String> {
    let redacted = redact(observation);
    let observation = redacted.as_ref().unwrap_or(observation);
    if let Some(key) = RepeatKey::of(&observation.kind) {
        let key = (observation.source.clone(), key);
        if last.repeats.get(&key) == Some(&observation.kind) {
            let repeat = Repeat { at: observation.at, source: observation.source.clone(), repeat: key.1 };
            return Ok(serde_json::to_string(&repeat)?);
        }
        last.repeats.insert(key, observation.kind.clone());
    }
    if let Some(delta) = last.workload.encode(observation) {
        return Ok(serde_json::to_string(&delta)?);
    }
    Ok(serde_json::to_string(observation)?)
}

/// What the writer remembers to write repeats and deltas.
#[derive(Default)]
struct Compaction {
    repeats: HashMap<(crate::observation::SourceId, RepeatKey), ObservationKind>,
    workload: Previous,
}

fn write_lines(rx: &mpsc::Receiver<Observation>, mut out: BufWriter<File>, path: &str) {
    let mut last_flush = Instant::now();
    let mut failed = false;
    let mut last = Compaction::default();
    loop {
        let received = rx.recv_timeout(FLUSH_EVERY);
        let closed = matches!(received, Err(mpsc::RecvTimeoutError::Disconnected));
        if let Ok(observation) = received {
            match line_for(&observation, &mut last) {
                Ok(line) => {
                    if let Err(e) = writeln!(out, "{line}") {
                        failed = report_once(failed, path, &e);
                    }
                }
                Err(e) => tracing::error!("cannot record an observation from {}: {e}", observation.source),
            }
        }
        if closed || last_flush.elapsed() >= FLUSH_EVERY {
            // The OS has it once flushed: a killed console loses nothing more. fsync only at the end.
            let flushed = out.flush().and_then(|()| if closed { out.get_ref().sync_data() } else { Ok(()) });
            if let Err(e) = flushed {
                failed = report_once(failed, path, &e);
            }
            last_flush = Instant::now();
        }
        if closed {
            return;
        }
    }
}

fn report_once(already: bool, path: &str, e: &std::io::Error) -> bool {
    if !already {
        tracing::error!("cannot write the recording {path}: {e}; the console goes on without recording");
    }
    true
}

/// A copy of `observation` with secrets taken out, or `None` when it holds none. Query texts are
/// the one place a password could travel (`ALTER ROLE … PASSWORD '…'` caught in pg_stat_activity).
fn redact(observation: &Observation) -> Option<Observation> {
    let ObservationKind::WorkloadSampled { member, backends, statements } = &observation.kind else { return None };
    let mut backends = backends.clone();
    for backend in &mut backends {
        if let Some(query) = &mut backend.query {
            *query = redact_query(query);
        }
    }
    let mut statements = statements.clone();
    for statement in &mut statements {
        statement.query = redact_query(&statement.query);
    }
    let kind = ObservationKind::WorkloadSampled { member: member.clone(), backends, statements };
    Some(Observation { at: observation.at, source: observation.source.clone(), kind })
}

/// `… PASSWORD 'x'` becomes `… PASSWORD '***'`, whatever the case and spacing.
pub fn redact_query(query: &str) -> String {
    let lower = query.to_ascii_lowercase();
    let mut out = String::with_capacity(query.len());
    let mut rest = 0;
    let mut search = 0;
    while let Some(found) = lower[search..].find("password") {
        let keyword_end = search + found + "password".len();
        let after = &query[keyword_end..];
        let literal_start = keyword_end + (after.len() - after.trim_start().len());
        search = keyword_end;
        if !query[literal_start..].starts_with('\'') {
            continue;
        }
        // A literal ends at a quote not doubled ('' is an escaped quote inside it).
        let body = &query[literal_start + 1..];
        let mut end = None;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                } else {
                    end = Some(literal_start + 1 + i);
                    break;
                }
            }
        }
        let literal_end = end.unwrap_or(query.len());
        out.push_str(&query[rest..literal_start]);
        out.push_str("'***'");
        rest = (literal_end + 1).min(query.len());
        search = rest;
    }
    out.push_str(&query[rest..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_query_texts_are_redacted() {
        assert_eq!(redact_query("ALTER ROLE \"a\" PASSWORD 'SCRAM-SHA-256$4096:x'"), "ALTER ROLE \"a\" PASSWORD '***'");
        assert_eq!(
            redact_query("create role b login password  'it''s' valid until 'x'"),
            "create role b login password  '***' valid until 'x'"
        );
        assert_eq!(redact_query("select password_encryption"), "select password_encryption");
        assert_eq!(redact_query("SELECT 1"), "SELECT 1");
        assert_eq!(redact_query("PASSWORD 'unterminated"), "PASSWORD '***'");
    }
}

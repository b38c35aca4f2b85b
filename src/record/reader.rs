//! Reading a recording back: the header decides whether this pgdeck can read it at all; a line
//! that is not an observation (truncated by a kill, corrupted) is reported by number and skipped.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::observation::{Observation, ObservationKind};
use crate::record::delta::{Previous, WorkloadLine};
use crate::record::{Header, Repeat, RepeatKey, READABLE_VERSIONS, SCHEMA_VERSION};

#[derive(Debug, Clone)]
pub struct Recording {
    pub header: Header,
    /// In file order, which is the order the console's State received them.
    pub observations: Vec<Observation>,
    pub skipped: Vec<Skipped>,
}

/// A line that was not replayed, and why: "recording.jsonl:57: not an observation (…); skipped".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: not an observation ({}); skipped", self.file, self.line, self.reason)
    }
}

pub fn read(path: &Path) -> Result<Recording> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot open the recording {}; check the path", path.display()))?;
    parse(std::io::BufReader::new(file), &path.display().to_string())
}

/// `name` is how messages refer to the file.
pub fn parse(input: impl BufRead, name: &str) -> Result<Recording> {
    let mut lines = input.lines().enumerate();
    let header = loop {
        let Some((n, line)) = lines.next() else {
            bail!("{name} is empty: it is not a pgdeck recording (its first line would be a header)")
        };
        let line = line.with_context(|| format!("{name}:{}: cannot read", n + 1))?;
        if !line.trim().is_empty() {
            break header_of(&line, &format!("{name}:{}", n + 1))?;
        }
    };
    let mut observations = Vec::new();
    let mut skipped = Vec::new();
    // The last full observation of each repeat key, for the repeat lines that follow it.
    let mut last: HashMap<(crate::observation::SourceId, RepeatKey), ObservationKind> = HashMap::new();
    let mut workload = Previous::default();
    for (n, line) in lines {
        let skip = |reason: String| Skipped { file: name.to_owned(), line: n + 1, reason };
        let line = match line {
            Ok(line) => line,
            // Not UTF-8: that line is consumed, the next one may be fine.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                skipped.push(skip(format!("unreadable: {e}")));
                continue;
            }
            // Any other error would come back on every further read.
            Err(e) => bail!("{name}:{}: cannot read on: {e}", n + 1),
        };
        if line.trim().is_empty() {
            continue;
        }
        match read_line(&line, &mut last, &mut workload) {
            Ok(observation) => observations.push(observation),
            Err(reason) => skipped.push(skip(reason)),
        }
    }
    Ok(Recording { header, observations, skipped })
}

/// One line after the header: a full observation, a repeat, or a workload delta.
fn read_line(
    line: &str,
    last: &mut HashMap<(crate::observation::SourceId, RepeatKey), ObservationKind>,
    workload: &mut Previous,
) -> Result<Observation, String> {
    let full = match serde_json::from_str::<Observation>(line) {
        Ok(observation) => {
            if let Some(key) = RepeatKey::of(&observation.kind) {
                last.insert((observation.source.clone(), key), observation.kind.clone());
            }
            workload.remember(&observation);
            return Ok(observation);
        }
        Err(e) => e.to_string(),
    };
    if let Ok(repeat) = serde_json::from_str::<Repeat>(line) {
        let Some(kind) = last.get(&(repeat.source.clone(), repeat.repeat.clone())) else {
            return Err(format!(
                "it repeats the last {} from {}, which is not in the file (skipped or cut off)",
                repeat.repeat.kind, repeat.source
            ));
        };
        let observation = Observation::new(repeat.at, repeat.source, kind.clone());
        workload.remember(&observation);
        return Ok(observation);
    }
    if let Ok(delta) = serde_json::from_str::<WorkloadLine>(line) {
        let observation = workload.decode(delta)?;
        if let Some(key) = RepeatKey::of(&observation.kind) {
            last.insert((observation.source.clone(), key), observation.kind.clone());
        }
        return Ok(observation);
    }
    // Neither form: the error of the most common one says most about what is wrong.
    Err(full)
}

/// `at` is `file:line`, for messages.
fn header_of(line: &str, at: &str) -> Result<Header> {
    let value: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("{at}: not a pgdeck recording header (not JSON)"))?;
    let Some(version) = value.get("schema_version").and_then(serde_json::Value::as_u64) else {
        bail!("{at}: not a pgdeck recording header (no schema_version); record one with `pgdeck --record FILE`")
    };
    // Compared as read: a damaged header's huge number is named as it stands in the file.
    if !u32::try_from(version).is_ok_and(|v| READABLE_VERSIONS.contains(&v)) {
        let advice = if version > u64::from(SCHEMA_VERSION) {
            "it was written by a newer pgdeck; replay it with that version or newer"
        } else {
            "that version is no longer supported; replay it with the pgdeck that wrote it"
        };
        bail!(
            "{at}: recording schema version {version}, but this pgdeck ({}) reads versions {}..={}: {advice}",
            env!("CARGO_PKG_VERSION"),
            READABLE_VERSIONS.start(),
            READABLE_VERSIONS.end()
        );
    }
    serde_json::from_value(value).with_context(|| format!("{at}: a recording header with missing or wrong fields"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"schema_version":1,"target":"local","platform":"patroni http://x","pgdeck_version":"0.1.0","started_at":"2026-11-25T18:00:00Z","refresh_ms":1000}"#;
    const TICK: &str = r#"{"at":"2026-11-25T18:00:01Z","source":"clock","kind":{"type":"tick"}}"#;

    #[test]
    fn a_corrupted_line_is_skipped_by_number_and_the_rest_is_read() {
        let text = format!("{HEADER}\n{TICK}\n{{\"at\":\"2026-11-25T18:0\n{TICK}\n");
        let recording = parse(text.as_bytes(), "r.jsonl").unwrap();
        assert_eq!(recording.observations.len(), 2);
        assert_eq!(recording.skipped.len(), 1);
        let shown = recording.skipped[0].to_string();
        assert!(shown.starts_with("r.jsonl:3: not an observation (") && shown.ends_with("); skipped"), "{shown}");
    }

    #[test]
    fn repeats_stand_for_the_last_full_observation_of_their_key() {
        const POOLER: &str = r#"{"at":"2026-11-25T18:00:01Z","source":"pooler","kind":{"type":"source_failed","member":null,"error":"down"}}"#;
        const AGAIN: &str = r#"{"at":"2026-11-25T18:00:02Z","source":"pooler","repeat":{"type":"source_failed"}}"#;
        let v2 = HEADER.replace("\"schema_version\":1", "\"schema_version\":2");
        let recording = parse(format!("{v2}\n{POOLER}\n{AGAIN}\n").as_bytes(), "r.jsonl").unwrap();
        assert_eq!(recording.observations.len(), 2);
        assert_eq!(recording.observations[1].kind, recording.observations[0].kind);
        assert_eq!(recording.observations[1].at.to_rfc3339(), "2026-11-25T18:00:02+00:00");
        // Its original cut off: the repeat cannot be read, and says why.
        let recording = parse(format!("{v2}\n{}\n{AGAIN}\n", &POOLER[..30]).as_bytes(), "r.jsonl").unwrap();
        assert_eq!(recording.skipped.len(), 2);
        assert!(recording.skipped[1].reason.contains("repeats the last source_failed from pooler"));
    }

    #[test]
    fn other_schema_versions_are_refused_with_what_to_do() {
        let newer = HEADER.replace("\"schema_version\":1", "\"schema_version\":9");
        let e = parse(newer.as_bytes(), "r.jsonl").unwrap_err().to_string();
        assert!(e.contains("schema version 9") && e.contains("newer pgdeck"), "{e}");
        let older = HEADER.replace("\"schema_version\":1", "\"schema_version\":0");
        let e = parse(older.as_bytes(), "r.jsonl").unwrap_err().to_string();
        assert!(e.contains("no longer supported"), "{e}");
        let huge = format!("\n{}", HEADER.replace("\"schema_version\":1", "\"schema_version\":99999999999"));
        let e = parse(huge.as_bytes(), "r.jsonl").unwrap_err().to_string();
        assert!(e.starts_with("r.jsonl:2: recording schema version 99999999999,"), "{e}");
        let e = parse(TICK.as_bytes(), "r.jsonl").unwrap_err().to_string();
        assert!(e.contains("r.jsonl:1: not a pgdeck recording header"), "{e}");
        assert!(parse("".as_bytes(), "r.jsonl").unwrap_err().to_string().contains("is empty"));
    }
}

//! The layering is checked, not hoped for: the pure core (`state/`, the status renderer, and the
//! console's views and UI reducer when they exist) reads no clock and does no I/O.

#![allow(clippy::unwrap_used)] // a test: an unreadable source tree fails it

use std::path::{Path, PathBuf};

const FORBIDDEN: &[&str] =
    &["tokio::", "crate::platform", "crate::sql", "std::fs", "SystemTime::now", "Utc::now", "Local::now"];

/// Paths (files or directories) under `src/` that must stay pure.
const PURE: &[&str] = &[
    "state",
    "status.rs",
    "model.rs",
    "health.rs",
    "observation.rs",
    "tui/views",
    "tui/ui.rs",
    "tui/ui_replay.rs",
    // The replay engine, the report and the workload deltas fold recordings; the loop and the
    // reader do the I/O.
    "record/replay.rs",
    "record/report.rs",
    "record/delta.rs",
];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if !path.exists() {
        return;
    }
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            rust_files(&entry.path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn the_pure_core_does_no_io_and_reads_no_clock() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for pure in PURE {
        rust_files(&src.join(pure), &mut files);
    }
    assert!(files.iter().any(|f| f.ends_with("state/apply.rs")), "the check must see the state module");
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests of the pure core may build fixtures however they like.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        if file.ends_with("state/tests.rs") {
            continue;
        }
        for (n, line) in code.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) && !line.trim_start().starts_with("//") {
                    violations.push(format!("{}:{}: uses {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(violations.is_empty(), "the pure core reaches out:\n{}", violations.join("\n"));
}

#[test]
fn only_clock_rs_reads_the_wall_clock_outside_sources() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let readers: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("clock.rs"))
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default().to_owned();
            code.contains("Utc::now()") || code.contains("SystemTime::now()") || code.contains("Local::now()")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(readers.is_empty(), "read the clock through crate::clock: {readers:?}");
}

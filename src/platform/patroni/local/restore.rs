//! Restore a backup of a local cluster as a new local cluster beside it.

use std::path::Path;

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};

/// What [`restore`] will do, shown before the operator confirms it.
pub fn describe(dir: &Path, backup: &str, target_time: Option<DateTime<Utc>>, new_cluster: &str) -> String {
    let _ = (dir, backup, target_time, new_cluster);
    "restore is not built yet".into()
}

#[allow(clippy::unused_async)] // until the restore lands
pub async fn restore(
    dir: &Path,
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
) -> Result<String> {
    let _ = (dir, backup, target_time, new_cluster);
    bail!("restore is not built yet")
}

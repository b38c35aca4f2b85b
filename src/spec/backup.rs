//! `[backup]`: when CNPG (or the local agent) takes a backup and how long it is kept.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{bad, Bad};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSpec {
    /// Six-field cron (seconds first), as CNPG's `ScheduledBackup` takes it.
    pub schedule: String,
    /// CNPG's `retentionPolicy` form: a number and `d`, `w` or `m`.
    pub retention: String,
}

impl Default for BackupSpec {
    fn default() -> Self {
        Self { schedule: "0 0 2 * * *".into(), retention: "30d".into() }
    }
}

impl BackupSpec {
    pub(super) fn check(&self) -> Result<(), Bad> {
        backup_schedule(&self.schedule).map_err(|a| bad("backup.schedule", &self.schedule, &a))?;
        retention_days(&self.retention).map_err(|a| bad("backup.retention", &self.retention, &a))?;
        Ok(())
    }
}

/// The parsed six-field backup schedule.
pub fn backup_schedule(value: &str) -> Result<cron::Schedule, String> {
    if value.split_whitespace().count() != 6 {
        return Err(
            "a six-field cron expression (seconds first) such as \"0 0 2 * * *\", as CNPG's ScheduledBackup takes"
                .into(),
        );
    }
    cron::Schedule::from_str(value).map_err(|e| format!("a valid six-field cron expression ({e})"))
}

pub(super) fn retention_days(value: &str) -> Result<u32, String> {
    let allowed = || "a number of days, weeks or months such as 30d, 4w or 3m (CNPG's retentionPolicy)".to_owned();
    let (number, unit) = value.split_at(value.len().saturating_sub(1));
    let n: u32 = number.parse().map_err(|_| allowed())?;
    let days = match unit {
        "d" => n,
        "w" => n.saturating_mul(7),
        "m" => n.saturating_mul(30),
        _ => return Err(allowed()),
    };
    if days == 0 {
        return Err(allowed());
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_forms() {
        assert_eq!(retention_days("30d"), Ok(30));
        assert_eq!(retention_days("4w"), Ok(28));
        assert_eq!(retention_days("3m"), Ok(90));
        assert!(retention_days("0d").is_err());
        assert!(retention_days("d").is_err());
    }
}

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

/// Whole days, from exactly the form CNPG's retentionPolicy takes (`^[1-9][0-9]*[dwm]$`): a value
/// pgdeck let through would otherwise be refused by the operator's webhook only at apply time.
pub(super) fn retention_days(value: &str) -> Result<u32, String> {
    let allowed = || "a number of days, weeks or months such as 30d, 4w or 3m (CNPG's retentionPolicy)".to_owned();
    let (number, days_per_unit) = [('d', 1), ('w', 7), ('m', 30)]
        .into_iter()
        .find_map(|(unit, days)| value.strip_suffix(unit).map(|number| (number, days)))
        .ok_or_else(allowed)?;
    if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(allowed());
    }
    let n: u32 = number.parse().map_err(|_| allowed())?;
    Ok(n.saturating_mul(days_per_unit))
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
        // u32's parser takes these; CNPG's pattern does not.
        assert!(retention_days("+30d").is_err());
        assert!(retention_days("030d").is_err());
        // A multi-byte last character once split a string inside a character and panicked.
        assert!(retention_days("30é").is_err());
        assert!(retention_days("é").is_err());
    }
}

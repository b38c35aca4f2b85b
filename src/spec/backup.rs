//! `[backup]`: when CNPG (or the local agent) takes a backup, how long it is kept, and, for CNPG,
//! the object store Barman Cloud writes to.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{bad, is_secrets_manager_name, Bad};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSpec {
    /// Six-field cron (seconds first), as CNPG's `ScheduledBackup` takes it.
    pub schedule: String,
    /// CNPG's `retentionPolicy` form: a number and `d`, `w` or `m`.
    pub retention: String,
    /// Where CNPG's Barman Cloud keeps base backups and WAL: `s3://BUCKET/PATH`, `gs://BUCKET/PATH`
    /// or `https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH`. The service description names no
    /// bucket, so unset by default, and the CNPG cluster is then rendered without backups.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_path: Option<String>,
    /// An AWS Secrets Manager secret whose `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY` properties are
    /// the S3 keys. Absent, the pods use their IAM role (IRSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_credentials: Option<String>,
}

/// The kind of object store a destination names; each authenticates its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectStore {
    S3,
    Gcs,
    Azure,
}

/// What `destination_path` may be, for the error that refuses it.
const DESTINATIONS: &str = "an object-store URL without spaces: s3://BUCKET/PATH, gs://BUCKET/PATH or \
                            https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH (Azure); leave the field out \
                            for a cluster without backups";

impl Default for BackupSpec {
    fn default() -> Self {
        Self { schedule: "0 0 2 * * *".into(), retention: "30d".into(), destination_path: None, s3_credentials: None }
    }
}

impl BackupSpec {
    pub(super) fn check(&self) -> Result<(), Bad> {
        backup_schedule(&self.schedule).map_err(|a| bad("backup.schedule", &self.schedule, &a))?;
        retention_days(&self.retention).map_err(|a| bad("backup.retention", &self.retention, &a))?;
        if let Some(path) = &self.destination_path {
            object_store(path).ok_or_else(|| bad("backup.destination_path", path, DESTINATIONS))?;
        }
        if let Some(name) = &self.s3_credentials {
            let field = "backup.s3_credentials";
            if !is_secrets_manager_name(name) {
                return Err(bad(field, name, "a Secrets Manager name: letters, digits and /_+=.@-"));
            }
            match self.object_store() {
                Some(ObjectStore::S3) => {}
                // Keys nothing would use are more likely a forgotten destination than intent.
                None => {
                    let allowed = "only together with backup.destination_path = \"s3://BUCKET/PATH\"";
                    return Err(bad(field, name, allowed));
                }
                Some(ObjectStore::Gcs | ObjectStore::Azure) => {
                    let allowed = "only with an s3:// destination_path; gs:// and https:// (Azure) destinations \
                                   use the pods' workload identity";
                    return Err(bad(field, name, allowed));
                }
            }
        }
        Ok(())
    }

    /// The store `destination_path` names; `None` when there is none.
    pub fn object_store(&self) -> Option<ObjectStore> {
        self.destination_path.as_deref().and_then(object_store)
    }
}

fn object_store(path: &str) -> Option<ObjectStore> {
    let (store, rest) = [("s3://", ObjectStore::S3), ("gs://", ObjectStore::Gcs), ("https://", ObjectStore::Azure)]
        .into_iter()
        .find_map(|(scheme, store)| path.strip_prefix(scheme).map(|rest| (store, rest)))?;
    let bucket = rest.split_once('/').map_or(rest, |(bucket, _)| bucket);
    (!bucket.is_empty() && !path.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(store)
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
    use crate::spec::ClusterSpec;

    #[test]
    fn destinations_name_their_store() {
        for (path, store) in [
            ("s3://bucket", ObjectStore::S3),
            ("s3://bucket/postgres-cluster", ObjectStore::S3),
            ("gs://bucket/a/b", ObjectStore::Gcs),
            ("https://acct.blob.core.windows.net/container/pg", ObjectStore::Azure),
        ] {
            assert_eq!(object_store(path), Some(store), "{path}");
        }
        for path in ["", "s3://", "s3:///path", "gs://", "https://", "bucket/path", "S3://bucket", "s3://my bucket"] {
            assert_eq!(object_store(path), None, "{path:?}");
        }
    }

    #[test]
    fn an_object_store_with_or_without_keys_loads() {
        let spec = ClusterSpec::from_toml(
            "[backup]\ndestination_path = \"s3://pg-backups/orders\"\ns3_credentials = \"postgres/backup-s3\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(spec.backup.destination_path.as_deref(), Some("s3://pg-backups/orders"));
        assert_eq!(spec.backup.s3_credentials.as_deref(), Some("postgres/backup-s3"));
        assert_eq!(spec.backup.object_store(), Some(ObjectStore::S3));
        assert_eq!(ClusterSpec::from_toml(&spec.to_toml(), "round-trip").unwrap(), spec);
        let gcs = ClusterSpec::from_toml("[backup]\ndestination_path = \"gs://b/p\"\n", "t.toml").unwrap();
        assert_eq!((gcs.backup.object_store(), gcs.backup.s3_credentials), (Some(ObjectStore::Gcs), None));
        assert_eq!(ClusterSpec::default().backup.object_store(), None);
    }

    #[test]
    fn a_bad_object_store_names_field_value_and_what_is_allowed() {
        let cases = [
            ("destination_path = \"bucket/path\"", "backup.destination_path", "bucket/path", "s3://BUCKET/PATH"),
            ("destination_path = \"s3://\"", "backup.destination_path", "s3://", "s3://BUCKET/PATH"),
            ("destination_path = \"\"", "backup.destination_path", "", "leave the field out"),
            ("destination_path = \"ftp://host/x\"", "backup.destination_path", "ftp://host/x", "gs://BUCKET/PATH"),
            ("s3_credentials = \"postgres/s3\"", "backup.s3_credentials", "postgres/s3", "destination_path"),
            (
                "destination_path = \"s3://b/p\"\ns3_credentials = \"has space\"",
                "backup.s3_credentials",
                "has space",
                "Secrets Manager name",
            ),
            (
                "destination_path = \"gs://b/p\"\ns3_credentials = \"postgres/s3\"",
                "backup.s3_credentials",
                "postgres/s3",
                "workload identity",
            ),
            (
                "destination_path = \"https://a.blob.core.windows.net/c\"\ns3_credentials = \"postgres/s3\"",
                "backup.s3_credentials",
                "postgres/s3",
                "only with an s3:// destination_path",
            ),
        ];
        for (body, field, value, allowed) in cases {
            let text = format!("[backup]\n{body}\n");
            let e = ClusterSpec::from_toml(&text, "bad.toml").unwrap_err();
            assert_eq!((e.field.as_str(), e.value.as_str()), (field, value), "{text}");
            assert!(e.to_string().starts_with(&format!("bad.toml:{}:1: field `", text.lines().count())), "{e}");
            assert!(e.allowed.contains(allowed), "{text}: {e}");
        }
        let e = ClusterSpec::from_toml("[backup]\ndestination = \"s3://b/p\"\n", "bad.toml").unwrap_err();
        assert_eq!((e.place.as_ref().map(|p| p.line), e.field.as_str()), (Some(2), "backup.destination"));
        assert!(e.allowed.contains("destination_path"), "{e}");
    }

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

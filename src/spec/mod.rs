//! `ClusterSpec`: the desired cluster. Its defaults are the values that
//! `postgres-cluster-service.md` fixes; a TOML file may override any of them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use backup::{backup_schedule, BackupSpec, ObjectStore};
pub use error::SpecError;
pub use thresholds::{BadThreshold, ThresholdsPatch, ThresholdsSpec};

mod backup;
mod error;
mod thresholds;

/// The whole desired cluster, platform-neutral. CNPG renders it as manifests;
/// the local Patroni cluster renders it as Patroni, PgBouncer and pgBackRest configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    pub name: String,
    pub namespace: String,
    pub instances: u32,
    /// Container image for CNPG; the local platform uses the installed PostgreSQL.
    pub image: String,
    pub postgresql: PostgresqlSpec,
    pub network: NetworkSpec,
    pub storage: StorageSpec,
    pub resources: ResourcesSpec,
    pub affinity: AffinitySpec,
    pub pooler: PoolerSpec,
    pub backup: BackupSpec,
    pub secrets: SecretsSpec,
    pub thresholds: ThresholdsSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresqlSpec {
    /// `postgresql.conf` parameters, as strings in PostgreSQL's own units.
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Client networks allowed by `pg_hba`.
    pub allowed_cidrs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSpec {
    pub size: String,
    pub storage_class: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourcesSpec {
    pub requests: ResourceAmounts,
    pub limits: ResourceAmounts,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceAmounts {
    pub cpu: String,
    pub memory: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AffinitySpec {
    pub enable_pod_anti_affinity: bool,
    /// `required` or `preferred`, as CNPG's `podAntiAffinityType`.
    pub pod_anti_affinity_type: String,
    pub topology_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolerSpec {
    pub instances: u32,
    pub pool_mode: String,
    pub max_client_conn: u32,
    pub default_pool_size: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsSpec {
    pub admin: String,
    pub app: String,
    /// The application role and database the app secret is for.
    pub app_user: String,
    pub app_database: String,
    /// Where a user created by pgdeck keeps its credentials; `{user}` becomes the role name.
    pub user_pattern: String,
}

impl SecretsSpec {
    /// The secret name for `user`'s credentials.
    pub fn user_secret(&self, user: &str) -> String {
        self.user_pattern.replace("{user}", user)
    }

    /// The secret that holds an existing login's credentials: the superuser's (`superuser`
    /// names it, once known), the application owner's, else the pattern for created users.
    pub fn login_secret(&self, user: &str, superuser: Option<&str>) -> String {
        if superuser == Some(user) {
            self.admin.clone()
        } else if user == self.app_user {
            self.app.clone()
        } else {
            self.user_secret(user)
        }
    }
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            name: "postgres-cluster".into(),
            namespace: "postgres".into(),
            instances: 3,
            image: "ghcr.io/cloudnative-pg/postgresql:16.2".into(),
            postgresql: PostgresqlSpec::default(),
            network: NetworkSpec::default(),
            storage: StorageSpec::default(),
            resources: ResourcesSpec::default(),
            affinity: AffinitySpec::default(),
            pooler: PoolerSpec::default(),
            backup: BackupSpec::default(),
            secrets: SecretsSpec::default(),
            thresholds: ThresholdsSpec::default(),
        }
    }
}

impl Default for PostgresqlSpec {
    fn default() -> Self {
        let parameters = [
            ("max_connections", "200"),
            ("shared_buffers", "512MB"),
            ("effective_cache_size", "3GB"),
            ("work_mem", "8MB"),
            ("wal_buffers", "16MB"),
            ("maintenance_work_mem", "64MB"),
            ("max_wal_size", "1GB"),
            ("checkpoint_timeout", "5min"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self { parameters }
    }
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self { allowed_cidrs: vec!["10.0.0.0/8".into(), "172.16.0.0/12".into(), "192.168.0.0/16".into()] }
    }
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self { size: "50Gi".into(), storage_class: "nfs-postgres-v2".into() }
    }
}

impl Default for ResourcesSpec {
    fn default() -> Self {
        Self {
            requests: ResourceAmounts { cpu: "1".into(), memory: "2Gi".into() },
            limits: ResourceAmounts { cpu: "2".into(), memory: "4Gi".into() },
        }
    }
}

impl Default for AffinitySpec {
    fn default() -> Self {
        Self {
            enable_pod_anti_affinity: true,
            pod_anti_affinity_type: "required".into(),
            topology_key: "kubernetes.io/hostname".into(),
        }
    }
}

impl Default for PoolerSpec {
    fn default() -> Self {
        Self { instances: 3, pool_mode: "transaction".into(), max_client_conn: 1000, default_pool_size: 25 }
    }
}

impl Default for SecretsSpec {
    fn default() -> Self {
        Self {
            admin: "postgres/admin-credentials".into(),
            app: "postgres/app-credentials".into(),
            app_user: "app".into(),
            app_database: "app".into(),
            user_pattern: "postgres/{user}-credentials".into(),
        }
    }
}

/// Where a spec came from, for error messages.
const DEFAULTS: &str = "<built-in defaults>";

impl ClusterSpec {
    /// The effective spec: the defaults, patched by `file` when given.
    pub fn load(file: Option<&Path>) -> Result<Self, SpecError> {
        let Some(path) = file else {
            let spec = Self::default();
            spec.validate(DEFAULTS)?;
            return Ok(spec);
        };
        let text = std::fs::read_to_string(path).map_err(|e| error::unreadable(path, &e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates a TOML spec; `origin` names the file in errors, which point at the
    /// line of the field they name.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, SpecError> {
        let spec: Self = toml::from_str(text).map_err(|e| error::toml_error(text, origin, &e))?;
        spec.validate(origin).map_err(|e| e.located_in(text))?;
        Ok(spec)
    }

    pub fn to_toml(&self) -> String {
        // Serialising plain structs of strings and integers cannot fail.
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every value the platforms rely on.
    pub fn validate(&self, origin: &str) -> Result<(), SpecError> {
        self.check_identity()
            .and_then(|()| self.check_postgresql())
            .and_then(|()| self.check_resources())
            .and_then(|()| self.check_pooler_and_backup())
            .and_then(|()| self.check_secrets_and_thresholds())
            .map_err(|bad| SpecError {
                file: origin.to_owned(),
                place: None,
                field: bad.field,
                value: bad.value,
                allowed: bad.allowed,
            })
    }

    fn check_identity(&self) -> Result<(), Bad> {
        if !is_dns_label(&self.name) {
            return Err(bad(
                "name",
                &self.name,
                "a DNS label: 1-50 lowercase letters, digits or '-', starting with a letter",
            ));
        }
        if !is_dns_label(&self.namespace) {
            return Err(bad(
                "namespace",
                &self.namespace,
                "a DNS label: lowercase letters, digits or '-', starting with a letter",
            ));
        }
        if !(1..=9).contains(&self.instances) {
            return Err(bad(
                "instances",
                &self.instances.to_string(),
                "an integer from 1 to 9 (the reference cluster has 3)",
            ));
        }
        if self.image.trim().is_empty() || self.image.contains(char::is_whitespace) {
            return Err(bad(
                "image",
                &self.image,
                "a container image reference such as ghcr.io/cloudnative-pg/postgresql:16.2",
            ));
        }
        Ok(())
    }

    fn check_postgresql(&self) -> Result<(), Bad> {
        for (name, value) in &self.postgresql.parameters {
            let field = format!("postgresql.parameters.{name}");
            let well_formed = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            if !well_formed {
                return Err(bad(&field, value, "parameter names are lowercase letters, digits, '_' and '.'"));
            }
            check_parameter(name, value).map_err(|allowed| bad(&field, value, &allowed))?;
        }
        for (i, cidr) in self.network.allowed_cidrs.iter().enumerate() {
            if parse_ipv4_cidr(cidr).is_none() {
                let field = format!("network.allowed_cidrs[{i}]");
                return Err(bad(&field, cidr, "an IPv4 network in CIDR form, such as 10.0.0.0/8"));
            }
        }
        Ok(())
    }

    fn check_resources(&self) -> Result<(), Bad> {
        check_quantity(&self.storage.size, &["Mi", "Gi", "Ti"])
            .map_err(|a| bad("storage.size", &self.storage.size, &a))?;
        if !is_dns_subdomain(&self.storage.storage_class) {
            let allowed = "a Kubernetes object name: lowercase letters, digits, '-' and '.'";
            return Err(bad("storage.storage_class", &self.storage.storage_class, allowed));
        }
        for (which, amounts) in [("requests", &self.resources.requests), ("limits", &self.resources.limits)] {
            check_cpu(&amounts.cpu).map_err(|a| bad(&format!("resources.{which}.cpu"), &amounts.cpu, &a))?;
            check_quantity(&amounts.memory, &["Mi", "Gi"])
                .map_err(|a| bad(&format!("resources.{which}.memory"), &amounts.memory, &a))?;
        }
        if !["required", "preferred"].contains(&self.affinity.pod_anti_affinity_type.as_str()) {
            let value = &self.affinity.pod_anti_affinity_type;
            return Err(bad("affinity.pod_anti_affinity_type", value, "`required` or `preferred`"));
        }
        Ok(())
    }

    fn check_pooler_and_backup(&self) -> Result<(), Bad> {
        let pooler = &self.pooler;
        if !["session", "transaction", "statement"].contains(&pooler.pool_mode.as_str()) {
            return Err(bad("pooler.pool_mode", &pooler.pool_mode, "`session`, `transaction` or `statement`"));
        }
        for (field, value) in [
            ("pooler.instances", pooler.instances),
            ("pooler.max_client_conn", pooler.max_client_conn),
            ("pooler.default_pool_size", pooler.default_pool_size),
        ] {
            if value == 0 {
                return Err(bad(field, "0", "at least 1"));
            }
        }
        if pooler.default_pool_size > pooler.max_client_conn {
            let value = pooler.default_pool_size.to_string();
            return Err(bad("pooler.default_pool_size", &value, "at most pooler.max_client_conn"));
        }
        self.backup.check()
    }

    fn check_secrets_and_thresholds(&self) -> Result<(), Bad> {
        for (field, value) in [("secrets.admin", &self.secrets.admin), ("secrets.app", &self.secrets.app)] {
            if !is_secrets_manager_name(value) {
                return Err(bad(field, value, "a Secrets Manager name: letters, digits and /_+=.@-"));
            }
        }
        let pattern = &self.secrets.user_pattern;
        let filled = pattern.replace("{user}", "u");
        if !pattern.contains("{user}") || !filled.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)) {
            let allowed =
                "a Secrets Manager name with `{user}` where the role name goes, e.g. postgres/{user}-credentials";
            return Err(bad("secrets.user_pattern", pattern, allowed));
        }
        for (field, value) in
            [("secrets.app_user", &self.secrets.app_user), ("secrets.app_database", &self.secrets.app_database)]
        {
            if !is_plain_identifier(value) {
                let allowed =
                    "a lowercase SQL identifier: letters, digits and '_', starting with a letter, at most 63 bytes";
                return Err(bad(field, value, allowed));
            }
        }
        self.thresholds.check().map_err(|e| bad(&format!("thresholds.{}", e.key), &e.value, &e.allowed))
    }

    /// Retention as whole days, for pgBackRest's time-based retention.
    pub fn retention_days(&self) -> u32 {
        backup::retention_days(&self.backup.retention).unwrap_or(30)
    }
}

fn is_secrets_manager_name(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c))
}

/// A rejected value, before the file it came from is known.
struct Bad {
    field: String,
    value: String,
    allowed: String,
}

fn bad(field: &str, value: &str, allowed: &str) -> Bad {
    Bad { field: field.to_owned(), value: value.to_owned(), allowed: allowed.to_owned() }
}

/// Units accepted per kind of parameter, as PostgreSQL reads them.
fn check_parameter(name: &str, value: &str) -> Result<(), String> {
    const MEMORY: &[&str] = &[
        "shared_buffers",
        "effective_cache_size",
        "work_mem",
        "wal_buffers",
        "maintenance_work_mem",
        "max_wal_size",
        "min_wal_size",
        "temp_buffers",
        "wal_keep_size",
    ];
    const TIME: &[&str] =
        &["checkpoint_timeout", "statement_timeout", "idle_in_transaction_session_timeout", "wal_receiver_timeout"];
    if value.trim().is_empty() {
        return Err("a non-empty value".into());
    }
    if MEMORY.contains(&name) {
        return number_with_unit(value, &["", "kB", "MB", "GB", "TB"])
            .then_some(())
            .ok_or_else(|| "a size such as 512MB (units kB, MB, GB, TB)".into());
    }
    if TIME.contains(&name) {
        return number_with_unit(value, &["", "ms", "s", "min", "h", "d"])
            .then_some(())
            .ok_or_else(|| "a duration such as 5min (units ms, s, min, h, d)".into());
    }
    if name == "max_connections" {
        return match value.parse::<u32>() {
            Ok(n) if (10..=262_143).contains(&n) => Ok(()),
            _ => Err("an integer from 10 to 262143".into()),
        };
    }
    if value.contains(['\n', '\'']) {
        return Err("a single-line value without quotes".into());
    }
    Ok(())
}

fn number_with_unit(value: &str, units: &[&str]) -> bool {
    let digits = value.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && units.contains(&&value[digits..])
}

fn check_quantity(value: &str, units: &[&str]) -> Result<(), String> {
    let digits = value.chars().take_while(char::is_ascii_digit).count();
    let ok = digits > 0 && units.contains(&&value[digits..]) && value[..digits].parse::<u64>().is_ok_and(|n| n > 0);
    ok.then_some(()).ok_or_else(|| {
        format!("a Kubernetes quantity such as 50{} (units {})", units[units.len() / 2], units.join(", "))
    })
}

fn check_cpu(value: &str) -> Result<(), String> {
    let ok = if let Some(milli) = value.strip_suffix('m') {
        milli.parse::<u32>().is_ok_and(|n| n > 0)
    } else {
        value.parse::<f64>().is_ok_and(|n| n > 0.0 && n.is_finite())
    };
    ok.then_some(()).ok_or_else(|| "CPU cores such as 1, 0.5 or 500m".into())
}

fn parse_ipv4_cidr(value: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, bits) = value.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    (bits <= 32).then_some((addr, bits))
}

fn is_dns_label(value: &str) -> bool {
    (1..=50).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && !value.ends_with('-')
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_dns_subdomain(value: &str) -> bool {
    (1..=253).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

/// An identifier that needs no quoting: what pgdeck itself creates.
pub fn is_plain_identifier(value: &str) -> bool {
    (1..=63).contains(&value.len())
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The spec file to use: `--spec`, else `spec.toml` in the config dir when present.
pub fn default_spec_file(config_dir: &Path) -> Option<PathBuf> {
    let candidate = config_dir.join("spec.toml");
    candidate.exists().then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_hold_every_value_of_the_reference() {
        let spec = ClusterSpec::load(None).unwrap();
        assert_eq!(spec.instances, 3);
        assert_eq!(spec.image, "ghcr.io/cloudnative-pg/postgresql:16.2");
        let p = &spec.postgresql.parameters;
        for (k, v) in [
            ("max_connections", "200"),
            ("shared_buffers", "512MB"),
            ("effective_cache_size", "3GB"),
            ("work_mem", "8MB"),
            ("wal_buffers", "16MB"),
            ("maintenance_work_mem", "64MB"),
            ("max_wal_size", "1GB"),
            ("checkpoint_timeout", "5min"),
        ] {
            assert_eq!(p.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert_eq!(spec.network.allowed_cidrs, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
        assert_eq!((spec.storage.size.as_str(), spec.storage.storage_class.as_str()), ("50Gi", "nfs-postgres-v2"));
        assert_eq!((spec.resources.requests.cpu.as_str(), spec.resources.requests.memory.as_str()), ("1", "2Gi"));
        assert_eq!((spec.resources.limits.cpu.as_str(), spec.resources.limits.memory.as_str()), ("2", "4Gi"));
        assert!(spec.affinity.enable_pod_anti_affinity);
        assert_eq!(spec.pooler.pool_mode, "transaction");
        assert_eq!((spec.pooler.max_client_conn, spec.pooler.default_pool_size), (1000, 25));
        assert_eq!(spec.backup.schedule, "0 0 2 * * *");
        assert_eq!(spec.secrets.admin, "postgres/admin-credentials");
        assert_eq!(spec.secrets.app, "postgres/app-credentials");
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let spec =
            ClusterSpec::from_toml("instances = 5\n[postgresql.parameters]\nwork_mem = \"16MB\"\n", "t.toml").unwrap();
        assert_eq!(spec.instances, 5);
        assert_eq!(spec.postgresql.parameters["work_mem"], "16MB");
        // A partial parameters table replaces the table; unnamed parameters keep no default.
        assert_eq!(spec.pooler.default_pool_size, 25);
    }

    #[test]
    fn printed_spec_loads_back_unchanged() {
        let spec = ClusterSpec::default();
        assert_eq!(ClusterSpec::from_toml(&spec.to_toml(), "round-trip").unwrap(), spec);
    }

    #[test]
    fn wrong_values_name_field_value_and_what_is_allowed() {
        let cases = [
            ("instances = 0", "instances", "0"),
            ("[pooler]\npool_mode = \"fast\"", "pooler.pool_mode", "fast"),
            ("[postgresql.parameters]\nshared_buffers = \"lots\"", "postgresql.parameters.shared_buffers", "lots"),
            (
                "[postgresql.parameters]\ncheckpoint_timeout = \"5 minutes\"",
                "postgresql.parameters.checkpoint_timeout",
                "5 minutes",
            ),
            ("[network]\nallowed_cidrs = [\"10.0.0.0/33\"]", "network.allowed_cidrs[0]", "10.0.0.0/33"),
            ("[storage]\nsize = \"50GB\"", "storage.size", "50GB"),
            ("[backup]\nschedule = \"0 2 * * *\"", "backup.schedule", "0 2 * * *"),
            ("[backup]\nretention = \"30x\"", "backup.retention", "30x"),
            ("name = \"Postgres_Cluster\"", "name", "Postgres_Cluster"),
        ];
        for (text, field, value) in cases {
            let e = ClusterSpec::from_toml(text, "bad.toml").unwrap_err();
            assert_eq!((e.field.as_str(), e.value.as_str()), (field, value), "{text}");
            // The line of the field's key: the last line of each case.
            let line = text.lines().count();
            assert_eq!(e.place.as_ref().map(|p| p.line), Some(line), "{text}: {e}");
            assert!(e.to_string().starts_with(&format!("bad.toml:{line}:")), "{e}");
            assert!(e.to_string().contains(&format!(": field `{field}` has value `{value}`: ")), "{e}");
            assert!(!e.allowed.is_empty());
        }
    }
}

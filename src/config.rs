//! Where pgdeck keeps things, and which targets it knows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// pgdeck's directories. `PGDECK_HOME` puts all of them under one root; `PGDECK_CONFIG_DIR`
/// moves only the config dir. Otherwise XDG paths from `directories`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    pub fn resolve() -> Result<Self> {
        let home = std::env::var_os("PGDECK_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut paths = if let Some(home) = home {
            Self { config_dir: home.join("config"), state_dir: home.join("state"), data_dir: home.join("data") }
        } else {
            let dirs = directories::ProjectDirs::from("", "", "pgdeck")
                .context("cannot find a home directory for pgdeck's files; set PGDECK_HOME")?;
            let state_dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).to_owned();
            Self { config_dir: dirs.config_dir().to_owned(), state_dir, data_dir: default_data_dir(dirs.data_dir()) }
        };
        if let Some(dir) = std::env::var_os("PGDECK_CONFIG_DIR").filter(|v| !v.is_empty()) {
            paths.config_dir = PathBuf::from(dir);
        }
        Ok(paths)
    }

    /// The local cluster's directory, unless `--dir` names another. Always absolute: the path
    /// goes into configs (pgBackRest's, Patroni's) that are read from other working directories.
    pub fn local_cluster_dir(&self, dir: Option<&Path>) -> PathBuf {
        let dir = dir.map_or_else(|| self.data_dir.join("local"), Path::to_owned);
        std::path::absolute(&dir).unwrap_or(dir)
    }
}

/// As root, the cluster runs as the `postgres` user, which cannot enter `/root`; the FHS place
/// for a service's data is then the right default.
fn default_data_dir(xdg: &Path) -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/var/lib/pgdeck")
    } else {
        xdg.to_owned()
    }
}

/// `config.toml` in the config dir: settings that would otherwise be flags on every start.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Observe only, as `--read-only`: observers' machines set it once.
    pub read_only: bool,
    /// How to reach AWS Secrets Manager (region, endpoint, profile), where the SDK's own
    /// resolution should not decide.
    pub aws: crate::secrets::aws::AwsSettings,
    /// `[targets.<name>]`: clusters elsewhere, picked with `--target <name>`.
    pub targets: BTreeMap<String, TargetConfig>,
    /// Record every console session into the state dir's `recordings/`, as `--record` does.
    pub record: bool,
    /// `[thresholds]`: this machine's thresholds over the cluster spec's (lower ones for a
    /// rehearsal, say); any key of the spec's `[thresholds]`.
    pub thresholds: crate::spec::ThresholdsPatch,
}

/// One configured target. Only CNPG clusters are configured here; `local` is built in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub platform: PlatformKind,
    /// The kubeconfig context (the current one when absent).
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default = "default_namespace")]
    pub namespace: toml::Spanned<String>,
    #[serde(default = "default_cluster")]
    pub cluster: toml::Spanned<String>,
    #[serde(default)]
    pub sql: SqlRoute,
    #[serde(default)]
    pub credentials: TargetCredentials,
    /// The name the instances' certificates are checked against (verify-full), where it is not
    /// CNPG's own `<cluster>-rw`: a user-provided `serverTLSSecret` may name, say, only the
    /// Service's FQDN.
    #[serde(default)]
    pub tls_server_name: Option<toml::Spanned<String>>,
}

/// Where a CNPG target's superuser credentials are read and new roles' credentials stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetCredentials {
    /// CNPG's own basic-auth Secrets (`<cluster>-superuser`), read through the API server.
    #[default]
    Kube,
    /// AWS Secrets Manager, under the spec's secret names (`[aws]` says how to reach it).
    Aws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlatformKind {
    Cnpg,
}

/// How pgdeck reaches each instance's PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlRoute {
    /// Decided when pgdeck connects: `direct` when it runs in a pod of the cluster it watches
    /// (its API server is the in-cluster one), `port-forward` otherwise, since pod IPs are
    /// rarely reachable from outside a cluster's network.
    #[default]
    Auto,
    /// The pod IP, port 5432: from inside the cluster's network.
    Direct,
    /// Through the API server's port-forward (pods/portforward): from anywhere the API is.
    PortForward,
}

pub const DEFAULT_NAMESPACE: &str = "postgres";
pub const DEFAULT_CLUSTER: &str = "postgres-cluster";

fn default_namespace() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, DEFAULT_NAMESPACE.to_owned())
}

fn default_cluster() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, DEFAULT_CLUSTER.to_owned())
}

/// A CNPG target after config and command line are combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CnpgTargetConfig {
    /// The configured name, or `--context`'s ad hoc target.
    pub name: String,
    pub context: Option<String>,
    pub namespace: String,
    pub cluster: String,
    pub sql: SqlRoute,
    pub credentials: TargetCredentials,
    /// `None`: `<cluster>-rw`, the name CNPG puts in every instance's certificate.
    pub tls_server_name: Option<String>,
}

/// Which cluster a command works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetChoice {
    /// The Patroni cluster `pgdeck local up` made.
    Local,
    Cnpg(CnpgTargetConfig),
}

/// `--context`, `--namespace`, `--cluster` as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeOverrides {
    pub context: Option<String>,
    pub namespace: Option<String>,
    pub cluster: Option<String>,
}

impl KubeOverrides {
    fn any(&self) -> bool {
        self.context.is_some() || self.namespace.is_some() || self.cluster.is_some()
    }
}

impl Config {
    /// The config file, or the defaults when there is none; an error names the file and line.
    pub fn load(config_dir: &Path) -> Result<Self> {
        let path = config_dir.join("config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            // Ignoring a file that is there would drop its settings (read_only = true) unseen.
            Err(e) => bail!("{}: cannot read config.toml ({e}); fix it or remove it", path.display()),
        };
        let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
        let config: Self = toml::from_str(&text).map_err(|e| config_error(&path, &text, &e))?;
        for (name, target) in &config.targets {
            let located = |span: std::ops::Range<usize>| {
                let line = if span.is_empty() { 0 } else { line_of(span.start) };
                format!("{}:{line}: [targets.{name}]", path.display())
            };
            if name == "local" {
                let line =
                    text.lines().position(|l| l.trim_start().starts_with("[targets.local]")).map_or(0, |i| i + 1);
                bail!(
                    "{}:{line}: [targets.local]: `local` is the built-in local cluster and cannot be configured; choose \
                     another name",
                    path.display()
                );
            }
            for (key, value) in [("namespace", &target.namespace), ("cluster", &target.cluster)] {
                if let Err(why) = check_kube_name(value.get_ref()) {
                    bail!("{} {key} = \"{}\": {why}", located(value.span()), value.get_ref());
                }
            }
            if let Some(value) = &target.tls_server_name {
                if let Err(why) = check_dns_name(value.get_ref()) {
                    bail!("{} tls_server_name = \"{}\": {why}", located(value.span()), value.get_ref());
                }
            }
        }
        // Each value alone, against the defaults; pairs (warn under crit) are checked again
        // over the target's spec when it is opened.
        if let Err(bad) = config.thresholds.apply_to(&crate::spec::ThresholdsSpec::default()).check() {
            if let Some(span) = config.thresholds.span_of(bad.key) {
                bail!(
                    "{}:{}: [thresholds] {} = {}: {}",
                    path.display(),
                    line_of(span.start),
                    bad.key,
                    bad.value,
                    bad.allowed
                );
            }
        }
        Ok(config)
    }

    /// The target spec's thresholds with config.toml's `[thresholds]` over them.
    pub fn thresholds_over(&self, spec: &crate::spec::ThresholdsSpec) -> Result<crate::spec::ThresholdsSpec> {
        let thresholds = self.thresholds.apply_to(spec);
        if let Err(bad) = thresholds.check() {
            bail!(
                "config.toml's [thresholds] over the cluster spec's: {} = {}: {}; change it in config.toml or the \
                 spec",
                bad.key,
                bad.value,
                bad.allowed
            );
        }
        Ok(thresholds)
    }

    /// The target a command works on: `--target NAME` (default `local`), with `--context`,
    /// `--namespace` and `--cluster` overriding a configured CNPG target's values, or alone
    /// making an ad hoc one.
    pub fn choose_target(&self, name: Option<&str>, overrides: &KubeOverrides) -> Result<TargetChoice> {
        let known = || {
            let mut names = vec!["local".to_owned()];
            names.extend(self.targets.keys().cloned());
            names.join(", ")
        };
        let base = match name {
            None if !overrides.any() => return Ok(TargetChoice::Local),
            Some("local") if overrides.any() => bail!(
                "--context, --namespace and --cluster choose a CNPG cluster, but --target local is the Patroni \
                 cluster on this machine; drop --target or name a configured CNPG target"
            ),
            Some("local") => return Ok(TargetChoice::Local),
            None => CnpgTargetConfig {
                name: overrides.context.clone().unwrap_or_else(|| "kube".into()),
                context: None,
                namespace: DEFAULT_NAMESPACE.into(),
                cluster: DEFAULT_CLUSTER.into(),
                sql: SqlRoute::default(),
                credentials: TargetCredentials::default(),
                tls_server_name: None,
            },
            Some(name) => {
                let Some(t) = self.targets.get(name) else {
                    bail!(
                        "unknown target `{name}`; the targets pgdeck knows are: {} (add [targets.{name}] to \
                         config.toml)",
                        known()
                    )
                };
                CnpgTargetConfig {
                    name: name.to_owned(),
                    context: t.context.clone(),
                    namespace: t.namespace.get_ref().clone(),
                    cluster: t.cluster.get_ref().clone(),
                    sql: t.sql,
                    credentials: t.credentials,
                    tls_server_name: t.tls_server_name.as_ref().map(|n| n.get_ref().clone()),
                }
            }
        };
        let mut target = base;
        if let Some(context) = &overrides.context {
            target.context = Some(context.clone());
        }
        for (flag, value, slot) in [
            ("--namespace", &overrides.namespace, &mut target.namespace),
            ("--cluster", &overrides.cluster, &mut target.cluster),
        ] {
            if let Some(value) = value {
                check_kube_name(value).map_err(|why| anyhow::anyhow!("{flag} {value}: {why}"))?;
                slot.clone_from(value);
            }
        }
        Ok(TargetChoice::Cnpg(target))
    }
}

/// A config.toml that is not TOML, or a setting it does not take: the file, line and column, the
/// key and value, what it takes, and the line quoted.
fn config_error(path: &Path, text: &str, e: &toml::de::Error) -> anyhow::Error {
    let mistake = crate::toml_located::Mistake::of(text, e);
    let at = mistake.place.as_ref().map(|p| format!(":{}:{}", p.line, p.column)).unwrap_or_default();
    let key = match (mistake.key.as_str(), mistake.value.as_str()) {
        ("", _) => String::new(),
        (key, "") => format!(": `{key}`"),
        (key, value) => format!(": `{key}` = {value}"),
    };
    let settings = if mistake.syntax {
        ""
    } else {
        "; the settings it takes are: read_only = true|false, record = true|false, [aws] with region, endpoint, \
         profile, [targets.<name>] with platform = \"cnpg\", context, namespace, cluster, sql = \
         \"auto\"|\"direct\"|\"port-forward\" (auto: direct inside the cluster, port-forward from outside), \
         credentials = \"kube\"|\"aws\", tls_server_name, and [thresholds] with any of the spec's \
         thresholds (docs/status-json.md lists them)"
    };
    let quote = mistake.place.as_ref().map(|p| format!("\n{}", p.quote(true))).unwrap_or_default();
    anyhow::anyhow!("{}{at}{key}: {}{settings}{quote}", path.display(), mistake.message)
}

/// A namespace or cluster name as Kubernetes accepts it (RFC 1123 label).
pub fn check_kube_name(name: &str) -> std::result::Result<(), String> {
    if is_label(name) {
        Ok(())
    } else {
        Err("not a Kubernetes name: use 1 to 63 lowercase letters, digits and '-', starting and ending with a \
             letter or digit"
            .into())
    }
}

/// An RFC 1123 label: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'.
fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A DNS name a certificate can carry (RFC 1123 labels in any case, dot-separated, at most 253 bytes).
fn check_dns_name(name: &str) -> std::result::Result<(), String> {
    if name.len() <= 253 && name.split('.').all(|label| is_label(&label.to_ascii_lowercase())) {
        Ok(())
    } else {
        Err("not a DNS name: use dot-separated labels of letters, digits and '-', such as \
             postgres-cluster-rw.postgres.svc"
            .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_tls_server_name_is_carried_and_must_be_a_dns_name() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            Config::load(dir.path())
        };
        let config = load("[targets.prod]\nplatform = \"cnpg\"\ntls_server_name = \"pg-rw.postgres.svc\"\n").unwrap();
        let Ok(TargetChoice::Cnpg(target)) = config.choose_target(Some("prod"), &KubeOverrides::default()) else {
            panic!("prod is a CNPG target")
        };
        assert_eq!(target.tls_server_name.as_deref(), Some("pg-rw.postgres.svc"));
        let e = load("[targets.prod]\nplatform = \"cnpg\"\n\ntls_server_name = \"pg_rw..svc\"\n").unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("config.toml:4: [targets.prod] tls_server_name = \"pg_rw..svc\": not a DNS name"), "{e}");
    }

    #[test]
    fn read_only_comes_from_the_file_and_mistakes_are_located() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
        std::fs::write(dir.path().join("config.toml"), "read_only = true\n").unwrap();
        assert!(Config::load(dir.path()).unwrap().read_only);
        std::fs::write(
            dir.path().join("config.toml"),
            "[aws]\nregion = \"eu-west-1\"\nendpoint = \"http://127.0.0.1:5000\"\n",
        )
        .unwrap();
        let aws = Config::load(dir.path()).unwrap().aws;
        assert_eq!(
            (aws.region.as_deref(), aws.endpoint.as_deref()),
            (Some("eu-west-1"), Some("http://127.0.0.1:5000"))
        );
        std::fs::write(dir.path().join("config.toml"), "\nreadonly = true\n").unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("config.toml:2") && e.contains("readonly"), "{e}");
    }

    #[test]
    fn mistakes_name_the_key_the_value_the_token_and_quote_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            Config::load(dir.path()).unwrap_err().to_string()
        };
        let e = load("record = true\nread_only = \"yes\"\n");
        assert!(
            e.contains("config.toml:2:13: `read_only` = \"yes\": invalid type: string \"yes\", expected a boolean"),
            "{e}"
        );
        assert!(e.ends_with("  2 | read_only = \"yes\"\n    |             ^"), "{e}");
        let e = load("[targets.prod\nplatform = \"cnpg\"\n");
        assert!(e.contains("config.toml:1:14: not valid TOML") && e.contains("found the end of the line"), "{e}");
        assert!(!e.contains("the settings it takes"), "a syntax error is not about settings: {e}");
        let e = load("[targets.prod]\nplatform = \"k8s\"\n");
        assert!(e.contains("config.toml:2:12: `targets.prod.platform` = \"k8s\"") && e.contains("`cnpg`"), "{e}");
    }

    #[test]
    fn a_config_file_that_cannot_be_read_is_an_error_not_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config.toml")).unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("config.toml: cannot read config.toml"), "{e}");
        std::fs::remove_dir(dir.path().join("config.toml")).unwrap();
        std::fs::write(dir.path().join("config.toml"), b"read_only = true\n\xff\n").unwrap();
        assert!(Config::load(dir.path()).is_err(), "not UTF-8: refused, not ignored");
    }

    #[test]
    fn targets_are_chosen_by_name_and_overridden_by_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[targets.prod]\nplatform = \"cnpg\"\ncontext = \"prod-eks\"\nsql = \"port-forward\"\ncredentials = \"aws\"\n",
        )
        .unwrap();
        let config = Config::load(dir.path()).unwrap();
        let none = KubeOverrides::default();
        assert_eq!(config.choose_target(None, &none).unwrap(), TargetChoice::Local);
        assert_eq!(config.choose_target(Some("local"), &none).unwrap(), TargetChoice::Local);
        let TargetChoice::Cnpg(prod) = config.choose_target(Some("prod"), &none).unwrap() else { panic!() };
        assert_eq!(
            (prod.context.as_deref(), prod.namespace.as_str(), prod.cluster.as_str(), prod.sql, prod.credentials),
            (Some("prod-eks"), "postgres", "postgres-cluster", SqlRoute::PortForward, TargetCredentials::Aws)
        );
        let flags = KubeOverrides { namespace: Some("db".into()), ..KubeOverrides::default() };
        let TargetChoice::Cnpg(t) = config.choose_target(Some("prod"), &flags).unwrap() else { panic!() };
        assert_eq!((t.namespace.as_str(), t.context.as_deref()), ("db", Some("prod-eks")));
        let ad_hoc = KubeOverrides { context: Some("kind".into()), ..KubeOverrides::default() };
        let TargetChoice::Cnpg(t) = config.choose_target(None, &ad_hoc).unwrap() else { panic!() };
        assert_eq!(
            (t.context.as_deref(), t.cluster.as_str(), t.credentials),
            (Some("kind"), "postgres-cluster", TargetCredentials::Kube)
        );
        assert_eq!(t.sql, SqlRoute::Auto, "decided when pgdeck connects, not here");
        assert!(config.choose_target(Some("local"), &ad_hoc).unwrap_err().to_string().contains("--target local"));
        let e = config.choose_target(Some("qa"), &none).unwrap_err().to_string();
        assert!(e.contains("unknown target `qa`") && e.contains("local, prod"), "{e}");
        let bad = KubeOverrides { cluster: Some("Bad".into()), ..KubeOverrides::default() };
        assert!(config.choose_target(None, &bad).unwrap_err().to_string().contains("--cluster Bad"));
    }

    #[test]
    fn target_mistakes_name_the_line_the_value_and_what_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            Config::load(dir.path()).unwrap_err().to_string()
        };
        let e = load("[targets.a]\nplatform = \"cnpg\"\nsql = \"tunnel\"\n");
        assert!(e.contains("config.toml:3") && e.contains("tunnel") && e.contains("port-forward"), "{e}");
        assert!(e.contains("\"auto\"|\"direct\"|\"port-forward\"") && e.contains("auto: direct inside"), "{e}");
        let e = load("[targets.a]\nplatform = \"cnpg\"\nnamespace = \"-x\"\n");
        assert!(e.contains("config.toml:3") && e.contains("namespace = \"-x\""), "{e}");
        let e = load("[targets.local]\nplatform = \"cnpg\"\n");
        assert!(e.contains("config.toml:1") && e.contains("`local` is the built-in"), "{e}");
        let e = load("[targets.a]\nplatform = \"cnpg\"\n\ncredentials = \"file\"\n");
        assert!(e.contains("config.toml:4") && e.contains("`file`") && e.contains("\"kube\"|\"aws\""), "{e}");
        let e = load("[targets.a]\ncontext = \"x\"\n");
        assert!(e.contains("platform"), "{e}");
    }

    #[test]
    fn a_target_without_sql_decides_its_route_at_start_and_explicit_routes_stay() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "[targets.a]\nplatform = \"cnpg\"\n[targets.b]\nplatform = \"cnpg\"\nsql = \"direct\"\n\
             [targets.c]\nplatform = \"cnpg\"\nsql = \"auto\"\n",
        )
        .unwrap();
        let targets = Config::load(dir.path()).unwrap().targets;
        let routes: Vec<SqlRoute> = targets.values().map(|t| t.sql).collect();
        assert_eq!(routes, [SqlRoute::Auto, SqlRoute::Direct, SqlRoute::Auto]);
    }

    #[test]
    fn thresholds_patch_the_specs_and_mistakes_name_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let load = |text: &str| {
            std::fs::write(dir.path().join("config.toml"), text).unwrap();
            Config::load(dir.path())
        };
        let config = load("record = true\n[thresholds]\nslot_retained_warn_bytes = 1048576\n").unwrap();
        let spec = crate::spec::ThresholdsSpec { lag_warn_bytes: 7, ..crate::spec::ThresholdsSpec::default() };
        let t = config.thresholds_over(&spec).unwrap();
        assert_eq!((t.slot_retained_warn_bytes, t.lag_warn_bytes), (1_048_576, 7), "the spec's others stay");
        let e = load("[thresholds]\n\nconnections_warn_percent = 120\n").unwrap_err().to_string();
        assert!(e.contains("config.toml:3: [thresholds] connections_warn_percent = 120: a percentage"), "{e}");
        let e = load("[thresholds]\nblocking_warn_secs = 3\n").unwrap_err().to_string();
        assert!(e.contains("config.toml:2") && e.contains("blocking_warn_secs") && e.contains("[thresholds]"), "{e}");
        let e = load("[thresholds]\nxid_age_warn = \"lots\"\n").unwrap_err().to_string();
        assert!(e.contains("config.toml:2:16: `thresholds.xid_age_warn` = \"lots\""), "{e}");
        // A pair is judged over the spec it patches.
        let config = load("[thresholds]\nblocking_crit_seconds = 20\n").unwrap();
        let spec = crate::spec::ThresholdsSpec { blocking_warn_seconds: 30, ..crate::spec::ThresholdsSpec::default() };
        let e = config.thresholds_over(&spec).unwrap_err().to_string();
        assert!(e.contains("blocking_crit_seconds = 20: at least blocking_warn_seconds (30)"), "{e}");
    }

    #[test]
    fn record_comes_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "record = true\n").unwrap();
        assert!(Config::load(dir.path()).unwrap().record);
    }
}

//! Where pgdeck keeps things, and which targets it knows.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

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

    /// One JSON line per action request and outcome.
    pub fn audit_log(&self) -> PathBuf {
        self.state_dir.join("audit.log")
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
    /// Record every console session into the state dir's `recordings/`, as `--record` does.
    pub record: bool,
}

impl Config {
    /// The config file, or the defaults when there is none; an error names the file and line.
    pub fn load(config_dir: &Path) -> Result<Self> {
        let path = config_dir.join("config.toml");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Self::default()) };
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            anyhow::anyhow!(
                "{}:{line}: {}; the settings it takes are: read_only = true|false, record = true|false, and [aws] with \
                 region, endpoint, profile",
                path.display(),
                e.message().trim()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn record_comes_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), "record = true\n").unwrap();
        assert!(Config::load(dir.path()).unwrap().record);
    }
}

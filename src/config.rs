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

    /// The local cluster's directory, unless `--dir` names another.
    pub fn local_cluster_dir(&self, dir: Option<&Path>) -> PathBuf {
        dir.map_or_else(|| self.data_dir.join("local"), Path::to_owned)
    }

    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("pgdeck.log")
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

//! Running the cluster's server processes as an unprivileged OS user.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use nix::unistd::{Gid, Uid, User};
use serde::{Deserialize, Serialize};

/// The OS user the cluster runs as: `postgres` when pgdeck runs as root, else the invoking user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunAs {
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl RunAs {
    pub fn for_this_process() -> Result<Self> {
        let uid = Uid::effective();
        let user = if uid.is_root() {
            User::from_name("postgres").context("cannot look up the OS user `postgres`")?.context(
                "the OS user `postgres` does not exist; install PostgreSQL (`apt-get install -y postgresql`), which creates it",
            )?
        } else {
            User::from_uid(uid)
                .with_context(|| format!("cannot look up the current OS user (uid {uid})"))?
                .with_context(|| format!("the current OS user (uid {uid}) has no entry in the passwd database"))?
        };
        Ok(Self { user: user.name, uid: user.uid.as_raw(), gid: user.gid.as_raw(), home: user.dir })
    }

    /// Whether commands must switch user (pgdeck runs as root, the cluster does not).
    pub fn needs_switch(&self) -> bool {
        Uid::effective().as_raw() != self.uid
    }

    /// A command that runs as this user, with an environment holding nothing of ours.
    pub fn command(&self, program: impl Into<PathBuf>) -> Command {
        let mut command = Command::new(program.into());
        command.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin").env("LANG", "C.UTF-8").env("HOME", &self.home);
        command.env("USER", &self.user).env("LOGNAME", &self.user);
        if self.needs_switch() {
            // std also drops supplementary groups when switching from root.
            command.uid(self.uid).gid(self.gid);
        }
        command
    }

    /// Hands `path` to this user (only possible, and only needed, as root).
    pub fn chown(&self, path: &std::path::Path) -> Result<()> {
        if self.needs_switch() {
            nix::unistd::chown(path, Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid)))
                .with_context(|| format!("cannot hand {} to {}", path.display(), self.user))?;
        }
        Ok(())
    }
}

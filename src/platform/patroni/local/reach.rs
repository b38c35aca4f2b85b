//! The way from `/` to the cluster's directory, which the cluster's OS user must be able to walk:
//! checked before anything is created or started, and made where it is missing.

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, Result};
use nix::unistd::{Gid, Group, Uid, User};

use crate::platform::patroni::run_as::RunAs;

/// Checks that `run_as` can pass through every existing ancestor of `root`, then creates the
/// missing ones as passages ([`crate::dirs::PASSAGE`]). A directory pgdeck did not create is
/// never changed: it is named, with its owner and mode and what to do, before anything starts.
pub fn prepare(root: &Path, run_as: &RunAs) -> Result<()> {
    check(root, run_as)?;
    if let Some(parent) = root.parent() {
        crate::dirs::create(parent, crate::dirs::PASSAGE)?;
    }
    Ok(())
}

/// The check alone, for a cluster whose directories exist (started again after `down`).
pub fn check(root: &Path, run_as: &RunAs) -> Result<()> {
    if !run_as.needs_switch() {
        return Ok(());
    }
    let groups = groups_of(run_as);
    let outermost_first: Vec<&Path> = root.ancestors().skip(1).collect::<Vec<_>>().into_iter().rev().collect();
    for dir in outermost_first {
        let Ok(meta) = std::fs::metadata(dir) else { continue };
        let entry = Entry { mode: meta.mode(), uid: meta.uid(), gid: meta.gid() };
        if !entry.passable_by(run_as.uid, &groups) {
            bail!(
                "the cluster runs as the OS user `{user}`, which cannot enter {dir}: it is owned by {owner} \
                 with mode {mode:04o}, and pgdeck did not create it, so it leaves it as it is. Let `{user}` \
                 pass through it (`chmod o+x {dir}`, or `setfacl -m u:{user}:x {dir}`), or choose a --dir \
                 that `{user}` can reach, such as /var/lib/pgdeck/local (the default for root)",
                user = run_as.user,
                dir = dir.display(),
                owner = owner_of(&entry),
                mode = entry.mode & 0o7777,
            );
        }
    }
    Ok(())
}

/// A directory's owner, group and mode bits, as `stat` gives them.
struct Entry {
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Entry {
    /// Search permission as the kernel decides it (ACLs aside): the owner's bits for the owner,
    /// else the group's for a member of its group, else the others'.
    fn passable_by(&self, uid: u32, groups: &[u32]) -> bool {
        let bit = if self.uid == uid {
            0o100
        } else if groups.contains(&self.gid) {
            0o010
        } else {
            0o001
        };
        self.mode & bit != 0
    }
}

fn owner_of(entry: &Entry) -> String {
    let user = User::from_uid(Uid::from_raw(entry.uid))
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {}", entry.uid), |u| u.name);
    let group = Group::from_gid(Gid::from_raw(entry.gid))
        .ok()
        .flatten()
        .map_or_else(|| format!("gid {}", entry.gid), |g| g.name);
    format!("{user}:{group}")
}

/// The user's primary group and the groups it is a member of.
fn groups_of(run_as: &RunAs) -> Vec<u32> {
    let primary = Gid::from_raw(run_as.gid);
    CString::new(run_as.user.as_str())
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, primary).ok())
        .map_or_else(|| vec![run_as.gid], |groups| groups.into_iter().map(Gid::as_raw).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTGRES: u32 = 110;
    const SSL_CERT: u32 = 120;

    fn entry(mode: u32, uid: u32, gid: u32) -> Entry {
        Entry { mode, uid, gid }
    }

    #[test]
    fn search_permission_is_decided_by_the_owner_then_the_group_then_the_others() {
        let groups = [POSTGRES, SSL_CERT];
        // root's 0700 home: closed to everyone else.
        assert!(!entry(0o700, 0, 0).passable_by(POSTGRES, &groups));
        assert!(entry(0o711, 0, 0).passable_by(POSTGRES, &groups));
        assert!(entry(0o755, 0, 0).passable_by(POSTGRES, &groups));
        // Its own directory, whatever the others' bits.
        assert!(entry(0o700, POSTGRES, POSTGRES).passable_by(POSTGRES, &groups));
        // The owner's bits alone count for the owner, as the kernel has it.
        assert!(!entry(0o011, POSTGRES, POSTGRES).passable_by(POSTGRES, &groups));
        // A supplementary group's bits.
        assert!(entry(0o710, 0, SSL_CERT).passable_by(POSTGRES, &groups));
        assert!(!entry(0o701, 0, SSL_CERT).passable_by(POSTGRES, &groups));
        // umask 027 on a directory of another group: the others' bits are gone.
        assert!(!entry(0o750, 0, 0).passable_by(POSTGRES, &groups));
    }
}

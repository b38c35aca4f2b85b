//! Directories pgdeck creates, each with the mode it needs whatever the umask. Hardened hosts
//! set umask 077 or 027: a directory left to the umask would then shut out the cluster's OS
//! user (`postgres`, when pgdeck runs as root) on its way to the cluster's own directory.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A directory pgdeck makes on the way to another: anyone may pass through it, nobody else may list it.
pub const PASSAGE: u32 = 0o711;
/// A directory only its owner enters: state, credentials, data.
pub const PRIVATE: u32 = 0o700;

/// Creates `dir` with `mode`, and each missing ancestor with [`PASSAGE`], setting every mode
/// explicitly; what already exists is left as it is. Returns what it created, outermost first.
pub fn create(dir: &Path, mode: u32) -> Result<Vec<PathBuf>> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
    let mut created = Vec::new();
    for each in missing.into_iter().rev() {
        let wanted = if each == dir { mode } else { PASSAGE };
        match std::fs::DirBuilder::new().mode(wanted).create(each) {
            Ok(()) => {
                std::fs::set_permissions(each, std::fs::Permissions::from_mode(wanted))
                    .with_context(|| format!("cannot set the mode of {}", each.display()))?;
                created.push(each.to_owned());
            }
            // Another pgdeck made it in the meantime: theirs stands, as an existing one does.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", each.display())),
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn missing_ancestors_become_passages_and_the_directory_gets_its_mode() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("a/b/state");
        // The umask's part is tested where it matters, by `local up` under umask 077 (tests/local_cluster):
        // changing it here would change it for every test thread of this process.
        let created = create(&dir, PRIVATE).unwrap();
        assert_eq!(created, vec![top.path().join("a"), top.path().join("a/b"), dir.clone()]);
        assert_eq!(mode_of(&top.path().join("a")), 0o711);
        assert_eq!(mode_of(&top.path().join("a/b")), 0o711);
        assert_eq!(mode_of(&dir), 0o700);
    }

    #[test]
    fn what_exists_is_left_as_it_is() {
        let top = tempfile::tempdir().unwrap();
        let existing = top.path().join("mine");
        std::fs::create_dir(&existing).unwrap();
        std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o750)).unwrap();
        let created = create(&existing.join("data"), PASSAGE).unwrap();
        assert_eq!(created, vec![existing.join("data")]);
        assert_eq!(mode_of(&existing), 0o750);
        assert!(create(&existing, PRIVATE).unwrap().is_empty());
        assert_eq!(mode_of(&existing), 0o750);
    }
}

//! What the local cluster needs from the OS, named with the command that installs it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// The installed PostgreSQL: its bin dir and major version (the newest, when several are).
#[derive(Debug, Clone)]
pub struct Installed {
    pub postgres_bin_dir: PathBuf,
    pub postgres_major: u32,
}

const SEARCH_PATH: &[&str] = &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

pub fn find_program(name: &str) -> Option<PathBuf> {
    find_in(SEARCH_PATH, name)
}

fn find_in(search_path: &[&str], name: &str) -> Option<PathBuf> {
    search_path.iter().map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}

/// Checks every program the local cluster runs; the error lists all that are missing at once.
pub fn check() -> Result<Installed> {
    check_in(SEARCH_PATH, Path::new("/usr/lib/postgresql"), Path::new("/usr/share/postgresql"))
}

fn check_in(search_path: &[&str], pg_lib: &Path, pg_share: &Path) -> Result<Installed> {
    let mut missing: Vec<(&str, &str)> = Vec::new();
    for (program, package) in
        [("etcd", "etcd-server"), ("patroni", "patroni"), ("pgbouncer", "pgbouncer"), ("pgbackrest", "pgbackrest")]
    {
        if find_in(search_path, program).is_none() {
            missing.push((program, package));
        }
    }
    let postgres = newest_postgres(pg_lib);
    match &postgres {
        None => missing.push(("postgres", "postgresql")),
        Some(found) => {
            let control = pg_share.join(format!("{}/extension/pg_stat_statements.control", found.postgres_major));
            if !control.exists() {
                missing.push(("pg_stat_statements", "postgresql-contrib"));
            }
        }
    }
    if let (true, Some(found)) = (missing.is_empty(), postgres) {
        return Ok(found);
    }
    let what: Vec<String> = missing.iter().map(|(p, pkg)| format!("{p} (package {pkg})")).collect();
    let mut packages: Vec<&str> = missing.iter().map(|(_, pkg)| *pkg).collect();
    packages.dedup();
    bail!(
        "the local cluster needs programs that are not installed: {}; install them with `sudo apt-get install -y {}`",
        what.join(", "),
        packages.join(" ")
    )
}

fn newest_postgres(pg_lib: &Path) -> Option<Installed> {
    let entries = std::fs::read_dir(pg_lib).ok()?;
    entries
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("postgres").is_file() && bin.join("pg_ctl").is_file())
                .then_some(Installed { postgres_bin_dir: bin, postgres_major: major })
        })
        .max_by_key(|i| i.postgres_major)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_missing_package_is_named_with_the_install_command() {
        let empty = tempfile::tempdir().unwrap();
        let dir = empty.path().to_str().unwrap();
        let e = check_in(&[dir], empty.path(), empty.path()).unwrap_err().to_string();
        assert!(e.contains("sudo apt-get install -y etcd-server patroni pgbouncer pgbackrest postgresql"), "{e}");
        assert!(e.contains("etcd (package etcd-server)"), "{e}");
    }

    #[test]
    fn the_newest_postgres_is_chosen_and_contrib_is_required() {
        let root = tempfile::tempdir().unwrap();
        for major in ["13", "16"] {
            let bin = root.path().join("lib").join(major).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("postgres"), "").unwrap();
            std::fs::write(bin.join("pg_ctl"), "").unwrap();
        }
        let bin_dir = root.path().join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        for program in ["etcd", "patroni", "pgbouncer", "pgbackrest"] {
            std::fs::write(bin_dir.join(program), "").unwrap();
        }
        let share = root.path().join("share");
        let path = [bin_dir.to_str().unwrap()];
        let e = check_in(&path, &root.path().join("lib"), &share).unwrap_err().to_string();
        assert!(e.contains("postgresql-contrib"), "{e}");
        std::fs::create_dir_all(share.join("16/extension")).unwrap();
        std::fs::write(share.join("16/extension/pg_stat_statements.control"), "").unwrap();
        let found = check_in(&path, &root.path().join("lib"), &share).unwrap();
        assert_eq!(found.postgres_major, 16);
    }
}

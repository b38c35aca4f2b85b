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
    SEARCH_PATH.iter().map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}

/// Checks every program the local cluster runs; the error lists all that are missing at once.
pub fn check() -> Result<Installed> {
    let mut missing: Vec<(&str, &str)> = Vec::new();
    for (program, package) in
        [("etcd", "etcd-server"), ("patroni", "patroni"), ("pgbouncer", "pgbouncer"), ("pgbackrest", "pgbackrest")]
    {
        if find_program(program).is_none() {
            missing.push((program, package));
        }
    }
    let postgres = newest_postgres();
    match &postgres {
        None => missing.push(("postgres", "postgresql")),
        Some(found) => {
            let control =
                format!("/usr/share/postgresql/{}/extension/pg_stat_statements.control", found.postgres_major);
            if !Path::new(&control).exists() {
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

fn newest_postgres() -> Option<Installed> {
    let entries = std::fs::read_dir("/usr/lib/postgresql").ok()?;
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

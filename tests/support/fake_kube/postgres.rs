//! Real PostgreSQL servers standing in for the fake's instance pods: a primary and streaming
//! replicas, each on its own loopback address at port 5432 (CNPG's port, which pgdeck dials at the
//! pod IP or reaches through the fake's port-forward), with the superuser password of the seeded
//! `-superuser` Secret. Like CNPG's, they serve TLS with one certificate from the cluster's CA
//! (`tls.rs`), and client sessions must use it (`hostssl`). As root they run as the `postgres`
//! OS user; they are stopped by pid when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::wait_for;

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
pub const PASSWORD: &str = "superuser-fake-password";

pub struct Instances {
    dir: tempfile::TempDir,
    pub ips: Vec<String>,
}

fn as_postgres(program: &str) -> Command {
    let path = format!("{BIN}/{program}");
    if nix::unistd::geteuid().is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--", &path]);
        cmd
    } else {
        Command::new(path)
    }
}

fn run(mut cmd: Command) {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chown_to_postgres(path: &Path) {
    if nix::unistd::geteuid().is_root() {
        run({
            let mut c = Command::new("chown");
            c.args(["-R", "postgres:postgres"]).arg(path);
            c
        });
    }
}

/// Sockets outside the data directory: pg_basebackup would copy a primary's socket lock file.
fn settings(ip: &str, dir: &Path, tls: &Path) -> String {
    format!(
        "listen_addresses = '{ip}'\nport = 5432\nunix_socket_directories = '{}'\nshared_buffers = 16MB\n\
         max_connections = 30\nhot_standby = on\nwal_keep_size = 64MB\nlogging_collector = off\n\
         shared_preload_libraries = 'pg_stat_statements'\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
        dir.display(),
        tls.join("server.crt").display(),
        tls.join("server.key").display()
    )
}

/// The operator's server certificate for the seeded cluster, where every instance reads it.
fn write_server_cert(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let tls = dir.join("tls");
    std::fs::create_dir(&tls).unwrap();
    let cert = super::tls::cluster_ca().server_cert(super::cnpg::CLUSTER, super::cnpg::NAMESPACE);
    std::fs::write(tls.join("server.crt"), cert.cert_pem).unwrap();
    std::fs::write(tls.join("server.key"), cert.key_pem).unwrap();
    // PostgreSQL refuses a key others can read.
    std::fs::set_permissions(tls.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    chown_to_postgres(&tls);
    tls
}

impl Instances {
    /// A primary at `ips[0]`, and a replica streaming from it at each other address, its
    /// `application_name` the instance name `names[i]` (as CNPG sets it).
    pub fn start(ips: &[&str], names: &[&str]) -> Self {
        let dir = tempfile::Builder::new().prefix("pgdeck-cnpg-pg").tempdir().expect("tempdir");
        chown_to_postgres(dir.path());
        let me = Instances { dir, ips: ips.iter().map(|s| (*s).to_owned()).collect() };
        let primary = me.data(0);
        let tls = write_server_cert(me.dir.path());
        let pwfile = me.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        chown_to_postgres(&pwfile);
        run({
            let mut c = as_postgres("initdb");
            c.arg("-D").arg(&primary).args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]);
            c.arg(format!("--pwfile={}", pwfile.display()));
            c
        });
        // Replaces initdb's rules, whose `host all all 127.0.0.1/32` would let plain TCP in.
        let hba = "local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\n\
                   host replication all 127.0.0.0/8 scram-sha-256\n";
        std::fs::write(primary.join("pg_hba.conf"), hba).unwrap();
        append(&primary.join("postgresql.conf"), &settings(ips[0], &me.sockets(0), &tls));
        me.pg_ctl_start(0);
        for (i, ip) in ips.iter().enumerate().skip(1) {
            let data = me.data(i);
            run({
                let mut c = as_postgres("pg_basebackup");
                c.args(["-h", ips[0], "-p", "5432", "-U", "postgres", "-X", "stream", "-R", "-D"]).arg(&data);
                c.env("PGPASSWORD", PASSWORD);
                c
            });
            append(&data.join("postgresql.conf"), &settings(ip, &me.sockets(i), &tls));
            append(
                &data.join("postgresql.auto.conf"),
                &format!(
                    "primary_conninfo = 'host={} port=5432 user=postgres password={PASSWORD} application_name={}'\n",
                    ips[0], names[i]
                ),
            );
            me.pg_ctl_start(i);
        }
        me
    }

    fn data(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("data{i}"))
    }

    fn sockets(&self, i: usize) -> PathBuf {
        let dir = self.dir.path().join(format!("sock{i}"));
        if !dir.exists() {
            std::fs::create_dir(&dir).unwrap();
            chown_to_postgres(&dir);
        }
        dir
    }

    fn pg_ctl_start(&self, i: usize) {
        let log = self.dir.path().join(format!("pg{i}.log"));
        run({
            let mut c = as_postgres("pg_ctl");
            c.arg("-D").arg(self.data(i)).arg("-l").arg(&log).args(["-w", "-t", "60", "start"]);
            c
        });
    }

    /// Waits until the primary lists `n` streaming standbys.
    pub fn wait_streaming(&self, n: usize) {
        wait_for("the replicas to stream", Duration::from_secs(60), || {
            self.psql(0, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == n.to_string()
        });
    }

    /// `psql -c sql` on instance `i` as application `app`, left running: a client for the
    /// activity views to see. The caller kills it.
    pub fn spawn_psql(&self, i: usize, app: &str, sql: &str) -> std::process::Child {
        let conninfo = format!("host={} user=postgres application_name={app}", self.sockets(i).display());
        as_postgres("psql")
            .args([conninfo.as_str(), "-c", sql])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// `psql` on instance `i` as application `app`, reading its statements from the returned
    /// child's stdin: a session held open (idle, or idle in transaction) until the caller writes
    /// more, closes stdin or kills it.
    pub fn open_psql(&self, i: usize, app: &str) -> std::process::Child {
        let conninfo = format!("host={} user=postgres application_name={app}", self.sockets(i).display());
        as_postgres("psql")
            .args([conninfo.as_str(), "-q"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// What `psql -At -c sql` prints on instance `i`, through its socket; empty when it fails.
    pub fn psql(&self, i: usize, sql: &str) -> String {
        let out = as_postgres("psql")
            .args(["-h", &self.sockets(i).display().to_string(), "-U", "postgres", "-At", "-c", sql])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f =
        std::fs::OpenOptions::new().append(true).open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    f.write_all(text.as_bytes()).unwrap();
}

impl Drop for Instances {
    fn drop(&mut self) {
        for i in 0..self.ips.len() {
            let pidfile = self.data(i).join("postmaster.pid");
            let pid = std::fs::read_to_string(pidfile).ok().and_then(|t| t.lines().next()?.trim().parse::<i32>().ok());
            if let Some(pid) = pid {
                // Immediate shutdown: the data is thrown away with the directory.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGQUIT);
            }
        }
    }
}

//! The local cluster's configuration files, rendered from `cluster.json` and the credentials.
//! Pure functions: the files are written by `up`, and these are unit-tested.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::platform::patroni::local::layout::{ClusterFile, Layout, MemberPorts, ScaledParameter, LOOPBACK};
use crate::platform::patroni::local::restore::{shell_words, RestoreSource};
use crate::secrets::Credentials;

/// Patroni's bootstrap DCS timings: short, so a local failover takes seconds, within Patroni's
/// rule `loop_wait + 2 * retry_timeout <= ttl`.
const TTL_SECONDS: u32 = 20;
const LOOP_WAIT_SECONDS: u32 = 2;
const RETRY_TIMEOUT_SECONDS: u32 = 5;

/// Memory parameters lowered for a laptop or CI machine running three members, by this divisor.
const LOCAL_MEMORY_DIVISOR: u64 = 4;
const SCALED_MEMORY_PARAMETERS: &[&str] = &["shared_buffers", "effective_cache_size", "maintenance_work_mem"];

pub struct Secrets<'a> {
    pub superuser: &'a Credentials,
    pub replication: &'a Credentials,
    pub app: &'a Credentials,
}

/// The spec's parameters with memory figures scaled down for this machine, and what was scaled.
pub fn local_parameters(
    spec_parameters: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<ScaledParameter>) {
    let mut parameters = spec_parameters.clone();
    let mut scaled = Vec::new();
    for name in SCALED_MEMORY_PARAMETERS {
        let Some(value) = parameters.get(*name) else { continue };
        let Some(local) = divide_memory(value, LOCAL_MEMORY_DIVISOR) else { continue };
        scaled.push(ScaledParameter {
            name: (*name).to_owned(),
            spec_value: value.clone(),
            local_value: local.clone(),
        });
        parameters.insert((*name).to_owned(), local);
    }
    (parameters, scaled)
}

fn divide_memory(value: &str, divisor: u64) -> Option<String> {
    let digits = value.chars().take_while(char::is_ascii_digit).count();
    let number: u64 = value[..digits].parse().ok()?;
    let kb = match &value[digits..] {
        "kB" => number,
        "MB" => number * 1024,
        "GB" => number * 1024 * 1024,
        "TB" => number * 1024 * 1024 * 1024,
        _ => return None,
    } / divisor;
    Some(if kb.is_multiple_of(1024) { format!("{}MB", kb / 1024) } else { format!("{kb}kB") })
}

/// The member's `archive_command`: into its own cluster's stanza.
pub fn archive_command(layout: &Layout, cluster: &ClusterFile, member: &MemberPorts) -> String {
    format!(
        "pgbackrest --config={} --stanza={} --pg1-path={} archive-push %p",
        layout.pgbackrest_config().display(),
        cluster.stanza,
        layout.member_data_dir(&member.name).display(),
    )
}

/// One member's `patroni.yml`. JSON is YAML, so it is rendered as JSON: every string quoted right.
/// With `restore`, a member that initialises the cluster restores that backup instead of running initdb.
pub fn patroni_config(
    layout: &Layout,
    cluster: &ClusterFile,
    member: &MemberPorts,
    secrets: &Secrets<'_>,
    restore: Option<&RestoreSource>,
) -> String {
    let spec = &cluster.spec;
    let (mut parameters, _) = local_parameters(&spec.postgresql.parameters);
    for (name, value) in [
        ("wal_level", "replica"),
        ("hot_standby", "on"),
        ("max_wal_senders", "10"),
        ("max_replication_slots", "10"),
        ("wal_keep_size", "128MB"),
        ("archive_mode", "on"),
        ("archive_timeout", "60s"),
        ("password_encryption", "scram-sha-256"),
        ("shared_preload_libraries", "pg_stat_statements"),
        ("pg_stat_statements.track", "all"),
        ("track_io_timing", "on"),
    ] {
        parameters.entry(name.to_owned()).or_insert_with(|| value.to_owned());
    }
    let mut hba = vec![
        format!("local all {} peer map=pgdeck", secrets.superuser.username),
        "local all all scram-sha-256".to_owned(),
        format!("host replication {} {LOOPBACK}/32 scram-sha-256", secrets.replication.username),
        format!("host all all {LOOPBACK}/32 scram-sha-256"),
    ];
    hba.extend(spec.network.allowed_cidrs.iter().map(|cidr| format!("host all all {cidr} scram-sha-256")));
    let mut bootstrap = json!({
        "dcs": {
            "ttl": TTL_SECONDS,
            "loop_wait": LOOP_WAIT_SECONDS,
            "retry_timeout": RETRY_TIMEOUT_SECONDS,
            "maximum_lag_on_failover": spec.thresholds.switchover_max_lag_bytes,
            "postgresql": {
                "use_pg_rewind": true,
                "use_slots": true,
                "parameters": parameters,
            },
        },
    });
    if let Some(source) = restore {
        // Patroni's custom bootstrap (patroni/postgresql/bootstrap.py): it runs `command` split
        // as a shell would (no shell), `no_params` keeps it from appending --scope/--datadir,
        // which pgbackrest refuses. `keep_existing_recovery_conf` keeps the recovery.signal and
        // the restore_command and target that pgbackrest wrote to postgresql.auto.conf, so
        // PostgreSQL replays to exactly the target pgbackrest was given and promotes there; no
        // `recovery_conf` is given, which would make Patroni write its own recovery settings
        // instead. Patroni drops those settings from postgresql.auto.conf once it has promoted.
        // An unknown method silently falls back to initdb, so the method name and the
        // section's key must match.
        let argv = source.argv(layout, &layout.member_data_dir(&member.name));
        bootstrap["method"] = json!("pgbackrest");
        bootstrap["pgbackrest"] = json!({
            "command": shell_words(&argv),
            "keep_existing_recovery_conf": true,
            "no_params": true,
        });
    } else {
        bootstrap["initdb"] = json!(["data-checksums", { "encoding": "UTF8" }, { "locale": "C.UTF-8" }, { "auth-host": "scram-sha-256" }, { "auth-local": "peer" }]);
    }
    let doc = json!({
        "scope": spec.name,
        "namespace": "/pgdeck/",
        "name": member.name,
        "restapi": {
            "listen": format!("{LOOPBACK}:{}", member.rest),
            "connect_address": format!("{LOOPBACK}:{}", member.rest),
        },
        "etcd3": { "hosts": [format!("{LOOPBACK}:{}", cluster.ports.etcd_client)] },
        "bootstrap": bootstrap,
        "postgresql": {
            "listen": format!("{LOOPBACK}:{}", member.postgres),
            "connect_address": format!("{LOOPBACK}:{}", member.postgres),
            "data_dir": layout.member_data_dir(&member.name),
            "bin_dir": cluster.postgres_bin_dir,
            "pgpass": layout.member_dir(&member.name).join("pgpass"),
            "authentication": {
                "superuser": { "username": secrets.superuser.username, "password": secrets.superuser.password.expose() },
                "replication": { "username": secrets.replication.username, "password": secrets.replication.password.expose() },
                "rewind": { "username": secrets.superuser.username, "password": secrets.superuser.password.expose() },
            },
            // No restore_command: a standby that replays archived WAL can run past the point
            // where Patroni promoted another member, and Patroni 3.0 does not rewind such a
            // standby. Replication slots keep the WAL the standbys need instead.
            "parameters": {
                "unix_socket_directories": layout.run_dir(),
                "archive_command": archive_command(layout, cluster, member),
                // TLS for every TCP client that asks (pgdeck always does, and verifies the
                // certificate against the cluster's own CA); replicas' connections prefer it.
                "ssl": "on",
                "ssl_cert_file": layout.tls_cert(),
                "ssl_key_file": layout.tls_key(),
            },
            "pg_hba": hba,
            "pg_ident": [format!("pgdeck {} {}", cluster.run_as.user, secrets.superuser.username)],
        },
        "tags": { "nofailover": false, "noloadbalance": false, "clonefrom": false, "nosync": false },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// `pgbouncer.ini`, sending every database to the member listening on `leader_port`.
pub fn pgbouncer_ini(layout: &Layout, cluster: &ClusterFile, leader_port: u16, admin_user: &str) -> String {
    let pooler = &cluster.spec.pooler;
    let target = format!("host={LOOPBACK} port={leader_port}");
    let mut ini = String::new();
    let _ = writeln!(ini, ";; Written by pgdeck: rewritten whenever the Patroni leader changes.");
    let _ = writeln!(ini, "[databases]");
    let _ = writeln!(ini, "postgres = {target} dbname=postgres");
    let _ =
        writeln!(ini, "{} = {target} dbname={}", cluster.spec.secrets.app_database, cluster.spec.secrets.app_database);
    let _ = writeln!(ini, "* = {target}");
    let _ = writeln!(ini, "\n[pgbouncer]");
    let _ = writeln!(ini, "listen_addr = {LOOPBACK}");
    let _ = writeln!(ini, "listen_port = {}", cluster.ports.pgbouncer);
    let _ = writeln!(ini, "unix_socket_dir =");
    let _ = writeln!(ini, "auth_type = scram-sha-256");
    let _ = writeln!(ini, "auth_file = {}", layout.pgbouncer_userlist().display());
    // Every other login is looked up in PostgreSQL as it is now, so a user pgdeck creates or
    // rotates logs in through the pooler at once; its SCRAM secret serves both legs.
    let _ = writeln!(ini, "auth_user = {admin_user}");
    // Clients may use TLS (pgdeck does); PgBouncer itself reaches PostgreSQL only over TLS that
    // it verifies against the cluster's CA.
    let _ = writeln!(ini, "client_tls_sslmode = allow");
    let _ = writeln!(ini, "client_tls_cert_file = {}", layout.tls_cert().display());
    let _ = writeln!(ini, "client_tls_key_file = {}", layout.tls_key().display());
    let _ = writeln!(ini, "server_tls_sslmode = verify-full");
    let _ = writeln!(ini, "server_tls_ca_file = {}", layout.tls_ca().display());
    let _ = writeln!(ini, "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename = $1");
    let _ = writeln!(ini, "admin_users = {admin_user}");
    let _ = writeln!(ini, "stats_users = {admin_user}");
    let _ = writeln!(ini, "pool_mode = {}", pooler.pool_mode);
    let _ = writeln!(ini, "max_client_conn = {}", pooler.max_client_conn);
    let _ = writeln!(ini, "default_pool_size = {}", pooler.default_pool_size);
    let _ = writeln!(ini, "ignore_startup_parameters = extra_float_digits,options");
    let _ = writeln!(ini, "server_check_query = select 1");
    let _ = writeln!(ini, "server_lifetime = 3600");
    let _ = writeln!(ini, "logfile = {}", layout.log_file("pgbouncer").display());
    ini
}

/// The leader port a rendered `pgbouncer.ini` points at.
pub fn pgbouncer_target_port(ini: &str) -> Option<u16> {
    ini.lines().find(|l| l.starts_with("* = "))?.split_whitespace().find_map(|w| w.strip_prefix("port=")?.parse().ok())
}

/// `userlist.txt`: the logins PgBouncer knows without asking PostgreSQL, i.e. its `auth_user`
/// (the file is 0600).
pub fn pgbouncer_userlist(users: &[&Credentials]) -> String {
    let mut out = String::new();
    for c in users {
        let _ = writeln!(out, "\"{}\" \"{}\"", c.username, c.password.expose().replace('"', "\"\""));
    }
    out
}

pub fn pgbackrest_conf(layout: &Layout, cluster: &ClusterFile) -> String {
    let first = &cluster.ports.members[0];
    let mut conf = String::new();
    let _ = writeln!(conf, "[global]");
    let _ = writeln!(conf, "repo1-path={}", layout.pgbackrest_repo().display());
    let _ = writeln!(conf, "repo1-retention-full-type=time");
    let _ = writeln!(conf, "repo1-retention-full={}", cluster.spec.retention_days());
    let _ = writeln!(conf, "log-path={}", layout.logs_dir().display());
    let _ = writeln!(conf, "lock-path={}", layout.run_dir().join("pgbackrest").display());
    let _ = writeln!(conf, "spool-path={}", layout.pgbackrest_dir().join("spool").display());
    let _ = writeln!(conf, "start-fast=y");
    let _ = writeln!(conf, "log-level-console=warn");
    let _ = writeln!(conf, "log-level-file=info");
    let _ = writeln!(conf, "\n[{}]", cluster.stanza);
    // pg1 defaults to the first member; pgdeck passes the current leader on every command.
    let _ = writeln!(conf, "pg1-path={}", layout.member_data_dir(&first.name).display());
    let _ = writeln!(conf, "pg1-port={}", first.postgres);
    let _ = writeln!(conf, "pg1-socket-path={}", layout.run_dir().display());
    let _ = writeln!(conf, "pg1-user=postgres");
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_scaled_and_reported() {
        let spec = crate::spec::ClusterSpec::default();
        let (params, scaled) = local_parameters(&spec.postgresql.parameters);
        assert_eq!(params["shared_buffers"], "128MB");
        assert_eq!(params["effective_cache_size"], "768MB");
        assert_eq!(params["maintenance_work_mem"], "16MB");
        assert_eq!(params["work_mem"], "8MB");
        assert_eq!(params["max_connections"], "200");
        assert_eq!(scaled.len(), 3);
        assert_eq!(scaled[0].spec_value, "512MB");
    }

    #[test]
    fn divide_memory_keeps_units_exact() {
        assert_eq!(divide_memory("1GB", 4).as_deref(), Some("256MB"));
        assert_eq!(divide_memory("10MB", 4).as_deref(), Some("2560kB"));
        assert_eq!(divide_memory("lots", 4), None);
    }

    fn cluster_file() -> ClusterFile {
        let spec = crate::spec::ClusterSpec { name: "orders-copy".into(), ..crate::spec::ClusterSpec::default() };
        let member = |n: u16| MemberPorts { name: format!("orders-copy-{n}"), postgres: 6000 + n, rest: 7000 + n };
        ClusterFile {
            spec,
            credentials: crate::secrets::CredentialSource::File,
            ports: crate::platform::patroni::local::layout::Ports {
                etcd_client: 5001,
                etcd_peer: 5002,
                pgbouncer: 5003,
                members: vec![member(1), member(2), member(3)],
            },
            run_as: crate::platform::patroni::run_as::RunAs {
                user: "postgres".into(),
                uid: 999,
                gid: 999,
                home: "/var/lib/postgresql".into(),
            },
            postgres_bin_dir: "/usr/lib/postgresql/15/bin".into(),
            postgres_major: 15,
            scaled_parameters: vec![],
            stanza: "orders-copy".into(),
            pgdeck_exe: "/usr/bin/pgdeck".into(),
            unfinished_restore: None,
        }
    }

    #[test]
    fn a_restoring_member_bootstraps_with_pgbackrest_and_archives_into_its_own_stanza() {
        let layout = Layout::new("/var/lib/pgdeck/orders-copy".into());
        let file = cluster_file();
        let c = |name: &str| Credentials { username: name.into(), password: crate::secrets::Secret::new("pw") };
        let (superuser, replication, app) = (c("postgres"), c("replicator"), c("app"));
        let secrets = Secrets { superuser: &superuser, replication: &replication, app: &app };
        let source = RestoreSource {
            program: "/usr/bin/pgbackrest".into(),
            config: "/var/lib/pgdeck/local/pgbackrest/pgbackrest.conf".into(),
            stanza: "postgres-cluster".into(),
            backup: "20261125-020000F".into(),
            target_time: None,
        };
        let member = &file.ports.members[0];
        let doc: serde_json::Value =
            serde_json::from_str(&patroni_config(&layout, &file, member, &secrets, Some(&source))).unwrap();
        let bootstrap = &doc["bootstrap"];
        assert_eq!(bootstrap["method"], "pgbackrest");
        assert_eq!(bootstrap["pgbackrest"]["keep_existing_recovery_conf"], true);
        assert_eq!(bootstrap["pgbackrest"]["no_params"], true);
        assert!(bootstrap.get("recovery_conf").is_none() && bootstrap.get("initdb").is_none());
        let command = bootstrap["pgbackrest"]["command"].as_str().unwrap();
        assert!(command.starts_with("/usr/bin/pgbackrest --config=/var/lib/pgdeck/local/pgbackrest/pgbackrest.conf"));
        assert!(command.contains("--pg1-path=/var/lib/pgdeck/orders-copy/members/orders-copy-1/data"), "{command}");
        assert!(command.ends_with(" --set=20261125-020000F --type=immediate --target-action=promote restore"));
        assert_eq!(
            doc["postgresql"]["parameters"]["archive_command"],
            "pgbackrest --config=/var/lib/pgdeck/orders-copy/pgbackrest/pgbackrest.conf --stanza=orders-copy \
             --pg1-path=/var/lib/pgdeck/orders-copy/members/orders-copy-1/data archive-push %p"
        );
        let plain: serde_json::Value =
            serde_json::from_str(&patroni_config(&layout, &file, member, &secrets, None)).unwrap();
        assert!(plain["bootstrap"].get("method").is_none());
        assert_eq!(plain["bootstrap"]["initdb"][0], "data-checksums");
        assert_eq!(plain["bootstrap"]["dcs"], bootstrap["dcs"]);
    }

    #[test]
    fn target_port_is_read_back_from_the_ini() {
        let ini = "[databases]\npostgres = host=127.0.0.1 port=5 dbname=postgres\n* = host=127.0.0.1 port=6543\n";
        assert_eq!(pgbouncer_target_port(ini), Some(6543));
    }
}

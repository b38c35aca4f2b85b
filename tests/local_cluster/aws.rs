//! A local cluster whose credentials live in Secrets Manager (moto's server on loopback): `local
//! up --credentials aws` creates them there, pgdeck connects with them, `user create` stores a
//! new login there and `user rotate` changes it, also when a rotation is cut short; and no log,
//! audit entry or screen of the run shows a password.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pgdeck::secrets::aws::{AwsSettings, AwsStore};
use pgdeck::secrets::rotate::{rotate, PasswordServer};
use pgdeck::secrets::{CredentialStore, Credentials, Secret};
use serde_json::Value;

use super::SETTLE;
use crate::support::local_cluster::{describe, leader, member, purge_args, LocalCluster};
use crate::support::moto::{FaultProxy, Moto, REGION};
use crate::support::sql::{query, Login};
use crate::support::tmux::Tmux;

const NAME: &str = "aws-backed";

/// The AWS-backed cluster, stopped and removed however the test ends.
struct AwsCluster<'a> {
    shared: &'a LocalCluster,
    dir: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl AwsCluster<'_> {
    fn pgdeck(&self, args: &[&str]) -> std::process::Output {
        self.shared.pgdeck_in_env(&self.dir, args, &self.env)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.pgdeck(args);
        assert!(out.status.success(), "pgdeck {args:?}: {}", describe(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls `status --output json` (with the AWS environment) until `check` holds.
    fn wait_for_status(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + SETTLE;
        loop {
            let doc: Value = serde_json::from_str(&self.ok(&["status", "--output", "json"])).unwrap();
            if check(&doc) {
                return doc;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; last status: {doc:#}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn leader_port(&self) -> u16 {
        let doc = self.wait_for_status("a leader", |d| leader(d).is_some());
        u16::try_from(member(&doc, &leader(&doc).unwrap())["port"].as_u64().unwrap()).unwrap()
    }
}

impl Drop for AwsCluster<'_> {
    fn drop(&mut self) {
        if self.dir.exists() {
            let purge = purge_args(&self.dir);
            let out = self.pgdeck(&purge.iter().map(String::as_str).collect::<Vec<_>>());
            if !out.status.success() {
                eprintln!("teardown of {}: {}", self.dir.display(), describe(&out));
            }
        }
    }
}

/// The test's own view of moto, through the same store pgdeck uses.
fn store(runtime: &tokio::runtime::Runtime, moto: &Moto) -> AwsStore {
    for (key, value) in moto.env() {
        if key.starts_with("AWS_ACCESS") || key.starts_with("AWS_SECRET") {
            std::env::set_var(key, value);
        }
    }
    let settings = AwsSettings { region: Some(REGION.into()), endpoint: Some(moto.url()), profile: None };
    runtime.block_on(AwsStore::connect(&settings)).unwrap()
}

pub fn credentials_in_secrets_manager(shared: &LocalCluster) {
    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let secrets = store(&runtime, &moto);
    let dir = shared.root.join(NAME);
    let spec = shared.root.join("aws-backed.toml");
    // One member is enough here: what is under test is where the passwords come from.
    std::fs::write(&spec, format!("name = \"{NAME}\"\ninstances = 1\n")).unwrap();
    let cluster = AwsCluster { shared, dir: dir.clone(), env: moto.env() };
    let up = cluster.ok(&["local", "up", "--spec", spec.to_str().unwrap(), "--credentials", "aws"]);
    assert!(up.contains("created the secret postgres/admin-credentials in AWS Secrets Manager"), "{up}");
    assert!(!dir.join("credentials.json").exists(), "the passwords went to a file, not to Secrets Manager");

    // The superuser's password, read from Secrets Manager by pgdeck, logs in for real: the
    // member's SQL sample (its LSN) is only there when it did.
    let doc = cluster.wait_for_status("the member sampled over SQL", |d| {
        leader(d).is_some_and(|l| !member(d, &l)["current_lsn"].is_null())
    });
    let admin = runtime.block_on(secrets.read("postgres/admin-credentials")).unwrap();
    let port = cluster.leader_port();
    let as_admin = Login { port, database: "postgres", user: "postgres", password: admin.password.expose() };
    assert_eq!(query(&as_admin, "SELECT 1").unwrap(), vec![vec![Some("1".into())]], "{doc:#}");

    // user create: the new login's secret is in Secrets Manager and logs in.
    let created = cluster.ok(&["user", "create", "carol", "--database", "app"]);
    assert!(created.contains("postgres/carol-credentials"), "{created}");
    let first = runtime.block_on(secrets.read("postgres/carol-credentials")).unwrap();
    let login = |password: &str| Login { port, database: "app", user: "carol", password }.query_one_row();
    assert!(login(first.password.expose()).is_ok(), "the stored password does not log in");

    // user rotate: refused unconfirmed; then the secret changes and only the new password works.
    let unconfirmed = cluster.pgdeck(&["user", "rotate", "carol"]);
    assert!(!unconfirmed.status.success() && describe(&unconfirmed).contains("type `carol` to confirm"));
    let rotated = cluster.ok(&["user", "rotate", "carol", "--confirm", "carol"]);
    assert!(rotated.contains("rotated the password of carol"), "{rotated}");
    let second = runtime.block_on(secrets.read("postgres/carol-credentials")).unwrap();
    assert_ne!(first.password, second.password);
    assert!(login(second.password.expose()).is_ok(), "the rotated password does not log in");
    assert!(login(first.password.expose()).is_err(), "the old password still logs in");
    let pooler: u16 = serde_json::from_str::<Value>(&std::fs::read_to_string(dir.join("cluster.json")).unwrap())
        .unwrap()["ports"]["pgbouncer"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap();
    let via_pgbouncer =
        |password: &str| Login { port: pooler, database: "app", user: "carol", password }.query_one_row();
    assert!(via_pgbouncer(second.password.expose()).is_ok(), "the rotated password does not log in through PgBouncer");
    assert!(via_pgbouncer(first.password.expose()).is_err(), "the old password still logs in through PgBouncer");

    // A rotation cut short between PostgreSQL and the store leaves AWSCURRENT working.
    let server = SqlServer { port, admin: admin.clone() };
    let failing = FailingPromote { inner: &secrets, staged: Mutex::new(None) };
    let e = runtime.block_on(rotate(&failing, &server, "postgres/carol-credentials")).unwrap_err().to_string();
    assert!(e.contains("step 4 of 4") && e.contains("set back"), "{e}");
    let current = runtime.block_on(secrets.read("postgres/carol-credentials")).unwrap();
    assert_eq!(current.password, second.password);
    assert!(login(current.password.expose()).is_ok(), "AWSCURRENT no longer logs in after an interrupted rotation");
    let staged = failing.staged.lock().unwrap().clone().unwrap();
    assert!(login(staged.expose()).is_err(), "the staged password of the failed rotation still logs in");

    // The console with Secrets Manager refusing at first: the members still show (Patroni needs
    // no password), the SQL sources say why they fail, and once the store answers the console
    // recovers by itself.
    let denying = FaultProxy::start(moto.port, "AccessDeniedException", 400, 20);
    let mut env: Vec<(&str, String)> = moto
        .env()
        .into_iter()
        .map(|(k, v)| if k == "AWS_ENDPOINT_URL" { (k, denying.url()) } else { (k, v) })
        .collect();
    env.push(("PGDECK_HOME", shared.root.join("home").display().to_string()));
    env.push(("TERM", "xterm-256color".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let console =
        Tmux::start(Path::new(env!("CARGO_BIN_EXE_pgdeck")), &["--dir", dir.to_str().unwrap()], &env, 160, 48);
    let denied = console.wait_for("the refusal on screen", SETTLE, |s| {
        s.contains("access denied") && s.lines().any(|l| l.contains("aws-backed-1") && l.contains(" primary "))
    });
    assert!(denied.contains("access denied to read `postgres/admin-credentials` in AWS Secrets Manager"), "{denied}");
    console.wait_for("the console recovered by itself", SETTLE, |s| {
        !s.contains("access denied") && s.lines().any(|l| l.contains("aws-backed-1") && l.contains(" primary "))
    });
    console.keys(&["C-c"]);
    drop(console);

    // No password reached a log, the audit trail or a screen of this run.
    let passwords = [&admin.password, &first.password, &second.password, &staged];
    let home = shared.root.join("home");
    for file in files_under(&home.join("state")).into_iter().chain(files_under(&dir.join("logs"))) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
        for password in passwords {
            assert!(!text.contains(password.expose()), "a password is in {}", file.display());
        }
    }
    let audit = pgdeck::audit::read_all(&home.join("state"));
    assert!(audit.contains("create_user") && audit.contains("rotate_password"), "{audit}");
    for screen in [&up, &created, &rotated] {
        for password in passwords {
            assert!(!screen.contains(password.expose()));
        }
    }
    drop(cluster);
    assert!(!dir.exists());
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

trait QueryOne {
    fn query_one_row(&self) -> Result<(), String>;
}

impl QueryOne for Login<'_> {
    fn query_one_row(&self) -> Result<(), String> {
        query(self, "SELECT 1").map(|_| ())
    }
}

/// The real leader, driven over SQL as the superuser whose password is in Secrets Manager.
struct SqlServer {
    port: u16,
    admin: Credentials,
}

#[async_trait]
impl PasswordServer for SqlServer {
    fn describe(&self) -> String {
        format!("the leader on port {}", self.port)
    }

    async fn set_password(&self, user: &str, password: &Secret) -> anyhow::Result<()> {
        let sql = pgdeck::sql::admin::set_password(user, &pgdeck::sql::admin::scram_verifier(password));
        run(self.port, "postgres", &self.admin.username, self.admin.password.expose(), &sql).await
    }

    async fn check_login(&self, user: &str, password: &Secret) -> anyhow::Result<()> {
        run(self.port, "app", user, password.expose(), "SELECT 1").await
    }
}

async fn run(port: u16, database: &str, user: &str, password: &str, sql: &str) -> anyhow::Result<()> {
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(port).dbname(database).user(user).password(password);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(sql).await?;
    Ok(())
}

/// Secrets Manager, except that making the new version current fails: the interruption.
struct FailingPromote<'a> {
    inner: &'a AwsStore,
    staged: Mutex<Option<Secret>>,
}

#[async_trait]
impl CredentialStore for FailingPromote<'_> {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn read(&self, name: &str) -> anyhow::Result<Credentials> {
        self.inner.read(name).await
    }
    async fn exists(&self, name: &str) -> anyhow::Result<bool> {
        self.inner.exists(name).await
    }
    async fn create(&self, name: &str, credentials: &Credentials, cluster: &str) -> anyhow::Result<()> {
        self.inner.create(name, credentials, cluster).await
    }
    async fn delete(&self, name: &str) -> anyhow::Result<()> {
        self.inner.delete(name).await
    }
    async fn stage(&self, name: &str, credentials: &Credentials) -> anyhow::Result<String> {
        *self.staged.lock().unwrap() = Some(credentials.password.clone());
        self.inner.stage(name, credentials).await
    }
    async fn promote(&self, _: &str, _: &str) -> anyhow::Result<()> {
        anyhow::bail!("injected: the connection to Secrets Manager dropped")
    }
    async fn discard(&self, name: &str, version: &str) -> anyhow::Result<()> {
        self.inner.discard(name, version).await
    }
    async fn pending(&self, name: &str) -> anyhow::Result<Option<(String, Credentials)>> {
        self.inner.pending(name).await
    }
}

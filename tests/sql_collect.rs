//! The member collector against a real PostgreSQL: statement texts are read once per statement,
//! not every round (pg_stat_statements itself counts how often pgdeck asked for them), and every
//! statement still arrives with its text. The health facts are read on the first round and then
//! every few seconds, and show real faults: a session idle in transaction blocking another, an
//! unused slot retaining WAL, a setting waiting for a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use pgdeck::health::HealthSample;
use pgdeck::model::StatementRow;
use pgdeck::sql::collect::MemberCollector;
use pgdeck::sql::{Endpoint, Tls, Transport};
use support::fake_kube::postgres::{Instances, PASSWORD};

const HOST: &str = "127.0.0.141";

fn collector() -> MemberCollector {
    collector_at(HOST)
}

fn collector_at(host: &str) -> MemberCollector {
    let ca = support::fake_kube::tls::cluster_ca();
    let tls = Tls::from_ca_pem(ca.cert_pem.as_bytes(), "the test CA").unwrap().with_server_name("postgres-cluster-rw");
    let login =
        pgdeck::secrets::Credentials { username: "postgres".into(), password: pgdeck::secrets::Secret::new(PASSWORD) };
    let endpoint = Endpoint {
        host: host.into(),
        port: 5432,
        database: "postgres".into(),
        login: login.into(),
        tls: Some(tls),
        transport: Transport::Tcp,
    };
    MemberCollector::new(endpoint, Duration::from_secs(10))
}

async fn statements(collector: &mut MemberCollector) -> Vec<StatementRow> {
    collector.sample().await.unwrap().statements.expect("pg_stat_statements is installed")
}

/// How many times the texts were asked for, by pg_stat_statements' own count.
fn text_reads(pg: &Instances) -> u64 {
    let calls = pg.psql(
        0,
        "SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements(true) \
         WHERE query LIKE 'SELECT DISTINCT ON (queryid) queryid, left(query, %'",
    );
    calls.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_texts_are_read_once_per_new_statement_and_every_row_has_its_text() {
    let pg = Instances::start(&[HOST], &["postgres-cluster-1"]);
    assert_eq!(pg.psql(0, "CREATE EXTENSION pg_stat_statements"), "CREATE EXTENSION");
    pg.psql(0, "CREATE TABLE orders (id int); SELECT count(*) FROM orders WHERE id > 7");
    let mut collector = collector();

    let first = statements(&mut collector).await;
    let orders = first.iter().find(|s| s.query.contains("FROM orders WHERE id >")).expect("the orders query");
    assert_eq!(orders.query, "SELECT count(*) FROM orders WHERE id > $1");
    assert!(first.iter().all(|s| !s.query.is_empty()), "{first:#?}");
    assert_eq!(text_reads(&pg), 1);

    // Rounds that see no new statement read no text. The first few do meet new ones: the sample
    // and the texts query themselves, and this test's counting query, each new once.
    for _ in 0..3 {
        statements(&mut collector).await;
    }
    let settled = text_reads(&pg);
    assert!(settled <= 4, "texts were read {settled} times in 4 rounds");
    statements(&mut collector).await;
    statements(&mut collector).await;
    assert_eq!(text_reads(&pg), settled, "no new statement, no text read");

    // A new statement: its text is read, once, and it arrives with it.
    pg.psql(0, "SELECT sum(id) FROM orders WHERE id < 9");
    let after = statements(&mut collector).await;
    assert!(after.iter().any(|s| s.query == "SELECT sum(id) FROM orders WHERE id < $1"), "{after:#?}");
    assert!(after.iter().all(|s| !s.query.is_empty()), "{after:#?}");
    assert_eq!(text_reads(&pg), settled + 1);
    let again = statements(&mut collector).await;
    assert_eq!(text_reads(&pg), settled + 1);
    assert!(again.iter().any(|s| s.query.contains("sum(id) FROM orders")), "texts kept across rounds");
}

/// The health facts of a fresh collector's first round (health is read on every first round).
async fn health_at(host: &str) -> HealthSample {
    collector_at(host).sample().await.unwrap().health.expect("the first round reads the health facts")
}

/// Polls fresh rounds until `check` holds on the health facts; panics with the last after a minute.
async fn health_until_at(host: &str, what: &str, check: impl Fn(&HealthSample) -> bool) -> HealthSample {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let sample = health_at(host).await;
        if check(&sample) {
            return sample;
        }
        assert!(std::time::Instant::now() < deadline, "no {what} in {sample:#?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_facts_show_real_faults_and_are_read_every_few_seconds_not_every_round() {
    use std::io::Write;
    let pg = Instances::start(&["127.0.0.142"], &["postgres-cluster-1"]);
    let mut collector = collector_at("127.0.0.142");
    assert!(collector.sample().await.unwrap().health.is_some(), "the first round reads them");
    assert!(collector.sample().await.unwrap().health.is_none(), "the next, at once, does not");

    let quiet = health_at("127.0.0.142").await;
    assert!(!quiet.in_recovery);
    assert!(quiet.blockers.is_empty() && quiet.idle_in_transaction.is_empty() && quiet.pending_restart.is_empty());
    assert_eq!((quiet.connections.max_connections, quiet.connections.superuser_reserved), (30, 3));
    assert!(quiet.xid.databases.iter().any(|d| d.name == "postgres"), "{quiet:#?}");
    assert!(quiet.xid.oldest_relation.as_ref().is_some_and(|r| r.name.starts_with("postgres.")), "{quiet:#?}");
    assert!(quiet.checkpoints.is_some(), "pg_stat_bgwriter on 15");

    // A session idle in transaction holding a lock, and another waiting for it.
    pg.psql(0, "CREATE TABLE ledger (id int)");
    let mut holder = pg.open_psql(0, "holder");
    holder.stdin.as_mut().unwrap().write_all(b"BEGIN;\nLOCK TABLE ledger;\n").unwrap();
    holder.stdin.as_mut().unwrap().flush().unwrap();
    let held = "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
                WHERE a.application_name = 'holder' AND l.relation = 'ledger'::regclass AND l.granted";
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while pg.psql(0, held) != "1" {
        assert!(std::time::Instant::now() < deadline, "the holder never took its lock");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut waiter = pg.spawn_psql(0, "waiter", "SELECT count(*) FROM ledger");
    let seen = health_until_at("127.0.0.142", "a blocker", |h| {
        h.blockers.iter().any(|b| b.holder.application.as_deref() == Some("holder"))
    })
    .await;
    let blocker = &seen.blockers[0];
    assert_eq!(blocker.holder.state.as_deref(), Some("idle in transaction"));
    assert_eq!(blocker.blocked_pids.len(), 1);
    assert!(blocker.blocked_seconds >= 0.0 && blocker.holder.xact_seconds.is_some());
    assert_eq!(seen.idle_in_transaction[0].pid, blocker.holder.pid);
    holder.kill().unwrap();
    holder.wait().unwrap();
    waiter.wait().unwrap();
    health_until_at("127.0.0.142", "the lock released", |h| h.blockers.is_empty() && h.idle_in_transaction.is_empty())
        .await;

    // A slot nothing streams from keeps the WAL written since it was made.
    pg.psql(0, "SELECT pg_create_physical_replication_slot('unused', true)");
    for _ in 0..3 {
        pg.psql(0, "INSERT INTO ledger VALUES (1); SELECT pg_switch_wal()");
    }
    let seen = health_until_at("127.0.0.142", "the slot's WAL", |h| {
        h.slots.iter().any(|s| s.name == "unused" && s.retained_bytes.is_some_and(|b| b >= 32 << 20))
    })
    .await;
    let slot = seen.slots.iter().find(|s| s.name == "unused").unwrap();
    assert_eq!(
        (slot.active, slot.slot_type.as_str(), slot.wal_status.as_deref()),
        (false, "physical", Some("reserved"))
    );

    // A setting that needs a restart, changed and reloaded; then put back.
    // (ALTER SYSTEM refuses to run in the implicit transaction of a multi-statement string.)
    assert_eq!(pg.psql(0, "ALTER SYSTEM SET shared_buffers = '24MB'"), "ALTER SYSTEM");
    pg.psql(0, "SELECT pg_reload_conf()");
    health_until_at("127.0.0.142", "shared_buffers pending", |h| h.pending_restart == ["shared_buffers"]).await;
    assert_eq!(pg.psql(0, "ALTER SYSTEM RESET shared_buffers"), "ALTER SYSTEM");
    pg.psql(0, "SELECT pg_reload_conf()");
    health_until_at("127.0.0.142", "nothing pending", |h| h.pending_restart.is_empty()).await;
}

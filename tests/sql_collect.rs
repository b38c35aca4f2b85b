//! The member collector against a real PostgreSQL: statement texts are read once per statement,
//! not every round (pg_stat_statements itself counts how often pgdeck asked for them), and every
//! statement still arrives with its text.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use pgdeck::model::StatementRow;
use pgdeck::sql::collect::MemberCollector;
use pgdeck::sql::{Endpoint, Tls, Transport};
use support::fake_kube::postgres::{Instances, PASSWORD};

const HOST: &str = "127.0.0.141";

fn collector() -> MemberCollector {
    let ca = support::fake_kube::tls::cluster_ca();
    let tls = Tls::from_ca_pem(ca.cert_pem.as_bytes(), "the test CA").unwrap().with_server_name("postgres-cluster-rw");
    let login =
        pgdeck::secrets::Credentials { username: "postgres".into(), password: pgdeck::secrets::Secret::new(PASSWORD) };
    let endpoint = Endpoint {
        host: HOST.into(),
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

//! PgBouncer's admin console: where it sends clients and how busy it is. Its admin console takes
//! one command per query, so a round is `SHOW DATABASES` and `SHOW POOLS`; `SHOW CONFIG` (some 80
//! rows, for the pool mode alone) is asked for only every [`CONFIG_INTERVAL`].

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::model::PoolerReport;
use crate::sql::{connect, Endpoint};

/// How old the pool mode read from `SHOW CONFIG` may grow (it changes only on a RELOAD).
const CONFIG_INTERVAL: Duration = Duration::from_secs(10);

/// Keeps one admin session to PgBouncer (database `pgbouncer`); reconnects after any failure.
pub struct PoolerCollector {
    admin: Endpoint,
    name: String,
    timeout: Duration,
    client: Option<Client>,
    /// The pool mode and when it was read, on the current session.
    pool_mode: Option<(Instant, String)>,
}

impl PoolerCollector {
    pub fn new(endpoint: &Endpoint, name: &str, timeout: Duration) -> Self {
        let admin = Endpoint { database: "pgbouncer".into(), ..endpoint.clone() };
        Self { admin, name: name.to_owned(), timeout, client: None, pool_mode: None }
    }

    pub async fn observe(&mut self) -> Result<PoolerReport> {
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => {
                self.pool_mode = None;
                connect(&self.admin, self.timeout, false).await?
            }
        };
        let pool_mode = match self.pool_mode.take() {
            Some((read_at, mode)) if read_at.elapsed() < CONFIG_INTERVAL => (read_at, mode),
            _ => (Instant::now(), pool_mode(&client).await?),
        };
        let report = observe(&client, &self.admin, &self.name, &pool_mode.1).await?;
        self.pool_mode = Some(pool_mode);
        self.client = Some(client);
        Ok(report)
    }
}

/// The pool mode from PgBouncer's `SHOW CONFIG`.
async fn pool_mode(client: &Client) -> Result<String> {
    let config = rows(client.simple_query("SHOW CONFIG").await.context("SHOW CONFIG failed")?);
    Ok(config
        .iter()
        .find(|r| r.get("key").is_some_and(|k| k == "pool_mode"))
        .and_then(|r| r.get("value").map(str::to_owned))
        .unwrap_or_default())
}

/// Asks PgBouncer's admin console for its databases and pools.
async fn observe(client: &Client, endpoint: &Endpoint, name: &str, pool_mode: &str) -> Result<PoolerReport> {
    let databases = rows(client.simple_query("SHOW DATABASES").await.context("SHOW DATABASES failed")?);
    let pools = rows(client.simple_query("SHOW POOLS").await.context("SHOW POOLS failed")?);
    let target = databases.iter().find(|r| r.get("name").is_some_and(|n| n != "pgbouncer"));
    let sum = |rows: &[Vec<(String, String)>], cols: &[&str]| -> u32 {
        rows.iter()
            .filter(|r| r.get("database").is_some_and(|d| d != "pgbouncer"))
            .flat_map(|r| cols.iter().filter_map(|c| r.get(c)?.parse::<u32>().ok()))
            .sum()
    };
    Ok(PoolerReport {
        name: name.to_owned(),
        listen: format!("{}:{}", endpoint.host, endpoint.port),
        pool_mode: pool_mode.to_owned(),
        target_host: target.and_then(|r| r.get("host").map(str::to_owned)),
        target_port: target.and_then(|r| r.get("port")?.parse().ok()),
        client_connections: sum(&pools, &["cl_active", "cl_waiting"]),
        server_connections: sum(&pools, &["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"]),
    })
}

trait Get {
    fn get(&self, column: &str) -> Option<&str>;
}

impl Get for Vec<(String, String)> {
    fn get(&self, column: &str) -> Option<&str> {
        self.iter().find(|(c, _)| c == column).map(|(_, v)| v.as_str())
    }
}

fn rows(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<(String, String)>> {
    messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                row.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_owned(), row.get(i).unwrap_or_default().to_owned()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

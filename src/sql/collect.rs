//! One round trip per member per refresh: everything the member says about itself in one query,
//! prepared once per session (a `&str` query would be parsed and described on every call: two
//! round trips and a fresh parse and plan of a 2.5 KB statement each second). The catalog of
//! databases and roles, and the database and WAL sizes, change slowly and are asked for less often;
//! so do the health facts (`health.rs`), read every [`HEALTH_INTERVAL`] by a second statement
//! pipelined with the sample (still one round trip).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Deserialize;
use tokio_postgres::{Client, Statement};

use crate::health::HealthSample;
use crate::model::{Backend, DatabaseRow, Lsn, MemberSample, ReplicationRow, RoleRow, StatementRow};
use crate::sql::health::{self, HEALTH_INTERVAL};
use crate::sql::workload::{
    self, ACTIVITY_COLUMN, CATALOG_SQL, HAS_STATEMENTS_SQL, STATEMENTS_COLUMN, STATEMENT_TEXTS_SQL,
};
use crate::sql::{connect, Endpoint};

const MEMBER_SAMPLE_COLUMNS: &str = r"
SELECT
  current_setting('server_version') AS version,
  pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
  pg_last_wal_receive_lsn()::text AS receive_lsn,
  pg_last_wal_replay_lsn()::text AS replay_lsn,
  CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS replay_paused,
  CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() IS NULL OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0::float8
    ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 0)
  END AS replay_delay,
  (SELECT status FROM pg_stat_wal_receiver LIMIT 1) AS receiver_status,
  (SELECT count(*)::int4 FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
  current_setting('max_connections')::int4 AS max_connections,
  (SELECT COALESCE(json_agg(json_build_object(
      'application_name', r.application_name, 'state', r.state, 'sync_state', r.sync_state,
      'sent_lsn', r.sent_lsn::text, 'write_lsn', r.write_lsn::text, 'flush_lsn', r.flush_lsn::text,
      'replay_lsn', r.replay_lsn::text,
      'write_lag', EXTRACT(EPOCH FROM r.write_lag), 'flush_lag', EXTRACT(EPOCH FROM r.flush_lag),
      'replay_lag', EXTRACT(EPOCH FROM r.replay_lag), 'slot_name', s.slot_name)
      ORDER BY r.application_name), '[]'::json)
   FROM pg_stat_replication r LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid) AS replication";

/// The sizes walk the member's data directory (every database's files, then `pg_wal`): on a small
/// idle cluster that is about 40% of the sample's execution time. They are shown only in the
/// Storage view, so they are read at most every [`SIZES_INTERVAL`] and carried over between.
const SIZES_COLUMNS: &str = r"
  (SELECT COALESCE(sum(pg_database_size(oid)), 0)::int8 FROM pg_database) AS database_bytes,
  (SELECT COALESCE(sum(size), 0)::int8 FROM pg_ls_waldir()) AS wal_bytes";

/// The same columns when the sizes are not due: NULL, and the collector keeps the last ones read.
const NO_SIZES_COLUMNS: &str = "NULL::int8 AS database_bytes, NULL::int8 AS wal_bytes";

/// How old the database and WAL sizes may grow before the sample reads them again.
const SIZES_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct ReplicationJson {
    application_name: String,
    state: Option<String>,
    sync_state: Option<String>,
    sent_lsn: Option<String>,
    write_lsn: Option<String>,
    flush_lsn: Option<String>,
    replay_lsn: Option<String>,
    write_lag: Option<f64>,
    flush_lag: Option<f64>,
    replay_lag: Option<f64>,
    slot_name: Option<String>,
}

/// Everything one round trip to a member returns.
#[derive(Debug, Clone)]
pub struct MemberRound {
    pub sample: MemberSample,
    pub backends: Vec<Backend>,
    /// `None` when `pg_stat_statements` is not installed in the database pgdeck connects to.
    pub statements: Option<Vec<StatementRow>>,
    /// `None` between two health readings (every [`HEALTH_INTERVAL`]).
    pub health: Option<HealthSample>,
}

/// Keeps one session to a member and samples it; reconnects after any failure.
pub struct MemberCollector {
    endpoint: Endpoint,
    timeout: Duration,
    session: Option<Session>,
    /// The last database and WAL sizes read, and when.
    sizes: Option<Sizes>,
    /// Statement texts by queryid, kept across rounds (and sessions) so that only a new
    /// statement's text is read; those no longer among the busiest are let go.
    texts: HashMap<i64, String>,
    /// When the health facts were last read.
    health_read_at: Option<Instant>,
}

/// A session with the statements it runs, prepared when it opened.
struct Session {
    client: Client,
    /// The sample with the sizes, and without them (with statements only where they can be read).
    with_sizes: Statement,
    without_sizes: Statement,
    catalog: Statement,
    /// Where `pg_stat_statements` can be read: the texts of given statements.
    texts: Option<Statement>,
    /// The health statement, written for the server's version.
    health: Statement,
}

#[derive(Clone, Copy)]
struct Sizes {
    read_at: Instant,
    database_bytes: u64,
    wal_bytes: u64,
}

impl MemberCollector {
    pub fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        Self { endpoint, timeout, session: None, sizes: None, texts: HashMap::new(), health_read_at: None }
    }

    /// The open session, or a new one with its statements prepared.
    async fn session(&mut self) -> Result<Session> {
        if let Some(session) = self.session.take() {
            if !session.client.is_closed() {
                return Ok(session);
            }
        }
        let client = connect(&self.endpoint, self.timeout, true).await?;
        let facts = format!("{HAS_STATEMENTS_SQL}, {}", health::VERSION_COLUMN);
        let row = client.query_one(&facts, &[]).await?;
        let (has_statements, version): (bool, i32) = (row.try_get(0)?, row.try_get(1)?);
        let statements = if has_statements { format!(",{STATEMENTS_COLUMN}") } else { String::new() };
        let sample = |sizes: &str| format!("{MEMBER_SAMPLE_COLUMNS},{sizes},{ACTIVITY_COLUMN}{statements}");
        let (with_sizes, without_sizes) = (sample(SIZES_COLUMNS), sample(NO_SIZES_COLUMNS));
        let health = health::statement(version);
        // Prepared together: the client pipelines them, one round trip for all.
        let prepare_failed = "preparing the member sample query failed";
        let (with_sizes, without_sizes, catalog, texts, health) = futures::try_join!(
            async { client.prepare(&with_sizes).await.context(prepare_failed) },
            async { client.prepare(&without_sizes).await.context(prepare_failed) },
            async { client.prepare(CATALOG_SQL).await.context("preparing the catalog query failed") },
            async {
                let texts = if has_statements { client.prepare(STATEMENT_TEXTS_SQL).await.map(Some) } else { Ok(None) };
                texts.context("preparing the statement texts query failed")
            },
            async { client.prepare(&health).await.context("preparing the member health query failed") },
        )?;
        Ok(Session { client, with_sizes, without_sizes, catalog, texts, health })
    }

    pub async fn sample(&mut self) -> Result<MemberRound> {
        let session = self.session().await?;
        let due = self.sizes.is_none_or(|s| s.read_at.elapsed() >= SIZES_INTERVAL);
        let statement = if due { &session.with_sizes } else { &session.without_sizes };
        // The health facts, when due, in the same round trip: the client pipelines the two.
        let health_due = self.health_read_at.is_none_or(|at| at.elapsed() >= HEALTH_INTERVAL);
        let (row, health_row) = futures::try_join!(
            async { session.client.query_one(statement, &[]).await.context("the member sample query failed") },
            async {
                let row =
                    if health_due { session.client.query_one(&session.health, &[]).await.map(Some) } else { Ok(None) };
                row.context("the member health query failed")
            },
        )?;
        let mut sample = to_sample(&row)?;
        if let (Some(database_bytes), Some(wal_bytes)) =
            (row.try_get::<_, Option<i64>>("database_bytes")?, row.try_get::<_, Option<i64>>("wal_bytes")?)
        {
            self.sizes = Some(Sizes {
                read_at: Instant::now(),
                database_bytes: u64::try_from(database_bytes).unwrap_or(0),
                wal_bytes: u64::try_from(wal_bytes).unwrap_or(0),
            });
        }
        if let Some(sizes) = self.sizes {
            sample.database_bytes = sizes.database_bytes;
            sample.wal_bytes = sizes.wal_bytes;
        }
        let health = match health_row {
            Some(row) => {
                self.health_read_at = Some(Instant::now());
                Some(health::parse(&row)?)
            }
            None => None,
        };
        let round = MemberRound {
            sample,
            health,
            backends: workload::backends(&row)?,
            statements: match &session.texts {
                Some(texts) => {
                    let mut statements = workload::statements(&row)?;
                    self.fill_texts(&session.client, texts, &mut statements).await?;
                    Some(statements)
                }
                None => None,
            },
        };
        self.session = Some(session);
        Ok(round)
    }

    /// Gives each statement its text: from what is kept, else read for the new ones at once.
    async fn fill_texts(&mut self, client: &Client, query: &Statement, statements: &mut [StatementRow]) -> Result<()> {
        let seen: std::collections::HashSet<i64> = statements.iter().map(|s| s.queryid).collect();
        self.texts.retain(|queryid, _| seen.contains(queryid));
        let mut new: Vec<i64> = seen.into_iter().filter(|id| !self.texts.contains_key(id)).collect();
        if !new.is_empty() {
            new.sort_unstable();
            let rows = client.query(query, &[&new]).await.context("reading the statements' texts failed")?;
            let mut read: HashMap<i64, String> = HashMap::new();
            for row in rows {
                read.insert(row.try_get("queryid")?, row.try_get("query")?);
            }
            // A text PostgreSQL no longer has (evicted between the two reads) is kept empty rather
            // than asked for again every round while the statement stays among the busiest.
            for id in new {
                self.texts.insert(id, read.remove(&id).unwrap_or_default());
            }
        }
        for statement in statements {
            if let Some(text) = self.texts.get(&statement.queryid) {
                statement.query.clone_from(text);
            }
        }
        Ok(())
    }

    /// Databases and roles, on the same session.
    pub async fn catalog(&mut self) -> Result<(Vec<DatabaseRow>, Vec<RoleRow>)> {
        let session = self.session().await?;
        let row = session.client.query_one(&session.catalog, &[]).await.context("the catalog query failed")?;
        let catalog = workload::catalog(&row)?;
        self.session = Some(session);
        Ok(catalog)
    }
}

fn lsn(text: Option<String>) -> Option<Lsn> {
    text.and_then(|t| t.parse().ok())
}

fn to_sample(row: &tokio_postgres::Row) -> Result<MemberSample> {
    let replication: serde_json::Value = row.try_get("replication")?;
    let rows: Vec<ReplicationJson> =
        serde_json::from_value(replication).context("unexpected pg_stat_replication shape")?;
    Ok(MemberSample {
        server_version: row.try_get("version")?,
        in_recovery: row.try_get("in_recovery")?,
        current_lsn: lsn(row.try_get("current_lsn")?),
        receive_lsn: lsn(row.try_get("receive_lsn")?),
        replay_lsn: lsn(row.try_get("replay_lsn")?),
        replay_paused: row.try_get("replay_paused")?,
        replay_delay_seconds: row.try_get("replay_delay")?,
        receiver_status: row.try_get("receiver_status")?,
        connections: u32::try_from(row.try_get::<_, i32>("connections")?).unwrap_or(0),
        max_connections: u32::try_from(row.try_get::<_, i32>("max_connections")?).unwrap_or(0),
        // Filled in by the collector, which reads the sizes only every SIZES_INTERVAL.
        database_bytes: 0,
        wal_bytes: 0,
        replication: rows
            .into_iter()
            .map(|r| ReplicationRow {
                application_name: r.application_name,
                state: r.state.unwrap_or_default(),
                sync_state: r.sync_state.unwrap_or_default(),
                sent_lsn: lsn(r.sent_lsn),
                write_lsn: lsn(r.write_lsn),
                flush_lsn: lsn(r.flush_lsn),
                replay_lsn: lsn(r.replay_lsn),
                write_lag_seconds: r.write_lag,
                flush_lag_seconds: r.flush_lag,
                replay_lag_seconds: r.replay_lag,
                slot_name: r.slot_name,
            })
            .collect(),
    })
}

//! What runs on a member: backends with their blockers, the busiest statements, and the catalog of
//! databases and roles. Each is a column of JSON so the member's round trip stays one query.

use anyhow::{Context, Result};
use tokio_postgres::Row;

use crate::model::{Backend, DatabaseRow, RoleRow, StatementRow};

/// Backends other than pgdeck's own; blockers only for those waiting on a lock (the call is not free).
pub const ACTIVITY_COLUMN: &str = r"
  (SELECT COALESCE(json_agg(json_build_object(
      'pid', a.pid, 'user', a.usename, 'database', a.datname, 'application', a.application_name,
      'client', a.client_addr::text, 'state', a.state,
      'wait_event_type', a.wait_event_type, 'wait_event', a.wait_event,
      'running_seconds', EXTRACT(EPOCH FROM clock_timestamp()
          - COALESCE(CASE WHEN a.state LIKE 'idle in transaction%' THEN a.xact_start END, a.query_start)),
      'query', left(a.query, 300),
      'blocked_by', CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) ELSE '{}'::int[] END)
      ORDER BY a.pid), '[]'::json)
   FROM (SELECT * FROM pg_stat_activity
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() LIMIT 2000) a) AS activity";

/// The statements with the most execution time, limited on the server, without their texts:
/// `pg_stat_statements(false)` does not read the query-text file, which with `max` statements
/// tracked (5,000 by default) is most of the cost. The collector keeps the texts by queryid and
/// asks for them ([`STATEMENT_TEXTS_SQL`]) only when a statement is new to it.
pub const STATEMENTS_COLUMN: &str = r"
  (SELECT COALESCE(json_agg(json_build_object(
      'queryid', s.queryid, 'user', r.rolname, 'database', d.datname, 'query', '',
      'calls', s.calls, 'total_exec_ms', s.total_exec_time, 'rows', s.rows,
      'shared_blks_hit', s.shared_blks_hit, 'shared_blks_read', s.shared_blks_read)), '[]'::json)
   FROM (SELECT * FROM pg_stat_statements(false) WHERE queryid IS NOT NULL ORDER BY total_exec_time DESC LIMIT 200) s
   LEFT JOIN pg_roles r ON r.oid = s.userid LEFT JOIN pg_database d ON d.oid = s.dbid) AS statements";

/// The texts of the statements whose queryids are `$1` (the query-text file read once).
pub const STATEMENT_TEXTS_SQL: &str = r"
SELECT DISTINCT ON (queryid) queryid, left(query, 500) AS query
  FROM pg_stat_statements(true) WHERE queryid = ANY($1) AND query IS NOT NULL";

/// Whether `pg_stat_statements` can be read in the session's database.
pub const HAS_STATEMENTS_SQL: &str = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')";

pub const CATALOG_SQL: &str = r"
SELECT
  (SELECT COALESCE(json_agg(json_build_object(
      'name', d.datname, 'owner', pg_get_userbyid(d.datdba), 'size_bytes', pg_database_size(d.oid),
      'encoding', pg_encoding_to_char(d.encoding), 'connection_limit', d.datconnlimit) ORDER BY d.datname), '[]'::json)
   FROM pg_database d WHERE NOT d.datistemplate) AS databases,
  (SELECT COALESCE(json_agg(json_build_object(
      'name', r.rolname, 'superuser', r.rolsuper, 'login', r.rolcanlogin, 'create_db', r.rolcreatedb,
      'create_role', r.rolcreaterole, 'replication', r.rolreplication, 'connection_limit', r.rolconnlimit,
      'member_of', ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid
                         WHERE m.member = r.oid ORDER BY 1),
      'can_connect', ARRAY(SELECT d.datname FROM pg_database d
                           WHERE NOT d.datistemplate AND has_database_privilege(r.oid, d.oid, 'CONNECT') ORDER BY 1))
      ORDER BY r.rolname), '[]'::json)
   FROM pg_roles r WHERE r.rolname !~ '^pg_') AS roles";

pub fn backends(row: &Row) -> Result<Vec<Backend>> {
    let json: serde_json::Value = row.try_get("activity")?;
    serde_json::from_value(json).context("unexpected pg_stat_activity shape")
}

pub fn statements(row: &Row) -> Result<Vec<StatementRow>> {
    let json: serde_json::Value = row.try_get("statements")?;
    serde_json::from_value(json).context("unexpected pg_stat_statements shape")
}

pub fn catalog(row: &Row) -> Result<(Vec<DatabaseRow>, Vec<RoleRow>)> {
    let databases: serde_json::Value = row.try_get("databases")?;
    let roles: serde_json::Value = row.try_get("roles")?;
    Ok((
        serde_json::from_value(databases).context("unexpected pg_database shape")?,
        serde_json::from_value(roles).context("unexpected pg_roles shape")?,
    ))
}

//! Builders shared by the benchmarks: deterministic, realistic-looking cluster facts, delivered the
//! only way State changes (as `Observation`s for `State::apply`).

// Each bench uses a different subset of these builders.
#![allow(dead_code)]

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::Criterion;
use pgdeck::model::{
    Backend, BackupCatalog, BackupReport, BackupStatus, DatabaseRow, Lsn, MemberReport, MemberSample, PoolerReport,
    ReplicationRow, Role, RoleRow, StatementRow,
};

pub const MEMBERS: [&str; 3] = ["postgres-cluster-1", "postgres-cluster-2", "postgres-cluster-3"];
pub const PORTS: [u16; 3] = [5432, 5433, 5434];

/// Short runs: the whole `cargo bench` stays within a few minutes on two cores.
pub fn criterion() -> Criterion {
    Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1))
}

/// The benchmark clock: `ms` milliseconds after a fixed instant.
pub fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + chrono::Duration::milliseconds(ms)
}

pub fn at(seconds: i64) -> DateTime<Utc> {
    at_ms(seconds * 1000)
}

/// A tiny deterministic generator (xorshift64*), so every run builds the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap()).unwrap()
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn unit(&mut self) -> f64 {
        f64::from(u32::try_from(self.next_u64() >> 40).unwrap()) / f64::from(1_u32 << 24)
    }
}

pub fn report(index: usize, role: Role) -> MemberReport {
    MemberReport {
        name: MEMBERS[index].into(),
        role,
        state: if role == Role::Primary { "running".into() } else { "streaming".into() },
        host: format!("10.0.1.{}", 11 + index),
        port: PORTS[index],
        api_url: Some(format!("http://10.0.1.{}:8008", 11 + index)),
        timeline: Some(7),
        manager_lag_bytes: None,
        sync_standby: index == 1 && role == Role::Replica,
        pending_restart: false,
    }
}

/// The HA manager's list with `leader` as primary and the others as replicas.
pub fn members_with_leader(leader: usize) -> Vec<MemberReport> {
    (0..MEMBERS.len()).map(|i| report(i, if i == leader { Role::Primary } else { Role::Replica })).collect()
}

pub fn replication_row(name: &str, sent: u64, replay: u64, sync: bool) -> ReplicationRow {
    ReplicationRow {
        application_name: name.into(),
        state: "streaming".into(),
        sync_state: if sync { "sync".into() } else { "async".into() },
        sent_lsn: Some(Lsn(sent)),
        write_lsn: Some(Lsn(sent)),
        flush_lsn: Some(Lsn(sent.min(replay + 8192))),
        replay_lsn: Some(Lsn(replay)),
        write_lag_seconds: Some(0.001),
        flush_lag_seconds: Some(0.003),
        replay_lag_seconds: Some(0.012),
        slot_name: Some(name.replace('-', "_")),
    }
}

pub fn primary_sample(lsn: u64, replicas: &[(&str, u64)]) -> MemberSample {
    MemberSample {
        server_version: "16.4".into(),
        in_recovery: false,
        current_lsn: Some(Lsn(lsn)),
        receive_lsn: None,
        replay_lsn: None,
        replay_paused: false,
        replay_delay_seconds: None,
        receiver_status: None,
        connections: 143,
        max_connections: 500,
        database_bytes: 182_000_000_000,
        wal_bytes: 4_200_000_000,
        replication: replicas
            .iter()
            .enumerate()
            .map(|(i, (name, replay))| replication_row(name, lsn, *replay, i == 0))
            .collect(),
    }
}

pub fn replica_sample(replay: u64, delay_seconds: f64) -> MemberSample {
    MemberSample {
        server_version: "16.4".into(),
        in_recovery: true,
        current_lsn: None,
        receive_lsn: Some(Lsn(replay + 4096)),
        replay_lsn: Some(Lsn(replay)),
        replay_paused: false,
        replay_delay_seconds: Some(delay_seconds),
        receiver_status: Some("streaming".into()),
        connections: 37,
        max_connections: 500,
        database_bytes: 182_000_000_000,
        wal_bytes: 4_100_000_000,
        replication: Vec::new(),
    }
}

pub fn pooler(clients: u32) -> PoolerReport {
    PoolerReport {
        name: "postgres-cluster-pooler-rw".into(),
        listen: "10.0.1.10:6432".into(),
        pool_mode: "transaction".into(),
        target_host: Some("10.0.1.11".into()),
        target_port: Some(PORTS[0]),
        client_connections: clients,
        server_connections: 40,
    }
}

/// Nightly pgBackRest backups, oldest first: `count` nights from night `first_night`, where
/// night 120 is the one before the benchmark clock's day (full weekly, one differential a week,
/// incremental otherwise, the odd one failed).
pub fn backup_catalog(first_night: i64, count: i64) -> BackupCatalog {
    let base = Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap();
    let mut last_full = String::from("20260901-020000F");
    let backups = (first_night..first_night + count)
        .map(|n| {
            let started = base - chrono::Duration::days(120) + chrono::Duration::days(n);
            let stamp = started.format("%Y%m%d-%H%M%S").to_string();
            let (kind, id) = match n % 7 {
                0 => {
                    last_full = format!("{stamp}F");
                    ("full", last_full.clone())
                }
                3 => ("diff", format!("{last_full}_{stamp}D")),
                _ => ("incr", format!("{last_full}_{stamp}I")),
            };
            let size: u64 = match kind {
                "full" => 182_000_000_000,
                "diff" => 9_400_000_000,
                _ => 1_300_000_000 + u64::try_from(n % 5).unwrap() * 100_000_000,
            };
            let failed = n % 23 == 11;
            let seconds = if kind == "full" { 2_940 } else { 310 };
            let segment = 0x1000 + n * 0x40;
            BackupReport {
                id,
                kind: kind.into(),
                method: "pgbackrest".into(),
                status: if failed { BackupStatus::Failed } else { BackupStatus::Completed },
                started_at: Some(started),
                stopped_at: Some(started + chrono::Duration::seconds(seconds)),
                size_bytes: (!failed).then_some(size),
                repository_bytes: (!failed).then_some(size / 5),
                wal_start: Some(format!("00000007{:08X}{:08X}", segment / 0x100, segment % 0x100)),
                wal_stop: Some(format!("00000007{:08X}{:08X}", segment / 0x100, segment % 0x100 + 2)),
                error: failed.then(|| "archive-push timed out after 60s waiting for WAL segment".into()),
            }
        })
        .collect();
    BackupCatalog {
        backups,
        schedule: Some("0 0 2 * * *".into()),
        retention: Some("60d".into()),
        next_scheduled_at: Some(base + chrono::Duration::days(1)),
        archive_min_wal: Some("000000070000001000000000".into()),
        archive_max_wal: Some("0000000700000021000000C3".into()),
    }
}

const TABLES: [&str; 16] = [
    "orders",
    "order_items",
    "customers",
    "invoices",
    "payments",
    "shipments",
    "products",
    "inventory_levels",
    "audit_log",
    "sessions",
    "carts",
    "cart_items",
    "refunds",
    "warehouses",
    "price_rules",
    "notifications",
];
const COLUMNS: [&str; 16] = [
    "id",
    "customer_id",
    "status",
    "created_at",
    "updated_at",
    "total_cents",
    "currency",
    "warehouse_id",
    "product_id",
    "quantity",
    "tenant_id",
    "external_ref",
    "deleted_at",
    "email",
    "region",
    "priority",
];

/// A normalised statement as pg_stat_statements prints it, of about `target` characters;
/// a third are multi-line, as ORMs send them.
pub fn query_text(rng: &mut Rng, target: usize) -> String {
    let table = *rng.pick(&TABLES);
    let other = *rng.pick(&TABLES);
    let sep = if rng.chance(33) { "\n    " } else { " " };
    let mut q = match rng.below(5) {
        0 => format!(
            "SELECT t.id, t.{}, t.{} FROM {table} t{sep}WHERE t.{} = $1",
            rng.pick(&COLUMNS),
            rng.pick(&COLUMNS),
            rng.pick(&COLUMNS)
        ),
        1 => format!("UPDATE {table} SET {} = $1, updated_at = now(){sep}WHERE id = $2", rng.pick(&COLUMNS)),
        2 => format!(
            "SELECT a.*, b.{} FROM {table} a JOIN {other} b ON b.id = a.{}_id{sep}WHERE a.tenant_id = $1",
            rng.pick(&COLUMNS),
            other.trim_end_matches('s')
        ),
        3 => format!("DELETE FROM {table}{sep}WHERE {} < $1 AND tenant_id = $2", rng.pick(&COLUMNS)),
        _ => format!(
            "WITH recent AS (SELECT id FROM {table} WHERE created_at > now() - $1::interval){sep}SELECT count(*) FROM {other} x JOIN recent r ON r.id = x.id WHERE x.{} IS NOT NULL",
            rng.pick(&COLUMNS)
        ),
    };
    let mut n = 3;
    while q.len() < target {
        let col = *rng.pick(&COLUMNS);
        let _ = write!(q, "{sep}AND {col} = ${n}");
        n += 1;
    }
    q
}

pub const USERS: [&str; 8] = ["app", "orders_api", "billing", "reporting", "etl", "keycloak", "postgres", "grafana"];
pub const APPS: [&str; 8] =
    ["orders-api", "billing-worker", "psql", "metabase", "airflow", "keycloak", "pg_dump", "grafana"];

/// `count` statements with distinct queryids; `round` scales the cumulative counters (a later
/// sample of the same statements has larger ones).
pub fn statements(seed: u64, count: usize, round: i64) -> Vec<StatementRow> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let target = 80 + rng.below(191);
            let query = query_text(&mut rng, target);
            let base_calls = i64::try_from(1 + rng.below(50_000)).unwrap();
            let per_round = i64::try_from(rng.below(400)).unwrap();
            let calls = base_calls + per_round * round;
            let mean_ms = 0.05 + rng.unit() * 40.0;
            let hit = calls * i64::try_from(1 + rng.below(30)).unwrap();
            StatementRow {
                queryid: 0x5EED_0000_0000 + i64::try_from(i).unwrap() * 7919,
                user: Some((*rng.pick(&USERS)).into()),
                database: Some(format!("tenant_{:03}", rng.below(50))),
                query,
                calls,
                total_exec_ms: mean_ms * f64::from(u32::try_from(calls).unwrap()),
                rows: calls * i64::try_from(1 + rng.below(20)).unwrap(),
                shared_blks_hit: hit,
                shared_blks_read: hit / i64::try_from(5 + rng.below(200)).unwrap(),
            }
        })
        .collect()
}

/// `count` backends from pid `first_pid`; every `chain_every`th opens a lock chain (an idle
/// transaction blocking the next few sessions, some blocked by two); `chain_every == 0`: none.
pub fn backends(seed: u64, first_pid: i32, count: usize, chain_every: usize) -> Vec<Backend> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<Backend> = Vec::with_capacity(count);
    let mut chain: Option<(i32, i32, usize)> = None; // (root pid, previous pid, sessions left to block)
    for i in 0..count {
        let pid = first_pid + i32::try_from(i).unwrap();
        let mut blocked_by = Vec::new();
        let mut state = match rng.below(100) {
            0..=59 => "idle",
            60..=86 => "active",
            87..=97 => "idle in transaction",
            _ => "idle in transaction (aborted)",
        };
        let mut running = rng.unit() * 120.0;
        if chain_every > 0 && i % chain_every == 0 {
            state = "idle in transaction";
            running = 300.0 + rng.unit() * 900.0;
            chain = Some((pid, pid, 2 + rng.below(3)));
        } else if let Some((root, previous, left)) = chain {
            blocked_by.push(previous);
            if previous != root && rng.chance(30) {
                blocked_by.push(root);
            }
            state = "active";
            chain = (left > 1).then_some((root, pid, left - 1));
        }
        let waiting = !blocked_by.is_empty();
        let target = 40 + rng.below(200);
        out.push(Backend {
            pid,
            user: Some((*rng.pick(&USERS)).into()),
            database: Some(format!("tenant_{:03}", rng.below(50))),
            application: Some((*rng.pick(&APPS)).into()),
            client: Some(format!("10.0.{}.{}/32", 2 + rng.below(6), 10 + rng.below(240))),
            state: Some(state.into()),
            wait_event_type: if waiting {
                Some("Lock".into())
            } else if state == "idle" {
                Some("Client".into())
            } else {
                None
            },
            wait_event: if waiting {
                Some((*rng.pick(&["transactionid", "tuple", "relation"])).into())
            } else if state == "idle" {
                Some("ClientRead".into())
            } else {
                None
            },
            running_seconds: Some(running),
            query: Some(query_text(&mut rng, target)),
            blocked_by,
        });
    }
    out
}

pub fn databases(count: usize) -> Vec<DatabaseRow> {
    let mut rng = Rng::new(0xDA7A);
    (0..count)
        .map(|i| DatabaseRow {
            name: if i == 0 { "postgres".into() } else { format!("tenant_{:03}", i - 1) },
            owner: if i == 0 { "postgres".into() } else { format!("tenant_{:03}_owner", i - 1) },
            size_bytes: 8_000_000 + u64::try_from(rng.below(40_000)).unwrap() * 1_000_000,
            encoding: "UTF8".into(),
            connection_limit: if i % 7 == 0 { 50 } else { -1 },
        })
        .collect()
}

pub fn roles(count: usize, databases: &[DatabaseRow]) -> Vec<RoleRow> {
    let mut rng = Rng::new(0x4013);
    let groups = ["readers", "writers", "migrators", "monitoring"];
    (0..count)
        .map(|i| {
            let name = match i {
                0 => "postgres".to_owned(),
                1 => "replicator".to_owned(),
                2..=5 => groups[i - 2].to_owned(),
                _ if i % 4 == 0 => format!("tenant_{:03}_owner", (i / 4) % 50),
                _ => format!("svc_{}_{i:03}", USERS[i % USERS.len()]),
            };
            let superuser = i == 0;
            let login = !(2..=5).contains(&i);
            let member_of = (0..rng.below(3)).map(|_| (*rng.pick(&groups)).to_owned()).collect();
            let can_connect = (0..=rng.below(4)).map(|_| rng.pick(databases).name.clone()).collect();
            RoleRow {
                name,
                superuser,
                login,
                create_db: superuser || i % 9 == 0,
                create_role: superuser,
                replication: superuser || i == 1,
                connection_limit: if i % 11 == 0 { 20 } else { -1 },
                member_of,
                can_connect,
            }
        })
        .collect()
}

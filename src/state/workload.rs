//! What runs on each member: backends (with who blocks whom) and statements as rates between the
//! last two samples, so a view shows what is busy now rather than since the last stats reset.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Backend, DatabaseRow, RoleRow, StatementRow};
use crate::state::{State, Timed};

#[derive(Debug, Clone, Default)]
pub struct Workload {
    pub backends: Option<Timed<Vec<Backend>>>,
    pub statements: Option<Timed<Vec<StatementRow>>>,
    pub previous_statements: Option<Timed<Vec<StatementRow>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub databases: Vec<DatabaseRow>,
    pub roles: Vec<RoleRow>,
}

/// One statement: its cumulative counters and, when there is an earlier sample, its rates.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementRate<'a> {
    pub row: &'a StatementRow,
    pub rates: Option<Rates>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub calls_per_second: f64,
    /// Milliseconds of execution per second of wall time: how much of a core the statement uses.
    pub exec_ms_per_second: f64,
    pub mean_ms: Option<f64>,
    pub rows_per_second: f64,
    /// Shared-buffer hit ratio over the interval; `None` when it read no blocks.
    pub hit_ratio: Option<f64>,
}

fn key(row: &StatementRow) -> (i64, Option<&str>, Option<&str>) {
    (row.queryid, row.user.as_deref(), row.database.as_deref())
}

impl State {
    /// The member the workload views show: the chosen one, else the leader, else the first.
    /// The leader's databases and roles, which new names are checked against; the error says
    /// why they are not known.
    pub fn leader_catalog(&self) -> Result<&Catalog, String> {
        let leader = self.leader_name().ok_or("there is no leader to create it on")?;
        self.catalog
            .get(leader)
            .map(|c| &c.value)
            .ok_or_else(|| format!("the databases and roles of {leader} have not been read yet; try again in a moment"))
    }

    pub fn workload_member<'a>(&'a self, chosen: Option<&'a str>) -> Option<&'a str> {
        chosen
            .filter(|c| self.members.contains_key(*c))
            .or_else(|| self.leader_name())
            .or_else(|| self.members.keys().next().map(String::as_str))
    }

    pub fn statement_rates(&self, member: &str) -> Vec<StatementRate<'_>> {
        let Some(workload) = self.workload.get(member) else { return Vec::new() };
        let Some(current) = &workload.statements else { return Vec::new() };
        let previous = workload.previous_statements.as_ref();
        let earlier: BTreeMap<_, &StatementRow> =
            previous.map(|p| p.value.iter().map(|r| (key(r), r)).collect()).unwrap_or_default();
        let seconds = previous.map(|p| current.at.signed_duration_since(p.at).num_milliseconds() as f64 / 1000.0);
        current
            .value
            .iter()
            .map(|row| {
                let rates = match (earlier.get(&key(row)), seconds) {
                    (Some(before), Some(s)) if s > 0.0 => Some(rates(row, before, s)),
                    _ => None,
                };
                StatementRate { row, rates }
            })
            .collect()
    }

    /// Backends as a forest: blockers at the root, the sessions they block beneath them.
    pub fn blocking_tree(&self, member: &str) -> Vec<(usize, &Backend)> {
        let Some(backends) = self.workload.get(member).and_then(|w| w.backends.as_ref()) else { return Vec::new() };
        blocking_tree(&backends.value)
    }
}

fn rates(now: &StatementRow, before: &StatementRow, seconds: f64) -> Rates {
    // A counter that went down was reset: count from zero.
    let delta_i = |a: i64, b: i64| if a >= b { (a - b) as f64 } else { a as f64 };
    let calls = delta_i(now.calls, before.calls);
    let exec = if now.total_exec_ms >= before.total_exec_ms {
        now.total_exec_ms - before.total_exec_ms
    } else {
        now.total_exec_ms
    };
    let hits = delta_i(now.shared_blks_hit, before.shared_blks_hit);
    let reads = delta_i(now.shared_blks_read, before.shared_blks_read);
    Rates {
        calls_per_second: calls / seconds,
        exec_ms_per_second: exec / seconds,
        mean_ms: (calls > 0.0).then(|| exec / calls),
        rows_per_second: delta_i(now.rows, before.rows) / seconds,
        hit_ratio: (hits + reads > 0.0).then(|| hits / (hits + reads)),
    }
}

/// Depth-first from each backend that nothing (in the list) blocks; blockers come first.
pub fn blocking_tree(backends: &[Backend]) -> Vec<(usize, &Backend)> {
    let present: BTreeSet<i32> = backends.iter().map(|b| b.pid).collect();
    let mut children: BTreeMap<i32, Vec<&Backend>> = BTreeMap::new();
    for b in backends {
        for blocker in b.blocked_by.iter().filter(|p| present.contains(p)) {
            children.entry(*blocker).or_default().push(b);
        }
    }
    let mut roots: Vec<&Backend> =
        backends.iter().filter(|b| !b.blocked_by.iter().any(|p| present.contains(p))).collect();
    roots.sort_by(|a, b| {
        let blocks = |x: &Backend| children.contains_key(&x.pid);
        blocks(b)
            .cmp(&blocks(a))
            .then_with(|| b.running_seconds.unwrap_or(0.0).total_cmp(&a.running_seconds.unwrap_or(0.0)))
    });
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack: Vec<(usize, &Backend)> = roots.into_iter().rev().map(|b| (0, b)).collect();
    while let Some((depth, backend)) = stack.pop() {
        if !seen.insert(backend.pid) {
            continue;
        }
        out.push((depth, backend));
        if let Some(blocked) = children.get(&backend.pid) {
            stack.extend(blocked.iter().rev().map(|b| (depth + 1, *b)));
        }
    }
    // Sessions in a lock cycle have no root; show them rather than lose them.
    out.extend(backends.iter().filter(|b| !seen.contains(&b.pid)).map(|b| (0, b)));
    out
}

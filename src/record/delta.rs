//! Workload samples, written as changes: pg_stat_statements' rows mostly keep their counters
//! from one second to the next, and a full sample per member per second was most of a recording.
//! A row equal to row `i` of the member's previous sample is written as `{"same": i}`; the same
//! statement with new counters as `{"was": i, "calls": …}`, without its text again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Backend, StatementRow};
use crate::observation::{Observation, ObservationKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatementEntry {
    Same { same: usize },
    Counters(Counters),
    Row(StatementRow),
}

/// A statement of the previous sample (row `was`) with its counters moved on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub was: usize,
    pub calls: i64,
    pub total_exec_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
}

impl Counters {
    fn of(was: usize, row: &StatementRow) -> Self {
        Self {
            was,
            calls: row.calls,
            total_exec_ms: row.total_exec_ms,
            rows: row.rows,
            shared_blks_hit: row.shared_blks_hit,
            shared_blks_read: row.shared_blks_read,
        }
    }

    fn applied_to(&self, before: &StatementRow) -> StatementRow {
        StatementRow {
            calls: self.calls,
            total_exec_ms: self.total_exec_ms,
            rows: self.rows,
            shared_blks_hit: self.shared_blks_hit,
            shared_blks_read: self.shared_blks_read,
            ..before.clone()
        }
    }
}

fn same_statement(a: &StatementRow, b: &StatementRow) -> bool {
    (a.queryid, &a.user, &a.database, &a.query) == (b.queryid, &b.user, &b.database, &b.query)
}

/// `{"at":…,"source":…,"workload":{"member":…,"backends":[…],"statements":[{"same":3},{…row…}]}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadLine {
    pub at: DateTime<Utc>,
    pub source: crate::observation::SourceId,
    pub workload: WorkloadDelta,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadDelta {
    pub member: String,
    pub backends: Vec<Backend>,
    pub statements: Vec<StatementEntry>,
}

/// Each member's previous statements, as written (writer) or as read back (reader).
#[derive(Default)]
pub struct Previous {
    statements: HashMap<(crate::observation::SourceId, String), Vec<StatementRow>>,
}

impl Previous {
    /// The delta line for a workload sample, or `None` for any other observation or when no
    /// row repeats (then the full observation is shorter).
    pub fn encode(&mut self, observation: &Observation) -> Option<WorkloadLine> {
        let ObservationKind::WorkloadSampled { member, backends, statements } = &observation.kind else { return None };
        let key = (observation.source.clone(), member.clone());
        let before = self.statements.insert(key, statements.clone()).unwrap_or_default();
        let mut same = 0;
        let entries: Vec<StatementEntry> = statements
            .iter()
            .map(|row| {
                if let Some(i) = before.iter().position(|b| b == row) {
                    same += 1;
                    return StatementEntry::Same { same: i };
                }
                match before.iter().position(|b| same_statement(b, row)) {
                    Some(i) => {
                        same += 1;
                        StatementEntry::Counters(Counters::of(i, row))
                    }
                    None => StatementEntry::Row(row.clone()),
                }
            })
            .collect();
        (same > 0).then(|| WorkloadLine {
            at: observation.at,
            source: observation.source.clone(),
            workload: WorkloadDelta { member: member.clone(), backends: backends.clone(), statements: entries },
        })
    }

    /// Remembers a full observation read back, as the base for the deltas after it.
    pub fn remember(&mut self, observation: &Observation) {
        if let ObservationKind::WorkloadSampled { member, statements, .. } = &observation.kind {
            self.statements.insert((observation.source.clone(), member.clone()), statements.clone());
        }
    }

    /// The observation a delta line stands for; an error says which row could not be found.
    pub fn decode(&mut self, line: WorkloadLine) -> Result<Observation, String> {
        let WorkloadLine { at, source, workload: WorkloadDelta { member, backends, statements } } = line;
        let key = (source.clone(), member.clone());
        let before = self.statements.get(&key).map(Vec::as_slice).unwrap_or_default();
        let rows = statements
            .into_iter()
            .map(|entry| match entry {
                StatementEntry::Row(row) => Ok(row),
                StatementEntry::Same { same } => before.get(same).cloned().ok_or_else(|| missing(same, &member)),
                StatementEntry::Counters(counters) => before
                    .get(counters.was)
                    .map(|b| counters.applied_to(b))
                    .ok_or_else(|| missing(counters.was, &member)),
            })
            .collect::<Result<Vec<_>, String>>()?;
        self.statements.insert(key, rows.clone());
        Ok(Observation::new(at, source, ObservationKind::WorkloadSampled { member, backends, statements: rows }))
    }
}

fn missing(row: usize, member: &str) -> String {
    format!("it refers to statement {row} of the previous workload sample of {member}, which is not in the file")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(queryid: i64, calls: i64) -> StatementRow {
        StatementRow {
            queryid,
            user: Some("app".into()),
            database: Some("app".into()),
            query: format!("SELECT {queryid}"),
            calls,
            total_exec_ms: 1.5,
            rows: 1,
            shared_blks_hit: 0,
            shared_blks_read: 0,
        }
    }

    fn sample(s: i64, statements: Vec<StatementRow>) -> Observation {
        let at = DateTime::from_timestamp(1_764_093_600 + s, 0).unwrap();
        Observation::new(
            at,
            "sql:m1".into(),
            ObservationKind::WorkloadSampled { member: "m1".into(), backends: vec![], statements },
        )
    }

    #[test]
    fn unchanged_rows_are_written_by_index_and_read_back_exactly() {
        let (mut writer, mut reader) = (Previous::default(), Previous::default());
        let first = sample(0, vec![row(1, 10), row(2, 20), row(3, 30)]);
        assert!(writer.encode(&first).is_none(), "nothing to refer to yet");
        reader.remember(&first);
        // Row 2 was called again and moved to the top; 1 and 3 did not change.
        let second = sample(1, vec![row(2, 21), row(1, 10), row(3, 30), row(4, 1)]);
        let line = writer.encode(&second).unwrap();
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.contains(r#"{"same":0}"#) && text.contains(r#"{"same":2}"#), "{text}");
        // Row 2's text is not written again; row 4 is new, so it is.
        assert!(text.contains(r#"{"was":1,"calls":21,"#) && !text.contains("SELECT 2"), "{text}");
        assert!(text.contains("SELECT 4"), "{text}");
        let back: WorkloadLine = serde_json::from_str(&text).unwrap();
        assert_eq!(reader.decode(back).unwrap(), second);
        let mut lost = Previous::default();
        assert!(lost.decode(line).unwrap_err().contains("statement 1 of the previous workload sample of m1"));
    }
}

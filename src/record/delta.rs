//! Workload samples, written as changes: pg_stat_statements' rows mostly keep their counters
//! from one second to the next, and a full sample per member per second was most of a recording.
//! A row equal to row `i` of the member's previous sample is written as `{"same": i}`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Backend, StatementRow};
use crate::observation::{Observation, ObservationKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StatementEntry {
    Same { same: usize },
    Row(StatementRow),
}

/// `{"at":…,"source":…,"workload":{"member":…,"backends":[…],"statements":[{"same":3},{…row…}]}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadLine {
    pub at: DateTime<Utc>,
    pub source: String,
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
    statements: HashMap<(String, String), Vec<StatementRow>>,
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
            .map(|row| match before.iter().position(|b| b == row) {
                Some(i) => {
                    same += 1;
                    StatementEntry::Same { same: i }
                }
                None => StatementEntry::Row(row.clone()),
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
                StatementEntry::Same { same } => before.get(same).cloned().ok_or_else(|| {
                    format!("it refers to statement {same} of the previous workload sample of {member}, which is not in the file")
                }),
            })
            .collect::<Result<Vec<_>, String>>()?;
        self.statements.insert(key, rows.clone());
        Ok(Observation::new(at, source, ObservationKind::WorkloadSampled { member, backends, statements: rows }))
    }
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
            "sql:m1",
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
        let second = sample(1, vec![row(2, 21), row(1, 10), row(3, 30)]);
        let line = writer.encode(&second).unwrap();
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.contains(r#"{"same":0}"#) && text.contains(r#"{"same":2}"#), "{text}");
        let back: WorkloadLine = serde_json::from_str(&text).unwrap();
        assert_eq!(reader.decode(back).unwrap(), second);
        let mut lost = Previous::default();
        assert!(lost.decode(line).unwrap_err().contains("statement 0 of the previous workload sample of m1"));
    }
}

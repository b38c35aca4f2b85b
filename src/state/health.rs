//! Each member's latest health facts, and the little history their rates need: the archiver's
//! failures, the checkpoint counters, each slot's retained WAL. The history is bounded twice: by
//! time (a window, plus the one sample just before it as the baseline) and by length.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use crate::health::{CheckpointCounters, HealthSample};
use crate::state::{State, Timed};

/// Samples kept per history at most, whatever the window: over 10 minutes at one sample a second
/// (the collector reads health every 5 s; a replay at speed may feed faster).
pub const HEALTH_HISTORY_LEN: usize = 1024;
/// The shortest history kept, and the window a slot's WAL growth is measured over.
pub const SLOT_PACE_WINDOW_SECONDS: i64 = 600;
/// A slot's growth is judged only over at least this span: two samples a few seconds apart say
/// more about one `pg_switch_wal()` than about a pace.
pub const SLOT_PACE_MIN_SPAN_SECONDS: i64 = 60;
/// Health facts older than this are not judged (the member is stale or unreachable, which other
/// findings say); they stay for the views.
pub const HEALTH_STALE_AFTER_SECONDS: i64 = 30;

#[derive(Debug, Clone, PartialEq)]
pub struct MemberHealth {
    pub latest: Timed<HealthSample>,
    /// `pg_stat_archiver.failed_count` at each sample.
    pub failed_counts: VecDeque<Timed<i64>>,
    pub checkpoints: VecDeque<Timed<CheckpointCounters>>,
    /// Each slot's retained bytes at each sample, for the slots of the latest sample.
    pub slot_retained: BTreeMap<String, VecDeque<Timed<u64>>>,
}

impl State {
    pub(super) fn apply_health(&mut self, at: DateTime<Utc>, member: &str, sample: &HealthSample) {
        let window = Duration::seconds(self.health_window_seconds());
        let entry = self.health.entry(member.to_owned()).or_insert_with(|| MemberHealth {
            latest: Timed { at, value: sample.clone() },
            failed_counts: VecDeque::new(),
            checkpoints: VecDeque::new(),
            slot_retained: BTreeMap::new(),
        });
        entry.latest = Timed { at, value: sample.clone() };
        // A counter that went back was reset (statistics reset, a restored or rebuilt member):
        // what came before says nothing about the pace since.
        let failed = sample.archiver.failed_count;
        if entry.failed_counts.back().is_some_and(|last| last.value > failed) {
            entry.failed_counts.clear();
        }
        push_bounded(&mut entry.failed_counts, at, failed, window);
        if let Some(counters) = sample.checkpoints {
            let reset = entry
                .checkpoints
                .back()
                .is_some_and(|l| l.value.timed > counters.timed || l.value.requested > counters.requested);
            if reset {
                entry.checkpoints.clear();
            }
            push_bounded(&mut entry.checkpoints, at, counters, window);
        }
        entry.slot_retained.retain(|name, _| sample.slots.iter().any(|s| &s.name == name));
        for slot in &sample.slots {
            let history = entry.slot_retained.entry(slot.name.clone()).or_default();
            match slot.retained_bytes {
                Some(bytes) => push_bounded(history, at, bytes, window),
                None => history.clear(),
            }
        }
    }

    /// How far back the health history reaches: the checkpoint window, at least the slots'.
    fn health_window_seconds(&self) -> i64 {
        i64::try_from(self.thresholds.checkpoint_window_seconds).unwrap_or(i64::MAX).max(SLOT_PACE_WINDOW_SECONDS)
    }

    /// A member's health facts, when fresh enough to judge.
    pub fn fresh_health(&self, member: &str) -> Option<&MemberHealth> {
        let health = self.health.get(member)?;
        let now = self.now?;
        (now.signed_duration_since(health.latest.at) <= Duration::seconds(HEALTH_STALE_AFTER_SECONDS)).then_some(health)
    }
}

/// Appends, then lets go of what the window no longer needs: all but the newest sample at or
/// before the window's start (the baseline), and the oldest beyond the length limit.
fn push_bounded<T>(history: &mut VecDeque<Timed<T>>, at: DateTime<Utc>, value: T, window: Duration) {
    history.push_back(Timed { at, value });
    let start = at - window;
    while history.len() > 1 && history.get(1).is_some_and(|second| second.at <= start) {
        history.pop_front();
    }
    while history.len() > HEALTH_HISTORY_LEN {
        history.pop_front();
    }
}

/// The sample that opens a window of `seconds` ending at the newest: the newest at or before its
/// start. `None` while the history does not reach that far back.
pub fn baseline<T>(history: &VecDeque<Timed<T>>, seconds: i64) -> Option<&Timed<T>> {
    let newest = history.back()?;
    let start = newest.at - Duration::seconds(seconds);
    history.iter().rev().find(|s| s.at <= start)
}

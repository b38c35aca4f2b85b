//! The replay engine: recorded observations folded into a State at a chosen speed. Pure — the
//! loop tells it how much wall time passed — so it is tested without a terminal or a clock.
//! Time in the State is the recorded time (recorded Ticks included), never the wall's.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::observation::Observation;
use crate::spec::ThresholdsSpec;
use crate::state::{Event, EventKind, State};

pub const SPEEDS: [u32; 6] = [1, 2, 5, 10, 30, 60];

/// What the operator asked the replay to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    TogglePause,
    Faster,
    Slower,
    /// Apply exactly one more observation (pauses).
    Step,
    /// Jump to a recorded time, forwards or back (pauses).
    SeekTo(DateTime<Utc>),
    /// Play on to the next event of a kind, then pause there.
    SeekNext(SeekKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekKind {
    /// A leader change, a failover, a member changing role or leaving.
    RoleChange,
    Finding,
    Action,
}

impl SeekKind {
    pub fn matches(self, event: &Event) -> bool {
        match self {
            SeekKind::RoleChange => matches!(
                event.kind,
                // From nothing is the first listing, not a change.
                EventKind::LeaderChanged { from: Some(_), .. }
                    | EventKind::MemberLeft { .. }
                    | EventKind::RoleObserved { before: Some(_), .. }
            ),
            SeekKind::Finding => {
                matches!(
                    event.kind,
                    EventKind::FindingRaised { .. }
                        | EventKind::FindingCleared { .. }
                        | EventKind::FindingSeverityChanged { .. }
                )
            }
            SeekKind::Action => {
                matches!(
                    event.kind,
                    EventKind::ActionRequested { .. }
                        | EventKind::ActionFinished { .. }
                        | EventKind::ActionRefused { .. }
                )
            }
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            SeekKind::RoleChange => "role change",
            SeekKind::Finding => "finding",
            SeekKind::Action => "action",
        }
    }
}

/// What the replay bar shows: the Ui holds a copy, the views read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayStatus {
    pub file: String,
    /// Observations applied so far, of `total`.
    pub position: usize,
    pub total: usize,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// The recorded time the replay has reached.
    pub at: Option<DateTime<Utc>>,
    pub speed: u32,
    pub paused: bool,
    /// Lines of the file that were not observations.
    pub skipped: usize,
}

pub struct Replay {
    observations: Vec<Observation>,
    /// The next observation to apply.
    cursor: usize,
    /// Recorded time reached; observations at or before it have been applied.
    at: Option<DateTime<Utc>>,
    speed_index: usize,
    paused: bool,
    thresholds: ThresholdsSpec,
    file: String,
    skipped: usize,
}

impl Replay {
    pub fn new(file: String, observations: Vec<Observation>, thresholds: ThresholdsSpec, skipped: usize) -> Self {
        let at = observations.first().map(|o| o.at);
        Self { observations, cursor: 0, at, speed_index: 0, paused: false, thresholds, file, skipped }
    }

    /// A State with nothing applied yet, as the replay starts.
    pub fn fresh_state(&self) -> State {
        State::new(self.thresholds.clone())
    }

    /// Starts at `speed` (rounded down to a step, at least 1x).
    pub fn set_speed(&mut self, speed: u32) {
        self.speed_index = SPEEDS.iter().rposition(|s| *s <= speed).unwrap_or(0);
    }

    pub fn speed(&self) -> u32 {
        SPEEDS[self.speed_index]
    }

    pub fn finished(&self) -> bool {
        self.cursor >= self.observations.len()
    }

    pub fn paused(&self) -> bool {
        self.paused || self.finished()
    }

    pub fn status(&self) -> ReplayStatus {
        ReplayStatus {
            file: self.file.clone(),
            position: self.cursor,
            total: self.observations.len(),
            start: self.observations.first().map(|o| o.at),
            end: self.observations.last().map(|o| o.at),
            at: self.at,
            speed: self.speed(),
            paused: self.paused(),
            skipped: self.skipped,
        }
    }

    /// `wall` time passed while playing: move the recorded clock on by `wall` x speed and apply
    /// what fell due. Returns whether anything changed.
    pub fn advance(&mut self, wall: Duration, state: &mut State) -> bool {
        if self.paused() {
            return false;
        }
        let Some(at) = self.at else { return false };
        let recorded = chrono::Duration::from_std(wall * self.speed()).unwrap_or(chrono::Duration::MAX);
        let until = at.checked_add_signed(recorded).unwrap_or(at);
        self.apply_until(until, state);
        true
    }

    /// Wall time until the next observation falls due at this speed (`None` when paused or done).
    pub fn next_due(&self) -> Option<Duration> {
        if self.paused() {
            return None;
        }
        let next = self.observations.get(self.cursor)?;
        let gap = next.at.signed_duration_since(self.at?).to_std().unwrap_or(Duration::ZERO);
        Some(gap / self.speed())
    }

    pub fn control(&mut self, control: Control, state: &mut State) {
        match control {
            Control::TogglePause => self.paused = !self.paused,
            Control::Faster => self.speed_index = (self.speed_index + 1).min(SPEEDS.len() - 1),
            Control::Slower => self.speed_index = self.speed_index.saturating_sub(1),
            Control::Step => {
                self.paused = true;
                self.apply_one(state);
            }
            Control::SeekTo(target) => {
                self.paused = true;
                if self.at.is_some_and(|at| target < at) {
                    // The State only moves forward: going back is replaying from the start.
                    *state = self.fresh_state();
                    self.cursor = 0;
                }
                self.apply_until(target, state);
            }
            Control::SeekNext(kind) => {
                self.paused = true;
                while !self.finished() {
                    let before = state.events.back().cloned();
                    self.apply_one(state);
                    let new = state.events.iter().rev().take_while(|e| Some(*e) != before.as_ref());
                    if new.into_iter().any(|e| kind.matches(e)) {
                        break;
                    }
                }
            }
        }
    }

    /// Everything to the end, as fast as it folds (headless replays, reports).
    pub fn run_to_end(&mut self, state: &mut State) {
        while !self.finished() {
            self.apply_one(state);
        }
    }

    fn apply_until(&mut self, until: DateTime<Utc>, state: &mut State) {
        while self.observations.get(self.cursor).is_some_and(|o| o.at <= until) {
            self.apply_one(state);
        }
        // The clock stops at the last observation rather than running on past the end.
        let end = self.observations.last().map(|o| o.at);
        self.at = Some(if self.finished() { end.unwrap_or(until) } else { until });
    }

    fn apply_one(&mut self, state: &mut State) {
        if let Some(observation) = self.observations.get(self.cursor) {
            state.apply(observation);
            self.at = Some(self.at.map_or(observation.at, |at| at.max(observation.at)));
            self.cursor += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::Role;
    use crate::observation::ObservationKind;
    use crate::testing::report;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_764_093_600 + s, 0).single().unwrap()
    }

    /// m1 leads for 10 s, then m2; a Tick every second.
    fn recording() -> Vec<Observation> {
        let mut out = Vec::new();
        for s in 0..20 {
            let leader = if s < 10 { "m1" } else { "m2" };
            let other = if s < 10 { "m2" } else { "m1" };
            let members = vec![report(leader, Role::Primary, 1), report(other, Role::Replica, 2)];
            out.push(Observation::new(at(s), "patroni".into(), ObservationKind::MembersListed { members }));
            out.push(Observation::new(at(s), "clock".into(), ObservationKind::Tick));
        }
        out
    }

    #[test]
    fn playing_applies_what_falls_due_at_the_chosen_speed() {
        let mut replay = Replay::new("r".into(), recording(), ThresholdsSpec::default(), 0);
        let mut state = replay.fresh_state();
        replay.set_speed(5);
        assert_eq!(replay.speed(), 5);
        replay.advance(Duration::from_secs(1), &mut state);
        assert_eq!(state.now, Some(at(5)));
        assert_eq!(state.leader_name(), Some("m1"));
        replay.control(Control::TogglePause, &mut state);
        assert!(!replay.advance(Duration::from_secs(10), &mut state));
        replay.control(Control::TogglePause, &mut state);
        replay.advance(Duration::from_secs(10), &mut state);
        assert!(replay.finished() && replay.paused());
        assert_eq!(state.leader_name(), Some("m2"));
        assert_eq!(replay.status().at, Some(at(19)));
    }

    #[test]
    fn seeking_finds_the_role_change_and_goes_back_in_time() {
        let mut replay = Replay::new("r".into(), recording(), ThresholdsSpec::default(), 0);
        let mut state = replay.fresh_state();
        replay.control(Control::SeekNext(SeekKind::RoleChange), &mut state);
        // The first listing makes both members known; that is not a change of role.
        assert_eq!(replay.status().at, Some(at(10)));
        assert_eq!(state.leader_name(), Some("m2"));
        replay.control(Control::SeekTo(at(3)), &mut state);
        assert_eq!((state.leader_name(), state.now), (Some("m1"), Some(at(3))));
        replay.control(Control::Step, &mut state);
        assert_eq!(state.now, Some(at(4)));
        replay.control(Control::SeekNext(SeekKind::Action), &mut state);
        assert!(replay.finished());
        for _ in 0..10 {
            replay.control(Control::Faster, &mut state);
        }
        assert_eq!(replay.speed(), 60);
    }
}

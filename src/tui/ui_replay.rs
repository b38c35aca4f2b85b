//! The Ui's side of a replay: replay keys become `Effect::Replay`, `:seek` reads a time. Outside
//! a replay these keys only say so.

use chrono::{DateTime, NaiveTime, Utc};

use super::{Effect, Input, InputKind, Message, Tone, Ui};
use crate::command::Command;
use crate::record::replay::{Control, SeekKind};

const SEEK_SYNTAX: &str = "seek to HH:MM[:SS] (UTC), +30s / -5m / +1h from here, start, end, or an RFC 3339 time";

impl Ui {
    pub(super) fn replay_command(&mut self, command: Command) -> Vec<Effect> {
        if self.replay.is_none() {
            self.message =
                Some(Message { text: format!("`{command}` works in a replay: pgdeck replay FILE"), tone: Tone::Error });
            return Vec::new();
        }
        let control = match command {
            Command::ReplayPause => Control::TogglePause,
            Command::ReplayFaster => Control::Faster,
            Command::ReplaySlower => Control::Slower,
            Command::ReplayStep => Control::Step,
            Command::ReplayNextRoleChange => Control::SeekNext(SeekKind::RoleChange),
            Command::ReplayNextFinding => Control::SeekNext(SeekKind::Finding),
            Command::ReplayNextAction => Control::SeekNext(SeekKind::Action),
            _ => {
                self.input = Some(Input { kind: InputKind::CommandLine, text: "seek ".into() });
                return Vec::new();
            }
        };
        vec![Effect::Replay(control)]
    }

    /// `:seek <when>`.
    pub(super) fn seek_line(&mut self, when: &str) -> Vec<Effect> {
        let Some(replay) = &self.replay else {
            self.message =
                Some(Message { text: "`seek` works in a replay: pgdeck replay FILE".into(), tone: Tone::Error });
            return Vec::new();
        };
        if let Some(target) = seek_target(when, replay.at, replay.start, replay.end) {
            return vec![Effect::Replay(Control::SeekTo(target))];
        }
        self.message = Some(Message { text: format!("cannot seek to `{when}`: {SEEK_SYNTAX}"), tone: Tone::Error });
        Vec::new()
    }
}

/// A recorded time from what was typed, relative to the replay's position and span.
pub fn seek_target(
    when: &str,
    at: Option<DateTime<Utc>>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let when = when.trim();
    match when {
        "start" | "begin" => return start,
        "end" => return end,
        _ => {}
    }
    if let Ok(exact) = DateTime::parse_from_rfc3339(when) {
        return Some(exact.with_timezone(&Utc));
    }
    if let Some(sign) = when.chars().next().filter(|c| *c == '+' || *c == '-') {
        let offset = crate::tui::ui::parse_interval(&when[1..]).or_else(|| parse_long(&when[1..]))?;
        let offset = chrono::Duration::from_std(offset).ok()?;
        let at = at?;
        return if sign == '+' { at.checked_add_signed(offset) } else { at.checked_sub_signed(offset) };
    }
    let time =
        NaiveTime::parse_from_str(when, "%H:%M:%S").or_else(|_| NaiveTime::parse_from_str(when, "%H:%M")).ok()?;
    Some(at.or(start)?.date_naive().and_time(time).and_utc())
}

/// Offsets longer than the refresh interval's bounds: `90m`, `2h`.
fn parse_long(text: &str) -> Option<std::time::Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = number.parse().ok()?;
    match unit {
        "s" => Some(std::time::Duration::from_secs(n)),
        "m" => Some(std::time::Duration::from_secs(n * 60)),
        "h" => Some(std::time::Duration::from_secs(n * 3600)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn seek_reads_clock_times_offsets_and_ends() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 18, 30, 0).single();
        let start = Utc.with_ymd_and_hms(2026, 11, 25, 18, 0, 0).single();
        let end = Utc.with_ymd_and_hms(2026, 11, 25, 19, 0, 0).single();
        let t = |s: &str| seek_target(s, at, start, end).map(|t| t.format("%H:%M:%S").to_string());
        assert_eq!(t("18:42:10").as_deref(), Some("18:42:10"));
        assert_eq!(t("18:05").as_deref(), Some("18:05:00"));
        assert_eq!(t("+30s").as_deref(), Some("18:30:30"));
        assert_eq!(t("-2h").as_deref(), Some("16:30:00"));
        assert_eq!(t("start").as_deref(), Some("18:00:00"));
        assert_eq!(t("2026-11-25T18:10:00Z").as_deref(), Some("18:10:00"));
        assert_eq!(t("soon"), None);
    }
}

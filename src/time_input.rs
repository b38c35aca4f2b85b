//! A time as an operator types it, for a restore's recovery target: one parser for the command
//! line (`pgdeck restore --target-time`) and the console's restore form alike.

use chrono::{DateTime, NaiveDateTime, Utc};

/// The forms a time may be typed in, for help texts and errors.
pub const TIME_FORMS: &str =
    "2026-11-25 14:30:00 (a time without a zone is UTC) or RFC 3339 with its zone, such as 2026-11-25T15:30:00+01:00";

/// A typed time, in UTC, and whether UTC was assumed because it was typed without a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypedTime {
    pub at: DateTime<Utc>,
    pub utc_assumed: bool,
}

/// `2026-11-25 14:30:00` (or with `T`, fractions of a second, or without the seconds) in UTC;
/// with `Z`, ` UTC` or an offset such as `+01:00` (RFC 3339), in that zone.
pub fn parse_time(text: &str) -> Result<TypedTime, String> {
    let text = text.trim();
    let zoned = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f %:z"));
    if let Ok(at) = zoned {
        return Ok(TypedTime { at: at.with_timezone(&Utc), utc_assumed: false });
    }
    let (plain, utc_assumed) = match text.strip_suffix('Z').or_else(|| text.strip_suffix(" UTC")) {
        Some(plain) => (plain.trim_end(), false),
        None => (text, true),
    };
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(plain, format).ok())
        .map(|naive| TypedTime { at: naive.and_utc(), utc_assumed })
        .ok_or_else(|| format!("`{text}` is not a time: write it as {TIME_FORMS}"))
}

/// As [`parse_time`], where nothing typed means no time.
pub fn parse_optional_time(text: &str) -> Result<Option<TypedTime>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        parse_time(text).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> String {
        parse_time(text).unwrap().at.to_rfc3339()
    }

    #[test]
    fn a_time_without_a_zone_is_utc_and_says_so() {
        for text in ["2026-12-05 01:33:20", "2026-12-05T01:33:20", " 2026-12-05 01:33:20 "] {
            assert_eq!(
                parse_time(text).unwrap(),
                TypedTime { at: parse_time("2026-12-05T01:33:20Z").unwrap().at, utc_assumed: true },
                "{text}"
            );
        }
        assert_eq!(utc("2026-12-05 01:33"), "2026-12-05T01:33:00+00:00");
        assert_eq!(utc("2026-11-25 17:00:00.25"), "2026-11-25T17:00:00.250+00:00");
    }

    #[test]
    fn a_time_with_its_zone_is_taken_in_that_zone() {
        for text in [
            "2026-11-25T18:00:00+01:00",
            "2026-11-25 18:00:00+01:00",
            "2026-11-25 18:00:00 +01:00",
            "2026-11-25T17:00:00Z",
        ] {
            let typed = parse_time(text).unwrap();
            assert_eq!(
                (typed.at.to_rfc3339().as_str(), typed.utc_assumed),
                ("2026-11-25T17:00:00+00:00", false),
                "{text}"
            );
        }
        assert!(!parse_time("2026-11-25 17:00:00 UTC").unwrap().utc_assumed);
        assert_eq!(utc("2026-11-25T17:00:00.25Z"), "2026-11-25T17:00:00.250+00:00");
    }

    #[test]
    fn anything_else_says_how_to_write_it() {
        for text in ["yesterday", "2026-13-01 00:00:00", "25/11/2026 17:00", ""] {
            let e = parse_time(text).unwrap_err();
            assert!(e.contains("2026-11-25 14:30:00") && e.contains("without a zone is UTC"), "{e}");
        }
        assert_eq!(parse_optional_time("  ").unwrap(), None);
        assert!(parse_optional_time("2026-11-25 14:30:00").unwrap().unwrap().utc_assumed);
    }
}

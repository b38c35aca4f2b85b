//! Bounded fuzzing (proptest) of every file pgdeck reads from the operator: the spec, keymaps,
//! themes and recordings. Whatever the bytes, parsing never panics, and a refusal names the file
//! it refused (and, for a recording, the line). Inputs are valid files with random damage (lines
//! cut, dropped, duplicated, swapped, characters replaced, bits flipped, numbers made huge),
//! which reaches far deeper into the parsers than random text alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use pgdeck::action::{Action, ActionOutcome, ActionRequest, BackupKind};
use pgdeck::model::{
    Backend, BackupCatalog, BackupReport, BackupStatus, Lsn, MemberReport, MemberSample, ReplicationRow, Role,
    StatementRow,
};
use pgdeck::observation::{Observation, ObservationKind};
use pgdeck::record::command::{headless, Pace};
use pgdeck::record::{report, Header, Recorder};
use pgdeck::spec::ClusterSpec;
use pgdeck::spec::ThresholdsSpec;
use pgdeck::tui::keymap::Keymap;
use pgdeck::tui::theme::Theme;
use proptest::prelude::*;

const SPEC: &str = "name = \"orders\"\ninstances = 3\n[postgresql.parameters]\nwork_mem = \"16MB\"\n[backup]\nschedule = \"0 0 2 * * *\"\nretention = \"30d\"\ndestination_path = \"s3://pg-backups/orders\"\ns3_credentials = \"postgres/backup-s3\"\n[secrets]\nuser_pattern = \"postgres/{user}-credentials\"\n";
const KEYMAP: &str = include_str!("../keymaps/default.toml");
const VIM: &str = include_str!("../keymaps/vim.toml");
const THEME: &str = include_str!("../themes/default.toml");
const HIGH_CONTRAST: &str = include_str!("../themes/high-contrast.toml");

#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    DropLine(usize),
    DuplicateLine(usize),
    Replace(usize, char),
    Insert(usize, String),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        any::<usize>().prop_map(Damage::DropLine),
        any::<usize>().prop_map(Damage::DuplicateLine),
        (any::<usize>(), prop_oneof![Just('"'), Just('['), Just(']'), Just('='), Just('\n'), any::<char>()])
            .prop_map(|(at, c)| Damage::Replace(at, c)),
        (any::<usize>(), "\\PC{0,12}").prop_map(|(at, s)| Damage::Insert(at, s)),
    ]
}

fn apply(text: &str, damages: &[Damage]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for d in damages {
        let len = chars.len().max(1);
        match d {
            Damage::Truncate(at) => chars.truncate(at % len),
            Damage::Replace(at, c) if !chars.is_empty() => chars[at % len] = *c,
            Damage::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Damage::DropLine(n) | Damage::DuplicateLine(n) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = n % lines.len();
                    if matches!(d, Damage::DropLine(_)) {
                        lines.remove(i);
                    } else {
                        lines.insert(i, lines[i]);
                    }
                }
                chars = lines.join("\n").chars().collect();
            }
            Damage::Replace(..) => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_spec_is_parsed_or_refused_with_its_file(damages in proptest::collection::vec(damage(), 1..6)) {
        let text = apply(SPEC, &damages);
        if let Err(e) = ClusterSpec::from_toml(&text, "spec.toml") {
            prop_assert!(e.to_string().contains("spec.toml"), "{e}");
        }
    }

    #[test]
    fn a_damaged_keymap_is_parsed_or_refused_with_its_file(
        damages in proptest::collection::vec(damage(), 1..6),
        vim in any::<bool>(),
    ) {
        let text = apply(if vim { VIM } else { KEYMAP }, &damages);
        if let Err(e) = Keymap::from_toml(&text, "keymap.toml") {
            prop_assert!(e.to_string().starts_with("keymap.toml"), "{e}");
        }
        if let Err(e) = Keymap::default().patched(&text, "user-keymap.toml") {
            prop_assert!(e.to_string().starts_with("user-keymap.toml"), "{e}");
        }
    }

    #[test]
    fn a_damaged_theme_is_parsed_or_refused_with_its_file(
        damages in proptest::collection::vec(damage(), 1..6),
        contrast in any::<bool>(),
    ) {
        let text = apply(if contrast { HIGH_CONTRAST } else { THEME }, &damages);
        if let Err(e) = Theme::from_toml(&text, "theme.toml") {
            prop_assert!(e.to_string().starts_with("theme.toml"), "{e}");
        }
    }

    #[test]
    fn random_text_never_panics_any_parser(text in "\\PC{0,400}") {
        let _ = ClusterSpec::from_toml(&text, "spec.toml");
        let _ = Keymap::from_toml(&text, "keymap.toml");
        let _ = Theme::from_toml(&text, "theme.toml");
    }
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap() + chrono::Duration::seconds(s)
}

fn member(name: &str, role: Role) -> MemberReport {
    MemberReport {
        name: name.into(),
        role,
        state: "running".into(),
        host: "127.0.0.1".into(),
        port: 5432,
        api_url: Some(format!("http://127.0.0.1:8008/{name}")),
        timeline: Some(1),
        manager_lag_bytes: Some(0),
        sync_standby: false,
        pending_restart: false,
    }
}

fn sample(primary: bool, lsn: u64) -> MemberSample {
    let replica = |name: &str| ReplicationRow {
        application_name: name.into(),
        state: "streaming".into(),
        sync_state: "async".into(),
        sent_lsn: Some(Lsn(lsn)),
        write_lsn: Some(Lsn(lsn)),
        flush_lsn: Some(Lsn(lsn.saturating_sub(100))),
        replay_lsn: Some(Lsn(lsn.saturating_sub(4096))),
        write_lag_seconds: Some(0.001),
        flush_lag_seconds: Some(0.002),
        replay_lag_seconds: Some(0.5),
        slot_name: Some(name.into()),
    };
    MemberSample {
        server_version: "16.2".into(),
        in_recovery: !primary,
        current_lsn: primary.then_some(Lsn(lsn)),
        receive_lsn: (!primary).then_some(Lsn(lsn)),
        replay_lsn: (!primary).then_some(Lsn(lsn.saturating_sub(4096))),
        replay_paused: false,
        replay_delay_seconds: (!primary).then_some(0.5),
        receiver_status: (!primary).then(|| "streaming".into()),
        connections: 12,
        max_connections: 200,
        database_bytes: 7_654_321,
        wal_bytes: 16_777_216,
        replication: if primary { vec![replica("m2"), replica("m3")] } else { vec![] },
    }
}

fn statement(queryid: i64, calls: i64) -> StatementRow {
    StatementRow {
        queryid,
        user: Some("app".into()),
        database: Some("app".into()),
        query: format!("SELECT * FROM orders WHERE id = $1 -- {queryid}"),
        calls,
        total_exec_ms: 1.5 * calls as f64,
        rows: calls,
        shared_blks_hit: 10 * calls,
        shared_blks_read: calls,
    }
}

/// Eight seconds of a 3-member cluster, written by the real Recorder: so every form of line is
/// in it (full observations, repeats, workload deltas), with a backup asked for and finished.
fn recording_text(dir: &Path) -> Vec<u8> {
    let file = dir.join("base.jsonl");
    let header = Header::new("local", "patroni http://127.0.0.1:8008", t(0), 1000, ThresholdsSpec::default());
    let recorder = Recorder::create(&file, &header).unwrap();
    let obs = |s, source: &str, kind| Observation::new(t(s), source.into(), kind);
    let request = ActionRequest {
        id: 1,
        action: Action::Backup { kind: BackupKind::Full },
        requested_at: t(2),
        requested_by: "sre".into(),
        confirmation: None,
    };
    let backup = |id: &str, status| BackupReport {
        id: id.into(),
        kind: "full".into(),
        method: "pgbackrest".into(),
        status,
        started_at: Some(t(-3600)),
        stopped_at: Some(t(-3500)),
        size_bytes: Some(1 << 24),
        repository_bytes: Some(1 << 22),
        wal_start: Some("000000010000000000000003".into()),
        wal_stop: Some("000000010000000000000004".into()),
        error: None,
    };
    let mut all = vec![obs(
        0,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: vec!["m1".into(), "m2".into(), "m3".into()],
        },
    )];
    for s in 0..8 {
        let leader = if s < 5 { "m1" } else { "m2" };
        let members =
            ["m1", "m2", "m3"].iter().map(|m| member(m, if *m == leader { Role::Primary } else { Role::Replica }));
        all.push(obs(s, "patroni", ObservationKind::MembersListed { members: members.collect() }));
        let lsn = 50_000_000 + 10_000 * u64::try_from(s).unwrap();
        for m in ["m1", "m2", "m3"] {
            let kind = ObservationKind::MemberSampled { member: m.into(), sample: sample(m == leader, lsn) };
            all.push(obs(s, &format!("sql:{m}"), kind));
        }
        let backends = vec![Backend {
            pid: 4242,
            user: Some("app".into()),
            database: Some("app".into()),
            application: Some("psql".into()),
            client: Some("127.0.0.1".into()),
            state: Some("active".into()),
            wait_event_type: Some("Lock".into()),
            wait_event: Some("relation".into()),
            running_seconds: Some(1.25),
            query: Some("UPDATE orders SET x = 1".into()),
            blocked_by: vec![4243],
        }];
        let statements = vec![statement(1, 10 + s), statement(2, 20), statement(3, 30 + 2 * s)];
        all.push(obs(s, "sql:m1", ObservationKind::WorkloadSampled { member: "m1".into(), backends, statements }));
        let mut backups = vec![backup("20261125-020000F", BackupStatus::Completed)];
        if (2..4).contains(&s) {
            backups.push(backup("running", BackupStatus::Running));
        }
        let catalog = BackupCatalog { backups, schedule: Some("0 0 2 * * *".into()), ..BackupCatalog::default() };
        all.push(obs(s, "pgbackrest", ObservationKind::BackupsListed { catalog }));
        match s {
            2 => all.push(obs(s, "dispatcher", ObservationKind::ActionRequested { request: request.clone() })),
            3 => all.push(obs(s, "pooler", ObservationKind::failed(None, "refused".into()))),
            4 => {
                let outcome = ActionOutcome::Succeeded { detail: "full backup completed".into() };
                let request = request.clone();
                all.push(obs(s, "dispatcher", ObservationKind::ActionFinished { request, outcome }));
            }
            _ => {}
        }
        all.push(obs(s, "clock", ObservationKind::Tick));
    }
    for observation in &all {
        recorder.record(observation);
    }
    drop(recorder);
    std::fs::read(&file).unwrap()
}

/// Damage to a recording, byte by byte: a recording is often cut by a kill, or copied badly.
#[derive(Debug, Clone)]
enum Harm {
    Truncate(usize),
    FlipBit(usize, u8),
    DropLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    /// The n-th run of digits becomes a number no field can hold.
    HugeNumber(usize, &'static str),
    /// The header's schema version becomes this text.
    Version(&'static str),
    InvalidUtf8(usize),
    Insert(usize, String),
}

fn harm() -> impl Strategy<Value = Harm> {
    let huge = prop_oneof![
        Just("18446744073709551616"),
        Just("-9223372036854775809"),
        Just("99999999999999999999999999999999"),
        Just("1e308"),
        Just("-1"),
        Just("0"),
        Just("4294967296"),
        Just("262143"),
    ];
    let version =
        prop_oneof![Just("0"), Just("3"), Just("-1"), Just("1.5"), Just("\"2\""), Just("null"), Just("99999999999")];
    prop_oneof![
        any::<usize>().prop_map(Harm::Truncate),
        (any::<usize>(), 0..8u8).prop_map(|(at, bit)| Harm::FlipBit(at, bit)),
        any::<usize>().prop_map(Harm::DropLine),
        any::<usize>().prop_map(Harm::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Harm::SwapLines(a, b)),
        (any::<usize>(), huge).prop_map(|(n, h)| Harm::HugeNumber(n, h)),
        version.prop_map(Harm::Version),
        any::<usize>().prop_map(Harm::InvalidUtf8),
        (any::<usize>(), prop_oneof![Just("\n".to_owned()), Just("{".to_owned()), Just("\"".to_owned()), "\\PC{0,8}"])
            .prop_map(|(at, s)| Harm::Insert(at, s)),
    ]
}

fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn harmed(base: &[u8], harms: &[Harm]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for h in harms {
        let len = bytes.len().max(1);
        match h {
            Harm::Truncate(at) => bytes.truncate(at % len),
            Harm::FlipBit(at, bit) => {
                if !bytes.is_empty() {
                    bytes[at % len] ^= 1 << bit;
                }
            }
            Harm::InvalidUtf8(at) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, [0xff, 0xfe, 0xc3]);
            }
            Harm::Insert(at, text) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, text.bytes());
            }
            Harm::DropLine(n) | Harm::DuplicateLine(n) | Harm::SwapLines(n, _) => {
                let mut lines = lines_of(&bytes);
                let i = n % lines.len();
                match h {
                    Harm::DropLine(_) => {
                        lines.remove(i);
                    }
                    Harm::DuplicateLine(_) => lines.insert(i, lines[i].clone()),
                    Harm::SwapLines(_, m) => {
                        let j = m % lines.len();
                        lines.swap(i, j);
                    }
                    _ => unreachable!(),
                }
                bytes = lines.join(&b'\n');
            }
            Harm::HugeNumber(n, huge) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let runs: Vec<(usize, usize)> = digit_runs(&text);
                if !runs.is_empty() {
                    let (start, end) = runs[n % runs.len()];
                    bytes = format!("{}{huge}{}", &text[..start], &text[end..]).into_bytes();
                }
            }
            Harm::Version(v) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let re = "\"schema_version\":";
                if let Some(at) = text.find(re) {
                    let start = at + re.len();
                    let end = start + text[start..].find([',', '}']).unwrap_or(0);
                    bytes = format!("{}{v}{}", &text[..start], &text[end..]).into_bytes();
                }
            }
        }
    }
    bytes
}

/// Byte ranges of the runs of ASCII digits in `text`.
fn digit_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        runs.push((s, text.len()));
    }
    runs
}

/// Reads `file` as `pgdeck replay --headless --dump-state` and `pgdeck report` do: an error
/// names the file and the line; a skipped line names both too; what was read replays to the end.
fn read_replay_and_report(file: &Path, lines: usize) -> Result<(), TestCaseError> {
    let name = file.display().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut dumped = Vec::new();
    let replayed = runtime.block_on(headless(file, Pace::Unpaced, true, &mut dumped));
    match pgdeck::record::read(file) {
        Err(e) => {
            let e = format!("{e:#}");
            let located = e.starts_with(&format!("{name}:"))
                && e[name.len() + 1..].split(':').next().is_some_and(|n| n.parse::<usize>().is_ok_and(|n| n >= 1));
            prop_assert!(
                located
                    || e == format!("{name} is empty: it is not a pgdeck recording (its first line would be a header)"),
                "{e}"
            );
            prop_assert!(replayed.is_err(), "the replay read what the reader refused");
        }
        Ok(recording) => {
            for skipped in &recording.skipped {
                prop_assert_eq!(&skipped.file, &name);
                prop_assert!(skipped.line >= 2 && skipped.line <= lines, "{skipped} of {lines} lines");
                prop_assert!(skipped.to_string().starts_with(&format!("{name}:{}: ", skipped.line)), "{skipped}");
            }
            prop_assert!(replayed.is_ok(), "{replayed:?}");
            let dump: serde_json::Value = serde_json::from_slice(&dumped).unwrap();
            prop_assert_eq!(&dump["replayed"], &dump["observations"]);
            prop_assert_eq!(dump["skipped"].as_array().map(Vec::len), Some(recording.skipped.len()));
            let built = report::build(&recording, &name);
            let _ = report::markdown(&built);
            serde_json::to_string(&built).unwrap();
        }
    }
    Ok(())
}

#[test]
fn the_undamaged_base_recording_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let base = recording_text(dir.path());
    let text = String::from_utf8(base.clone()).unwrap();
    // Every form of line is there to be damaged: repeats and workload deltas too.
    assert!(text.contains("\"repeat\":") && text.contains("\"workload\":") && text.contains("\"same\":"), "{text}");
    let recording = pgdeck::record::read(&dir.path().join("base.jsonl")).unwrap();
    assert!(recording.skipped.is_empty(), "{:?}", recording.skipped);
    assert!(recording.observations.len() > 50, "{}", recording.observations.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_recording_is_replayed_or_refused_with_its_file_and_line(harms in proptest::collection::vec(harm(), 1..5)) {
        let dir = tempfile::tempdir().unwrap();
        let bytes = harmed(&recording_text(dir.path()), &harms);
        let file = dir.path().join("damaged.jsonl");
        std::fs::write(&file, &bytes).unwrap();
        read_replay_and_report(&file, lines_of(&bytes).len())?;
    }
}

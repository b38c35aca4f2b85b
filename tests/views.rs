//! Snapshot tests of every view and dialog at 80x24 and 160x48, from fixed States, plus the
//! colour cues that matter and a grid of terminal sizes that must never panic.

#![allow(clippy::unwrap_used)]

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use pgdeck::action::{Action, BackupKind};
use pgdeck::command::{Command, ViewId};
use pgdeck::record::replay::ReplayStatus;
use pgdeck::state::State;
use pgdeck::tui::keymap::{Keymap, KeymapBase};
use pgdeck::tui::theme::{Role, Theme};
use pgdeck::tui::ui::Ui;
use pgdeck::tui::views;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use support::fixtures;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn draw(state: &State, ui: &Ui, width: u16, height: u16) -> Buffer {
    draw_with(&Keymap::builtin(KeymapBase::Default), state, ui, width, height)
}

fn draw_with(keymap: &Keymap, state: &State, ui: &Ui, width: u16, height: u16) -> Buffer {
    let theme = Theme::builtin("default").unwrap();
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| views::render(frame, state, ui, &theme, keymap)).unwrap();
    terminal.backend().buffer().clone()
}

fn text_of(buffer: &Buffer) -> String {
    let area = buffer.area;
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn snapshot(view: &str, case: &str, state: &State, ui: &Ui) {
    snapshot_at(&SIZES, view, case, state, ui);
}

fn snapshot_at(sizes: &[(u16, u16)], view: &str, case: &str, state: &State, ui: &Ui) {
    for &(w, h) in sizes {
        let text = text_of(&draw(state, ui, w, h));
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("{view}__{case}__{w}x{h}"), text);
        });
    }
}

fn ui_on(view: ViewId) -> Ui {
    let mut ui = Ui::new(false, Duration::from_secs(1));
    ui.view = view;
    ui
}

#[test]
fn every_view_healthy_and_degraded() {
    for view in ViewId::CYCLE.into_iter().chain([ViewId::Help]) {
        snapshot(view.name(), "healthy", &fixtures::healthy(), &ui_on(view));
        if view != ViewId::Help {
            snapshot(view.name(), "degraded", &fixtures::degraded(), &ui_on(view));
        }
    }
}

#[test]
fn top_queries_sorted_by_calls_and_activity_by_running_time() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Statements);
    ui.update(&state, Command::SortNext);
    snapshot("statements", "by_calls", &state, &ui);
    let mut ui = ui_on(ViewId::Activity);
    ui.update(&state, Command::SortNext);
    ui.update(&state, Command::SortReverse);
    snapshot("activity", "by_running_ascending", &state, &ui);
}

#[test]
fn overview_with_each_health_finding() {
    for code in support::incidents::CODES {
        let state = support::incidents::incident(code);
        let codes: Vec<&str> = state.findings().iter().map(|f| f.code).collect();
        assert_eq!(codes, [code], "the fixture raises {code} alone");
        snapshot("overview", code, &state, &ui_on(ViewId::Overview));
    }
}

#[test]
fn first_frame_before_any_source_answered() {
    snapshot("overview", "waiting", &fixtures::empty(), &ui_on(ViewId::Overview));
}

#[test]
fn read_only_help_and_footer_show_no_mutating_key() {
    let mut ui = Ui::new(true, Duration::from_secs(1));
    ui.view = ViewId::Help;
    snapshot("help", "read_only", &fixtures::healthy(), &ui);
    let keymap = Keymap::builtin(KeymapBase::Default);
    let normal = keymap.bindings(pgdeck::tui::keymap::KeyContext::Normal);
    for read_only in [false, true] {
        for view in [ViewId::Help, ViewId::Overview] {
            let mut ui = Ui::new(read_only, Duration::from_secs(1));
            ui.view = view;
            let text = text_of(&draw(&fixtures::healthy(), &ui, 160, 48));
            for command in [Command::Switchover, Command::Failover, Command::Backup] {
                let binding = normal.iter().find(|b| b.command == command).unwrap();
                let key = &binding.keys[0];
                // Help lists `key  desc`; the footer lists ` key desc `.
                let shown = text.contains(&format!("{key:<18}{}", binding.desc))
                    || text.contains(&format!(" {key} {} ", binding.desc));
                assert_eq!(shown, !read_only, "{command:?} in {view:?}, read_only={read_only}:\n{text}");
            }
        }
    }
}

#[test]
fn switchover_dialog_asks_for_the_member_name() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Overview);
    ui.update(&state, Command::Down);
    let action = Action::Switchover { candidate: Some("postgres-cluster-2".into()) };
    let preview = "POST http://127.0.0.1:8432/switchover\n{\"candidate\":\"postgres-cluster-2\",\"leader\":\"postgres-cluster-1\"}".to_owned();
    ui.open_confirmation(&state, action, preview);
    ui.type_char('p');
    snapshot("confirm", "switchover", &state, &ui);
}

#[test]
fn backup_dialog_confirms_with_enter() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Backups);
    let preview = "pgbackrest --stanza=postgres-cluster --type=full backup".to_owned();
    ui.open_confirmation(&state, Action::Backup { kind: BackupKind::Full }, preview);
    snapshot("confirm", "backup", &state, &ui);
}

fn type_text(ui: &mut Ui, text: &str) {
    for c in text.chars() {
        ui.type_char(c);
    }
}

#[test]
fn create_database_form_shows_each_problem_under_its_field() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Databases);
    ui.update(&state, Command::CreateDatabase);
    type_text(&mut ui, "Orders");
    ui.update(&state, Command::NextField);
    type_text(&mut ui, "k");
    snapshot("form", "create_database_invalid", &state, &ui);
}

#[test]
fn create_user_form_filled_in() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Databases);
    ui.update(&state, Command::CreateUser);
    type_text(&mut ui, "alice");
    snapshot("form", "create_user_valid", &state, &ui);
}

#[test]
fn restore_form_refuses_the_running_clusters_name_and_a_time_before_the_backup() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Backups);
    ui.update(&state, Command::Restore);
    type_text(&mut ui, "postgres-cluster");
    ui.update(&state, Command::NextField);
    type_text(&mut ui, "2026-11-24 23:00:00");
    snapshot("form", "restore_invalid", &state, &ui);
}

#[test]
fn rotate_password_form_lists_the_logins_to_choose_from() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Databases);
    ui.update(&state, Command::RotatePassword);
    type_text(&mut ui, "k");
    snapshot("form", "rotate_password", &state, &ui);
}

/// A CNPG cluster mid-switchover: the operator's phase and ready count in the header (and
/// its finding), and the Kubernetes Events about the cluster in Events, warnings marked.
#[test]
fn the_operators_phase_and_kubernetes_events_are_shown() {
    use pgdeck::model::{ClusterPhase, ConditionReport, PlatformEvent};
    use pgdeck::observation::{Observation, ObservationKind};
    let mut state = fixtures::healthy();
    let phase = ClusterPhase {
        phase: "Switchover in progress".into(),
        reason: Some("Switching over to postgres-cluster-2".into()),
        instances: Some(3),
        ready_instances: Some(2),
        conditions: vec![ConditionReport {
            kind: "Ready".into(),
            status: "False".into(),
            reason: Some("ClusterIsNotReady".into()),
            message: None,
        }],
    };
    let event = |id: &str, seconds: i64, warning: bool, object: &str, reason: &str, message: &str| PlatformEvent {
        id: id.into(),
        count: 1,
        at: fixtures::t(seconds),
        warning,
        reason: reason.into(),
        object: object.into(),
        message: message.into(),
    };
    let events = vec![
        event("a", -50, false, "Cluster/postgres-cluster", "SwitchoverRequested", "Switchover to postgres-cluster-2"),
        event("b", -40, true, "Pod/postgres-cluster-1", "Unhealthy", "Readiness probe failed: HTTP 500"),
    ];
    for kind in [ObservationKind::ClusterPhaseObserved { phase }, ObservationKind::PlatformEventsObserved { events }] {
        state.apply(&Observation::new(fixtures::t(0), "cnpg".into(), kind));
    }
    snapshot("events", "cnpg_switchover", &state, &ui_on(ViewId::Events));
}

/// Only on the reveal key, over everything, with where it came from and how it goes away. The
/// password here is a fixture's: a snapshot holds a real one only if a test puts it there.
#[test]
fn a_revealed_password_is_shown_with_its_source_until_a_key() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Databases);
    let revealed = pgdeck::secrets::Revealed {
        username: "alice".into(),
        location: "postgres/alice-credentials in AWS Secrets Manager (eu-west-1)".into(),
        password: pgdeck::secrets::Secret::new("fixture-not-a-real-password-0123"),
    };
    ui.show_revealed(revealed, std::time::Instant::now());
    snapshot("reveal", "alice", &state, &ui);
    assert!(ui.hide_revealed());
    let hidden = text_of(&draw(&state, &ui, 80, 24));
    assert!(!hidden.contains("fixture-not-a-real-password"), "{hidden}");
}

#[test]
fn restore_dialog_shows_the_command_and_asks_for_the_new_name() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Backups);
    let action =
        Action::Restore { backup: "20261125-020000F".into(), target_time: None, new_cluster: "orders-copy".into() };
    let preview = "Restore backup 20261125-020000F of `postgres-cluster`, as it was when the backup finished, as a NEW local cluster `orders-copy`.\nThe running cluster in /var/lib/pgdeck/local is only read, never changed.\nnew directory  /var/lib/pgdeck/orders-copy (refused if it exists)\norders-copy-1  restores the backup through Patroni's custom bootstrap, running:\n  /usr/bin/pgbackrest --config=/var/lib/pgdeck/local/pgbackrest/pgbackrest.conf --stanza=postgres-cluster --pg1-path=/var/lib/pgdeck/orders-copy/members/orders-copy-1/data --set=20261125-020000F --type=immediate --target-action=promote restore\nopen it with   pgdeck --dir /var/lib/pgdeck/orders-copy".to_owned();
    ui.open_confirmation(&state, action, preview);
    type_text(&mut ui, "orders");
    snapshot("confirm", "restore", &state, &ui);
}

#[test]
fn create_user_dialog_shows_the_sql_and_where_the_password_goes() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Databases);
    let preview = "BEGIN;\nCREATE ROLE \"alice\" LOGIN PASSWORD '<SCRAM verifier of a generated password>';\nGRANT CONNECT, TEMPORARY ON DATABASE \"app\" TO \"alice\";\n-- store {\"username\": \"alice\", \"password\": …} as postgres/alice-credentials in the credential file /var/lib/pgdeck/local/credentials.json\nCOMMIT;".to_owned();
    ui.open_confirmation(&state, Action::CreateUser { name: "alice".into(), database: "app".into() }, preview);
    snapshot("confirm", "create_user", &state, &ui);
}

#[test]
fn each_view_hints_its_own_actions_in_the_footer() {
    let state = fixtures::healthy();
    let footer = |view| text_of(&draw(&state, &ui_on(view), 160, 48)).lines().last().unwrap_or_default().to_owned();
    assert!(footer(ViewId::Databases).contains("D Create database"), "{}", footer(ViewId::Databases));
    assert!(footer(ViewId::Backups).contains("R Restore"), "{}", footer(ViewId::Backups));
    assert!(footer(ViewId::Activity).contains("T Terminate session"), "{}", footer(ViewId::Activity));
    assert!(!footer(ViewId::Overview).contains("Create database"));
}

#[test]
fn a_refusal_is_shown_on_the_status_line() {
    let state = fixtures::healthy();
    let mut ui = ui_on(ViewId::Overview);
    ui.on_refusal(&pgdeck::dispatch::Refusal::ReadOnly);
    let text = text_of(&draw(&state, &ui, 80, 24));
    assert!(text.contains("read-only"), "{text}");
}

#[test]
fn leader_and_down_member_are_coloured_by_role() {
    let theme = Theme::builtin("default").unwrap();
    let buffer = draw(&fixtures::degraded(), &ui_on(ViewId::Overview), 160, 48);
    let text = text_of(&buffer);
    let find = |needle: &str| -> (u16, u16) {
        let (y, line) = text.lines().enumerate().find(|(_, l)| l.contains(needle)).unwrap();
        let x = line.find(needle).unwrap();
        (u16::try_from(line[..x].chars().count()).unwrap(), u16::try_from(y).unwrap())
    };
    let (_, y2) = find("│postgres-cluster-2");
    let row = text.lines().nth(usize::from(y2)).unwrap();
    let leader_x = row[..row.find("primary").unwrap()].chars().count();
    let leader_cell = &buffer[(u16::try_from(leader_x).unwrap(), y2)];
    assert_eq!(leader_cell.fg, theme.style(Role::Leader).fg.unwrap_or(ratatui::style::Color::Reset));
    let (x, y) = find("CRIT");
    assert_eq!(buffer[(x, y)].fg, theme.style(Role::Danger).fg.unwrap_or(ratatui::style::Color::Reset));
}

#[test]
fn a_leader_sql_cannot_reach_is_critical_and_its_row_never_says_running() {
    let state = fixtures::leader_unreachable();
    snapshot("overview", "leader_unreachable", &state, &ui_on(ViewId::Overview));
    let theme = Theme::builtin("default").unwrap();
    let danger = theme.style(Role::Danger).fg.unwrap_or(ratatui::style::Color::Reset);
    // The highlighted row takes the selection's colours: look at the leader's row unselected.
    let mut ui = ui_on(ViewId::Overview);
    ui.update(&state, Command::Down);
    for (width, height) in [(80, 24), (160, 48)] {
        let buffer = draw(&state, &ui, width, height);
        let text = text_of(&buffer);
        let (y, row) = text.lines().enumerate().find(|(_, l)| l.contains("│postgres-cluster-1")).unwrap();
        assert!(row.contains("unreachable 3s") && !row.contains("running"), "{row}");
        let x = row[..row.find("unreachable").unwrap()].chars().count();
        assert_eq!(buffer[(u16::try_from(x).unwrap(), u16::try_from(y).unwrap())].fg, danger, "{row}");
        assert!(text.contains("CRIT leader postgres-cluster-1 unreachable by SQL"), "{text}");
        for replica in ["│postgres-cluster-2", "│postgres-cluster-3"] {
            let row = text.lines().find(|l| l.contains(replica)).unwrap();
            assert!(row.contains(" +") && !row.contains(" 0 B "), "{row}");
        }
    }
}

#[test]
fn no_size_panics_from_1x1_up() {
    let states = [fixtures::healthy(), fixtures::degraded(), fixtures::empty(), fixtures::leader_unreachable()];
    for view in ViewId::CYCLE.into_iter().chain([ViewId::Help]) {
        for state in &states {
            let mut ui = ui_on(view);
            ui.open_confirmation(state, Action::Backup { kind: BackupKind::Full }, "x\ny".into());
            let mut with_form = ui_on(view);
            with_form.update(state, Command::CreateUser);
            type_text(&mut with_form, "a-very-long-name-that-is-wrong-in-more-than-one-way-and-goes-on");
            for w in (1..=200).step_by(13) {
                for h in (1..=60).step_by(7) {
                    draw(state, &ui, w, h);
                    draw(state, &ui_on(view), w, h);
                    draw(state, &with_form, w, h);
                }
            }
        }
    }
}

#[test]
fn too_small_a_terminal_says_what_it_needs() {
    let text = text_of(&draw(&fixtures::healthy(), &ui_on(ViewId::Overview), 30, 8));
    assert!(text.contains("too small") && text.contains("40x10"), "{text}");
}

fn replaying(view: ViewId, paused: bool, skipped: usize) -> Ui {
    let state = fixtures::healthy();
    let now = state.now.unwrap();
    let mut ui = Ui::new(true, Duration::from_secs(1));
    ui.view = view;
    ui.audit_file = Some("/var/lib/pgdeck/state/audit.YYYY-MM-DD.log".into());
    ui.replay = Some(ReplayStatus {
        file: "incident.jsonl".into(),
        position: 1200,
        total: 3600,
        start: Some(now - chrono::Duration::minutes(10)),
        end: Some(now + chrono::Duration::minutes(20)),
        at: Some(now),
        speed: if paused { 1 } else { 60 },
        paused,
        skipped,
    });
    ui
}

#[test]
fn replay_bar_playing_and_paused_with_skipped_lines() {
    let state = fixtures::healthy();
    snapshot("replay", "playing", &state, &replaying(ViewId::Overview, false, 0));
    snapshot("replay", "paused_with_skips", &state, &replaying(ViewId::Events, true, 2));
    snapshot("help", "replay", &state, &replaying(ViewId::Help, true, 0));
    // A replay shows its keys and no mutating one; live, no replay key.
    let text = text_of(&draw(&state, &replaying(ViewId::Overview, false, 0), 160, 48));
    assert!(text.contains(" p Pause/play ") && !text.contains("Switchover "), "{text}");
    let live = text_of(&draw(&state, &ui_on(ViewId::Help), 160, 48));
    assert!(!live.contains("replay"), "{live}");
}

/// Where `needle` is on screen, as (x, y) cells.
fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let text = text_of(buffer);
    let (y, line) = text.lines().enumerate().find(|(_, l)| l.contains(needle))?;
    let x = line[..line.find(needle)?].chars().count();
    Some((u16::try_from(x).ok()?, u16::try_from(y).ok()?))
}

/// A narrow terminal never hides the console's modes: READ-ONLY and PAUSED, then the leader's
/// whole name and the cluster, stay in the header at 60, 80 and 160 columns, in the warning colour.
#[test]
fn header_keeps_read_only_paused_and_the_leader_at_60_80_and_160_columns() {
    let state = fixtures::healthy();
    let mut ui = Ui::new(true, Duration::from_secs(1));
    ui.display_paused = true;
    let sizes = [(60, 24), (80, 24), (160, 48)];
    snapshot_at(&sizes, "header", "read_only_paused", &state, &ui);
    let theme = Theme::builtin("default").unwrap();
    let warning = theme.style(Role::Warning).fg.unwrap_or(ratatui::style::Color::Reset);
    for (w, h) in sizes {
        let buffer = draw(&state, &ui, w, h);
        let header = text_of(&buffer).lines().next().unwrap().to_owned();
        for needle in ["READ-ONLY", "PAUSED", "leader postgres-cluster-1", "postgres-cluster "] {
            assert!(header.contains(needle), "{w}: {needle} in {header:?}");
        }
        for badge in ["READ-ONLY", "PAUSED"] {
            let (x, y) = find(&buffer, badge).unwrap();
            assert_eq!(y, 0, "{badge} on the header line");
            for dx in 0..u16::try_from(badge.len()).unwrap() {
                assert_eq!(buffer[(x + dx, y)].fg, warning, "{w}: {badge} in the warning colour");
            }
        }
    }
}

/// A recorded session says so however narrow (and Help says where); a replay says REPLAY (and
/// not READ-ONLY twice).
#[test]
fn header_says_recording_or_replay_at_60_columns() {
    let state = fixtures::healthy();
    let mut ui = Ui::new(true, Duration::from_secs(1));
    ui.display_paused = true;
    ui.recording = Some("/var/lib/pgdeck/state/recordings/production-eu-west-1.jsonl".into());
    ui.target = Some("production-eu-west-1".into());
    let header = text_of(&draw(&state, &ui, 60, 24)).lines().next().unwrap().to_owned();
    for needle in ["READ-ONLY", "PAUSED", "RECORDING", "leader postgres-cluster-1"] {
        assert!(header.contains(needle), "{needle} in {header:?}");
    }
    ui.view = ViewId::Help;
    let help = text_of(&draw(&state, &ui, 160, 48));
    assert!(help.contains("recording to: /var/lib/pgdeck/state/recordings/production-eu-west-1.jsonl"), "{help}");
    let replay = text_of(&draw(&state, &replaying(ViewId::Overview, true, 0), 60, 24));
    let header = replay.lines().next().unwrap();
    assert!(header.contains("REPLAY") && header.contains("leader postgres-cluster-1"), "{header:?}");
    assert!(!header.contains("READ-ONLY"), "{header:?}");
}

/// Help and how to quit are in the footer at every width from 60 up, in every view, mode and
/// dialog, in both shipped keymaps; the view's own hints are what gives way.
#[test]
fn footer_keeps_help_and_quit_at_every_width() {
    let state = fixtures::healthy();
    for base in [KeymapBase::Default, KeymapBase::Vim] {
        let keymap = Keymap::builtin(base);
        for view in ViewId::CYCLE.into_iter().chain([ViewId::Help]) {
            let mut uis = vec![ui_on(view), replaying(view, false, 0)];
            let mut read_only = Ui::new(true, Duration::from_secs(1));
            read_only.view = view;
            uis.push(read_only);
            for ui in &uis {
                for width in [60, 61, 67, 72, 80, 100, 160] {
                    let buffer = draw_with(&keymap, &state, ui, width, 24);
                    let footer = text_of(&buffer).lines().last().unwrap().to_owned();
                    assert!(footer.starts_with(" ? Help "), "{base:?} {view:?} {width}: {footer:?}");
                    assert!(footer.ends_with(" ctrl-c Quit"), "{base:?} {view:?} {width}: {footer:?}");
                }
            }
        }
        // In a dialog, a form and a line being typed, ctrl-c is still said (? is typed there).
        let mut in_dialog = ui_on(ViewId::Backups);
        in_dialog.open_confirmation(&state, Action::Backup { kind: BackupKind::Full }, "x".into());
        let mut in_form = ui_on(ViewId::Databases);
        in_form.update(&state, Command::CreateUser);
        let mut typing = ui_on(ViewId::Overview);
        typing.update(&state, Command::Filter);
        for ui in [in_dialog, in_form, typing] {
            let footer = text_of(&draw_with(&keymap, &state, &ui, 60, 24)).lines().last().unwrap().to_owned();
            assert!(footer.ends_with(" ctrl-c Quit"), "{base:?} {:?}: {footer:?}", ui.context());
        }
    }
}

fn asking_to_quit() -> Ui {
    let mut ui = ui_on(ViewId::Overview);
    ui.update(&fixtures::healthy(), Command::Back);
    assert!(ui.asking_to_quit);
    ui
}

#[test]
fn q_on_the_overview_asks_whether_to_quit() {
    snapshot("quit", "asked", &fixtures::healthy(), &asking_to_quit());
}

/// Quitting with an action running waits for its outcome (as ctrl-c and :q do): the question says so.
#[test]
fn the_quit_question_says_when_an_action_is_still_running() {
    use pgdeck::action::ActionRequest;
    use pgdeck::observation::{Observation, ObservationKind};
    let mut state = fixtures::healthy();
    let request = ActionRequest {
        id: 7,
        action: Action::Backup { kind: BackupKind::Full },
        requested_at: fixtures::t(-3),
        requested_by: "sre".into(),
        confirmation: None,
    };
    state.apply(&Observation::new(fixtures::t(-3), "dispatcher".into(), ObservationKind::ActionRequested { request }));
    let text = text_of(&draw(&state, &asking_to_quit(), 80, 24));
    assert!(text.contains("Quit pgdeck?") && text.contains("1 action is still running"), "{text}");
    let text = text_of(&draw(&fixtures::healthy(), &asking_to_quit(), 80, 24));
    assert!(text.contains("y/enter quits") && !text.contains("still running"), "{text}");
}

//! The Ui reducer without a terminal: Commands in, Effects out.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::model::Role as MemberRole;
use crate::observation::{Observation, ObservationKind};
use crate::spec::ThresholdsSpec;
use crate::testing::{backend, report};

fn state() -> State {
    let mut s = State::new(ThresholdsSpec::default());
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    s.apply(&Observation::new(
        at,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: vec!["m1".into(), "m2".into()],
        },
    ));
    s.apply(&Observation::new(
        at,
        "patroni",
        ObservationKind::MembersListed {
            members: vec![report("m1", MemberRole::Primary, 1), report("m2", MemberRole::Replica, 2)],
        },
    ));
    s
}

fn ui() -> Ui {
    Ui::new(false, Duration::from_secs(1))
}

#[test]
fn switchover_needs_a_selected_replica_and_opens_no_dialog_by_itself() {
    let s = state();
    let mut ui = ui();
    assert!(ui.update(&s, Command::Switchover).is_empty(), "m1 (the primary) is selected");
    assert_eq!(ui.message.as_ref().map(|m| m.tone), Some(Tone::Error));
    ui.update(&s, Command::Down);
    let effects = ui.update(&s, Command::Switchover);
    assert_eq!(effects, vec![Effect::Prepare(Action::Switchover { candidate: Some("m2".into()) })]);
}

#[test]
fn a_confirmation_dispatches_only_with_the_typed_phrase_and_esc_drops_it() {
    let s = state();
    let mut ui = ui();
    ui.open_confirmation(&s, Action::Switchover { candidate: Some("m2".into()) }, "POST /switchover".into());
    assert_eq!(ui.context(), KeyContext::Input);
    assert!(ui.update(&s, Command::Back).is_empty());
    assert_eq!(ui.confirmation, None);
    ui.open_confirmation(&s, Action::Switchover { candidate: Some("m2".into()) }, "POST /switchover".into());
    for c in "m2".chars() {
        ui.type_char(c);
    }
    let effects = ui.update(&s, Command::Submit);
    assert_eq!(
        effects,
        vec![Effect::Dispatch {
            action: Action::Switchover { candidate: Some("m2".into()) },
            confirmation: Some("m2".into())
        }]
    );
}

#[test]
fn a_backup_confirms_with_enter_in_a_modal() {
    let s = state();
    let mut ui = ui();
    assert_eq!(ui.update(&s, Command::Backup), vec![Effect::Prepare(Action::Backup { kind: BackupKind::Full })]);
    ui.open_confirmation(&s, Action::Backup { kind: BackupKind::Full }, "pgbackrest backup".into());
    assert_eq!(ui.context(), KeyContext::Modal);
    assert_eq!(
        ui.update(&s, Command::Submit),
        vec![Effect::Dispatch { action: Action::Backup { kind: BackupKind::Full }, confirmation: None }]
    );
}

#[test]
fn read_only_sends_mutations_to_the_dispatcher_to_be_refused() {
    let s = state();
    let mut ui = Ui::new(true, Duration::from_secs(1));
    let effects = ui.update(&s, Command::Backup);
    assert_eq!(
        effects,
        vec![Effect::Dispatch { action: Action::Backup { kind: BackupKind::Full }, confirmation: None }]
    );
    assert_eq!(ui.confirmation, None, "no dialog in read-only mode");
}

#[test]
fn views_cycle_and_help_returns_where_it_came_from() {
    let s = state();
    let mut ui = ui();
    ui.update(&s, Command::NextView);
    assert_eq!(ui.view, ViewId::Replication);
    ui.update(&s, Command::PreviousView);
    ui.update(&s, Command::PreviousView);
    assert_eq!(ui.view, ViewId::Events);
    ui.update(&s, Command::Help);
    assert_eq!(ui.view, ViewId::Help);
    ui.update(&s, Command::Back);
    assert_eq!(ui.view, ViewId::Events);
}

#[test]
fn filter_is_typed_applied_and_cleared() {
    let s = state();
    let mut ui = ui();
    ui.update(&s, Command::Filter);
    for c in "m2".chars() {
        ui.type_char(c);
    }
    ui.delete_char();
    ui.type_char('2');
    ui.update(&s, Command::Submit);
    assert_eq!(ui.filter.as_deref(), Some("m2"));
    ui.update(&s, Command::Back);
    assert_eq!(ui.filter, None);
}

#[test]
fn command_line_switches_views_and_sets_the_refresh() {
    let s = state();
    let mut ui = ui();
    let run = |ui: &mut Ui, line: &str| {
        ui.update(&s, Command::CommandLine);
        for c in line.chars() {
            ui.type_char(c);
        }
        ui.update(&s, Command::Submit)
    };
    run(&mut ui, "backups");
    assert_eq!(ui.view, ViewId::Backups);
    assert_eq!(run(&mut ui, "refresh 2s"), vec![Effect::SetRefresh(Duration::from_secs(2))]);
    assert_eq!(run(&mut ui, "q"), vec![Effect::Quit]);
    assert!(run(&mut ui, "frobnicate").is_empty());
    assert!(ui.message.as_ref().is_some_and(|m| m.text.contains("unknown command")));
}

#[test]
fn refresh_steps_faster_and_slower_within_bounds() {
    let s = state();
    let mut ui = ui();
    assert_eq!(ui.update(&s, Command::RefreshFaster), vec![Effect::SetRefresh(Duration::from_millis(500))]);
    for _ in 0..10 {
        ui.update(&s, Command::RefreshFaster);
    }
    assert_eq!(ui.refresh, Duration::from_millis(250));
    for _ in 0..10 {
        ui.update(&s, Command::RefreshSlower);
    }
    assert_eq!(ui.refresh, Duration::from_secs(30));
}

#[test]
fn selection_stays_within_the_rows() {
    let s = state();
    let mut ui = ui();
    for _ in 0..5 {
        ui.update(&s, Command::Down);
    }
    assert_eq!(ui.selected(ViewId::Overview), 1);
    ui.update(&s, Command::Top);
    assert_eq!(ui.selected(ViewId::Overview), 0);
    ui.update(&s, Command::Bottom);
    assert_eq!(ui.selected(ViewId::Overview), 1);
}

fn any_command() -> impl Strategy<Value = Command> {
    (0..Command::ALL.len()).prop_map(|i| Command::ALL[i])
}

proptest! {
    /// Random key sequences never panic, and in read-only mode never open a dialog or produce a
    /// request the Dispatcher could accept: every Dispatch carries no confirmation.
    #[test]
    fn random_commands_never_panic_and_read_only_never_prepares(
        commands in proptest::collection::vec((any_command(), proptest::option::of(any::<char>())), 0..200),
        read_only in any::<bool>(),
    ) {
        let s = state();
        let mut ui = Ui::new(read_only, Duration::from_secs(1));
        for (command, typed) in commands {
            let effects = ui.update(&s, command);
            if let Some(c) = typed {
                ui.type_char(c);
            }
            if read_only {
                prop_assert!(ui.confirmation.is_none());
                for effect in effects {
                    prop_assert!(!matches!(effect, Effect::Prepare(_)));
                    if let Effect::Dispatch { confirmation, .. } = effect {
                        prop_assert_eq!(confirmation, None);
                    }
                }
            }
        }
    }
}

#[test]
fn terminate_asks_for_the_selected_session_in_activity() {
    let mut s = state();
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 1).unwrap();
    s.apply(&Observation::new(
        at,
        "sql:m1",
        ObservationKind::WorkloadSampled {
            member: "m1".into(),
            backends: vec![backend(10, vec![], 10.0), backend(20, vec![], 20.0)],
            statements: vec![],
        },
    ));
    let mut ui = ui();
    assert!(ui.update(&s, Command::TerminateBackend).is_empty(), "not on Activity: nothing selected");
    ui.update(&s, Command::ShowView(ViewId::Activity));
    // Roots are listed longest-running first: 20, then 10.
    ui.update(&s, Command::Down);
    let effects = ui.update(&s, Command::TerminateBackend);
    assert_eq!(effects, vec![Effect::Prepare(Action::TerminateBackend { member: "m1".into(), pid: 10 })]);
    ui.open_confirmation(
        &s,
        Action::TerminateBackend { member: "m1".into(), pid: 10 },
        "SELECT pg_terminate_backend(10)".into(),
    );
    assert_eq!(ui.confirmation.as_ref().and_then(|c| c.phrase.clone()), Some("10".into()));
}

#[test]
fn the_command_line_runs_keymap_commands_by_name() {
    let s = state();
    let mut ui = ui();
    ui.update(&s, Command::CommandLine);
    for c in "backup".chars() {
        ui.type_char(c);
    }
    assert_eq!(ui.update(&s, Command::Submit), vec![Effect::Prepare(Action::Backup { kind: BackupKind::Full })]);
}

#[test]
fn copy_takes_the_selected_object_of_the_view() {
    let s = state();
    let mut ui = ui();
    ui.update(&s, Command::Down);
    assert_eq!(ui.update(&s, Command::Copy), vec![Effect::Copy("m2".into())]);
    ui.update(&s, Command::ShowView(ViewId::Replication));
    assert!(ui.update(&s, Command::Copy).is_empty());
    assert_eq!(ui.message.as_ref().map(|m| m.tone), Some(Tone::Error));
}

//! The Ui reducer without a terminal: Commands in, Effects out.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::action::BackupKind;
use crate::model::Role as MemberRole;
use crate::observation::{Observation, ObservationKind};
use crate::spec::ThresholdsSpec;
use crate::testing::{backend, backup_catalog, completed_backup, database, report, role, sample, streaming};

fn state() -> State {
    let mut s = State::new(ThresholdsSpec::default());
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    s.apply(&Observation::new(
        at,
        "patroni".into(),
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: vec!["m1".into(), "m2".into()],
        },
    ));
    s.apply(&Observation::new(
        at,
        "patroni".into(),
        ObservationKind::MembersListed {
            members: vec![report("m1", MemberRole::Primary, 1), report("m2", MemberRole::Replica, 2)],
        },
    ));
    let primary = sample(true, 1000, vec![streaming("m2")]);
    s.apply(&Observation::new(
        at,
        "sql:m1".into(),
        ObservationKind::MemberSampled { member: "m1".into(), sample: primary },
    ));
    let replica = sample(false, 1000, vec![]);
    s.apply(&Observation::new(
        at,
        "sql:m2".into(),
        ObservationKind::MemberSampled { member: "m2".into(), sample: replica },
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
    let cancelled = ui.update(&s, Command::Back);
    assert_eq!(cancelled, vec![Effect::Cancelled(Action::Switchover { candidate: Some("m2".into()) })]);
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
                prop_assert!(ui.form.is_none());
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
        "sql:m1".into(),
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

/// The state above with the leader's catalog (database `app` of role `app`) and one backup.
fn state_with_catalog() -> State {
    let mut s = state();
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 2).unwrap();
    let catalog = ObservationKind::CatalogListed {
        member: "m1".into(),
        databases: vec![database("app", "app")],
        roles: vec![role("app"), role("postgres")],
    };
    s.apply(&Observation::new(at, "sql:m1".into(), catalog));
    let stopped = Utc.with_ymd_and_hms(2026, 11, 25, 2, 1, 0).unwrap();
    let backups = backup_catalog(vec![completed_backup("20261125-020000F", stopped)]);
    s.apply(&Observation::new(at, "pgbackrest".into(), ObservationKind::BackupsListed { catalog: backups }));
    s
}

fn type_into_form(ui: &mut Ui, text: &str) {
    for c in text.chars() {
        ui.type_char(c);
    }
}

#[test]
fn create_database_form_validates_as_typed_and_prepares_only_when_valid() {
    let s = state_with_catalog();
    let mut ui = ui();
    assert!(ui.update(&s, Command::CreateDatabase).is_empty());
    assert_eq!(ui.context(), KeyContext::Form);
    type_into_form(&mut ui, "app");
    let problems = ui.form.as_ref().unwrap().problems(&s);
    assert!(problems[0].as_ref().unwrap().contains("already exists"), "{problems:?}");
    assert!(ui.update(&s, Command::Submit).is_empty(), "a form with problems is not submitted");
    assert!(ui.message.as_ref().unwrap().text.starts_with("Database name: a database named `app`"));
    assert_eq!(ui.form.as_ref().unwrap().focus, 0, "focus goes to the first field with a problem");
    for _ in 0.."app".len() {
        ui.form.as_mut().unwrap().input(crossterm::event::KeyCode::Backspace.into());
    }
    type_into_form(&mut ui, "orders");
    ui.update(&s, Command::NextField);
    type_into_form(&mut ui, "ap");
    let problems = ui.form.as_ref().unwrap().problems(&s);
    assert_eq!(problems[0], None);
    assert_eq!(problems[1].as_deref(), Some("no role `ap` on the leader; app"));
    type_into_form(&mut ui, "p");
    let effects = ui.update(&s, Command::Submit);
    assert_eq!(effects, vec![Effect::Prepare(Action::CreateDatabase { name: "orders".into(), owner: "app".into() })]);
    assert!(ui.form.is_none());
}

#[test]
fn esc_drops_a_form_with_nothing_requested() {
    let s = state_with_catalog();
    let mut ui = ui();
    ui.update(&s, Command::CreateUser);
    type_into_form(&mut ui, "alice");
    assert!(ui.update(&s, Command::Back).is_empty());
    assert!(ui.form.is_none());
    assert_eq!(ui.context(), KeyContext::Normal);
}

#[test]
fn create_user_form_starts_with_the_selected_database() {
    let s = state_with_catalog();
    let mut ui = ui();
    ui.update(&s, Command::ShowView(ViewId::Databases));
    ui.update(&s, Command::CreateUser);
    type_into_form(&mut ui, "alice");
    let effects = ui.update(&s, Command::Submit);
    assert_eq!(effects, vec![Effect::Prepare(Action::CreateUser { name: "alice".into(), database: "app".into() })]);
}

#[test]
fn restore_form_takes_the_selected_backup_a_new_name_and_an_optional_time() {
    let s = state_with_catalog();
    let mut ui = ui();
    assert!(ui.update(&s, Command::Restore).is_empty());
    assert!(ui.form.is_none(), "no backup is selected outside Backups");
    ui.update(&s, Command::ShowView(ViewId::Backups));
    ui.update(&s, Command::Restore);
    type_into_form(&mut ui, "c");
    let problems = ui.form.as_ref().unwrap().problems(&s);
    assert!(problems[0].as_ref().unwrap().contains("never replaces"), "{problems:?}");
    type_into_form(&mut ui, "-copy");
    ui.update(&s, Command::NextField);
    type_into_form(&mut ui, "2026-11-25 01:00:00");
    let problems = ui.form.as_ref().unwrap().problems(&s);
    assert!(problems[1].as_ref().unwrap().contains("before backup"), "{problems:?}");
    ui.update(&s, Command::Back);
    ui.update(&s, Command::Restore);
    type_into_form(&mut ui, "c-copy");
    ui.update(&s, Command::NextField);
    type_into_form(&mut ui, "2026-11-25 11:30:00");
    let effects = ui.update(&s, Command::Submit);
    let target_time = Some(Utc.with_ymd_and_hms(2026, 11, 25, 11, 30, 0).unwrap());
    let expected = Action::Restore { backup: "20261125-020000F".into(), target_time, new_cluster: "c-copy".into() };
    assert_eq!(effects, vec![Effect::Prepare(expected)]);
}

#[test]
fn read_only_refuses_forms_through_the_dispatcher_without_opening_them() {
    let s = state_with_catalog();
    let mut ui = Ui::new(true, Duration::from_secs(1));
    let effects = ui.update(&s, Command::CreateDatabase);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Dispatch { action: Action::CreateDatabase { .. }, confirmation: None }]
    ));
    assert!(ui.form.is_none());
}

#[test]
fn rotate_form_takes_an_existing_login_and_asks_for_its_name_typed() {
    let s = state_with_catalog();
    let mut ui = ui();
    ui.update(&s, Command::RotatePassword);
    type_into_form(&mut ui, "bob");
    let problems = ui.form.as_ref().unwrap().problems(&s);
    assert_eq!(problems[0].as_deref(), Some("no role `bob` on the leader; none starts like that"));
    ui.update(&s, Command::Back);
    ui.update(&s, Command::RotatePassword);
    type_into_form(&mut ui, "app");
    let effects = ui.update(&s, Command::Submit);
    assert_eq!(effects, vec![Effect::Prepare(Action::RotatePassword { user: "app".into() })]);
    ui.open_confirmation(&s, Action::RotatePassword { user: "app".into() }, "1. stage …".into());
    assert_eq!(ui.confirmation.as_ref().and_then(|c| c.phrase.clone()), Some("app".into()));
}

#[test]
fn reveal_takes_an_existing_login_is_enter_confirmed_and_goes_by_key_or_time() {
    let s = state_with_catalog();
    let mut ui = ui();
    ui.update(&s, Command::RevealPassword);
    type_into_form(&mut ui, "app");
    let effects = ui.update(&s, Command::Submit);
    assert_eq!(effects, vec![Effect::Prepare(Action::RevealPassword { user: "app".into() })]);
    ui.open_confirmation(&s, Action::RevealPassword { user: "app".into() }, "read …".into());
    assert_eq!(ui.confirmation.as_ref().and_then(|c| c.phrase.clone()), None, "Enter confirms");

    let at = std::time::Instant::now();
    let revealed = crate::secrets::Revealed {
        username: "app".into(),
        location: "x".into(),
        password: crate::secrets::Secret::new("pw"),
    };
    ui.show_revealed(revealed.clone(), at);
    ui.expire_revealed(at + Duration::from_secs(crate::secrets::REVEAL_SECONDS - 1));
    assert!(ui.revealed.is_some());
    ui.expire_revealed(at + Duration::from_secs(crate::secrets::REVEAL_SECONDS));
    assert!(ui.revealed.is_none(), "it goes by itself");
    ui.show_revealed(revealed, at);
    assert!(ui.hide_revealed() && !ui.hide_revealed(), "a key hides it, once");

    let mut observer = Ui::new(true, Duration::from_secs(1));
    let effects = observer.update(&s, Command::RevealPassword);
    assert!(matches!(
        effects.as_slice(),
        [Effect::Dispatch { action: Action::RevealPassword { .. }, confirmation: None }]
    ));
}

#[test]
fn target_commands_switch_or_list_and_a_switch_leaves_nothing_of_the_last_target() {
    let s = state_with_catalog();
    let mut ui = ui();
    let line = |ui: &mut Ui, text: &str| {
        ui.update(&s, Command::CommandLine);
        for c in text.chars() {
            ui.type_char(c);
        }
        ui.update(&s, Command::Submit)
    };
    assert_eq!(line(&mut ui, "target prod"), vec![Effect::SwitchTarget(Some("prod".into()))]);
    assert_eq!(line(&mut ui, "targets"), vec![Effect::SwitchTarget(None)]);
    assert_eq!(line(&mut ui, "ctx local"), vec![Effect::SwitchTarget(Some("local".into()))]);
    ui.selected.insert(ViewId::Databases, 3);
    ui.filter = Some("app".into());
    ui.workload_member = Some("m2".into());
    ui.switched_to("prod", "cnpg prod-eks postgres/postgres-cluster");
    assert_eq!((ui.target.as_deref(), ui.selected(ViewId::Databases)), (Some("prod"), 0));
    assert!(ui.filter.is_none() && ui.workload_member.is_none());
    assert!(ui.message.as_ref().unwrap().text.contains("now watching prod"));
}

#[test]
fn back_on_the_overview_asks_to_quit_and_the_quit_key_quits() {
    let s = state();
    let mut ui = ui();
    assert!(ui.update(&s, Command::Back).is_empty());
    assert!(ui.asking_to_quit);
    assert_eq!(ui.context(), KeyContext::QuitDialog);
    // y and enter are bound to `quit` in [quit-dialog]: the same Effect as :q and ctrl-c, so the
    // loop still waits for the outcome of actions running when it ends.
    assert_eq!(ui.update(&s, Command::Quit), vec![Effect::Quit]);
    assert!(!ui.asking_to_quit);
    ui.update(&s, Command::Back);
    assert_eq!(ui.update(&s, Command::Submit), vec![Effect::Quit], "a keymap that binds submit here");
}

#[test]
fn any_other_key_closes_the_quit_question_and_does_nothing_else() {
    let s = state();
    // Unbound keys arrive as Back; bound ones (n, esc) are Back too; whatever else is bound in
    // a user's [quit-dialog] closes it without acting.
    for command in [Command::Back, Command::Down, Command::Backup, Command::NextView, Command::Help] {
        let mut ui = ui();
        ui.update(&s, Command::Back);
        assert!(ui.update(&s, command).is_empty(), "{command:?}");
        assert!(!ui.asking_to_quit, "{command:?}");
        assert_eq!((ui.view, ui.selected(ViewId::Overview), ui.context()), (ViewId::Overview, 0, KeyContext::Normal));
    }
    // ctrl-l redraws under the question and leaves it open.
    let mut ui = ui();
    ui.update(&s, Command::Back);
    assert_eq!(ui.update(&s, Command::Redraw), vec![Effect::FullRedraw]);
    assert!(ui.asking_to_quit);
}

#[test]
fn back_elsewhere_still_goes_back_and_clears_a_filter_first() {
    let s = state();
    let mut ui = ui();
    ui.update(&s, Command::ShowView(ViewId::Backups));
    ui.update(&s, Command::Help);
    ui.update(&s, Command::Back);
    assert_eq!((ui.view, ui.asking_to_quit), (ViewId::Backups, false), "Help goes back where it came from");
    ui.update(&s, Command::Back);
    assert_eq!((ui.view, ui.asking_to_quit), (ViewId::Backups, false), "another view stays, as before");
    // On the Overview, a filter in force is cleared first; only then does Back ask.
    ui.update(&s, Command::ShowView(ViewId::Overview));
    ui.filter = Some("m2".into());
    ui.update(&s, Command::Back);
    assert_eq!((ui.filter.as_deref(), ui.asking_to_quit), (None, false));
    ui.update(&s, Command::Back);
    assert!(ui.asking_to_quit);
}

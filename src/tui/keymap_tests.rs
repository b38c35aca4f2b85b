//! The keymap: shipped files, resolution, patches and the errors a bad patch gets.

use super::*;
use crate::command::ViewId;

fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
    KeyEvent::new_with_kind(code, modifiers, KeyEventKind::Press)
}

fn ch(c: char) -> KeyEvent {
    press(KeyCode::Char(c), KeyModifiers::NONE)
}

fn patch(text: &str) -> Result<Keymap, KeymapError> {
    Keymap::builtin(KeymapBase::Default).patched(text, "keymap.toml")
}

#[test]
fn shipped_keymaps_parse() {
    for base in [KeymapBase::Default, KeymapBase::Vim] {
        let (text, origin) = base.source();
        Keymap::from_toml(text, origin).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn every_command_is_bound_in_both_shipped_keymaps() {
    for base in [KeymapBase::Default, KeymapBase::Vim] {
        let keymap = Keymap::builtin(base);
        let bound = |ctx| keymap.bindings(ctx).into_iter().map(|b| b.command).collect::<Vec<_>>();
        let browsing = [bound(KeyContext::Normal), bound(KeyContext::Global)].concat();
        let in_forms = [Command::Submit, Command::NextField, Command::PreviousField];
        for command in Command::ALL.into_iter().filter(|c| !in_forms.contains(c)) {
            assert!(browsing.contains(&command), "{base:?}: `{command}` has no key in [normal] or [global]");
        }
        for ctx in [KeyContext::Modal, KeyContext::Input, KeyContext::Form] {
            assert!(bound(ctx).contains(&Command::Submit), "{base:?}: submit in [{}]", ctx.name());
            assert!(bound(ctx).contains(&Command::Back), "{base:?}: back in [{}]", ctx.name());
        }
        for command in in_forms {
            assert!(bound(KeyContext::Form).contains(&command), "{base:?}: `{command}` in [form]");
        }
        for command in [Command::Quit, Command::Back] {
            assert!(bound(KeyContext::QuitDialog).contains(&command), "{base:?}: `{command}` in [quit-dialog]");
        }
    }
}

#[test]
fn default_follows_k9s_and_vim_conventions() {
    let km = Keymap::default();
    let n = |e: KeyEvent| km.resolve(&e, KeyContext::Normal);
    assert_eq!(n(ch('?')), Some(Command::Help));
    assert_eq!(n(ch(':')), Some(Command::CommandLine));
    assert_eq!(n(ch('/')), Some(Command::Filter));
    assert_eq!(n(ch('q')), Some(Command::Back));
    assert_eq!(n(press(KeyCode::Esc, KeyModifiers::NONE)), Some(Command::Back));
    assert_eq!(n(ch('j')), Some(Command::Down));
    assert_eq!(n(press(KeyCode::Up, KeyModifiers::NONE)), Some(Command::Up));
    assert_eq!(n(ch('g')), Some(Command::Top));
    assert_eq!(n(ch('G')), Some(Command::Bottom));
    assert_eq!(n(press(KeyCode::BackTab, KeyModifiers::SHIFT)), Some(Command::PreviousView));
    assert_eq!(n(ch('3')), Some(Command::ShowView(ViewId::Storage)));
    assert_eq!(n(press(KeyCode::Char('r'), KeyModifiers::CONTROL)), Some(Command::RefreshNow));
    assert_eq!(n(ch('+')), Some(Command::RefreshFaster));
    assert_eq!(n(ch(' ')), Some(Command::PauseDisplay));
    assert_eq!(n(press(KeyCode::Char('d'), KeyModifiers::CONTROL)), None);
    assert_eq!(n(press(KeyCode::Char('a'), KeyModifiers::CONTROL)), None);
    // Lower-case s sorts; only the capital opens a switchover.
    assert_eq!(n(ch('s')), Some(Command::SortNext));
    let vim = Keymap::builtin(KeymapBase::Vim);
    let v = |c| vim.resolve(&press(KeyCode::Char(c), KeyModifiers::CONTROL), KeyContext::Normal);
    assert_eq!((v('f'), v('b'), v('d')), (Some(Command::PageDown), Some(Command::PageUp), Some(Command::PageDown)));
}

#[test]
fn ctrl_c_quits_in_every_context_and_releases_are_ignored() {
    let km = Keymap::default();
    let ctrl_c = press(KeyCode::Char('c'), KeyModifiers::CONTROL);
    for ctx in KeyContext::ALL {
        assert_eq!(km.resolve(&ctrl_c, ctx), Some(Command::Quit), "[{}]", ctx.name());
    }
    let release = KeyEvent::new_with_kind(KeyCode::Char('c'), KeyModifiers::CONTROL, KeyEventKind::Release);
    assert_eq!(km.resolve(&release, KeyContext::Normal), None);
    let repeat = KeyEvent::new_with_kind(KeyCode::Char('j'), KeyModifiers::NONE, KeyEventKind::Repeat);
    assert_eq!(km.resolve(&repeat, KeyContext::Normal), Some(Command::Down));
}

#[test]
fn capital_letters_match_with_or_without_shift() {
    let km = Keymap::default();
    assert_eq!(km.resolve(&ch('S'), KeyContext::Normal), Some(Command::Switchover));
    let shifted = press(KeyCode::Char('S'), KeyModifiers::SHIFT);
    assert_eq!(km.resolve(&shifted, KeyContext::Normal), Some(Command::Switchover));
    assert_eq!(
        km.resolve(&press(KeyCode::Char('F'), KeyModifiers::SHIFT), KeyContext::Normal),
        Some(Command::Failover)
    );
}

#[test]
fn input_leaves_printable_characters_to_the_input() {
    let km = Keymap::default();
    for c in ['q', 'j', 'S', '?', ' ', '1'] {
        assert_eq!(km.resolve(&ch(c), KeyContext::Input), None, "{c:?}");
    }
    assert_eq!(km.resolve(&press(KeyCode::Enter, KeyModifiers::NONE), KeyContext::Input), Some(Command::Submit));
    assert_eq!(km.resolve(&press(KeyCode::Esc, KeyModifiers::NONE), KeyContext::Input), Some(Command::Back));
    assert_eq!(km.resolve(&ch('j'), KeyContext::Modal), None);
}

#[test]
fn bindings_keep_file_order_and_labels() {
    let km = Keymap::default();
    let normal = km.bindings(KeyContext::Normal);
    assert_eq!(normal.first().map(|b| b.command), Some(Command::Help));
    let down = normal.iter().find(|b| b.command == Command::Down).unwrap();
    assert_eq!((down.keys.clone(), down.desc.as_str()), (vec!["j".to_owned(), "down".to_owned()], "Move down"));
    assert_eq!(km.bindings(KeyContext::Global).len(), 2);
    assert_eq!(km.key_label(Command::Switchover, KeyContext::Normal).as_deref(), Some("S"));
    assert_eq!(km.key_label(Command::RefreshNow, KeyContext::Normal).as_deref(), Some("ctrl-r"));
    assert_eq!(km.key_label(Command::Quit, KeyContext::Normal).as_deref(), Some("ctrl-c"));
    assert_eq!(km.key_label(Command::Help, KeyContext::Modal), None);
}

#[test]
fn user_patch_overrides_one_binding_and_keeps_the_rest() {
    let km = patch("[normal]\nswitchover = { keys = [\"ctrl-s\"] }\n").unwrap();
    let ctrl_s = press(KeyCode::Char('s'), KeyModifiers::CONTROL);
    assert_eq!(km.resolve(&ctrl_s, KeyContext::Normal), Some(Command::Switchover));
    assert_eq!(km.resolve(&ch('S'), KeyContext::Normal), None);
    assert_eq!(km.resolve(&ch('j'), KeyContext::Normal), Some(Command::Down));
    let switchover = km.bindings(KeyContext::Normal).into_iter().find(|b| b.command == Command::Switchover);
    assert_eq!(switchover.map(|b| b.desc), Some("Switchover".to_owned()));
    assert_eq!(km.bindings(KeyContext::Normal).len(), Keymap::default().bindings(KeyContext::Normal).len());
}

#[test]
fn load_reads_a_patch_and_tolerates_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("keymap.toml");
    let km = Keymap::load(KeymapBase::Vim, Some(&missing)).unwrap();
    assert_eq!(km.resolve(&ch('l'), KeyContext::Normal), Some(Command::NextView));
    std::fs::write(&missing, "[normal]\ntop = { keys = [\"t\"], desc = \"First row\" }\n").unwrap();
    let km = Keymap::load(KeymapBase::Default, Some(&missing)).unwrap();
    assert_eq!(km.resolve(&ch('t'), KeyContext::Normal), Some(Command::Top));
    assert_eq!(km.bindings(KeyContext::Normal).iter().find(|b| b.command == Command::Top).unwrap().desc, "First row");
}

fn refused(text: &str) -> KeymapError {
    let e = patch(text).unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("keymap.toml:{}:", e.line.unwrap())), "{shown}");
    assert!(shown.contains(&e.value), "{shown}");
    e
}

#[test]
fn unknown_command_is_refused_with_suggestions() {
    let e = refused("# mine\n[normal]\nup = { keys = [\"k\"] }\nswitchovr = { keys = [\"S\"] }\n");
    assert_eq!((e.file.as_str(), e.line, e.value.as_str()), ("keymap.toml", Some(4), "switchovr"));
    assert!(e.allowed.contains("switchover"), "{e}");
}

#[test]
fn unparsable_key_is_refused_with_the_syntax() {
    let e = refused("[normal]\n\ndown = { keys = [\"j\", \"pagedwn\"] }\n");
    assert_eq!((e.line, e.value.as_str()), (Some(3), "pagedwn"));
    assert!(e.allowed.contains("pgdn"), "{e}");
}

#[test]
fn unknown_context_and_field_are_refused() {
    let e = refused("[normal]\nup = { keys = [\"k\"] }\n[visual]\nup = { keys = [\"k\"] }\n");
    assert_eq!((e.line, e.value.as_str()), (Some(3), "visual"));
    assert!(e.allowed.contains("[modal]"), "{e}");
    let e = refused("[normal]\nup = { key = [\"k\"] }\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("key"), "{e}");
}

#[test]
fn clashes_are_refused_and_blamed_on_the_user_line() {
    let e = refused("[normal]\n\nback = { keys = [\"j\"] }\n");
    assert_eq!((e.file.as_str(), e.line, e.value.as_str()), ("keymap.toml", Some(3), "j"));
    assert!(e.message.contains("down") && e.message.contains("keymaps/default.toml:"), "{e}");
    let e = refused("[modal]\nback = { keys = [\"ctrl-c\"] }\n");
    assert!(e.message.contains("quit"), "{e}");
    let e = Keymap::from_toml("[normal]\nup = { keys = [\"k\"] }\ndown = { keys = [\"K\", \"k\"] }\n", "full.toml")
        .unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.value.as_str()), ("full.toml", Some(3), "k"));
}

#[test]
fn plain_characters_are_refused_where_text_is_typed() {
    let e = refused("[input]\nback = { keys = [\"q\"] }\n");
    assert_eq!((e.line, e.value.as_str()), (Some(2), "q"));
    let e = refused("[global]\nhelp = { keys = [\"?\"] }\n");
    assert!(e.message.contains("[global]"), "{e}");
}

#[test]
fn a_full_keymap_needs_keys() {
    let e = Keymap::from_toml("[normal]\nup = { desc = \"Up\" }\n", "mine.toml").unwrap_err();
    assert_eq!((e.line, e.value.as_str()), (Some(2), "up"));
}

#[test]
fn the_quit_question_is_answered_by_y_or_enter_and_stayed_by_n_or_esc() {
    for base in [KeymapBase::Default, KeymapBase::Vim] {
        let km = Keymap::builtin(base);
        let q = |e: KeyEvent| km.resolve(&e, KeyContext::QuitDialog);
        assert_eq!(q(ch('y')), Some(Command::Quit), "{base:?}");
        assert_eq!(q(press(KeyCode::Enter, KeyModifiers::NONE)), Some(Command::Quit), "{base:?}");
        assert_eq!(q(press(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Command::Quit), "{base:?}");
        assert_eq!(q(ch('n')), Some(Command::Back), "{base:?}");
        assert_eq!(q(press(KeyCode::Esc, KeyModifiers::NONE)), Some(Command::Back), "{base:?}");
        // Any other key is left to the console, which stays; `q` again is not a yes.
        assert_eq!(q(ch('q')), None, "{base:?}");
        assert_eq!(q(ch('j')), None, "{base:?}");
        // Outside the question, y copies and enter means nothing.
        assert_eq!(km.resolve(&ch('y'), KeyContext::Normal), Some(Command::Copy), "{base:?}");
    }
}

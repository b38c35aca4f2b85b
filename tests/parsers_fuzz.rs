//! Bounded fuzzing (proptest) of every file pgdeck reads from the operator: the spec, keymaps and
//! themes. Whatever the bytes, parsing never panics, and a refusal names the file it refused.
//! Inputs are the shipped files with random damage (lines cut, dropped, duplicated, characters
//! replaced), which reaches far deeper into the parsers than random text alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pgdeck::spec::ClusterSpec;
use pgdeck::tui::keymap::Keymap;
use pgdeck::tui::theme::Theme;
use proptest::prelude::*;

const SPEC: &str = "name = \"orders\"\ninstances = 3\n[postgresql.parameters]\nwork_mem = \"16MB\"\n[backup]\nschedule = \"0 0 2 * * *\"\nretention = \"30d\"\n[secrets]\nuser_pattern = \"postgres/{user}-credentials\"\n";
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

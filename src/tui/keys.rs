//! Key strings as keymap files write them (`ctrl-r`, `G`, `pgdn`) and key events as terminals
//! report them, both brought to one canonical form so that lookup is plain equality.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key string may be, for error messages.
pub const KEY_SYNTAX: &str = "a single character (j, G, ?, :, /, +, -, 1) or one of enter esc tab backtab space up \
     down left right home end pgup pgdn backspace delete insert f1..f12, optionally prefixed by ctrl-, alt-, shift-";

const NAMED: [(&str, KeyCode); 17] = [
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("space", KeyCode::Char(' ')),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pgup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("escape", KeyCode::Esc),
];

/// A key with only the modifiers that matter for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    code: KeyCode,
    modifiers: KeyModifiers,
}

impl KeySpec {
    /// Parses a keymap key string; the error says what was wrong (the caller adds the syntax).
    pub fn parse(text: &str) -> Result<KeySpec, &'static str> {
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = text;
        // A lone `-` is the minus key, so a prefix is only stripped while something follows it.
        loop {
            let lower = rest.to_ascii_lowercase();
            let (flag, len) = if lower.starts_with("ctrl-") {
                (KeyModifiers::CONTROL, 5)
            } else if lower.starts_with("alt-") {
                (KeyModifiers::ALT, 4)
            } else if lower.starts_with("shift-") {
                (KeyModifiers::SHIFT, 6)
            } else {
                break;
            };
            if rest.len() <= len {
                break;
            }
            modifiers |= flag;
            rest = &rest[len..];
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err("an empty key"),
            (Some(c), None) => KeyCode::Char(c),
            _ => named(rest).ok_or("unknown key name")?,
        };
        if modifiers.contains(KeyModifiers::SHIFT) {
            if let KeyCode::Char(c) = code {
                if !c.is_alphabetic() {
                    return Err("shift with a symbol: write the shifted character itself, e.g. `?` or `+`");
                }
            }
        }
        Ok(KeySpec::canonical(code, modifiers))
    }

    /// The form a terminal event is matched in.
    pub fn from_event(event: &KeyEvent) -> KeySpec {
        KeySpec::canonical(event.code, event.modifiers)
    }

    /// A plain character, which text inputs must receive rather than the keymap.
    pub fn is_printable(self) -> bool {
        matches!(self.code, KeyCode::Char(_)) && self.modifiers.is_empty()
    }

    fn canonical(code: KeyCode, modifiers: KeyModifiers) -> KeySpec {
        let mut modifiers = modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            // Terminals differ on whether `G` arrives with SHIFT; the character already says it.
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c.to_uppercase().next().unwrap_or(c))
            }
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        // Legacy terminals send one byte for ctrl-c and ctrl-C, so the case cannot matter there.
        let code = match code {
            KeyCode::Char(c) if modifiers.contains(KeyModifiers::CONTROL) && c.is_ascii_alphabetic() => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        KeySpec { code, modifiers }
    }
}

fn named(name: &str) -> Option<KeyCode> {
    let lower = name.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix('f').and_then(|d| d.parse::<u8>().ok()) {
        return (1..=12).contains(&n).then_some(KeyCode::F(n));
    }
    NAMED.iter().find(|(n, _)| *n == lower).map(|(_, code)| *code)
}

/// The three names closest to a misspelt one, so an error can suggest the fix.
pub fn nearest<const N: usize>(name: &str, mut candidates: [&'static str; N]) -> Vec<&'static str> {
    candidates.sort_by_key(|candidate| (edit_distance(name, candidate), *candidate));
    candidates.into_iter().take(3).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, modifiers: KeyModifiers) -> KeySpec {
        KeySpec::from_event(&KeyEvent::new_with_kind(code, modifiers, KeyEventKind::Press))
    }

    #[test]
    fn parses_chars_names_and_modifiers() {
        assert_eq!(KeySpec::parse("j").unwrap(), ev(KeyCode::Char('j'), KeyModifiers::NONE));
        assert_eq!(KeySpec::parse("-").unwrap(), ev(KeyCode::Char('-'), KeyModifiers::NONE));
        assert_eq!(KeySpec::parse("ctrl--").unwrap(), ev(KeyCode::Char('-'), KeyModifiers::CONTROL));
        assert_eq!(KeySpec::parse("ctrl-r").unwrap(), ev(KeyCode::Char('r'), KeyModifiers::CONTROL));
        assert_eq!(KeySpec::parse("space").unwrap(), ev(KeyCode::Char(' '), KeyModifiers::NONE));
        assert_eq!(KeySpec::parse("pgdn").unwrap(), ev(KeyCode::PageDown, KeyModifiers::NONE));
        assert_eq!(KeySpec::parse("f12").unwrap(), ev(KeyCode::F(12), KeyModifiers::NONE));
        assert_eq!(KeySpec::parse("alt-shift-up").unwrap(), ev(KeyCode::Up, KeyModifiers::ALT | KeyModifiers::SHIFT));
    }

    #[test]
    fn single_chars_are_case_sensitive_and_shift_is_folded() {
        assert_ne!(KeySpec::parse("g").unwrap(), KeySpec::parse("G").unwrap());
        assert_eq!(KeySpec::parse("shift-g").unwrap(), KeySpec::parse("G").unwrap());
        assert_eq!(KeySpec::parse("shift-tab").unwrap(), KeySpec::parse("backtab").unwrap());
        assert_eq!(ev(KeyCode::Char('G'), KeyModifiers::SHIFT), KeySpec::parse("G").unwrap());
        assert_eq!(ev(KeyCode::BackTab, KeyModifiers::SHIFT), KeySpec::parse("backtab").unwrap());
        assert_eq!(ev(KeyCode::Char('?'), KeyModifiers::SHIFT), KeySpec::parse("?").unwrap());
    }

    #[test]
    fn refuses_unknown_names_and_shifted_symbols() {
        assert!(KeySpec::parse("").is_err());
        assert!(KeySpec::parse("pagedown2").unwrap_err().contains("unknown key name"));
        assert!(KeySpec::parse("f13").is_err());
        assert!(KeySpec::parse("shift-1").is_err());
    }

    #[test]
    fn nearest_names_come_first() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(nearest("swtichover", ["backup", "failover", "switchover", "quit"])[0], "switchover");
        assert_eq!(nearest("x", ["a", "b"]).len(), 2);
    }

    #[test]
    fn printable_means_plain_character() {
        assert!(KeySpec::parse("q").unwrap().is_printable());
        assert!(KeySpec::parse("space").unwrap().is_printable());
        assert!(!KeySpec::parse("ctrl-q").unwrap().is_printable());
        assert!(!KeySpec::parse("enter").unwrap().is_printable());
    }
}

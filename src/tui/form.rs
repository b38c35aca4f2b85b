//! Forms that gather an Action's parameters: create database, create user, restore. Each field
//! is a one-line tui-textarea; every field is validated against the State as the operator types,
//! and a form becomes an Action only when nothing is wrong with it.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_textarea::TextArea;

use crate::action::Action;
use crate::dispatch::check_recovery_target;
use crate::names::{check_cluster_name, check_identifier, NameKind};
use crate::state::State;

/// How many existing names a hint lists before it says "…".
const HINT_NAMES: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKind {
    CreateDatabase,
    CreateUser,
    /// Restore the backup with this id.
    Restore {
        backup: String,
    },
    RotatePassword,
    RevealPassword,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub label: &'static str,
    /// What the field wants, shown under it while it has nothing wrong with it.
    pub hint: &'static str,
    pub text: TextArea<'static>,
}

impl Field {
    fn new(label: &'static str, hint: &'static str, value: &str) -> Self {
        let mut text = TextArea::new(vec![value.to_owned()]);
        text.move_cursor(tui_textarea::CursorMove::End);
        Self { label, hint, text }
    }

    /// The field's text, trimmed: one line by construction.
    pub fn value(&self) -> String {
        self.text.lines().first().map(|l| l.trim().to_owned()).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
}

impl Form {
    pub fn create_database() -> Self {
        Self {
            kind: FormKind::CreateDatabase,
            fields: vec![
                Field::new("Database name", "lowercase letters, digits and _", ""),
                Field::new("Owner", "an existing role", ""),
            ],
            focus: 0,
        }
    }

    /// `database`: the one selected in the Databases view, as the likely choice.
    pub fn create_user(database: Option<&str>) -> Self {
        Self {
            kind: FormKind::CreateUser,
            fields: vec![
                Field::new("User name", "a login role; its password is generated and stored", ""),
                Field::new(
                    "Database",
                    "the database it may use (read and write in schema public)",
                    database.unwrap_or(""),
                ),
            ],
            focus: 0,
        }
    }

    pub fn restore(backup: &str) -> Self {
        Self {
            kind: FormKind::Restore { backup: backup.to_owned() },
            fields: vec![
                Field::new(
                    "New cluster name",
                    "a new cluster beside the running one: lowercase letters, digits and -",
                    "",
                ),
                Field::new("Recover to (UTC)", "YYYY-MM-DD HH:MM:SS, or empty for the end of the archived WAL", ""),
            ],
            focus: 0,
        }
    }

    pub fn rotate_password() -> Self {
        Self {
            kind: FormKind::RotatePassword,
            fields: vec![Field::new("User", "a login role whose password is kept in the credential store", "")],
            focus: 0,
        }
    }

    pub fn reveal_password() -> Self {
        Self {
            kind: FormKind::RevealPassword,
            fields: vec![Field::new("User", "a login role whose password is kept in the credential store", "")],
            focus: 0,
        }
    }

    pub fn title(&self) -> String {
        match &self.kind {
            FormKind::CreateDatabase => "Create database".into(),
            FormKind::CreateUser => "Create user".into(),
            FormKind::Restore { backup } => format!("Restore backup {backup}"),
            FormKind::RotatePassword => "Rotate a password".into(),
            FormKind::RevealPassword => "Show a stored password".into(),
        }
    }

    pub fn next_field(&mut self) {
        self.focus = (self.focus + 1) % self.fields.len();
    }

    pub fn previous_field(&mut self) {
        self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
    }

    /// A key for the focused field. Line breaks never get in: every field is one line.
    pub fn input(&mut self, key: KeyEvent) {
        let newline = key.code == KeyCode::Enter
            || (key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('m' | 'j')));
        if newline {
            return;
        }
        if let Some(field) = self.fields.get_mut(self.focus) {
            field.text.input(key);
        }
    }

    /// What is wrong with each field, in field order (`None`: nothing).
    pub fn problems(&self, state: &State) -> Vec<Option<String>> {
        let values: Vec<String> = self.fields.iter().map(Field::value).collect();
        let value = |i: usize| values.get(i).map_or("", String::as_str);
        let (first, second) = (value(0), value(1));
        let catalog = state.leader_catalog();
        let database_names = || catalog.iter().flat_map(|c| c.databases.iter().map(|d| d.name.as_str()));
        let role_names = || catalog.iter().flat_map(|c| c.roles.iter().map(|r| r.name.as_str()));
        let catalog_error = catalog.as_ref().err().cloned();
        match &self.kind {
            FormKind::CreateDatabase => vec![
                check_identifier(NameKind::Database, first, database_names()).err().or(catalog_error.clone()),
                existing(second, "role", role_names()).or(catalog_error),
            ],
            FormKind::CreateUser => vec![
                check_identifier(NameKind::Role, first, role_names()).err().or(catalog_error.clone()),
                existing(second, "database", database_names()).or(catalog_error),
            ],
            FormKind::RotatePassword | FormKind::RevealPassword => {
                let login = catalog.iter().flat_map(|c| c.roles.iter()).find(|r| r.name == first);
                let problem = match login {
                    Some(role) if role.login => None,
                    Some(_) => Some(format!("{first} cannot log in: it has no password")),
                    None => existing(first, "role", role_names()).or(catalog_error),
                };
                vec![problem]
            }
            FormKind::Restore { backup } => vec![
                check_cluster_name(first, &state.cluster).err(),
                parse_target_time(second)
                    .and_then(|target| {
                        let Some(target) = target else { return Ok(()) };
                        let report =
                            state.backups.as_ref().and_then(|b| b.value.backups.iter().find(|r| &r.id == backup));
                        report.map_or(Ok(()), |r| check_recovery_target(r, target, state.now))
                    })
                    .err(),
            ],
        }
    }

    /// The Action the form describes, or what to fix first.
    pub fn action(&self, state: &State) -> Result<Action, String> {
        let problems = self.problems(state);
        if let Some((field, problem)) = self.fields.iter().zip(&problems).find_map(|(f, p)| p.as_ref().map(|p| (f, p)))
        {
            return Err(format!("{}: {problem}", field.label));
        }
        let value = |i: usize| self.fields.get(i).map(Field::value).unwrap_or_default();
        let (first, second) = (value(0), value(1));
        Ok(match &self.kind {
            FormKind::RotatePassword => Action::RotatePassword { user: first },
            FormKind::RevealPassword => Action::RevealPassword { user: first },
            FormKind::CreateDatabase => Action::CreateDatabase { name: first, owner: second },
            FormKind::CreateUser => Action::CreateUser { name: first, database: second },
            FormKind::Restore { backup } => {
                Action::Restore { backup: backup.clone(), target_time: parse_target_time(&second)?, new_cluster: first }
            }
        })
    }
}

/// `value` must be one of `names`; the error lists those that start like it.
fn existing<'a>(value: &str, noun: &str, names: impl Iterator<Item = &'a str>) -> Option<String> {
    let names: Vec<&str> = names.collect();
    if names.contains(&value) {
        return None;
    }
    let mut like: Vec<&str> = names.iter().copied().filter(|n| n.starts_with(value)).collect();
    like.sort_unstable();
    let more = if like.len() > HINT_NAMES { ", …" } else { "" };
    like.truncate(HINT_NAMES);
    let list = if like.is_empty() { "none starts like that".to_owned() } else { format!("{}{more}", like.join(", ")) };
    if value.is_empty() {
        Some(format!("type an existing {noun}: {list}"))
    } else {
        Some(format!("no {noun} `{value}` on the leader; {list}"))
    }
}

/// The restore form's target: empty is "no target"; otherwise a time as `pgdeck restore
/// --target-time` takes it (one parser for both: [`crate::time_input::parse_time`]).
fn parse_target_time(text: &str) -> Result<Option<DateTime<Utc>>, String> {
    crate::time_input::parse_optional_time(text).map(|typed| typed.map(|t| t.at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn type_text(form: &mut Form, text: &str) {
        for c in text.chars() {
            form.input(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn fields_stay_one_line_and_edit_like_a_line() {
        let mut form = Form::create_database();
        type_text(&mut form, "ordrs");
        form.input(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        form.input(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::CONTROL));
        assert_eq!(form.fields[0].text.lines().len(), 1);
        form.input(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE));
        form.input(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE));
        type_text(&mut form, "e");
        assert_eq!(form.fields[0].value(), "orders");
        form.next_field();
        type_text(&mut form, "app");
        assert_eq!(form.fields[1].value(), "app");
        form.next_field();
        assert_eq!(form.focus, 0);
    }

    #[test]
    fn the_target_time_field_parses_as_the_command_line_does() {
        let at = parse_target_time("2026-11-25 14:30:00").unwrap().unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-25T14:30:00+00:00");
        assert_eq!(parse_target_time("2026-11-25T15:30:00+01:00").unwrap(), Some(at));
        assert_eq!(parse_target_time("  ").unwrap(), None);
        let e = parse_target_time("yesterday").unwrap_err();
        assert_eq!(Err(e), crate::time_input::parse_time("yesterday"));
    }

    #[test]
    fn existing_lists_names_that_start_alike() {
        let names = ["app", "apple", "billing"];
        assert_eq!(existing("app", "role", names.into_iter()), None);
        assert_eq!(existing("ap", "role", names.into_iter()).unwrap(), "no role `ap` on the leader; app, apple");
        assert_eq!(existing("", "role", names.into_iter()).unwrap(), "type an existing role: app, apple, billing");
    }
}

//! `Ui`: focus, selection, filter, dialogs and pause — everything the console shows that is not a
//! cluster fact. `Ui::update` is a pure reducer from a Command to Effects the loop carries out.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::action::Action;
use crate::command::{Command, ViewId};
use crate::dispatch::Refusal;
use crate::model::Role;
use crate::record::replay::{Control, ReplayStatus};
use crate::secrets::{Revealed, REVEAL_SECONDS};
use crate::state::State;
use crate::tui::form::Form;
use crate::tui::keymap::KeyContext;

/// The refresh interval's bounds and steps, as `+` and `-` move it.
pub const REFRESH_STEPS_MS: [u64; 7] = [250, 500, 1000, 2000, 5000, 10_000, 30_000];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    CommandLine,
    Filter,
}

/// A line being typed: the `:` command line or the `/` filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub text: String,
}

/// A dialog that holds an Action until it is confirmed; Esc drops it with nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub action: Action,
    /// Exactly what will be done: the REST call, command or SQL.
    pub preview: String,
    /// What must be typed to confirm a disruptive action; `None`: Enter confirms.
    pub phrase: Option<String>,
    pub typed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub tone: Tone,
}

/// What the loop must do after a Command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Quit,
    /// Ask the platform what `action` will do, then open its confirmation.
    Prepare(Action),
    Dispatch {
        action: Action,
        confirmation: Option<String>,
    },
    RefreshNow,
    SetRefresh(Duration),
    FreezeDisplay(bool),
    FullRedraw,
    /// Put this text on the operator's clipboard.
    Copy(String),
    /// The operator closed a confirmation without confirming: audit it.
    Cancelled(Action),
    /// Move the replay (pause, speed, step, seek).
    Replay(Control),
    /// Watch the named target instead (`None`: list the targets).
    SwitchTarget(Option<String>),
}

/// How a view's table is ordered: which of its sortable columns, and which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub column: usize,
    pub ascending: bool,
}

/// The sortable columns of each view, in the order `sort-next` walks them (first is the default).
pub fn sort_columns(view: ViewId) -> &'static [&'static str] {
    match view {
        ViewId::Statements => &["ms/s", "calls/s", "mean", "rows/s", "hit%", "calls", "total ms"],
        ViewId::Activity => &["blocking", "running", "pid", "user", "state"],
        ViewId::Databases => &["size", "name", "owner"],
        _ => &[],
    }
}

#[derive(Debug, Clone)]
pub struct Ui {
    pub view: ViewId,
    /// Where Back from Help returns to.
    pub return_view: ViewId,
    pub selected: BTreeMap<ViewId, usize>,
    pub filter: Option<String>,
    pub input: Option<Input>,
    pub confirmation: Option<Confirmation>,
    /// A form gathering an Action's parameters, before its confirmation.
    pub form: Option<Form>,
    pub display_paused: bool,
    pub refresh: Duration,
    pub message: Option<Message>,
    pub read_only: bool,
    pub sort: BTreeMap<ViewId, Sort>,
    /// The member the workload views show; `None`: the leader.
    pub workload_member: Option<String>,
    /// Where the replay is, when this console replays a recording.
    pub replay: Option<ReplayStatus>,
    /// Where the audit trail is written, for Help.
    pub audit_file: Option<String>,
    /// A password the operator asked to see, over everything until a key is pressed or
    /// `REVEAL_SECONDS` pass. Only the Dispatcher's reveal channel fills it, never the State.
    pub revealed: Option<Shown>,
    /// The target watched, by its configured name (the live console only).
    pub target: Option<String>,
    /// Where this live session is being recorded, if it is (the header says RECORDING, Help where).
    pub recording: Option<String>,
    /// Back on the Overview, where there is nothing to go back to, asks whether to quit.
    pub asking_to_quit: bool,
}

/// A revealed password and when it was put on screen.
#[derive(Debug, Clone)]
pub struct Shown {
    pub revealed: Revealed,
    pub since: Instant,
}

impl Ui {
    pub fn new(read_only: bool, refresh: Duration) -> Self {
        Self {
            view: ViewId::Overview,
            return_view: ViewId::Overview,
            selected: BTreeMap::new(),
            filter: None,
            input: None,
            confirmation: None,
            form: None,
            display_paused: false,
            refresh,
            message: None,
            read_only,
            sort: BTreeMap::new(),
            workload_member: None,
            replay: None,
            audit_file: None,
            revealed: None,
            target: None,
            recording: None,
            asking_to_quit: false,
        }
    }

    /// Now watching `target`: what was selected, filtered or open belonged to the last one.
    pub fn switched_to(&mut self, target: &str, identity: &str) {
        self.target = Some(target.to_owned());
        self.selected.clear();
        self.filter = None;
        self.form = None;
        self.confirmation = None;
        self.workload_member = None;
        self.display_paused = false;
        self.message = Some(Message { text: format!("now watching {target}: {identity}"), tone: Tone::Info });
    }

    pub fn info(&mut self, text: &str) {
        self.message = Some(Message { text: text.to_owned(), tone: Tone::Info });
    }

    pub fn show_revealed(&mut self, revealed: Revealed, now: Instant) {
        self.revealed = Some(Shown { revealed, since: now });
    }

    /// Takes a revealed password off the screen; whether one was there.
    pub fn hide_revealed(&mut self) -> bool {
        self.revealed.take().is_some()
    }

    /// Takes a revealed password off the screen once its time is up.
    pub fn expire_revealed(&mut self, now: Instant) {
        let limit = Duration::from_secs(REVEAL_SECONDS);
        if self.revealed.as_ref().is_some_and(|shown| now.saturating_duration_since(shown.since) >= limit) {
            self.revealed = None;
        }
    }

    /// Which keymap table applies now.
    pub fn context(&self) -> KeyContext {
        if self.asking_to_quit {
            return KeyContext::QuitDialog;
        }
        match (&self.input, &self.confirmation) {
            (Some(_), _) | (None, Some(Confirmation { phrase: Some(_), .. })) => KeyContext::Input,
            (None, Some(_)) => KeyContext::Modal,
            (None, None) if self.form.is_some() => KeyContext::Form,
            (None, None) => KeyContext::Normal,
        }
    }

    pub fn selected(&self, view: ViewId) -> usize {
        self.selected.get(&view).copied().unwrap_or(0)
    }

    pub fn update(&mut self, state: &State, command: Command) -> Vec<Effect> {
        if command == Command::Quit {
            // Answered, if it was asked.
            self.asking_to_quit = false;
            return vec![Effect::Quit];
        }
        if command == Command::Redraw {
            return vec![Effect::FullRedraw];
        }
        match self.context() {
            KeyContext::Input => self.update_input(state, command),
            KeyContext::Modal => self.update_modal(command),
            KeyContext::Form => self.update_form(state, command),
            KeyContext::QuitDialog => self.update_quit_dialog(command),
            KeyContext::Normal | KeyContext::Global => self.update_normal(state, command),
        }
    }

    /// A printable character typed into the active input.
    pub fn type_char(&mut self, c: char) {
        if let Some(form) = self.form.as_mut().filter(|_| self.input.is_none() && self.confirmation.is_none()) {
            form.input(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c)));
        } else if let Some(input) = &mut self.input {
            input.text.push(c);
        } else if let Some(confirmation) = &mut self.confirmation {
            confirmation.typed.push(c);
        }
    }

    pub fn delete_char(&mut self) {
        if let Some(input) = &mut self.input {
            input.text.pop();
        } else if let Some(confirmation) = &mut self.confirmation {
            confirmation.typed.pop();
        }
    }

    /// A key for the open form's focused field.
    pub fn form_key(&mut self, key: crossterm::event::KeyEvent) {
        if let Some(form) = &mut self.form {
            form.input(key);
            // A refusal of the last submit no longer applies once the field changed.
            self.message = None;
        }
    }

    /// The platform said what the action will do: show it and ask.
    pub fn open_confirmation(&mut self, state: &State, action: Action, preview: String) {
        let phrase = action.confirmation_phrase(&state.cluster);
        self.confirmation = Some(Confirmation { action, preview, phrase, typed: String::new() });
    }

    pub fn on_refusal(&mut self, refusal: &Refusal) {
        self.message = Some(Message { text: refusal.to_string(), tone: Tone::Error });
    }

    pub fn on_accepted(&mut self, action: &Action) {
        self.message =
            Some(Message { text: format!("{action} requested; its outcome appears in Events"), tone: Tone::Info });
    }

    fn update_normal(&mut self, state: &State, command: Command) -> Vec<Effect> {
        self.message = None;
        let rows = row_count(state, self.view, self.workload_member.as_deref());
        let selected = self.selected(self.view);
        let page = 10;
        let move_to = |to: usize| to.min(rows.saturating_sub(1));
        match command {
            Command::Back => {
                if self.view == ViewId::Help {
                    self.view = self.return_view;
                } else if self.filter.is_some() {
                    self.filter = None;
                } else if self.view == ViewId::Overview {
                    self.asking_to_quit = true;
                }
            }
            Command::Help | Command::ShowView(ViewId::Help) => {
                if self.view == ViewId::Help {
                    self.view = self.return_view;
                } else {
                    self.show(ViewId::Help);
                }
            }
            Command::ShowView(view) => self.show(view),
            Command::NextView | Command::PreviousView => {
                let cycle = ViewId::CYCLE;
                let at = cycle.iter().position(|v| *v == self.view).unwrap_or(0);
                let next = if command == Command::NextView { at + 1 } else { at + cycle.len() - 1 };
                self.show(cycle[next % cycle.len()]);
            }
            Command::CommandLine => self.input = Some(Input { kind: InputKind::CommandLine, text: String::new() }),
            Command::Filter => {
                let text = self.filter.clone().unwrap_or_default();
                self.input = Some(Input { kind: InputKind::Filter, text });
            }
            Command::Up => {
                self.selected.insert(self.view, selected.saturating_sub(1));
            }
            Command::Down => {
                self.selected.insert(self.view, move_to(selected + 1));
            }
            Command::Top => {
                self.selected.insert(self.view, 0);
            }
            Command::Bottom => {
                self.selected.insert(self.view, move_to(usize::MAX));
            }
            Command::PageUp => {
                self.selected.insert(self.view, selected.saturating_sub(page));
            }
            Command::PageDown => {
                self.selected.insert(self.view, move_to(selected + page));
            }
            Command::RefreshNow => return vec![Effect::RefreshNow],
            Command::RefreshFaster | Command::RefreshSlower => {
                return self.step_refresh(command == Command::RefreshFaster)
            }
            Command::PauseDisplay => {
                self.display_paused = !self.display_paused;
                return vec![Effect::FreezeDisplay(self.display_paused)];
            }
            Command::SortNext | Command::SortReverse => self.step_sort(command == Command::SortNext),
            Command::NextMember => self.next_member(state),
            Command::Copy => {
                if let Some(text) = self.selection_text(state) {
                    self.message =
                        Some(Message { text: format!("copied {} characters", text.chars().count()), tone: Tone::Info });
                    return vec![Effect::Copy(text)];
                }
                self.error("nothing selected to copy here");
            }
            Command::Switchover
            | Command::Failover
            | Command::Backup
            | Command::CancelBackend
            | Command::TerminateBackend => return self.mutation(state, command),
            Command::Restore
            | Command::CreateDatabase
            | Command::CreateUser
            | Command::RotatePassword
            | Command::RevealPassword => return self.open_form(state, command),
            Command::ReplayPause
            | Command::ReplayFaster
            | Command::ReplaySlower
            | Command::ReplayStep
            | Command::ReplaySeek
            | Command::ReplayNextRoleChange
            | Command::ReplayNextFinding
            | Command::ReplayNextAction => return self.replay_command(command),
            Command::Submit | Command::Quit | Command::Redraw | Command::NextField | Command::PreviousField => {}
        }
        Vec::new()
    }

    /// The full text of what is selected: a query, a member, a backup, a database, an event.
    fn selection_text(&self, state: &State) -> Option<String> {
        let at = self.selected(self.view);
        match self.view {
            ViewId::Statements => {
                let (_, rates) = crate::tui::views::statements::visible_statements(state, self);
                rates.get(at).map(|r| r.row.query.clone())
            }
            ViewId::Activity => {
                let (_, rows) = crate::tui::views::activity::visible_rows(state, self);
                rows.get(at).and_then(|(_, b)| b.query.clone())
            }
            ViewId::Overview | ViewId::Storage => {
                state.member_views().into_iter().filter(|m| self.matches(&m.name)).nth(at).map(|m| m.name)
            }
            ViewId::Backups => {
                let backups = &state.backups.as_ref()?.value.backups;
                backups.iter().rev().filter(|b| self.matches(&b.id)).nth(at).map(|b| b.id.clone())
            }
            ViewId::Databases => {
                crate::tui::views::databases::visible_databases(state, self).get(at).map(|d| d.name.clone())
            }
            ViewId::Events => state
                .events
                .iter()
                .rev()
                .map(|e| crate::tui::views::events::describe(e).0)
                .filter(|text| self.matches(text))
                .nth(at),
            ViewId::Replication | ViewId::Help => None,
        }
    }

    /// Whether `text` passes the filter in force, as the views apply it.
    pub(super) fn matches(&self, text: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| text.to_lowercase().contains(&f.to_lowercase()))
    }

    pub fn sort(&self, view: ViewId) -> Sort {
        self.sort.get(&view).copied().unwrap_or_default()
    }

    fn step_sort(&mut self, next_column: bool) {
        let columns = sort_columns(self.view);
        if columns.is_empty() {
            return;
        }
        let mut sort = self.sort(self.view);
        if next_column {
            sort = Sort { column: (sort.column + 1) % columns.len(), ascending: false };
        } else {
            sort.ascending = !sort.ascending;
        }
        let order = if sort.ascending { "ascending" } else { "descending" };
        self.message =
            Some(Message { text: format!("sorted by {} ({order})", columns[sort.column]), tone: Tone::Info });
        self.sort.insert(self.view, sort);
        self.selected.insert(self.view, 0);
    }

    fn next_member(&mut self, state: &State) {
        let names: Vec<&String> = state.members.keys().collect();
        let current = state.workload_member(self.workload_member.as_deref()).map(str::to_owned);
        let at = names.iter().position(|n| Some(n.as_str()) == current.as_deref());
        let next = at.map_or(0, |i| (i + 1) % names.len().max(1));
        self.workload_member = names.get(next).map(|n| (*n).clone());
        for view in [ViewId::Statements, ViewId::Activity] {
            self.selected.insert(view, 0);
        }
    }

    fn show(&mut self, view: ViewId) {
        if view == ViewId::Help && self.view != ViewId::Help {
            self.return_view = self.view;
        }
        self.view = view;
    }

    fn step_refresh(&mut self, faster: bool) -> Vec<Effect> {
        let ms = u64::try_from(self.refresh.as_millis()).unwrap_or(u64::MAX);
        let next = if faster {
            REFRESH_STEPS_MS.iter().rev().find(|s| **s < ms).copied().unwrap_or(REFRESH_STEPS_MS[0])
        } else {
            REFRESH_STEPS_MS.iter().find(|s| **s > ms).copied().unwrap_or(REFRESH_STEPS_MS[REFRESH_STEPS_MS.len() - 1])
        };
        self.refresh = Duration::from_millis(next);
        self.message =
            Some(Message { text: format!("refreshing every {}", format_interval(self.refresh)), tone: Tone::Info });
        vec![Effect::SetRefresh(self.refresh)]
    }

    pub(super) fn error(&mut self, text: &str) {
        self.message = Some(Message { text: text.to_owned(), tone: Tone::Error });
    }
}

/// Rows the view lists, for moving the selection.
pub fn row_count(state: &State, view: ViewId, member: Option<&str>) -> usize {
    match view {
        ViewId::Overview | ViewId::Storage => state.member_views().len(),
        ViewId::Replication => state.member_views().iter().filter(|m| m.role != Role::Primary).count(),
        ViewId::Backups => state.backups.as_ref().map_or(0, |b| b.value.backups.len()),
        ViewId::Events => state.events.len(),
        ViewId::Statements => state.workload_member(member).map_or(0, |m| state.statement_rates(m).len()),
        ViewId::Activity => state.workload_member(member).map_or(0, |m| state.blocking_tree(m).len()),
        ViewId::Databases => {
            state.workload_member(member).and_then(|m| state.catalog.get(m)).map_or(0, |c| c.value.databases.len())
        }
        // The view clamps the scroll to what overflows; the keymap's length is not known here.
        ViewId::Help => 200,
    }
}

pub fn parse_interval(text: &str) -> Option<Duration> {
    let (number, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = number.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return None,
    };
    (Duration::from_millis(100)..=Duration::from_secs(300)).contains(&d).then_some(d)
}

pub fn format_interval(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[path = "ui_dialogs.rs"]
mod dialogs;

#[path = "ui_replay.rs"]
mod replay;

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;

//! The Ui's dialogs and lines: the `:` command line and `/` filter being typed, a confirmation
//! open over the view, a form gathering an action's parameters, the question whether to quit.

use super::{parse_interval, Effect, Input, InputKind, Ui};
use crate::command::{Command, ViewId};
use crate::state::State;

impl Ui {
    pub(super) fn update_input(&mut self, state: &State, command: Command) -> Vec<Effect> {
        match command {
            Command::Back => {
                if self.input.take().is_some_and(|i| i.kind == InputKind::Filter) {
                    self.filter = None;
                }
                self.confirmation.take().map(|c| Effect::Cancelled(c.action)).into_iter().collect()
            }
            Command::Submit => {
                if let Some(input) = self.input.take() {
                    return self.submit_input(state, input);
                }
                self.submit_confirmation()
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn update_modal(&mut self, command: Command) -> Vec<Effect> {
        match command {
            Command::Back => self.confirmation.take().map(|c| Effect::Cancelled(c.action)).into_iter().collect(),
            Command::Submit => self.submit_confirmation(),
            _ => Vec::new(),
        }
    }

    pub(super) fn update_form(&mut self, state: &State, command: Command) -> Vec<Effect> {
        let Some(form) = &mut self.form else { return Vec::new() };
        match command {
            Command::Back => self.form = None,
            Command::NextField => form.next_field(),
            Command::PreviousField => form.previous_field(),
            Command::Submit => match form.action(state) {
                Ok(action) => {
                    self.form = None;
                    self.message = None;
                    return vec![Effect::Prepare(action)];
                }
                Err(problem) => {
                    if let Some(first) = form.problems(state).iter().position(Option::is_some) {
                        form.focus = first;
                    }
                    self.error(&problem);
                }
            },
            _ => {}
        }
        Vec::new()
    }

    fn submit_confirmation(&mut self) -> Vec<Effect> {
        let Some(confirmation) = self.confirmation.take() else { return Vec::new() };
        let typed = confirmation.phrase.as_ref().map(|_| confirmation.typed.clone());
        vec![Effect::Dispatch { action: confirmation.action, confirmation: typed }]
    }

    fn submit_input(&mut self, state: &State, input: Input) -> Vec<Effect> {
        match input.kind {
            InputKind::Filter => {
                self.filter = (!input.text.is_empty()).then_some(input.text);
                self.selected.insert(self.view, 0);
                Vec::new()
            }
            InputKind::CommandLine => self.run_command_line(state, input.text.trim()),
        }
    }

    /// `:overview`, `:backups`, `:q`, `:refresh 2s` …: views and a few commands by name.
    fn run_command_line(&mut self, state: &State, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let Some(word) = words.next() else { return Vec::new() };
        if let Some(view) = ViewId::from_name(word).or_else(|| ViewId::from_name(word.trim_end_matches('s'))) {
            self.show(view);
            return Vec::new();
        }
        match word {
            "q" | "quit" => vec![Effect::Quit],
            "target" | "targets" | "ctx" => vec![Effect::SwitchTarget(words.next().map(str::to_owned))],
            "seek" => self.seek_line(&words.collect::<Vec<_>>().join(" ")),
            "refresh" => {
                if let Some(interval) = words.next().and_then(parse_interval) {
                    self.refresh = interval;
                    return vec![Effect::SetRefresh(interval)];
                }
                self.error("usage: :refresh <interval>, e.g. :refresh 2s or :refresh 500ms");
                Vec::new()
            }
            // Every keymap command by its name, as its key would run it (`:backup`, `:sort-next`).
            other => {
                if let Some(command) = Command::from_name(other) {
                    return self.update_normal(state, command);
                }
                self.error(&format!(
                    "unknown command `{other}`; try a view name (overview, statements, activity, …), refresh, q, or a command from the help"
                ));
                Vec::new()
            }
        }
    }

    /// The quit question: its quit key (ctrl-c too) quits in `update`; Enter quits; any other
    /// command closes it, and a key the keymap does not bind here comes as `Back`.
    pub(super) fn update_quit_dialog(&mut self, command: Command) -> Vec<Effect> {
        self.asking_to_quit = false;
        if command == Command::Submit {
            return vec![Effect::Quit];
        }
        Vec::new()
    }
}

//! The frame around every view: tabs, status line and the key footer (the header has its own file).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::command::{Command, ViewId};
use crate::tui::keymap::KeyContext;
use crate::tui::theme::Role;
use crate::tui::ui::{InputKind, Tone};
use crate::tui::views::Context;

pub fn tabs(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let label = |view: ViewId, short: bool| {
        let key = cx.keymap.key_label(Command::ShowView(view), KeyContext::Normal).unwrap_or_default();
        let title = if short { view.short_title() } else { view.title() };
        match (key.is_empty(), short) {
            (true, _) => format!(" {title} "),
            (false, false) => format!(" {key} {title} "),
            (false, true) => format!("{key} {title} "),
        }
    };
    let all: Vec<ViewId> = ViewId::CYCLE.into_iter().chain([ViewId::Help]).collect();
    let full_width: usize = all.iter().map(|v| label(*v, false).chars().count()).sum();
    let short = full_width > usize::from(area.width);
    // Narrow: short titles, and Help only while it is shown (the footer offers `?`).
    let views = all.into_iter().filter(|v| !short || *v != ViewId::Help || cx.ui.view == ViewId::Help);
    let mut spans = Vec::new();
    for view in views {
        let label = label(view, short);
        let role = if view == cx.ui.view { Role::Selected } else { Role::Muted };
        spans.push(Span::styled(label, cx.style(role)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The active input line, else the last message, else the filter in force.
pub fn status_line(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let ui = cx.ui;
    let line = if let Some(input) = &ui.input {
        let prompt = if input.kind == InputKind::CommandLine { ":" } else { "/" };
        Line::from(vec![Span::styled(prompt, cx.style(Role::Key)), Span::raw(input.text.clone()), Span::raw("▏")])
    } else if let Some(message) = &ui.message {
        let role = if message.tone == Tone::Error { Role::Danger } else { Role::Ok };
        Line::from(Span::styled(message.text.clone(), cx.style(role)))
    } else if let Some(filter) = &ui.filter {
        Line::from(vec![Span::styled("filter: ", cx.style(Role::Muted)), Span::raw(filter.clone())])
    } else {
        Line::default()
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The hints the footer shows, in the order they read and, after Help and Quit (always shown),
/// most useful first: in a view, that view's own actions come right after help; in a dialog,
/// form or input, how to get on or out.
fn footer_commands(cx: &Context<'_>) -> Vec<Command> {
    match cx.ui.context() {
        KeyContext::Normal | KeyContext::Global if cx.ui.replay.is_some() => vec![
            Command::Help,
            Command::ReplayPause,
            Command::ReplayFaster,
            Command::ReplaySlower,
            Command::ReplayStep,
            Command::ReplayNextRoleChange,
            Command::ReplayNextFinding,
            Command::ReplayNextAction,
            Command::ReplaySeek,
            Command::NextView,
            Command::Quit,
        ],
        KeyContext::Normal | KeyContext::Global => {
            let mut commands = vec![Command::Help];
            commands.extend_from_slice(view_commands(cx.ui.view));
            commands.extend([
                Command::CommandLine,
                Command::Filter,
                Command::PauseDisplay,
                Command::RefreshNow,
                Command::NextView,
                Command::Quit,
            ]);
            commands
        }
        KeyContext::Modal | KeyContext::Input | KeyContext::Form => {
            vec![Command::Submit, Command::Back, Command::NextField, Command::PreviousField, Command::Quit]
        }
        KeyContext::QuitDialog => vec![Command::Quit, Command::Back],
    }
}

/// What each view is for, as keys.
fn view_commands(view: ViewId) -> &'static [Command] {
    match view {
        ViewId::Overview | ViewId::Replication => &[Command::Switchover, Command::Failover, Command::Backup],
        ViewId::Storage => &[Command::Backup],
        ViewId::Backups => &[Command::Backup, Command::Restore, Command::Copy],
        ViewId::Statements => &[Command::SortNext, Command::SortReverse, Command::NextMember, Command::Copy],
        ViewId::Activity => {
            &[Command::CancelBackend, Command::TerminateBackend, Command::SortNext, Command::NextMember]
        }
        ViewId::Databases => &[
            Command::CreateDatabase,
            Command::CreateUser,
            Command::RotatePassword,
            Command::RevealPassword,
            Command::SortNext,
        ],
        ViewId::Events => &[Command::Copy],
        ViewId::Help => &[Command::Back],
    }
}

/// One key hint: ` key desc `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub key: String,
    pub desc: String,
    /// Help and Quit: shown at every width; the others go when room runs out, last first.
    pub pinned: bool,
}

impl Hint {
    fn width(&self) -> usize {
        Span::raw(self.key.as_str()).width() + Span::raw(self.desc.as_str()).width() + 3
    }
}

/// The footer's hints for the current context, from the keymap, in the order they read; no
/// mutating key when read-only.
pub fn footer_hints(cx: &Context<'_>) -> Vec<Hint> {
    let bindings = cx.keymap.bindings(cx.ui.context());
    let global = cx.keymap.bindings(KeyContext::Global);
    footer_commands(cx)
        .into_iter()
        .filter(|command| !(cx.ui.read_only && command.is_mutating()))
        .filter_map(|command| {
            let binding = bindings.iter().chain(&global).find(|b| b.command == command)?;
            let key = binding.keys.first()?;
            let pinned = matches!(command, Command::Help | Command::Quit);
            Some(Hint { key: key.clone(), desc: binding.desc.clone(), pinned })
        })
        .collect()
}

/// The hints that fit in `width`: every pinned one, then the others in order while they fit.
pub fn fit_hints(hints: Vec<Hint>, width: usize) -> Vec<Hint> {
    let mut left = width.saturating_sub(hints.iter().filter(|h| h.pinned).map(Hint::width).sum());
    let mut room = true;
    hints
        .into_iter()
        .filter(|hint| {
            if hint.pinned {
                return true;
            }
            room = room && hint.width() <= left;
            if room {
                left -= hint.width();
            }
            room
        })
        .collect()
}

/// Key hints for the current context: help and how to quit always, then what fits.
pub fn footer(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let mut spans = Vec::new();
    for hint in fit_hints(footer_hints(cx), usize::from(area.width)) {
        spans.push(Span::styled(format!(" {}", hint.key), cx.style(Role::Key)));
        spans.push(Span::styled(format!(" {} ", hint.desc), cx.style(Role::Footer)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(key: &str, desc: &str, pinned: bool) -> Hint {
        Hint { key: key.into(), desc: desc.into(), pinned }
    }

    fn shown(hints: &[Hint]) -> String {
        hints.iter().map(|h| format!(" {} {} ", h.key, h.desc)).collect::<Vec<_>>().concat()
    }

    #[test]
    fn help_and_quit_stay_and_the_others_go_last_first() {
        let hints = vec![
            hint("?", "Help", true),
            hint("S", "Switchover", false),
            hint("F", "Failover", false),
            hint(":", "Command line", false),
            hint("ctrl-c", "Quit", true),
        ];
        assert_eq!(
            shown(&fit_hints(hints.clone(), 200)),
            " ? Help  S Switchover  F Failover  : Command line  ctrl-c Quit "
        );
        // 8 + 13 pinned; 14 for Switchover, then Failover's 12 does not fit in the 8 left: it and all after it go.
        assert_eq!(shown(&fit_hints(hints.clone(), 43)), " ? Help  S Switchover  ctrl-c Quit ");
        assert_eq!(shown(&fit_hints(hints.clone(), 21)), " ? Help  ctrl-c Quit ");
        // Narrower than the pinned two: they are still what is given (the line is then cut).
        assert_eq!(shown(&fit_hints(hints, 10)), " ? Help  ctrl-c Quit ");
    }
}

//! The frame around every view: header, tabs, status line and the key footer.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::command::{Command, ViewId};
use crate::tui::keymap::KeyContext;
use crate::tui::theme::Role;
use crate::tui::ui::{format_interval, InputKind, Tone};
use crate::tui::views::Context;

pub fn header(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let state = cx.state;
    let cluster = if state.cluster.is_empty() { "(waiting for the cluster)" } else { state.cluster.as_str() };
    let mut spans = vec![Span::styled(" pgdeck ", cx.style(Role::Title))];
    if let Some(target) = &cx.ui.target {
        spans.push(Span::styled(format!(" [{target}]"), cx.style(Role::Key)));
    }
    spans.push(Span::styled(format!(" {cluster} "), cx.style(Role::Header)));
    if !state.platform.is_empty() {
        spans.push(Span::styled(format!("({}) ", state.platform), cx.style(Role::Muted)));
    }
    match state.leader_name() {
        Some(leader) => spans.push(Span::styled(format!("leader {leader} "), cx.style(Role::Leader))),
        None if state.now.is_some() => spans.push(Span::styled("NO LEADER ", cx.style(Role::Danger))),
        None => {}
    }
    if let Some(tl) = state.timeline() {
        spans.push(Span::styled(format!("TL {tl} "), cx.style(Role::Muted)));
    }
    if state.maintenance_mode == Some(true) {
        spans.push(Span::styled("MAINTENANCE ", cx.style(Role::Warning)));
    }
    // The operator's word on the whole cluster (CNPG): instances ready, and the phase unless healthy.
    if let Some(phase) = state.cluster_phase.as_ref().map(|p| &p.value) {
        if let (Some(ready), Some(all)) = (phase.ready_instances, phase.instances) {
            let role = if ready == all { Role::Muted } else { Role::Warning };
            spans.push(Span::styled(format!("{ready}/{all} ready "), cx.style(role)));
        }
        if !phase.is_healthy() {
            spans.push(Span::styled(format!("{} ", phase.phase), cx.style(Role::Warning)));
        }
    }
    if cx.ui.replay.is_some() {
        spans.push(Span::styled("REPLAY ", cx.style(Role::Warning)));
    } else {
        spans.push(Span::styled(format!("every {} ", format_interval(cx.ui.refresh)), cx.style(Role::Muted)));
    }
    if cx.ui.display_paused {
        spans.push(Span::styled("PAUSED ", cx.style(Role::Warning)));
    }
    // A replay is read-only by construction; saying it twice costs the narrow header its room.
    if cx.ui.read_only && cx.ui.replay.is_none() {
        spans.push(Span::styled("READ-ONLY ", cx.style(Role::Warning)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

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

/// The hints the footer shows, most useful first (it shows as many as fit): in a view, that
/// view's own actions come right after help; in a dialog, form or input, how to get on or out.
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
            vec![Command::Submit, Command::NextField, Command::PreviousField, Command::Back, Command::Quit]
        }
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

/// Key hints for the current context, from the keymap, without mutating keys when read-only.
pub fn footer(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let context = cx.ui.context();
    let bindings = cx.keymap.bindings(context);
    let global = cx.keymap.bindings(KeyContext::Global);
    let mut spans = Vec::new();
    let mut width = 0;
    for command in footer_commands(cx) {
        if cx.ui.read_only && command.is_mutating() {
            continue;
        }
        let Some(binding) = bindings.iter().chain(&global).find(|b| b.command == command) else { continue };
        let (Some(key), desc) = (binding.keys.first(), &binding.desc) else { continue };
        let hint_width = key.chars().count() + desc.chars().count() + 3;
        if width + hint_width > usize::from(area.width) {
            break;
        }
        width += hint_width;
        spans.push(Span::styled(format!(" {key}"), cx.style(Role::Key)));
        spans.push(Span::styled(format!(" {desc} "), cx.style(Role::Footer)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

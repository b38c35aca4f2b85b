//! Help: generated from the active keymap, so it can never disagree with it. Two columns when
//! wide; j/k scroll it when it does not fit.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::command::ViewId;
use crate::tui::keymap::KeyContext;
use crate::tui::theme::Role;
use crate::tui::views::Context;

fn section<'a>(cx: &Context<'_>, context: KeyContext, title: &'a str) -> Vec<Line<'a>> {
    let mut lines = vec![Line::from(Span::styled(title, cx.style(Role::Header)))];
    for binding in cx.keymap.bindings(context) {
        if (cx.ui.read_only && binding.command.is_mutating()) || (cx.ui.replay.is_none() && binding.command.is_replay())
        {
            continue;
        }
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<18}", binding.keys.join(", ")), cx.style(Role::Key)),
            Span::raw(binding.desc),
        ]));
    }
    lines.push(Line::default());
    lines
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let mut left = section(cx, KeyContext::Normal, "Browsing");
    let mut right = section(cx, KeyContext::Global, "Everywhere");
    right.extend(section(cx, KeyContext::Modal, "In a dialog"));
    right.extend(section(cx, KeyContext::Input, "Typing"));
    right.extend(section(cx, KeyContext::Form, "In a form"));
    right.extend(section(cx, KeyContext::QuitDialog, "Asked to quit"));
    if cx.ui.replay.is_some() {
        right.push(Line::from(Span::styled(
            "replay: a recording, read-only; :seek HH:MM:SS, +30s, -5m, start or end",
            cx.style(Role::Warning),
        )));
    } else if cx.ui.read_only {
        right.push(Line::from(Span::styled(
            "read-only: actions that change the cluster are disabled",
            cx.style(Role::Warning),
        )));
    }
    if let Some(file) = &cx.ui.recording {
        right.push(Line::from(vec![Span::styled("recording to: ", cx.style(Role::Warning)), Span::raw(file.clone())]));
    }
    if let Some(file) = &cx.ui.audit_file {
        right.push(Line::from(vec![Span::styled("audit trail: ", cx.style(Role::Muted)), Span::raw(file.clone())]));
    }
    let block =
        Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(" Help (? or q to close) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let columns: Vec<(Vec<Line<'_>>, Rect)> = if inner.width >= 100 {
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(inner);
        vec![(left, l), (right, r)]
    } else {
        left.extend(right);
        vec![(left, inner)]
    };
    for (lines, rect) in columns {
        let overflow = lines.len().saturating_sub(usize::from(rect.height));
        let scroll = u16::try_from(cx.ui.selected(ViewId::Help).min(overflow)).unwrap_or(u16::MAX);
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), rect);
    }
}

//! Help: generated from the active keymap, so it can never disagree with it.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::keymap::KeyContext;
use crate::tui::theme::Role;
use crate::tui::views::Context;

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let mut lines = Vec::new();
    for (context, title) in [
        (KeyContext::Normal, "Browsing"),
        (KeyContext::Global, "Everywhere"),
        (KeyContext::Modal, "In a dialog"),
        (KeyContext::Input, "Typing"),
    ] {
        lines.push(Line::from(Span::styled(title, cx.style(Role::Header))));
        for binding in cx.keymap.bindings(context) {
            if cx.ui.read_only && binding.command.is_mutating() {
                continue;
            }
            let keys = binding.keys.join(", ");
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<18}"), cx.style(Role::Key)),
                Span::raw(binding.desc.clone()),
            ]));
        }
        lines.push(Line::default());
    }
    if cx.ui.read_only {
        lines.push(Line::from(Span::styled(
            "read-only: actions that change the cluster are disabled",
            cx.style(Role::Warning),
        )));
    }
    let block =
        Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(" Help (? or q to close) ");
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

//! The quit question, over the Overview: which keys quit (from the keymap), that any other key
//! stays, and, while actions run, that quitting waits for their outcome.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::command::Command;
use crate::tui::keymap::KeyContext;
use crate::tui::theme::Role;
use crate::tui::views::{centered, Context};

/// The keys that answer yes, as the keymap writes them: `y/enter`.
fn quit_keys(cx: &Context<'_>) -> String {
    let bound = cx.keymap.bindings(KeyContext::QuitDialog).into_iter().find(|b| b.command == Command::Quit);
    match bound {
        Some(binding) if !binding.keys.is_empty() => binding.keys.join("/"),
        _ => cx.keymap.key_label(Command::Quit, KeyContext::Global).unwrap_or_default(),
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let answer = format!("{} quits · any other key stays", quit_keys(cx));
    let mut lines = vec![Line::from(Span::styled("Quit pgdeck?", cx.style(Role::Header)))];
    let running = cx.state.actions_in_flight.len();
    if running > 0 {
        let noun = if running == 1 { "action is" } else { "actions are" };
        lines.push(Line::from(Span::styled(
            format!("{running} {noun} still running: pgdeck waits for the outcome"),
            cx.style(Role::Warning),
        )));
    }
    lines.push(Line::from(Span::styled(answer, cx.style(Role::Muted))));
    // Two columns of margin inside the borders; on a narrow terminal the lines wrap.
    let text_width = lines.iter().map(Line::width).max().unwrap_or(0);
    let width = u16::try_from(text_width + 4).unwrap_or(u16::MAX).min(area.width.saturating_sub(4));
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner_width).max(1)).sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let dialog = centered(area, width, height);
    let block = Block::default().borders(Borders::ALL).border_style(cx.style(Role::BorderFocused)).title(" Quit ");
    frame.render_widget(Clear, dialog);
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false }).block(block.style(cx.style(Role::Modal)));
    frame.render_widget(paragraph.centered(), dialog);
}

//! The confirmation dialog: what the action will do, and what to type to let it happen. The
//! question and the way out stay on screen however long the preview is; a preview taller than
//! the terminal is cut, not the question.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::theme::Role;
use crate::tui::ui::Confirmation;
use crate::tui::views::{centered, Context};

/// Title and "This will run:" above the preview; a blank line, the question and Esc below it.
const HEAD_ROWS: u16 = 2;
const TAIL_ROWS: u16 = 3;

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>, confirmation: &Confirmation) {
    let width = area.width.saturating_sub(4).min(100);
    // Preview lines wrap inside the borders; count the rows they take to size the dialog.
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let preview_rows: usize =
        confirmation.preview.lines().map(|l| (l.chars().count() + 2).div_ceil(inner_width).max(1)).sum();
    let preview_rows = u16::try_from(preview_rows).unwrap_or(u16::MAX);
    let height = preview_rows.saturating_add(HEAD_ROWS + TAIL_ROWS + 2).min(area.height);
    let dialog = centered(area, width, height);
    let block = Block::default().borders(Borders::ALL).border_style(cx.style(Role::BorderFocused)).title(" Confirm ");
    let inner = block.inner(dialog);
    frame.render_widget(Clear, dialog);
    frame.render_widget(block.style(cx.style(Role::Modal)), dialog);
    let [head, preview, tail] =
        Layout::vertical([Constraint::Length(HEAD_ROWS), Constraint::Min(0), Constraint::Length(TAIL_ROWS)])
            .areas(inner);
    let head_lines = vec![
        Line::from(Span::styled(confirmation.action.to_string(), cx.style(Role::Header))),
        Line::from(Span::styled("This will run:", cx.style(Role::Muted))),
    ];
    frame.render_widget(Paragraph::new(head_lines).wrap(Wrap { trim: false }), head);
    let preview_lines: Vec<Line<'_>> = confirmation
        .preview
        .lines()
        .map(|l| Line::from(Span::styled(format!("  {l}"), cx.style(Role::Text))))
        .collect();
    frame.render_widget(Paragraph::new(preview_lines).wrap(Wrap { trim: false }), preview);
    let question = match &confirmation.phrase {
        Some(phrase) => {
            let typed_ok = &confirmation.typed == phrase;
            Line::from(vec![
                Span::styled(format!("Type {phrase} to confirm: "), cx.style(Role::Danger)),
                Span::styled(confirmation.typed.clone(), cx.style(if typed_ok { Role::Ok } else { Role::Text })),
                Span::raw("▏"),
            ])
        }
        None => Line::from(Span::styled("Enter to confirm", cx.style(Role::Warning))),
    };
    let tail_lines = vec![
        Line::default(),
        question,
        Line::from(Span::styled("Esc to cancel: nothing is changed", cx.style(Role::Muted))),
    ];
    frame.render_widget(Paragraph::new(tail_lines), tail);
}

//! The confirmation dialog: what the action will do, and what to type to let it happen.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::theme::Role;
use crate::tui::ui::Confirmation;
use crate::tui::views::{centered, Context};

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>, confirmation: &Confirmation) {
    let width = area.width.saturating_sub(4).min(100);
    // Preview lines wrap inside the borders; count the rows they take so nothing is cut off.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let preview_rows: usize =
        confirmation.preview.lines().map(|l| (l.chars().count() + 2).div_ceil(inner).max(1)).sum();
    let height = u16::try_from(preview_rows + 7).unwrap_or(u16::MAX).min(area.height);
    let dialog = centered(area, width, height);
    let mut lines = vec![
        Line::from(Span::styled(confirmation.action.to_string(), cx.style(Role::Header))),
        Line::from(Span::styled("This will run:", cx.style(Role::Muted))),
    ];
    lines
        .extend(confirmation.preview.lines().map(|l| Line::from(Span::styled(format!("  {l}"), cx.style(Role::Text)))));
    lines.push(Line::default());
    match &confirmation.phrase {
        Some(phrase) => {
            let typed_ok = &confirmation.typed == phrase;
            lines.push(Line::from(vec![
                Span::styled(format!("Type {phrase} to confirm: "), cx.style(Role::Danger)),
                Span::styled(confirmation.typed.clone(), cx.style(if typed_ok { Role::Ok } else { Role::Text })),
                Span::raw("▏"),
            ]));
        }
        None => lines.push(Line::from(Span::styled("Enter to confirm", cx.style(Role::Warning)))),
    }
    lines.push(Line::from(Span::styled("Esc to cancel: nothing is changed", cx.style(Role::Muted))));
    let block = Block::default().borders(Borders::ALL).border_style(cx.style(Role::BorderFocused)).title(" Confirm ");
    frame.render_widget(Clear, dialog);
    frame.render_widget(
        Paragraph::new(lines).block(block).style(cx.style(Role::Modal)).wrap(Wrap { trim: false }),
        dialog,
    );
}

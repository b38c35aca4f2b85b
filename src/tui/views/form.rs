//! A form dialog: each field with its label, its one-line editor and, under it, what is wrong
//! with it (or what it wants), recomputed from the State on every frame.

use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use crate::command::Command;
use crate::tui::form::Form;
use crate::tui::keymap::KeyContext;
use crate::tui::theme::Role;
use crate::tui::views::{centered, Context};

/// Rows per field: label, editor, and two for its problem or hint (a problem may name a time
/// and a backup, which does not fit one line of an 80-column dialog).
const FIELD_ROWS: u16 = 4;

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>, form: &Form) {
    let width = area.width.saturating_sub(4).min(90);
    let fields = u16::try_from(form.fields.len()).unwrap_or(u16::MAX);
    let height = (fields * FIELD_ROWS + 4).min(area.height);
    let dialog = centered(area, width, height);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(cx.style(Role::BorderFocused))
        .title(format!(" {} ", form.title()));
    let inner = block.inner(dialog);
    frame.render_widget(Clear, dialog);
    frame.render_widget(block.style(cx.style(Role::Modal)), dialog);
    let problems = form.problems(cx.state);
    for (index, (field, problem)) in form.fields.iter().zip(&problems).enumerate() {
        let top = inner.y + u16::try_from(index).unwrap_or(u16::MAX).saturating_mul(FIELD_ROWS);
        if top + FIELD_ROWS > inner.y + inner.height {
            break;
        }
        let row =
            |offset: u16| Rect { x: inner.x + 1, y: top + offset, width: inner.width.saturating_sub(2), height: 1 };
        let focused = index == form.focus;
        let label_role = if focused { Role::Header } else { Role::Text };
        frame.render_widget(Paragraph::new(Span::styled(field.label, cx.style(label_role))), row(0));
        let mut editor = field.text.clone();
        editor.set_style(cx.style(Role::Selected));
        editor.set_cursor_line_style(cx.style(Role::Selected));
        let cursor =
            if focused { cx.style(Role::Selected).add_modifier(Modifier::REVERSED) } else { cx.style(Role::Selected) };
        editor.set_cursor_style(cursor);
        frame.render_widget(&editor, row(1));
        // An empty field is not wrong yet: what it needs shows as a hint (for a name that must
        // exist, the names to choose from); a typed value with a problem shows the problem.
        let note = match problem {
            Some(problem) if field.value().is_empty() => Span::styled(problem.clone(), cx.style(Role::Muted)),
            Some(problem) => Span::styled(format!("✗ {problem}"), cx.style(Role::Danger)),
            None => Span::styled(format!("✓ {}", field.hint), cx.style(Role::Ok)),
        };
        let note_area = Rect { height: 2, ..row(2) };
        frame.render_widget(Paragraph::new(note).wrap(ratatui::widgets::Wrap { trim: true }), note_area);
    }
    let key = |command| cx.keymap.key_label(command, KeyContext::Form).unwrap_or_default();
    let keys = format!(
        "{} next field · {} review · {} cancel: nothing is changed",
        key(Command::NextField),
        key(Command::Submit),
        key(Command::Back)
    );
    let last = Rect {
        x: inner.x + 1,
        y: inner.y + inner.height.saturating_sub(1),
        width: inner.width.saturating_sub(2),
        height: 1,
    };
    frame.render_widget(Paragraph::new(Line::from(Span::styled(keys, cx.style(Role::Muted)))), last);
}

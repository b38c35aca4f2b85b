//! A revealed password, over everything: whose it is, where it was read, the password alone on
//! its line (so it can be selected in the terminal), and that any key hides it.

use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::secrets::REVEAL_SECONDS;
use crate::tui::theme::Role;
use crate::tui::ui::Shown;
use crate::tui::views::{centered, Context};

pub fn render(frame: &mut Frame<'_>, area: ratatui::layout::Rect, cx: &Context<'_>, shown: &Shown) {
    let revealed = &shown.revealed;
    let width = area.width.saturating_sub(4).min(90);
    let dialog = centered(area, width, 8);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(cx.style(Role::Danger))
        .title(format!(" Password of {} ", revealed.username));
    frame.render_widget(Clear, dialog);
    let lines = vec![
        Line::from(Span::styled(format!("from {}", revealed.location), cx.style(Role::Muted))),
        Line::default(),
        Line::from(Span::styled(revealed.password.expose().to_owned(), cx.style(Role::Header))),
        Line::default(),
        Line::from(Span::styled(
            format!("Any key hides it (it goes by itself after {REVEAL_SECONDS} s)."),
            cx.style(Role::Warning),
        )),
        Line::from(Span::styled(
            "The audit trail records that it was shown, never the password.",
            cx.style(Role::Muted),
        )),
    ];
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false }).block(block.style(cx.style(Role::Modal)));
    frame.render_widget(paragraph, dialog);
}

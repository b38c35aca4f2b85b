//! Views: pure functions of `(&State, &Ui, &Theme)` (and the keymap, for help and the footer).

pub(crate) mod activity;
mod backups;
mod chrome;
mod columns;
mod confirm;
pub(crate) mod databases;
pub(crate) mod events;
mod form;
mod header;
mod help;
mod overview;
mod quit;
mod replay_bar;
mod replication;
mod reveal;
pub(crate) mod statements;
mod storage;

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::command::ViewId;
use crate::state::State;
use crate::status::human_age;
use crate::tui::keymap::Keymap;
use crate::tui::theme::{Role, Theme};
use crate::tui::ui::Ui;

/// Below this the console shows only a notice; every size above renders without panicking.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 10;

/// Everything a view may read.
pub struct Context<'a> {
    pub state: &'a State,
    pub ui: &'a Ui,
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
}

impl Context<'_> {
    pub fn style(&self, role: Role) -> ratatui::style::Style {
        self.theme.style(role)
    }

    /// "12s ago" relative to the newest observation, for data that may be late.
    pub fn age(&self, at: DateTime<Utc>) -> String {
        match self.state.now {
            Some(now) => human_age(now.signed_duration_since(at).num_seconds()),
            None => "-".into(),
        }
    }

    /// "12s ago", or that nothing has arrived yet.
    pub fn sampled_ago(&self, at: Option<DateTime<Utc>>) -> String {
        at.map_or_else(|| "not sampled yet".to_owned(), |at| format!("{} ago", self.age(at)))
    }

    pub fn matches_filter(&self, text: &str) -> bool {
        self.ui.filter.as_ref().is_none_or(|f| text.to_lowercase().contains(&f.to_lowercase()))
    }
}

pub fn render(frame: &mut Frame<'_>, state: &State, ui: &Ui, theme: &Theme, keymap: &Keymap) {
    let cx = Context { state, ui, theme, keymap };
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "terminal too small ({}x{}): pgdeck needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(
            Paragraph::new(text).style(cx.style(Role::Warning)).wrap(ratatui::widgets::Wrap::default()),
            area,
        );
        return;
    }
    let bar_height = u16::from(ui.replay.is_some());
    let [header, tabs, body, bar, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(bar_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, header, &cx);
    chrome::tabs(frame, tabs, &cx);
    match ui.view {
        ViewId::Overview => overview::render(frame, body, &cx),
        ViewId::Replication => replication::render(frame, body, &cx),
        ViewId::Storage => storage::render(frame, body, &cx),
        ViewId::Backups => backups::render(frame, body, &cx),
        ViewId::Statements => statements::render(frame, body, &cx),
        ViewId::Activity => activity::render(frame, body, &cx),
        ViewId::Databases => databases::render(frame, body, &cx),
        ViewId::Events => events::render(frame, body, &cx),
        ViewId::Help => help::render(frame, body, &cx),
    }
    if let Some(replay) = &ui.replay {
        replay_bar::render(frame, bar, &cx, replay);
    }
    chrome::status_line(frame, status, &cx);
    chrome::footer(frame, footer, &cx);
    if let Some(form) = &ui.form {
        form::render(frame, area, &cx, form);
    }
    if let Some(confirmation) = &ui.confirmation {
        confirm::render(frame, area, &cx, confirmation);
    }
    if ui.asking_to_quit {
        quit::render(frame, area, &cx);
    }
    if let Some(shown) = &ui.revealed {
        reveal::render(frame, area, &cx, shown);
    }
}

/// A query on one line: newlines and runs of blanks become single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A rectangle of `width` x `height` centred in `area`, never larger than it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}

/// Unicode bars for a series, scaled to its own maximum (a flat line when all are zero).
pub fn sparkline(values: impl Iterator<Item = u64> + Clone, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let all: Vec<u64> = values.collect();
    let tail = &all[all.len().saturating_sub(width)..];
    let max = tail.iter().copied().max().unwrap_or(0);
    tail.iter().map(|v| BARS[(v * 7).checked_div(max).map_or(0, |i| usize::try_from(i).unwrap_or(7).min(7))]).collect()
}

/// A text gauge such as `███░░░░ 42%`.
pub fn gauge(percent: f64, width: usize) -> String {
    let clamped = percent.clamp(0.0, 100.0);
    let bar_width = width.saturating_sub(5);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to 0..=bar_width
    let filled = ((clamped / 100.0) * bar_width as f64).round() as usize;
    format!("{}{} {:>3.0}%", "█".repeat(filled), "░".repeat(bar_width - filled.min(bar_width)), clamped)
}

//! Storage: per member, data volume use, database and WAL bytes.

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Cell, Table, TableState};

use super::columns::{self, col, fit, Column};
use ratatui::Frame;

use crate::command::ViewId;
use crate::status::human_bytes;
use crate::tui::theme::Role;
use crate::tui::views::{gauge, Context};

const COLUMNS: [Column; 7] = [
    col("MEMBER", 20, 0),
    col("USED", 10, 0),
    col("SIZE", 10, 1),
    col("USE", 20, 0),
    col("DATABASES", 10, 2),
    col("WAL", 10, 2),
    col("MEASURED", 8, 3),
];

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let kept = fit(&COLUMNS, area.width.saturating_sub(2));
    let warn = f64::from(cx.state.thresholds.volume_warn_percent);
    let rows = cx.state.member_views().into_iter().filter(|m| cx.matches_filter(&m.name)).map(|m| {
        let entry = cx.state.members.get(&m.name);
        let sample = entry.and_then(|e| e.sample.as_ref()).map(|s| &s.value);
        let percent = m.volume.map(|v| v.percent_used());
        let role = if percent.is_some_and(|p| p > warn) { Role::Danger } else { Role::GaugeFilled };
        let age = entry.and_then(|e| e.volume.as_ref()).map_or_else(|| "-".into(), |v| cx.age(v.at));
        columns::row(
            vec![
                Cell::from(m.name.clone()),
                Cell::from(m.volume.map_or_else(|| "-".into(), |v| human_bytes(v.used_bytes))),
                Cell::from(m.volume.map_or_else(|| "-".into(), |v| human_bytes(v.size_bytes))),
                Cell::from(percent.map_or_else(|| "-".into(), |p| gauge(p, 20))).style(cx.style(role)),
                Cell::from(sample.map_or_else(|| "-".into(), |s| human_bytes(s.database_bytes))),
                Cell::from(sample.map_or_else(|| "-".into(), |s| human_bytes(s.wal_bytes))),
                Cell::from(age),
            ],
            &kept,
        )
    });
    let table = Table::new(rows, columns::constraints(&COLUMNS, &kept))
        .header(columns::header_row(&COLUMNS, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(" Storage "));
    let mut selection = TableState::default().with_selected(Some(cx.ui.selected(ViewId::Storage)));
    frame.render_stateful_widget(table, area, &mut selection);
}

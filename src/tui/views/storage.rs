//! Storage: per member, data volume use, database and WAL bytes.

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Cell, Table, TableState};

use super::columns::{self, col, fit, Column};
use ratatui::Frame;

use crate::command::ViewId;
use crate::status::human_bytes;
use crate::tui::theme::Role;
use crate::tui::views::{gauge, Context};

const COLUMNS: [Column; 9] = [
    col("MEMBER", 20, 0),
    col("USED", 10, 0),
    col("SIZE", 10, 1),
    col("USE", 20, 0),
    col("DATABASES", 10, 2),
    col("WAL", 10, 2),
    col("GROWTH/H", 10, 0),
    col("FULL IN", 9, 0),
    col("MEASURED", 8, 3),
];

/// Within this many hours of full, the projection is shown as a danger (and raised as a finding).
const FULL_SOON_HOURS: f64 = crate::state::VOLUME_FULL_SOON_HOURS;

fn signed_bytes(per_hour: f64) -> String {
    // Rounded and non-negative; a volume does not grow by more than u64::MAX bytes an hour.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let magnitude = human_bytes(per_hour.abs().round() as u64);
    if per_hour < 0.0 {
        format!("-{magnitude}")
    } else {
        format!("+{magnitude}")
    }
}

fn human_hours(hours: f64) -> String {
    if hours < 1.0 {
        format!("{:.0}m", hours * 60.0)
    } else if hours < 48.0 {
        format!("{hours:.1}h")
    } else {
        format!("{:.0}d", hours / 24.0)
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let kept = fit(&COLUMNS, area.width.saturating_sub(2));
    let warn = f64::from(cx.state.thresholds.volume_warn_percent);
    let rows = cx.state.member_views().into_iter().filter(|m| cx.matches_filter(&m.name)).map(|m| {
        let entry = cx.state.members.get(&m.name);
        let sample = entry.and_then(|e| e.sample.as_ref()).map(|s| &s.value);
        let percent = m.volume.map(|v| v.percent_used());
        let role = if percent.is_some_and(|p| p > warn) { Role::Danger } else { Role::GaugeFilled };
        let age = entry.and_then(|e| e.volume.as_ref()).map_or_else(|| "-".into(), |v| cx.age(v.at));
        let growth = cx.state.volume_growth(&m.name);
        let soon = growth.and_then(|g| g.hours_until_full).is_some_and(|h| h < FULL_SOON_HOURS);
        let full_role = if soon { Role::Danger } else { Role::Text };
        columns::row(
            vec![
                Cell::from(m.name.clone()),
                Cell::from(m.volume.map_or_else(|| "-".into(), |v| human_bytes(v.used_bytes))),
                Cell::from(m.volume.map_or_else(|| "-".into(), |v| human_bytes(v.size_bytes))),
                Cell::from(percent.map_or_else(|| "-".into(), |p| gauge(p, 20))).style(cx.style(role)),
                Cell::from(sample.map_or_else(|| "-".into(), |s| human_bytes(s.database_bytes))),
                Cell::from(sample.map_or_else(|| "-".into(), |s| human_bytes(s.wal_bytes))),
                Cell::from(growth.map_or_else(|| "-".into(), |g| signed_bytes(g.bytes_per_hour))),
                Cell::from(growth.and_then(|g| g.hours_until_full).map_or_else(|| "-".into(), human_hours))
                    .style(cx.style(full_role)),
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

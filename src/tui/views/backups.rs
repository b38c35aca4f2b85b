//! Backups: the repository's backups, the schedule and retention, the first point of recoverability.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Table, TableState};

use super::columns::{self, col, fit, Column};
use ratatui::Frame;

use crate::command::ViewId;
use crate::model::BackupStatus;
use crate::observation::SourceId;
use crate::status::human_bytes;
use crate::tui::theme::Role;
use crate::tui::views::Context;

const COLUMNS: [Column; 9] = [
    col("ID", 33, 0),
    col("TYPE", 5, 0),
    col("METHOD", 10, 5),
    col("STARTED (UTC)", 19, 1),
    col("TOOK", 6, 3),
    col("SIZE", 10, 2),
    col("WAL", 17, 4),
    col("STATUS", 9, 0),
    col("ERROR", 20, 6),
];

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let [summary_area, list_area] = Layout::vertical([Constraint::Length(4), Constraint::Min(3)]).areas(area);
    let border = cx.style(Role::Border);
    let Some(catalog) = &cx.state.backups else {
        let text = cx.state.source_errors.get(&SourceId::Backups).map_or_else(
            || Line::from(Span::styled("not listed yet", cx.style(Role::Muted))),
            |e| Line::from(Span::styled(format!("cannot list backups: {}", e.value), cx.style(Role::Danger))),
        );
        frame.render_widget(
            Paragraph::new(text).block(Block::default().borders(Borders::ALL).border_style(border).title(" Backups ")),
            area,
        );
        return;
    };
    let c = &catalog.value;
    let summary = vec![
        Line::from(vec![
            Span::styled("schedule ", cx.style(Role::Muted)),
            Span::raw(format!("\"{}\" (UTC)", c.schedule.clone().unwrap_or_default())),
            Span::styled("  retention ", cx.style(Role::Muted)),
            Span::raw(c.retention.clone().unwrap_or_default()),
            Span::styled("  next ", cx.style(Role::Muted)),
            Span::raw(c.next_scheduled_at.map_or_else(|| "-".into(), |n| n.format("%Y-%m-%d %H:%M").to_string())),
        ]),
        Line::from(vec![
            Span::styled("recoverable from WAL ", cx.style(Role::Muted)),
            Span::raw(c.archive_min_wal.clone().unwrap_or_else(|| "-".into())),
            Span::styled(" to ", cx.style(Role::Muted)),
            Span::raw(c.archive_max_wal.clone().unwrap_or_else(|| "-".into())),
            Span::styled(format!("  (listed {} ago)", cx.age(catalog.at)), cx.style(Role::Muted)),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(summary).block(Block::default().borders(Borders::ALL).border_style(border).title(" Schedule ")),
        summary_area,
    );
    let kept = fit(&COLUMNS, list_area.width.saturating_sub(2));
    let listed: Vec<_> = c.backups.iter().rev().filter(|b| cx.matches_filter(&b.id)).collect();
    let (shown, selected) =
        columns::window(listed.len(), cx.ui.selected(ViewId::Backups), columns::visible_rows(list_area));
    let rows = listed[shown].iter().map(|b| {
        let (status, role) = match b.status {
            BackupStatus::Completed => ("completed", Role::Ok),
            BackupStatus::Running => ("running", Role::Warning),
            BackupStatus::Failed => ("failed", Role::Danger),
        };
        let duration = match (b.started_at, b.stopped_at) {
            (Some(start), Some(stop)) => format!("{}s", stop.signed_duration_since(start).num_seconds()),
            _ => "-".into(),
        };
        columns::row(
            vec![
                Cell::from(b.id.clone()),
                Cell::from(b.kind.clone()),
                Cell::from(b.method.clone()),
                Cell::from(b.started_at.map_or_else(|| "-".into(), |s| s.format("%Y-%m-%d %H:%M:%S").to_string())),
                Cell::from(duration),
                Cell::from(b.size_bytes.map_or_else(|| "-".into(), human_bytes)),
                Cell::from(format!(
                    "{}..{}",
                    b.wal_start.as_deref().map_or("-", short_wal),
                    b.wal_stop.as_deref().map_or("-", short_wal)
                )),
                Cell::from(status).style(cx.style(role)),
                Cell::from(b.error.clone().unwrap_or_default()),
            ],
            &kept,
        )
    });
    let table = Table::new(rows, columns::constraints(&COLUMNS, &kept))
        .header(columns::header_row(&COLUMNS, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(format!(" Backups ({}) ", c.backups.len())),
        );
    let mut selection = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, list_area, &mut selection);
}

/// The segment part of a WAL file name (its last 8 hex digits carry the information that changes).
fn short_wal(name: &str) -> &str {
    name.get(name.len().saturating_sub(8)..).unwrap_or(name)
}

//! Replication: per standby, its WAL positions, lags, state, sync state, slot and lag history.

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Cell, Table, TableState};

use super::columns::{self, col, fit, Column};
use ratatui::Frame;

use crate::command::ViewId;
use crate::model::Role as MemberRole;
use crate::status::human_bytes;
use crate::tui::theme::Role;
use crate::tui::views::{sparkline, Context};

const COLUMNS: [Column; 13] = [
    col("STANDBY", 20, 0),
    col("STATE", 13, 0),
    col("SYNC", 6, 2),
    col("SENT", 11, 6),
    col("WRITE", 11, 7),
    col("FLUSH", 11, 7),
    col("REPLAY", 11, 3),
    col("W-LAG", 7, 8),
    col("F-LAG", 7, 8),
    col("R-LAG", 7, 1),
    col("BEHIND", 10, 0),
    col("SLOT", 20, 4),
    col("LAG HISTORY", 20, 5),
];

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let kept = fit(&COLUMNS, area.width.saturating_sub(2));
    let views = cx.state.member_views();
    let leader = views.iter().find(|m| m.role == MemberRole::Primary);
    let leader_sample = leader.and_then(|l| cx.state.members.get(&l.name)).and_then(|e| e.sample.as_ref());
    let rows = views.iter().filter(|m| m.role != MemberRole::Primary && cx.matches_filter(&m.name)).map(|m| {
        let row = leader_sample.and_then(|s| s.value.replication.iter().find(|r| r.application_name == m.name));
        let lsn = |l: Option<crate::model::Lsn>| l.map_or_else(|| "-".into(), |l| l.to_string());
        let secs = |s: Option<f64>| s.map_or_else(|| "-".into(), |s| format!("{s:.2}s"));
        let lagging = m.lag_bytes.is_some_and(|b| b > cx.state.thresholds.lag_warn_bytes);
        let lag_role = if lagging { Role::LagWarn } else { Role::LagOk };
        let history = cx.state.lag_history.get(&m.name).map(|h| sparkline(h.iter().copied(), 20)).unwrap_or_default();
        let state_role = if m.replication_state.as_deref() == Some("streaming") { Role::Ok } else { Role::Danger };
        columns::row(
            vec![
                Cell::from(m.name.clone()),
                Cell::from(m.replication_state.clone().unwrap_or_else(|| "not streaming".into()))
                    .style(cx.style(state_role)),
                Cell::from(m.sync_state.clone().unwrap_or_else(|| "-".into())),
                Cell::from(lsn(row.and_then(|r| r.sent_lsn))),
                Cell::from(lsn(row.and_then(|r| r.write_lsn))),
                Cell::from(lsn(row.and_then(|r| r.flush_lsn))),
                Cell::from(lsn(row.and_then(|r| r.replay_lsn).or(m.replay_lsn))),
                Cell::from(secs(row.and_then(|r| r.write_lag_seconds))),
                Cell::from(secs(row.and_then(|r| r.flush_lag_seconds))),
                Cell::from(secs(row.and_then(|r| r.replay_lag_seconds))),
                Cell::from(m.lag_bytes.map_or_else(|| "-".into(), human_bytes)).style(cx.style(lag_role)),
                Cell::from(m.slot.clone().unwrap_or_else(|| "-".into())),
                Cell::from(history).style(cx.style(lag_role)),
            ],
            &kept,
        )
    });
    let title = match leader {
        Some(l) => format!(" Replication from {} ", l.name),
        None => " Replication (no leader) ".to_owned(),
    };
    let table = Table::new(rows, columns::constraints(&COLUMNS, &kept))
        .header(columns::header_row(&COLUMNS, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(title));
    let mut selection = TableState::default().with_selected(Some(cx.ui.selected(ViewId::Replication)));
    frame.render_stateful_widget(table, area, &mut selection);
}

//! Top queries: pg_stat_statements on the leader (or a chosen member) as rates over the last
//! refresh interval, sortable by any rate column, filterable by query text.

use std::cmp::Ordering;

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Cell, Table, TableState};
use ratatui::Frame;

use super::columns::{self, col, fit, Column};
use crate::command::ViewId;
use crate::state::{State, StatementRate};
use crate::tui::theme::Role;
use crate::tui::ui::sort_columns;
use crate::tui::ui::Ui;
use crate::tui::views::{one_line, Context};

const COLUMNS: [Column; 10] = [
    col("MS/S", 9, 0),
    col("CALLS/S", 9, 0),
    col("MEAN MS", 9, 0),
    col("ROWS/S", 9, 2),
    col("HIT%", 6, 1),
    col("CALLS", 10, 3),
    col("TOTAL MS", 12, 4),
    col("USER", 10, 5),
    col("DB", 10, 6),
    col("QUERY", 20, 0),
];

/// The value a statement is sorted by, for each of `sort_columns(Statements)`.
fn sort_key(rate: &StatementRate, column: usize) -> f64 {
    let r = rate.rates;
    match column {
        0 => r.map_or(-1.0, |r| r.exec_ms_per_second),
        1 => r.map_or(-1.0, |r| r.calls_per_second),
        2 => r.and_then(|r| r.mean_ms).unwrap_or(-1.0),
        3 => r.map_or(-1.0, |r| r.rows_per_second),
        4 => r.and_then(|r| r.hit_ratio).unwrap_or(-1.0),
        5 => rate.row.calls as f64,
        _ => rate.row.total_exec_ms,
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// The member shown and its statements in the order the view lists them (filtered, sorted): the
/// selection in the Ui refers to this list.
pub fn visible_statements<'a>(state: &'a State, ui: &Ui) -> (String, Vec<StatementRate<'a>>) {
    let member = state.workload_member(ui.workload_member.as_deref()).unwrap_or_default().to_owned();
    let filter = ui.filter.as_deref().map(str::to_lowercase);
    let mut rates: Vec<StatementRate<'_>> = state
        .statement_rates(&member)
        .into_iter()
        .filter(|r| filter.as_ref().is_none_or(|f| r.row.query.to_lowercase().contains(f)))
        .collect();
    let sort = ui.sort(ViewId::Statements);
    rates.sort_by(|a, b| {
        let order = sort_key(a, sort.column).partial_cmp(&sort_key(b, sort.column)).unwrap_or(Ordering::Equal);
        if sort.ascending {
            order
        } else {
            order.reverse()
        }
    });
    (member, rates)
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let sort = cx.ui.sort(ViewId::Statements);
    let (member, rates) = visible_statements(cx.state, cx.ui);
    let kept = fit(&COLUMNS, area.width.saturating_sub(2));
    let (shown, selected) =
        columns::window(rates.len(), cx.ui.selected(ViewId::Statements), columns::visible_rows(area));
    let rows = rates[shown].iter().map(|rate| {
        let r = rate.rates;
        let hit = r.and_then(|r| r.hit_ratio);
        let hit_role = if hit.is_some_and(|h| h < 0.9) { Role::Warning } else { Role::Text };
        let cells = vec![
            Cell::from(number(r.map(|r| r.exec_ms_per_second), 1)),
            Cell::from(number(r.map(|r| r.calls_per_second), 1)),
            Cell::from(number(r.and_then(|r| r.mean_ms), 2)),
            Cell::from(number(r.map(|r| r.rows_per_second), 1)),
            Cell::from(number(hit.map(|h| h * 100.0), 1)).style(cx.style(hit_role)),
            Cell::from(rate.row.calls.to_string()),
            Cell::from(format!("{:.0}", rate.row.total_exec_ms)),
            Cell::from(rate.row.user.clone().unwrap_or_default()),
            Cell::from(rate.row.database.clone().unwrap_or_default()),
            Cell::from(one_line(&rate.row.query)),
        ];
        columns::row(cells, &kept)
    });
    let age = cx.sampled_ago(cx.state.workload.get(&member).and_then(|w| w.statements.as_ref()).map(|s| s.at));
    let order = if sort.ascending { "↑" } else { "↓" };
    let title = format!(
        " Top queries on {member} — by {} {order} — {} statements, {age} ",
        sort_columns(ViewId::Statements)[sort.column.min(6)],
        rates.len()
    );
    let table = Table::new(rows, columns::constraints(&COLUMNS, &kept))
        .header(columns::header_row(&COLUMNS, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(title));
    let mut selection = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut selection);
}

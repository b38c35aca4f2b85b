//! Activity: pg_stat_activity with state, wait event and duration, as a tree of who blocks whom.

use ratatui::layout::Rect;
use ratatui::widgets::{Block, Borders, Cell, Table, TableState};
use ratatui::Frame;

use super::columns::{self, col, fit, Column};
use crate::command::ViewId;
use crate::model::Backend;
use crate::state::State;
use crate::tui::theme::Role;
use crate::tui::ui::sort_columns;
use crate::tui::ui::Ui;
use crate::tui::views::{one_line, Context};

const COLUMNS: [Column; 9] = [
    col("PID", 16, 0),
    col("USER", 10, 1),
    col("DB", 10, 2),
    col("STATE", 13, 0),
    col("WAIT", 18, 3),
    col("RUNNING", 9, 0),
    col("APP", 14, 5),
    col("CLIENT", 15, 6),
    col("QUERY", 20, 0),
];

/// Roots sorted by the chosen column; each root keeps the sessions it blocks beneath it.
fn ordered(tree: Vec<(usize, &Backend)>, column: usize, ascending: bool) -> Vec<(usize, &Backend)> {
    if column == 0 {
        return tree;
    }
    let mut groups: Vec<Vec<(usize, &Backend)>> = Vec::new();
    for entry in tree {
        match groups.last_mut() {
            Some(group) if entry.0 > 0 => group.push(entry),
            _ => groups.push(vec![entry]),
        }
    }
    groups.sort_by(|a, b| {
        let (x, y) = (a[0].1, b[0].1);
        let order = match column {
            1 => x.running_seconds.unwrap_or(0.0).total_cmp(&y.running_seconds.unwrap_or(0.0)),
            2 => x.pid.cmp(&y.pid),
            3 => x.user.cmp(&y.user),
            _ => x.state.cmp(&y.state),
        };
        if ascending {
            order
        } else {
            order.reverse()
        }
    });
    groups.into_iter().flatten().collect()
}

/// `idle in transaction` is the state that matters most and the longest to print.
fn short_state(state: Option<&str>) -> String {
    match state {
        Some("idle in transaction") => "idle in tx".into(),
        Some("idle in transaction (aborted)") => "idle in tx (ab)".into(),
        Some(other) => other.into(),
        None => String::new(),
    }
}

/// The member shown and its backends in the order the view lists them (sorted, filtered): the
/// selection in the Ui refers to this list.
pub fn visible_rows<'a>(state: &'a State, ui: &Ui) -> (String, Vec<(usize, &'a Backend)>) {
    let member = state.workload_member(ui.workload_member.as_deref()).unwrap_or_default().to_owned();
    let sort = ui.sort(ViewId::Activity);
    let filter = ui.filter.as_deref().map(str::to_lowercase);
    let matches = |b: &Backend| {
        filter.as_ref().is_none_or(|f| {
            [b.query.as_deref(), b.user.as_deref()].into_iter().flatten().any(|text| text.to_lowercase().contains(f))
        })
    };
    let rows = ordered(state.blocking_tree(&member), sort.column, sort.ascending)
        .into_iter()
        .filter(|(_, b)| matches(b))
        .collect();
    (member, rows)
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let sort = cx.ui.sort(ViewId::Activity);
    let (member, tree) = visible_rows(cx.state, cx.ui);
    let blocked = tree.iter().filter(|(_, b)| !b.blocked_by.is_empty()).count();
    let kept = fit(&COLUMNS, area.width.saturating_sub(2));
    let (shown, selected) = columns::window(tree.len(), cx.ui.selected(ViewId::Activity), columns::visible_rows(area));
    let rows = tree[shown].iter().map(|(depth, b)| {
        let pid = if *depth == 0 { b.pid.to_string() } else { format!("{}└ {}", "  ".repeat(depth - 1), b.pid) };
        let role = if !b.blocked_by.is_empty() {
            Role::Danger
        } else if b.state.as_deref().is_some_and(|s| s.starts_with("idle in transaction")) {
            Role::Warning
        } else {
            Role::Text
        };
        let wait = match (&b.wait_event_type, &b.wait_event) {
            (Some(t), Some(e)) => format!("{t}:{e}"),
            (Some(t), None) => t.clone(),
            _ => String::new(),
        };
        let cells = vec![
            Cell::from(pid),
            Cell::from(b.user.clone().unwrap_or_default()),
            Cell::from(b.database.clone().unwrap_or_default()),
            Cell::from(short_state(b.state.as_deref())).style(cx.style(role)),
            Cell::from(wait),
            Cell::from(b.running_seconds.map_or_else(String::new, |s| format!("{s:.1}s"))),
            Cell::from(b.application.clone().unwrap_or_default()),
            Cell::from(b.client.clone().unwrap_or_default()),
            Cell::from(one_line(b.query.as_deref().unwrap_or_default())),
        ];
        columns::row(cells, &kept)
    });
    let age = cx.sampled_ago(cx.state.workload.get(&member).and_then(|w| w.backends.as_ref()).map(|b| b.at));
    let title = format!(
        " Activity on {member} — {} sessions, {blocked} blocked — by {} — {age} ",
        tree.len(),
        sort_columns(ViewId::Activity)[sort.column.min(4)]
    );
    let table = Table::new(rows, columns::constraints(&COLUMNS, &kept))
        .header(columns::header_row(&COLUMNS, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(title));
    let mut selection = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut selection);
}

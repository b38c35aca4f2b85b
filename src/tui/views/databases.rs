//! Databases & roles: databases with size and owner; roles with attributes and what they may reach.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Cell, Table, TableState};
use ratatui::Frame;

use super::columns::{self, col, fit, Column};
use crate::command::ViewId;
use crate::model::DatabaseRow;
use crate::state::State;
use crate::status::human_bytes;
use crate::tui::theme::Role;
use crate::tui::ui::Ui;
use crate::tui::views::Context;

const DATABASES: [Column; 5] =
    [col("DATABASE", 20, 0), col("OWNER", 16, 0), col("SIZE", 10, 0), col("ENCODING", 9, 2), col("CONN LIMIT", 10, 1)];
const ROLES: [Column; 4] =
    [col("ROLE", 20, 0), col("ATTRIBUTES", 36, 0), col("MEMBER OF", 20, 2), col("CAN CONNECT TO", 20, 1)];

/// The databases in the order the view lists them (filtered, sorted).
pub fn visible_databases<'a>(state: &'a State, ui: &Ui) -> Vec<&'a DatabaseRow> {
    let Some(catalog) = state.workload_member(ui.workload_member.as_deref()).and_then(|m| state.catalog.get(m)) else {
        return Vec::new();
    };
    let filter = ui.filter.as_deref().map(str::to_lowercase);
    let mut databases: Vec<&DatabaseRow> = catalog
        .value
        .databases
        .iter()
        .filter(|d| filter.as_ref().is_none_or(|f| d.name.to_lowercase().contains(f)))
        .collect();
    let sort = ui.sort(ViewId::Databases);
    databases.sort_by(|a, b| {
        let order = match sort.column {
            0 => a.size_bytes.cmp(&b.size_bytes),
            1 => a.name.cmp(&b.name),
            _ => a.owner.cmp(&b.owner),
        };
        if sort.ascending {
            order
        } else {
            order.reverse()
        }
    });
    databases
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let member = cx.state.workload_member(cx.ui.workload_member.as_deref()).unwrap_or_default().to_owned();
    let [databases_area, roles_area] = Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(area);
    let border = cx.style(Role::Border);
    let Some(catalog) = cx.state.catalog.get(&member) else {
        let block =
            Block::default().borders(Borders::ALL).border_style(border).title(" Databases & roles — not listed yet ");
        frame.render_widget(block, area);
        return;
    };
    let databases = visible_databases(cx.state, cx.ui);
    let kept = fit(&DATABASES, databases_area.width.saturating_sub(2));
    let rows = databases.iter().map(|d| {
        let limit = if d.connection_limit < 0 { "none".to_owned() } else { d.connection_limit.to_string() };
        let cells = vec![
            Cell::from(d.name.clone()),
            Cell::from(d.owner.clone()),
            Cell::from(human_bytes(d.size_bytes)),
            Cell::from(d.encoding.clone()),
            Cell::from(limit),
        ];
        columns::row(cells, &kept)
    });
    let title = format!(" Databases on {member} ({}) — listed {} ago ", databases.len(), cx.age(catalog.at));
    let table = Table::new(rows, columns::constraints(&DATABASES, &kept))
        .header(columns::header_row(&DATABASES, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(Block::default().borders(Borders::ALL).border_style(border).title(title));
    let mut selection = TableState::default().with_selected(Some(cx.ui.selected(ViewId::Databases)));
    frame.render_stateful_widget(table, databases_area, &mut selection);

    let kept = fit(&ROLES, roles_area.width.saturating_sub(2));
    let roles = catalog.value.roles.iter().filter(|r| cx.matches_filter(&r.name)).map(|r| {
        let attributes: Vec<&str> = [
            (r.superuser, "super"),
            (r.login, "login"),
            (r.create_db, "createdb"),
            (r.create_role, "createrole"),
            (r.replication, "repl"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        let role = if r.superuser { Role::Warning } else { Role::Text };
        let cells = vec![
            Cell::from(r.name.clone()),
            Cell::from(attributes.join(" ")).style(cx.style(role)),
            Cell::from(r.member_of.join(", ")),
            Cell::from(r.can_connect.join(", ")),
        ];
        columns::row(cells, &kept)
    });
    let table = Table::new(roles, columns::constraints(&ROLES, &kept))
        .header(columns::header_row(&ROLES, &kept).style(cx.style(Role::Header)))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(format!(" Roles ({}) ", catalog.value.roles.len())),
        );
    frame.render_widget(table, roles_area);
}

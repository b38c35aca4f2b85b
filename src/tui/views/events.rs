//! Events: the timeline of role changes, members leaving, backups and actions with outcomes.

use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};
use ratatui::Frame;

use crate::action::ActionOutcome;
use crate::command::ViewId;
use crate::state::{Event, EventKind};
use crate::tui::theme::Role;
use crate::tui::views::Context;

use super::columns;

pub fn describe(event: &Event) -> (String, Role) {
    match &event.kind {
        EventKind::RoleObserved { member, role, before: Some(before) } => {
            (format!("{member} changed role: {before} -> {role}"), Role::Warning)
        }
        EventKind::RoleObserved { member, role, before: None } => (format!("{member} seen as {role}"), Role::Text),
        EventKind::LeaderChanged { from, to } => (
            format!("leader changed: {} -> {}", from.as_deref().unwrap_or("(none)"), to.as_deref().unwrap_or("(none)")),
            if to.is_some() { Role::Warning } else { Role::Danger },
        ),
        EventKind::MemberLeft { member } => (format!("{member} left the cluster (down)"), Role::Danger),
        EventKind::MaintenanceModeChanged { paused: true } => {
            ("maintenance mode on: no automatic failover".into(), Role::Warning)
        }
        EventKind::MaintenanceModeChanged { paused: false } => ("maintenance mode off".into(), Role::Ok),
        EventKind::FindingRaised { finding } => (
            format!("raised: {}", finding.message),
            if finding.severity == crate::state::Severity::Critical { Role::Danger } else { Role::Warning },
        ),
        EventKind::FindingCleared { finding } => (format!("cleared: {}", finding.message), Role::Ok),
        EventKind::FindingSeverityChanged { finding, .. } => {
            if finding.severity == crate::state::Severity::Critical {
                (format!("now critical: {}", finding.message), Role::Danger)
            } else {
                (format!("now a warning: {}", finding.message), Role::Warning)
            }
        }
        EventKind::BackupAppeared { id, status } => (format!("backup {id} appeared ({status:?})"), Role::Ok),
        EventKind::ActionRequested { request } => {
            (format!("{} requested by {} (#{})", request.action, request.requested_by, request.id), Role::Key)
        }
        EventKind::ActionFinished { request, outcome: ActionOutcome::Succeeded { detail } } => {
            (format!("{} (#{}) succeeded: {detail}", request.action, request.id), Role::Ok)
        }
        EventKind::ActionFinished { request, outcome: ActionOutcome::Failed { error } } => {
            (format!("{} (#{}) FAILED: {error}", request.action, request.id), Role::Danger)
        }
        EventKind::ActionRefused { request, reason } => (
            format!("{} asked for by {} (#{}) {reason}", request.action, request.requested_by, request.id),
            Role::Warning,
        ),
        EventKind::ClusterPhaseChanged { from, to, reason } => {
            let why = reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            let healthy = to == crate::model::ClusterPhase::HEALTHY;
            (format!("cluster phase: {from} -> {to}{why}"), if healthy { Role::Ok } else { Role::Warning })
        }
        EventKind::PlatformEvent { event } => {
            let repeated = if event.count > 1 { format!(" (x{})", event.count) } else { String::new() };
            (
                format!("{} {}: {}{repeated}", event.object, event.reason, event.message),
                if event.warning { Role::Warning } else { Role::Muted },
            )
        }
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    // Describing an event costs a format; without a filter only the visible ones are described.
    let events: Vec<&Event> = if cx.ui.filter.is_some() {
        cx.state.events.iter().rev().filter(|e| cx.matches_filter(&describe(e).0)).collect()
    } else {
        cx.state.events.iter().rev().collect()
    };
    let (shown, selected) = columns::window(events.len(), cx.ui.selected(ViewId::Events), columns::visible_rows(area));
    let rows = events[shown].iter().map(|event| {
        let (text, role) = describe(event);
        Row::new(vec![
            Cell::from(event.at.format("%Y-%m-%d %H:%M:%S").to_string()).style(cx.style(Role::Muted)),
            Cell::from(text).style(cx.style(role)),
        ])
    });
    let table = Table::new(rows, [Constraint::Length(19), Constraint::Fill(1)])
        .header(Row::new(vec!["TIME (UTC)", "EVENT"]).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(cx.style(Role::Border))
                .title(format!(" Events ({}) ", cx.state.events.len())),
        );
    let mut selection = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut selection);
}

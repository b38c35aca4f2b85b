//! Overview: cluster health at a glance — findings, members, pooler, last and next backup.

use ratatui::layout::{Constraint, Layout, Rect};

use super::columns::{self, col, fit, Column};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Table, TableState};
use ratatui::Frame;

use crate::command::ViewId;
use crate::model::{BackupStatus, Role as MemberRole};
use crate::observation::SourceId;
use crate::state::{MemberView, Severity};
use crate::status::human_bytes;
use crate::tui::theme::Role;
use crate::tui::views::{gauge, sparkline, Context};

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let findings = cx.state.findings();
    // Four findings at least, more where the screen has room: in an incident they are the point.
    // Each finding's evidence gets a line of its own under it when all of them fit, else it
    // follows the message as far as the width allows.
    let most = usize::from((area.height / 4).max(4));
    let with_evidence = findings.iter().filter(|f| !f.evidence.is_empty()).count();
    let evidence_below = findings.len() + with_evidence <= most;
    let rows = if evidence_below { findings.len() + with_evidence } else { findings.len() };
    let findings_height = u16::try_from(rows.clamp(1, most)).unwrap_or(4) + 2;
    let [findings_area, members_area, summary_area] =
        Layout::vertical([Constraint::Length(findings_height), Constraint::Min(5), Constraint::Length(4)]).areas(area);
    render_findings(frame, findings_area, cx, &findings, evidence_below);
    render_members(frame, members_area, cx);
    render_summary(frame, summary_area, cx);
}

fn render_findings(
    frame: &mut Frame<'_>,
    area: Rect,
    cx: &Context<'_>,
    findings: &[crate::state::Finding],
    evidence_below: bool,
) {
    let lines: Vec<Line<'_>> = if findings.is_empty() {
        let text =
            if cx.state.now.is_some() { "healthy: no findings" } else { "waiting for the first observations…" };
        vec![Line::from(Span::styled(text, cx.style(Role::Ok)))]
    } else {
        let mut lines = Vec::new();
        for f in findings {
            let role = if f.severity == Severity::Critical { Role::Danger } else { Role::Warning };
            let tag = if f.severity == Severity::Critical { "CRIT" } else { "WARN" };
            let mut spans = vec![Span::styled(format!("{tag} "), cx.style(role)), Span::raw(f.message.clone())];
            if f.evidence.is_empty() {
                lines.push(Line::from(spans));
            } else if evidence_below {
                lines.push(Line::from(spans));
                lines.push(Line::from(Span::styled(format!("     {}", f.evidence), cx.style(Role::Muted))));
            } else {
                spans.push(Span::styled(format!("  [{}]", f.evidence), cx.style(Role::Muted)));
                lines.push(Line::from(spans));
            }
        }
        lines
    };
    let title = format!(" Findings ({}) ", findings.len());
    frame.render_widget(Paragraph::new(lines).block(block(cx, &title)), area);
}

fn block<'a>(cx: &Context<'_>, title: &'a str) -> Block<'a> {
    Block::default().borders(Borders::ALL).border_style(cx.style(Role::Border)).title(title)
}

/// The theme role of a member's role cell: leader, replica, stale or down.
pub fn member_role(member: &MemberView) -> Role {
    match member.role {
        MemberRole::Primary => Role::Leader,
        MemberRole::Replica if member.stale_seconds.is_some() => Role::Stale,
        MemberRole::Replica => Role::Replica,
        MemberRole::Unknown => Role::Down,
    }
}

const COLUMNS: [Column; 9] = [
    col("MEMBER", 20, 0),
    col("ROLE", 8, 0),
    col("STATE", 16, 0),
    col("LAG", 10, 0),
    col("LAG(S)", 7, 1),
    col("VOLUME", 12, 2),
    col("LSN", 11, 3),
    col("CONN", 5, 4),
    col("LAG HISTORY", 24, 5),
];

fn render_members(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let t = &cx.state.thresholds;
    let kept = fit(&COLUMNS, area.width.saturating_sub(2));
    let members: Vec<MemberView> = cx.state.member_views().into_iter().filter(|m| cx.matches_filter(&m.name)).collect();
    let rows = members.iter().map(|m| {
        let lagging = m.lag_bytes.is_some_and(|b| b > t.lag_warn_bytes)
            || m.lag_seconds.is_some_and(|s| s > t.lag_warn_seconds as f64);
        let lag_role = if lagging { Role::LagWarn } else { Role::LagOk };
        let role_text = match m.role {
            MemberRole::Unknown => "?".to_owned(),
            role => role.to_string(),
        };
        let state = match (&m.sql_unreachable, m.role, m.stale_seconds, m.replay_paused) {
            (Some(unreachable), MemberRole::Primary | MemberRole::Replica, ..) => {
                format!("unreachable {}s", unreachable.seconds)
            }
            (_, MemberRole::Primary | MemberRole::Replica, Some(age), _) => format!("{} ({age}s old)", m.state),
            (_, MemberRole::Primary | MemberRole::Replica, None, true) => format!("{} (paused)", m.state),
            _ => m.state.clone(),
        };
        // SQL's word against the HA manager's: in the danger colour, never as `running`.
        let state_style = if m.contradicted { cx.style(Role::Danger) } else { Style::default() };
        let lag = match m.ahead_of_leader_bytes {
            // Past the leader's last known position: the finding says so in words.
            Some(ahead) => (format!("+{}", human_bytes(ahead)), cx.style(Role::Danger)),
            None => (m.lag_bytes.map_or_else(|| "-".into(), human_bytes), cx.style(lag_role)),
        };
        let history = cx.state.lag_history.get(&m.name).map(|h| sparkline(h.iter().copied(), 24)).unwrap_or_default();
        let cells = vec![
            Cell::from(m.name.clone()),
            Cell::from(role_text).style(cx.style(member_role(m))),
            Cell::from(state).style(state_style),
            Cell::from(lag.0).style(lag.1),
            Cell::from(m.lag_seconds.map_or_else(|| "-".into(), |s| format!("{s:.1}s"))).style(cx.style(lag_role)),
            Cell::from(m.volume.map_or_else(|| "-".into(), |v| gauge(v.percent_used(), 12))),
            Cell::from(m.current_lsn.or(m.replay_lsn).map_or_else(|| "-".into(), |l| l.to_string())),
            Cell::from(m.connections.map_or_else(|| "-".into(), |c| c.to_string())),
            Cell::from(history).style(cx.style(lag_role)),
        ];
        columns::row(cells, &kept)
    });
    let table = Table::new(rows, columns::constraints(&COLUMNS, &kept))
        .header(columns::header_row(&COLUMNS, &kept).style(cx.style(Role::Header)))
        .row_highlight_style(cx.style(Role::Selected))
        .block(block(cx, " Members "));
    let mut selection = TableState::default().with_selected(Some(cx.ui.selected(ViewId::Overview)));
    frame.render_stateful_widget(table, area, &mut selection);
}

fn render_summary(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    let state = cx.state;
    let pooler = match (&state.pooler, state.source_errors.get(&SourceId::Pooler)) {
        (_, Some(error)) => {
            Line::from(vec![Span::styled("Pooler DOWN ", cx.style(Role::Danger)), Span::raw(error.value.clone())])
        }
        (Some(p), None) => {
            let target = state
                .member_views()
                .into_iter()
                .find(|m| m.port.is_some() && m.port == p.value.target_port)
                .map_or_else(|| format!("port {}", p.value.target_port.unwrap_or(0)), |m| m.name);
            Line::from(vec![
                Span::styled("Pooler  ", cx.style(Role::Header)),
                Span::raw(format!(
                    "-> {target}  {}  {} clients  {} servers  ",
                    p.value.pool_mode, p.value.client_connections, p.value.server_connections
                )),
                Span::styled(format!("{} ago", cx.age(p.at)), cx.style(Role::Muted)),
            ])
        }
        (None, None) => Line::from(Span::styled("Pooler: not observed yet", cx.style(Role::Muted))),
    };
    let backups = match &state.backups {
        Some(catalog) => {
            let last = catalog
                .value
                .backups
                .iter()
                .filter(|b| b.status == BackupStatus::Completed)
                .max_by_key(|b| b.started_at);
            let last_text = last.map_or_else(
                || "none completed".to_owned(),
                |b| {
                    let age = b.stopped_at.map_or_else(|| "?".into(), |s| cx.age(s));
                    format!("last {} {age} ago {}", b.kind, b.size_bytes.map_or_else(|| "?".into(), human_bytes))
                },
            );
            let next =
                catalog.value.next_scheduled_at.map_or_else(|| "-".into(), |n| n.format("%m-%d %H:%M UTC").to_string());
            Line::from(vec![
                Span::styled("Backups ", cx.style(Role::Header)),
                Span::raw(format!("{last_text}  next {next}  ")),
                Span::styled(format!("{} ago", cx.age(catalog.at)), cx.style(Role::Muted)),
            ])
        }
        None => Line::from(Span::styled("Backups: not listed yet", cx.style(Role::Muted))),
    };
    frame.render_widget(Paragraph::new(vec![pooler, backups]).block(block(cx, " Pooler & backups ")), area);
}

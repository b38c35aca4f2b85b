//! The replay bar: where in the recording the console is, at which pace, and what was skipped.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::record::replay::ReplayStatus;
use crate::tui::theme::Role;
use crate::tui::views::Context;

fn clock(seconds: i64) -> String {
    let s = seconds.max(0);
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>, replay: &ReplayStatus) {
    let (state_label, state_role) = if replay.position >= replay.total {
        ("■ END", Role::Muted)
    } else if replay.paused {
        ("⏸ PAUSED", Role::Warning)
    } else {
        ("▶ PLAY", Role::Ok)
    };
    let at = replay.at.map_or_else(|| "--:--:--".to_owned(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string());
    let elapsed = match (replay.start, replay.at) {
        (Some(start), Some(at)) => at.signed_duration_since(start).num_seconds(),
        _ => 0,
    };
    let length = match (replay.start, replay.end) {
        (Some(start), Some(end)) => end.signed_duration_since(start).num_seconds(),
        _ => 0,
    };
    let head = format!(" {state_label} {}x ", replay.speed);
    let time = format!(" {at} ");
    let tail = format!(" {}/{} ", clock(elapsed), clock(length));
    let skipped = if replay.skipped > 0 { format!(" {} lines skipped ", replay.skipped) } else { String::new() };
    let fixed = [&head, &time, &tail, &skipped].iter().map(|s| s.chars().count()).sum::<usize>();
    let width = usize::from(area.width).saturating_sub(fixed + 2);
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let filled = if length > 0 { ((elapsed as f64 / length as f64) * width as f64).round() as usize } else { 0 };
    let filled = filled.min(width);
    let mut spans = vec![
        Span::styled(head, cx.style(state_role)),
        Span::styled(time, cx.style(Role::Header)),
        Span::styled("[", cx.style(Role::Muted)),
        Span::styled("█".repeat(filled), cx.style(Role::Key)),
        Span::styled("░".repeat(width - filled), cx.style(Role::Muted)),
        Span::styled("]", cx.style(Role::Muted)),
        Span::styled(tail, cx.style(Role::Text)),
    ];
    if !skipped.is_empty() {
        spans.push(Span::styled(skipped, cx.style(Role::Warning)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

//! The header: the console's modes, who leads, what is watched, then the rest. Room is given by
//! priority, not by position: each fact is a whole segment, and a narrow terminal drops the least
//! important segments that do not fit, never part of one. The segments that stay keep their
//! place on the line, so the header reads the same at every width, only shorter.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::state::State;
use crate::tui::theme::Role;
use crate::tui::ui::{format_interval, Ui};
use crate::tui::views::Context;

/// How much a segment matters, most first: `fit` gives room in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    ReadOnly,
    Paused,
    /// RECORDING or REPLAY.
    Session,
    /// `leader NAME`, or NO LEADER.
    Leader,
    /// The configured target watched.
    Target,
    Cluster,
    /// The cluster's own state: maintenance mode, the operator's phase and ready count.
    ClusterState,
    Platform,
    Timeline,
    Refresh,
    Product,
}

/// One fact of the header, as shown, with the role the theme colours it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub role: Role,
    pub priority: Priority,
}

impl Segment {
    fn new(text: impl Into<String>, role: Role, priority: Priority) -> Self {
        Segment { text: text.into(), role, priority }
    }

    /// The columns it takes: the product name is padded as a title, the others follow a space.
    fn width(&self) -> usize {
        Span::raw(self.text.as_str()).width() + if self.priority == Priority::Product { 2 } else { 1 }
    }

    fn spans(&self, cx: &Context<'_>) -> Vec<Span<'static>> {
        if self.priority == Priority::Product {
            vec![Span::styled(format!(" {} ", self.text), cx.style(self.role))]
        } else {
            vec![Span::raw(" "), Span::styled(self.text.clone(), cx.style(self.role))]
        }
    }
}

/// Every segment the header would show with room enough, in the order they read.
pub fn segments(state: &State, ui: &Ui) -> Vec<Segment> {
    let mut out = vec![Segment::new("pgdeck", Role::Title, Priority::Product)];
    if let Some(target) = &ui.target {
        out.push(Segment::new(format!("[{target}]"), Role::Key, Priority::Target));
    }
    let cluster = if state.cluster.is_empty() { "(waiting for the cluster)" } else { state.cluster.as_str() };
    out.push(Segment::new(cluster, Role::Header, Priority::Cluster));
    if !state.platform.is_empty() {
        out.push(Segment::new(format!("({})", state.platform), Role::Muted, Priority::Platform));
    }
    match state.leader_name() {
        Some(leader) => out.push(Segment::new(format!("leader {leader}"), Role::Leader, Priority::Leader)),
        None if state.now.is_some() => out.push(Segment::new("NO LEADER", Role::Danger, Priority::Leader)),
        None => {}
    }
    if let Some(tl) = state.timeline() {
        out.push(Segment::new(format!("TL {tl}"), Role::Muted, Priority::Timeline));
    }
    if state.maintenance_mode == Some(true) {
        out.push(Segment::new("MAINTENANCE", Role::Warning, Priority::ClusterState));
    }
    // The operator's word on the whole cluster (CNPG): instances ready, and the phase unless healthy.
    if let Some(phase) = state.cluster_phase.as_ref().map(|p| &p.value) {
        if let (Some(ready), Some(all)) = (phase.ready_instances, phase.instances) {
            let role = if ready == all { Role::Muted } else { Role::Warning };
            out.push(Segment::new(format!("{ready}/{all} ready"), role, Priority::ClusterState));
        }
        if !phase.is_healthy() {
            out.push(Segment::new(phase.phase.clone(), Role::Warning, Priority::ClusterState));
        }
    }
    if ui.replay.is_some() {
        out.push(Segment::new("REPLAY", Role::Warning, Priority::Session));
    } else {
        out.push(Segment::new(format!("every {}", format_interval(ui.refresh)), Role::Muted, Priority::Refresh));
        if ui.recording.is_some() {
            out.push(Segment::new("RECORDING", Role::Warning, Priority::Session));
        }
    }
    if ui.display_paused {
        out.push(Segment::new("PAUSED", Role::Warning, Priority::Paused));
    }
    // A replay is read-only by construction; saying it twice costs the narrow header its room.
    if ui.read_only && ui.replay.is_none() {
        out.push(Segment::new("READ-ONLY", Role::Warning, Priority::ReadOnly));
    }
    out
}

/// The segments that fit in `width` columns, in the order they read. Room goes by priority:
/// each segment, most important first, is kept whole if it fits in what is left, else dropped
/// whole; a less important one that is shorter may still fit after it.
pub fn fit(segments: &[Segment], width: usize) -> Vec<&Segment> {
    let mut by_priority: Vec<usize> = (0..segments.len()).collect();
    by_priority.sort_by_key(|&i| (segments[i].priority, i));
    let mut kept = vec![false; segments.len()];
    let mut left = width;
    for i in by_priority {
        let needed = segments[i].width();
        if needed <= left {
            left -= needed;
            kept[i] = true;
        }
    }
    segments.iter().zip(kept).filter_map(|(segment, kept)| kept.then_some(segment)).collect()
}

/// The header's spans for `width` columns.
pub fn header_spans(cx: &Context<'_>, width: u16) -> Vec<Span<'static>> {
    let segments = segments(cx.state, cx.ui);
    fit(&segments, usize::from(width)).into_iter().flat_map(|s| s.spans(cx)).collect()
}

pub fn render(frame: &mut Frame<'_>, area: Rect, cx: &Context<'_>) {
    frame.render_widget(Paragraph::new(Line::from(header_spans(cx, area.width))), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(segments: &[&Segment]) -> Vec<String> {
        segments.iter().map(|s| s.text.clone()).collect()
    }

    fn line_width(segments: &[&Segment]) -> usize {
        segments.iter().map(|s| s.width()).sum()
    }

    fn sample() -> Vec<Segment> {
        vec![
            Segment::new("pgdeck", Role::Title, Priority::Product),
            Segment::new("[production-eu-west-1]", Role::Key, Priority::Target),
            Segment::new("postgres-cluster", Role::Header, Priority::Cluster),
            Segment::new("(patroni)", Role::Muted, Priority::Platform),
            Segment::new("leader postgres-cluster-2", Role::Leader, Priority::Leader),
            Segment::new("TL 3", Role::Muted, Priority::Timeline),
            Segment::new("every 1s", Role::Muted, Priority::Refresh),
            Segment::new("RECORDING", Role::Warning, Priority::Session),
            Segment::new("PAUSED", Role::Warning, Priority::Paused),
            Segment::new("READ-ONLY", Role::Warning, Priority::ReadOnly),
        ]
    }

    #[test]
    fn wide_enough_everything_shows_in_reading_order() {
        let all = sample();
        let kept = fit(&all, 160);
        assert_eq!(kept.len(), all.len());
        assert_eq!(texts(&kept), all.iter().map(|s| s.text.clone()).collect::<Vec<_>>());
        assert_eq!(line_width(&kept), 8 + all[1..].iter().map(|s| s.text.len() + 1).sum::<usize>());
    }

    #[test]
    fn narrow_keeps_modes_then_leader_then_what_is_watched() {
        let all = sample();
        // Modes 10+7+10, leader 26, target 23: 76 of 80, and nothing else is as short as 4.
        let kept = fit(&all, 80);
        assert_eq!(
            texts(&kept),
            ["[production-eu-west-1]", "leader postgres-cluster-2", "RECORDING", "PAUSED", "READ-ONLY"]
        );
        assert!(line_width(&kept) <= 80);
        // 60: the modes and the leader (53), then only what is short enough (TL's 5).
        let kept = fit(&all, 60);
        assert_eq!(texts(&kept), ["leader postgres-cluster-2", "TL 3", "RECORDING", "PAUSED", "READ-ONLY"]);
        assert!(line_width(&kept) <= 60);
    }

    #[test]
    fn a_segment_is_kept_whole_or_not_at_all() {
        let all = sample();
        for width in 0..=200 {
            let kept = fit(&all, width);
            assert!(line_width(&kept) <= width, "{width}");
            // Whatever is dropped did not fit in what the more important ones left.
            for dropped in all.iter().filter(|s| !kept.iter().any(|k| std::ptr::eq(*k, *s))) {
                let before: usize = kept.iter().filter(|k| k.priority < dropped.priority).map(|k| k.width()).sum();
                assert!(before + dropped.width() > width, "{width}: {} was dropped", dropped.text);
            }
        }
        // The leader's name is never cut: with 13 of 40 left after the modes, it goes whole.
        assert_eq!(texts(&fit(&all, 40)), ["(patroni)", "RECORDING", "PAUSED", "READ-ONLY"]);
    }

    #[test]
    fn segments_of_a_live_read_only_paused_recorded_console() {
        use crate::spec::ThresholdsSpec;
        let state = State::new(ThresholdsSpec::default());
        let mut ui = Ui::new(true, std::time::Duration::from_secs(2));
        ui.display_paused = true;
        ui.recording = Some("prod.jsonl".into());
        ui.target = Some("prod".into());
        let all = segments(&state, &ui);
        let by = |p: Priority| all.iter().find(|s| s.priority == p).map(|s| (s.text.as_str(), s.role));
        assert_eq!(by(Priority::ReadOnly), Some(("READ-ONLY", Role::Warning)));
        assert_eq!(by(Priority::Paused), Some(("PAUSED", Role::Warning)));
        assert_eq!(by(Priority::Session), Some(("RECORDING", Role::Warning)));
        assert_eq!(by(Priority::Target), Some(("[prod]", Role::Key)));
        assert_eq!(by(Priority::Cluster), Some(("(waiting for the cluster)", Role::Header)));
        assert_eq!(by(Priority::Refresh), Some(("every 2s", Role::Muted)));
        // Nothing observed yet: no leader to name, and no NO LEADER either.
        assert_eq!(by(Priority::Leader), None);
    }
}

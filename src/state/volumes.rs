//! How fast each member's volume fills, and when it would be full at that pace.

use crate::state::State;

/// Growth over the volume history kept (up to an hour).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Growth {
    pub bytes_per_hour: f64,
    /// Hours until the volume is full at this pace; `None` when it is not growing.
    pub hours_until_full: Option<f64>,
}

/// A volume projected to be full sooner than this is a finding.
pub const VOLUME_FULL_SOON_HOURS: f64 = 24.0;
/// Less history than this says nothing about a trend.
const MIN_SPAN_SECONDS: i64 = 60;

impl State {
    pub fn volume_growth(&self, member: &str) -> Option<Growth> {
        let history = self.volume_history.get(member)?;
        let (first, last) = (history.front()?, history.back()?);
        let seconds = last.at.signed_duration_since(first.at).num_seconds();
        if seconds < MIN_SPAN_SECONDS {
            return None;
        }
        let grown = last.value.used_bytes as f64 - first.value.used_bytes as f64;
        let bytes_per_hour = grown * 3600.0 / seconds as f64;
        let free = last.value.size_bytes.saturating_sub(last.value.used_bytes) as f64;
        let hours_until_full = (bytes_per_hour > 0.0).then(|| free / bytes_per_hour);
        Some(Growth { bytes_per_hour, hours_until_full })
    }
}

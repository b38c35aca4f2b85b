//! The one place (besides sources and frame pacing) that reads the wall clock.

use chrono::{DateTime, Utc};

#[allow(clippy::disallowed_methods)] // this is the sanctioned reader of the clock
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

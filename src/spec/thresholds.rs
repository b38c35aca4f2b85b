//! `[thresholds]`: when an observed value becomes a finding, and how far a switchover candidate
//! may lag. The spec file sets them for a cluster; config.toml's `[thresholds]` patches them on
//! one machine. One list declares each threshold, its default, and its place in the patch, so the
//! two cannot drift apart.

use serde::{Deserialize, Serialize};

const GIB: u64 = 1024 * 1024 * 1024;

macro_rules! thresholds {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty = $default:expr, )*) => {
        /// When an observed value becomes a finding, and how far a switchover candidate may lag.
        /// A file that names only some keeps the defaults of the others (old spec files, the
        /// cluster.json of an older `local up` and older recordings' headers load unchanged).
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct ThresholdsSpec {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Default for ThresholdsSpec {
            fn default() -> Self {
                Self { $( $name: $default, )* }
            }
        }

        /// config.toml's `[thresholds]`: any of the thresholds, each with where it was written.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct ThresholdsPatch {
            $( pub $name: Option<toml::Spanned<$ty>>, )*
        }

        impl ThresholdsPatch {
            /// Every key `[thresholds]` takes.
            pub const KEYS: &'static [&'static str] = &[$( stringify!($name), )*];

            /// `base` with the values this patch names.
            pub fn apply_to(&self, base: &ThresholdsSpec) -> ThresholdsSpec {
                let mut out = base.clone();
                $( if let Some(value) = &self.$name { out.$name = value.get_ref().clone(); } )*
                out
            }

            /// Where the patch wrote `key`'s value (a byte range of the file), if it did.
            pub fn span_of(&self, key: &str) -> Option<std::ops::Range<usize>> {
                match key {
                    $( stringify!($name) => self.$name.as_ref().map(toml::Spanned::span), )*
                    _ => None,
                }
            }
        }
    };
}

thresholds! {
    /// A replica further behind the leader than this many bytes is lagging.
    lag_warn_bytes: u64 = 16 * 1024 * 1024,
    /// A replica whose replay is this many seconds old is lagging.
    lag_warn_seconds: u64 = 30,
    /// A volume fuller than this percentage is a finding.
    volume_warn_percent: u8 = 80,
    /// Patroni's `maximum_lag_on_failover`, and how far a switchover candidate may lag.
    switchover_max_lag_bytes: u64 = 16 * 1024 * 1024,
    /// WAL archiving failing: at least this many `.ready` segments waiting (WARN).
    archive_ready_warn_count: u32 = 1,
    /// WAL archiving: the oldest `.ready` segment older than this (CRIT).
    archive_ready_crit_seconds: u64 = 300,
    /// A replication slot retaining at least this much WAL (WARN).
    slot_retained_warn_bytes: u64 = GIB,
    /// A slot whose retained WAL would fill the member's volume within this many seconds (CRIT).
    slot_fill_crit_seconds: u64 = 3600,
    /// A session blocking others for more than this (WARN).
    blocking_warn_seconds: u64 = 10,
    /// A session blocking others for this long (CRIT).
    blocking_crit_seconds: u64 = 60,
    /// A session idle in transaction for more than this (WARN).
    idle_in_transaction_warn_seconds: u64 = 60,
    /// The oldest transaction older than this (WARN).
    transaction_age_warn_seconds: u64 = 300,
    /// A prepared transaction older than this (WARN).
    prepared_transaction_warn_seconds: u64 = 300,
    /// Client backends at this percentage of the usable connections (WARN).
    connections_warn_percent: u8 = 80,
    /// Client backends at this percentage of the usable connections (CRIT).
    connections_crit_percent: u8 = 95,
    /// Transaction ID age (`age(datfrozenxid)`, `age(relfrozenxid)`) at which to warn.
    xid_age_warn: u64 = 500_000_000,
    /// Transaction ID age that is critical.
    xid_age_crit: u64 = 1_500_000_000,
    /// Requested checkpoints outnumbering timed ones over this window (WARN).
    checkpoint_window_seconds: u64 = 600,
}

/// A threshold out of range: its key, its value, what it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadThreshold {
    pub key: &'static str,
    pub value: String,
    pub allowed: String,
}

/// PostgreSQL stops assigning transaction IDs 3 million short of 2^31.
const XID_AGE_MAX: u64 = 2_147_483_647;

impl ThresholdsSpec {
    /// The first threshold that makes no sense, alone or against its pair.
    pub fn check(&self) -> Result<(), BadThreshold> {
        let bad = |key: &'static str, value: String, allowed: String| Err(BadThreshold { key, value, allowed });
        for (key, percent) in [
            ("volume_warn_percent", self.volume_warn_percent),
            ("connections_warn_percent", self.connections_warn_percent),
            ("connections_crit_percent", self.connections_crit_percent),
        ] {
            if percent == 0 || percent > 100 {
                return bad(key, percent.to_string(), "a percentage from 1 to 100".into());
            }
        }
        if self.connections_crit_percent < self.connections_warn_percent {
            let allowed = format!("at least connections_warn_percent ({})", self.connections_warn_percent);
            return bad("connections_crit_percent", self.connections_crit_percent.to_string(), allowed);
        }
        if self.blocking_crit_seconds < self.blocking_warn_seconds {
            let allowed = format!("at least blocking_warn_seconds ({})", self.blocking_warn_seconds);
            return bad("blocking_crit_seconds", self.blocking_crit_seconds.to_string(), allowed);
        }
        for (key, age) in [("xid_age_warn", self.xid_age_warn), ("xid_age_crit", self.xid_age_crit)] {
            if age == 0 || age > XID_AGE_MAX {
                return bad(key, age.to_string(), format!("a transaction count from 1 to {XID_AGE_MAX}"));
            }
        }
        if self.xid_age_crit < self.xid_age_warn {
            return bad(
                "xid_age_crit",
                self.xid_age_crit.to_string(),
                format!("at least xid_age_warn ({})", self.xid_age_warn),
            );
        }
        if self.archive_ready_warn_count == 0 {
            return bad("archive_ready_warn_count", "0".into(), "at least 1 segment".into());
        }
        if self.checkpoint_window_seconds < 60 {
            let value = self.checkpoint_window_seconds.to_string();
            return bad("checkpoint_window_seconds", value, "at least 60 seconds".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_issues_and_make_sense() {
        let t = ThresholdsSpec::default();
        assert_eq!(t.check(), Ok(()));
        assert_eq!((t.archive_ready_warn_count, t.archive_ready_crit_seconds), (1, 300));
        assert_eq!((t.slot_retained_warn_bytes, t.slot_fill_crit_seconds), (GIB, 3600));
        assert_eq!((t.blocking_warn_seconds, t.blocking_crit_seconds), (10, 60));
        assert_eq!((t.idle_in_transaction_warn_seconds, t.transaction_age_warn_seconds), (60, 300));
        assert_eq!(t.prepared_transaction_warn_seconds, 300);
        assert_eq!((t.connections_warn_percent, t.connections_crit_percent), (80, 95));
        assert_eq!((t.xid_age_warn, t.xid_age_crit), (500_000_000, 1_500_000_000));
        assert_eq!(t.checkpoint_window_seconds, 600);
    }

    #[test]
    fn an_old_file_without_the_new_keys_loads_with_their_defaults() {
        let t: ThresholdsSpec = toml::from_str("lag_warn_bytes = 1\n").unwrap();
        assert_eq!(t, ThresholdsSpec { lag_warn_bytes: 1, ..ThresholdsSpec::default() });
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_knows_where() {
        let text = "blocking_warn_seconds = 3\nxid_age_warn = 7\n";
        let patch: ThresholdsPatch = toml::from_str(text).unwrap();
        let t = patch.apply_to(&ThresholdsSpec::default());
        assert_eq!(t, ThresholdsSpec { blocking_warn_seconds: 3, xid_age_warn: 7, ..ThresholdsSpec::default() });
        assert_eq!(patch.span_of("xid_age_warn").map(|s| &text[s]), Some("7"));
        assert_eq!(patch.span_of("lag_warn_bytes"), None);
        assert!(ThresholdsPatch::KEYS.contains(&"checkpoint_window_seconds"));
    }

    #[test]
    fn nonsense_is_named_with_what_is_allowed() {
        let cases = [
            (ThresholdsSpec { connections_warn_percent: 0, ..ThresholdsSpec::default() }, "connections_warn_percent"),
            (ThresholdsSpec { connections_crit_percent: 70, ..ThresholdsSpec::default() }, "connections_crit_percent"),
            (ThresholdsSpec { blocking_crit_seconds: 5, ..ThresholdsSpec::default() }, "blocking_crit_seconds"),
            (ThresholdsSpec { xid_age_crit: 3_000_000_000, ..ThresholdsSpec::default() }, "xid_age_crit"),
            (ThresholdsSpec { xid_age_crit: 100, ..ThresholdsSpec::default() }, "xid_age_crit"),
            (ThresholdsSpec { archive_ready_warn_count: 0, ..ThresholdsSpec::default() }, "archive_ready_warn_count"),
            (
                ThresholdsSpec { checkpoint_window_seconds: 10, ..ThresholdsSpec::default() },
                "checkpoint_window_seconds",
            ),
        ];
        for (t, key) in cases {
            let e = t.check().unwrap_err();
            assert_eq!(e.key, key);
            assert!(!e.allowed.is_empty());
        }
    }
}

//! The findings an incident starts from, judged from each member's health facts against the
//! thresholds: WAL archiving, replication slots, blocking and long transactions, connections,
//! transaction ID wraparound, settings waiting for a restart, checkpoint pressure. Each names
//! its member and its evidence: the numbers and the view or column they came from.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::health::{HealthSample, SessionFact, SlotFact};
use crate::state::health::{baseline, MemberHealth, SLOT_PACE_MIN_SPAN_SECONDS};
use crate::state::{Finding, Severity, State};
use crate::units::{human_bytes, human_bytes_f};

impl State {
    /// Appends the health findings of every member.
    pub(super) fn health_findings(&self, out: &mut Vec<Finding>) {
        let mut names: Vec<&String> = self.configured_members.iter().collect();
        names.extend(self.members.keys().filter(|n| !self.configured_members.contains(n)));
        for member in names {
            let health = self.fresh_health(member);
            self.pending_restart_finding(member, health.map(|h| &h.latest.value), out);
            let Some(health) = health else { continue };
            let sample = &health.latest.value;
            self.archiving_finding(member, health, out);
            if !sample.in_recovery {
                for slot in &sample.slots {
                    self.slot_finding(member, health, slot, out);
                }
            }
            self.blocking_findings(member, sample, out);
            self.transaction_findings(member, sample, out);
            self.connections_finding(member, sample, out);
            self.wraparound_finding(member, sample, out);
            self.checkpoint_finding(member, health, out);
        }
    }

    /// A member's findings name it; those whose subject is a member name it too.
    pub(super) fn name_members(&self, out: &mut [Finding]) {
        for finding in out.iter_mut().filter(|f| f.member.is_none() && self.members.contains_key(&f.subject)) {
            finding.member = Some(finding.subject.clone());
        }
    }

    fn archiving_finding(&self, member: &str, health: &MemberHealth, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        let a = &health.latest.value.archiver;
        if a.mode == "off" {
            return;
        }
        let oldest = a.oldest_ready_seconds.unwrap_or(0.0);
        let critical = a.ready_count > 0 && oldest > t.archive_ready_crit_seconds as f64;
        let failing = a.failing() && a.ready_count >= t.archive_ready_warn_count;
        if !critical && !failing {
            return;
        }
        let waiting = format!(
            "{} segment{} waiting, the oldest {}",
            a.ready_count,
            plural(u64::from(a.ready_count)),
            duration(oldest)
        );
        let message = if a.failing() {
            format!("WAL archiving is failing on {member}: {waiting}")
        } else {
            format!("WAL archiving is stuck on {member}: {waiting}")
        };
        let rise = match (health.failed_counts.front(), health.failed_counts.back()) {
            (Some(first), Some(last)) if last.value > first.value => {
                let span = last.at.signed_duration_since(first.at).num_seconds();
                format!(" (+{} in {})", last.value - first.value, duration(span as f64))
            }
            _ => String::new(),
        };
        let mut evidence = format!("pg_stat_archiver.failed_count {}{rise}", a.failed_count);
        if let Some(wal) = &a.last_failed_wal {
            let _ = write!(evidence, ", last_failed_wal {wal}{}", at_time(a.last_failed_at));
        }
        match &a.last_archived_wal {
            Some(wal) => {
                let _ = write!(evidence, ", last_archived_wal {wal}{}", at_time(a.last_archived_at));
            }
            None => evidence += ", nothing archived yet",
        }
        let _ = write!(evidence, ", {} .ready in archive_status", a.ready_count);
        if let Some(wal) = &a.oldest_ready_wal {
            let _ = write!(evidence, " (oldest {wal}, {})", duration(oldest));
        }
        let severity = if critical { Severity::Critical } else { Severity::Warning };
        out.push(Finding::new(severity, "archiving_failing", member, message).on(member).with_evidence(evidence));
    }

    fn slot_finding(&self, member: &str, health: &MemberHealth, slot: &SlotFact, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        let status = slot.wal_status.as_deref().unwrap_or("");
        let retained = slot.retained_bytes.unwrap_or(0);
        // The pace: growth over the history kept (at most the window), once it spans a minute.
        let pace = health.slot_retained.get(&slot.name).and_then(|h| {
            let (first, last) = (h.front()?, h.back()?);
            let span = last.at.signed_duration_since(first.at).num_seconds();
            (span >= SLOT_PACE_MIN_SPAN_SECONDS && last.value > first.value)
                .then(|| (last.value - first.value) as f64 / span as f64)
        });
        let remaining = self
            .members
            .get(member)
            .and_then(|e| e.volume.as_ref())
            .map(|v| v.value.size_bytes.saturating_sub(v.value.used_bytes));
        let full_in = match (pace, remaining) {
            (Some(pace), Some(remaining)) => Some(remaining as f64 / pace),
            _ => None,
        };
        let fills = full_in.is_some_and(|s| s < t.slot_fill_crit_seconds as f64);
        let critical = matches!(status, "unreserved" | "lost") || fills;
        let warning = retained >= t.slot_retained_warn_bytes || status == "extended";
        if !critical && !warning {
            return;
        }
        let inactive = if slot.active { "" } else { "inactive " };
        let mut message = format!("{inactive}slot {} on {member} retains {} of WAL", slot.name, human_bytes(retained));
        match status {
            "lost" => message += ": WAL it needed is gone",
            "unreserved" => message += ": past max_slot_wal_keep_size, its WAL may be removed",
            _ => {}
        }
        if let Some(seconds) = full_in.filter(|_| fills) {
            let _ = write!(message, ": the volume is full in {} at this pace", duration(seconds));
        }
        let mut evidence = format!(
            "pg_replication_slots: {} slot {}, active {}, wal_status {}, safe_wal_size {}, restart_lsn {}; \
             pg_current_wal_lsn() - restart_lsn = {}",
            slot.slot_type,
            slot.name,
            slot.active,
            slot.wal_status.as_deref().unwrap_or("-"),
            slot.safe_wal_size.map_or_else(|| "unlimited".to_owned(), |b| human_bytes(u64::try_from(b).unwrap_or(0))),
            slot.restart_lsn.map_or_else(|| "-".to_owned(), |l| l.to_string()),
            human_bytes(retained)
        );
        if let Some(pace) = pace {
            let _ = write!(evidence, ", growing {}/min", human_bytes_f(pace * 60.0));
            if let (Some(seconds), Some(remaining)) = (full_in, remaining) {
                let _ =
                    write!(evidence, ", {} left on the volume: full in {}", human_bytes(remaining), duration(seconds));
            }
        }
        let severity = if critical { Severity::Critical } else { Severity::Warning };
        let subject = format!("slot {}", slot.name);
        out.push(Finding::new(severity, "slot_retaining_wal", &subject, message).on(member).with_evidence(evidence));
    }

    fn blocking_findings(&self, member: &str, sample: &HealthSample, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        for blocker in sample.blockers.iter().filter(|b| b.blocked_seconds > t.blocking_warn_seconds as f64) {
            let h = &blocker.holder;
            let severity = if blocker.blocked_seconds >= t.blocking_crit_seconds as f64 {
                Severity::Critical
            } else {
                Severity::Warning
            };
            let n = blocker.blocked_pids.len();
            let message = format!(
                "pid {} on {member} has blocked {n} session{} for {}",
                h.pid,
                plural(n as u64),
                duration(blocker.blocked_seconds)
            );
            let pids: Vec<String> = blocker.blocked_pids.iter().map(ToString::to_string).collect();
            let evidence = format!(
                "pg_blocking_pids(): pid {} ({}) blocks pid {}; the longest wait {} (pg_locks.waitstart)",
                h.pid,
                session(h),
                pids.join(", "),
                duration(blocker.blocked_seconds)
            );
            let subject = format!("{member} pid {}", h.pid);
            out.push(Finding::new(severity, "blocking_session", &subject, message).on(member).with_evidence(evidence));
        }
    }

    fn transaction_findings(&self, member: &str, sample: &HealthSample, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        let limit = t.idle_in_transaction_warn_seconds as f64;
        let idle: Vec<&SessionFact> =
            sample.idle_in_transaction.iter().filter(|s| s.state_seconds.is_some_and(|d| d > limit)).collect();
        if let Some(longest) = idle.first() {
            let more = match idle.len() {
                1 => String::new(),
                n if n == sample.idle_in_transaction.len() && sample.idle_in_transaction_count as usize > n => {
                    format!(", and at least {} more", n - 1)
                }
                n => format!(", and {} more", n - 1),
            };
            let message = format!(
                "pid {} on {member} has been idle in transaction for {}{more}",
                longest.pid,
                duration(longest.state_seconds.unwrap_or(0.0))
            );
            let listed: Vec<String> = idle
                .iter()
                .map(|s| format!("pid {} ({}) idle {}", s.pid, session(s), duration(s.state_seconds.unwrap_or(0.0))))
                .collect();
            let evidence = format!(
                "pg_stat_activity state 'idle in transaction', state_change: {}; {} idle in transaction in all",
                listed.join("; "),
                sample.idle_in_transaction_count
            );
            out.push(
                Finding::new(Severity::Warning, "idle_in_transaction", member, message)
                    .on(member)
                    .with_evidence(evidence),
            );
        }
        if let Some(oldest) = &sample.oldest_transaction {
            let age = oldest.xact_seconds.unwrap_or(0.0);
            if age > t.transaction_age_warn_seconds as f64 {
                let message =
                    format!("the oldest transaction on {member} is {} old (pid {})", duration(age), oldest.pid);
                let evidence = format!("pg_stat_activity.xact_start: pid {} ({})", oldest.pid, session(oldest));
                out.push(
                    Finding::new(Severity::Warning, "long_transaction", member, message)
                        .on(member)
                        .with_evidence(evidence),
                );
            }
        }
        let limit = t.prepared_transaction_warn_seconds as f64;
        let old: Vec<_> = sample.prepared.iter().filter(|p| p.age_seconds > limit).collect();
        if let Some(oldest) = old.first() {
            let more = if old.len() > 1 { format!(", and {} more", old.len() - 1) } else { String::new() };
            let message = format!(
                "prepared transaction '{}' on {member} is {} old{more}: it holds its locks until COMMIT PREPARED or \
                 ROLLBACK PREPARED",
                oldest.gid,
                duration(oldest.age_seconds)
            );
            let listed: Vec<String> = old
                .iter()
                .map(|p| {
                    format!(
                        "gid '{}' (owner {}, database {}) prepared {} ago",
                        p.gid,
                        p.owner.as_deref().unwrap_or("?"),
                        p.database.as_deref().unwrap_or("?"),
                        duration(p.age_seconds)
                    )
                })
                .collect();
            let evidence =
                format!("pg_prepared_xacts: {}; {} prepared in all", listed.join("; "), sample.prepared_count);
            out.push(
                Finding::new(Severity::Warning, "prepared_transaction", member, message)
                    .on(member)
                    .with_evidence(evidence),
            );
        }
    }

    fn connections_finding(&self, member: &str, sample: &HealthSample, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        let c = &sample.connections;
        let usable = c.usable();
        if usable == 0 {
            return;
        }
        // Compared in whole numbers: client * 100 against usable * percent, no rounding.
        let at_percent = |percent: u8| u64::from(c.client_backends) * 100 >= u64::from(usable) * u64::from(percent);
        let severity = if at_percent(t.connections_crit_percent) {
            Severity::Critical
        } else if at_percent(t.connections_warn_percent) {
            Severity::Warning
        } else {
            return;
        };
        let percent = f64::from(c.client_backends) * 100.0 / f64::from(usable);
        let message =
            format!("{member} has {} of {usable} client connections in use ({percent:.0}%)", c.client_backends);
        let evidence = format!(
            "pg_stat_activity: {} client backends; max_connections {} - superuser_reserved_connections {} - \
             reserved_connections {} = {usable}",
            c.client_backends, c.max_connections, c.superuser_reserved, c.reserved
        );
        out.push(Finding::new(severity, "connections_saturated", member, message).on(member).with_evidence(evidence));
    }

    fn wraparound_finding(&self, member: &str, sample: &HealthSample, out: &mut Vec<Finding>) {
        let t = &self.thresholds;
        let x = &sample.xid;
        let worst = x.databases.iter().chain(&x.oldest_relation).max_by_key(|a| a.age);
        let Some(worst) = worst else { return };
        let severity = if worst.age >= t.xid_age_crit {
            Severity::Critical
        } else if worst.age >= t.xid_age_warn {
            Severity::Warning
        } else {
            return;
        };
        let database = x.databases.first().map_or("?", |d| d.name.as_str());
        let message = format!(
            "transaction ID age {} on {member} (database {database}): VACUUM FREEZE before it nears 2.1B \
             (wraparound)",
            count(worst.age)
        );
        let ages: Vec<String> = x.databases.iter().map(|d| format!("{} {}", d.name, count(d.age))).collect();
        let mut evidence = format!("age(datfrozenxid): {}", ages.join(", "));
        if let Some(r) = &x.oldest_relation {
            let _ = write!(evidence, "; oldest age(relfrozenxid): {} {}", r.name, count(r.age));
        }
        let _ = write!(evidence, "; autovacuum workers {} of {} busy", x.autovacuum_workers, x.autovacuum_max_workers);
        out.push(Finding::new(severity, "wraparound", member, message).on(member).with_evidence(evidence));
    }

    fn pending_restart_finding(&self, member: &str, sample: Option<&HealthSample>, out: &mut Vec<Finding>) {
        let names = sample.map(|s| s.pending_restart.as_slice()).unwrap_or_default();
        let manager = self.members.get(member).and_then(|e| e.report.as_ref()).is_some_and(|r| r.value.pending_restart);
        if names.is_empty() && !manager {
            return;
        }
        let message = if names.is_empty() {
            format!("{member} needs a restart: the HA manager reports a setting waiting for one")
        } else {
            format!("{member} needs a restart to apply {}", names.join(", "))
        };
        let mut parts = Vec::new();
        if !names.is_empty() {
            parts.push(format!("pg_settings.pending_restart: {}", names.join(", ")));
        }
        if manager {
            parts.push(format!("{} pending_restart: true", self.manager_name()));
        }
        out.push(
            Finding::new(Severity::Warning, "pending_restart", member, message)
                .on(member)
                .with_evidence(parts.join("; ")),
        );
    }

    fn checkpoint_finding(&self, member: &str, health: &MemberHealth, out: &mut Vec<Finding>) {
        let window = i64::try_from(self.thresholds.checkpoint_window_seconds).unwrap_or(i64::MAX);
        let (Some(base), Some(last)) = (baseline(&health.checkpoints, window), health.checkpoints.back()) else {
            return;
        };
        let requested = last.value.requested - base.value.requested;
        let timed = last.value.timed - base.value.timed;
        if requested <= timed {
            return;
        }
        let span = duration(last.at.signed_duration_since(base.at).num_seconds() as f64);
        let message = format!(
            "{member} ran {requested} requested checkpoints to {timed} timed in {span}: WAL fills max_wal_size \
             before checkpoint_timeout"
        );
        let (view, req, tim) = if self.server_major(member).is_some_and(|v| v >= 17) {
            ("pg_stat_checkpointer", "num_requested", "num_timed")
        } else {
            ("pg_stat_bgwriter", "checkpoints_req", "checkpoints_timed")
        };
        let evidence = format!(
            "{view}.{req} {} (+{requested}), {view}.{tim} {} (+{timed}) over {span}",
            last.value.requested, last.value.timed
        );
        out.push(
            Finding::new(Severity::Warning, "checkpoint_pressure", member, message).on(member).with_evidence(evidence),
        );
    }

    fn server_major(&self, member: &str) -> Option<u32> {
        let version = &self.members.get(member)?.sample.as_ref()?.value.server_version;
        version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    }

    fn manager_name(&self) -> &'static str {
        if self.platform == "cnpg" {
            "CNPG pendingRestart"
        } else {
            "Patroni"
        }
    }
}

/// `user app, database app, application psql, idle in transaction, transaction 1m 12s old`.
fn session(s: &SessionFact) -> String {
    let mut parts = vec![
        format!("user {}", s.user.as_deref().unwrap_or("?")),
        format!("database {}", s.database.as_deref().unwrap_or("?")),
        format!("application {}", s.application.as_deref().filter(|a| !a.is_empty()).unwrap_or("-")),
    ];
    if let Some(state) = &s.state {
        parts.push(state.clone());
    }
    if let Some(age) = s.xact_seconds {
        parts.push(format!("transaction {} old", duration(age)));
    }
    parts.join(", ")
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn at_time(at: Option<DateTime<Utc>>) -> String {
    at.map(|t| format!(" at {}", t.format("%H:%M:%S"))).unwrap_or_default()
}

/// `10.4s`, `45s`, `6m 3s`, `2h 5m`, `3d 4h`: tenths under a minute, so a value just over a
/// threshold does not read as the threshold itself.
pub fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 59.95 {
        let tenths = format!("{seconds:.1}");
        return format!("{}s", tenths.strip_suffix(".0").unwrap_or(&tenths));
    }
    let s = format!("{seconds:.0}").parse::<u64>().unwrap_or(0);
    match s {
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Bytes as `512 B`, `48.0 MiB`, `1.2 GiB`.
/// A transaction count as `612.3M`, `1.5B`, `12.0k`.
fn count(n: u64) -> String {
    let v = n as f64;
    if n >= 1_000_000_000 {
        format!("{:.2}B", v / 1e9)
    } else if n >= 1_000_000 {
        format!("{:.1}M", v / 1e6)
    } else if n >= 1000 {
        format!("{:.1}k", v / 1e3)
    } else {
        n.to_string()
    }
}

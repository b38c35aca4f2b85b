//! What must hold in the State for an action to make sense: asked by the Ui before a
//! confirmation opens (a refusal is never decided after the name is typed) and again by the
//! Dispatcher against the State as it is when the confirmation arrives. Pure: no I/O, no clock.

use chrono::{DateTime, Utc};

use crate::action::Action;
use crate::model::{BackupReport, BackupStatus, Role};
use crate::names::{check_cluster_name, check_identifier, NameKind};
use crate::state::State;

/// What must hold in the current State for `action` to make sense. Whether one like it runs
/// already is `Dispatcher::already_running`'s to say, not the State's, which hears of a
/// request only after the keys queued behind it were handled.
pub fn preconditions(action: &Action, state: &State) -> Result<(), String> {
    let members = state.member_views();
    match action {
        Action::Switchover { candidate } => {
            let Some(leader) = state.leader_name() else {
                return Err("there is no leader to switch over from; use failover".into());
            };
            let Some(candidate) = candidate else { return Ok(()) };
            if candidate == leader {
                return Err(format!("{candidate} is already the leader"));
            }
            let Some(member) = members.iter().find(|m| &m.name == candidate) else {
                return Err(format!("{candidate} is not a member of {}", state.cluster));
            };
            if member.role != Role::Replica {
                return Err(format!("{candidate} is not a running replica"));
            }
            match member.replication_state.as_deref() {
                Some("streaming") => {}
                // Right after start, or while the leader's SQL does not answer, nothing says.
                None if member.sql_unreachable.is_none() && state.leader_sample().is_none() => {
                    return Err(format!(
                        "whether {candidate} streams is not known yet: the leader's SQL has not answered; try again in a moment"
                    ));
                }
                _ => return Err(format!("{candidate} is not streaming from the leader")),
            }
            let limit = state.thresholds.switchover_max_lag_bytes;
            match member.lag_bytes {
                Some(lag) if lag <= limit => Ok(()),
                Some(lag) => Err(format!("{candidate} lags {lag} bytes, more than the {limit} bytes allowed")),
                None => Err(format!("{candidate}'s lag is unknown")),
            }
        }
        Action::Failover { candidate } => {
            if let Some(leader) = members.iter().find(|m| m.role == Role::Primary) {
                return Err(match &leader.sql_unreachable {
                    // The HA manager still holds its leader lock: it fails over by itself once the
                    // lock expires, and refuses a manual failover until then.
                    Some(unreachable) => format!(
                        "{} still holds the leader lock, though SQL cannot reach it for {}s; the HA manager \
                         fails over by itself when the lock expires (Patroni: its ttl, 30 s by default, after \
                         the leader last renewed it)",
                        leader.name, unreachable.seconds
                    ),
                    None => format!("{} is a healthy leader; use switchover", leader.name),
                });
            }
            match members.iter().find(|m| &m.name == candidate) {
                Some(m) if m.role == Role::Replica => Ok(()),
                Some(_) => Err(format!("{candidate} is not a running replica")),
                None => Err(format!("{candidate} is not a member of {}", state.cluster)),
            }
        }
        Action::CancelBackend { member, pid } | Action::TerminateBackend { member, pid } => {
            let running = state
                .workload
                .get(member)
                .and_then(|w| w.backends.as_ref())
                .is_some_and(|b| b.value.iter().any(|b| b.pid == *pid));
            if running {
                Ok(())
            } else {
                Err(format!("backend {pid} is not running on {member} (it may have ended)"))
            }
        }
        Action::CreateDatabase { .. } | Action::CreateUser { .. } => creation_preconditions(action, state),
        Action::RotatePassword { user } | Action::RevealPassword { user } => {
            let catalog = state.leader_catalog()?;
            match catalog.roles.iter().find(|r| &r.name == user) {
                Some(role) if role.login => Ok(()),
                Some(_) => Err(format!("{user} cannot log in: it has no password")),
                None => Err(format!("there is no role `{user}` on the leader")),
            }
        }
        Action::Restore { backup, target_time, new_cluster } => {
            restore_preconditions(backup, *target_time, new_cluster, state)
        }
        Action::Backup { .. } => {
            let running = state
                .backups
                .as_ref()
                .is_some_and(|b| b.value.backups.iter().any(|b| b.status == BackupStatus::Running));
            if running {
                return Err("a backup is already running".into());
            }
            Ok(())
        }
        // Applying is idempotent and may find nothing there yet: there is nothing to check first.
        Action::Apply { .. } => Ok(()),
    }
}

/// New names must be valid and free on the leader; the owner and the database must exist there.
fn creation_preconditions(action: &Action, state: &State) -> Result<(), String> {
    match action {
        Action::CreateDatabase { name, owner } => {
            let catalog = state.leader_catalog()?;
            check_identifier(NameKind::Database, name, catalog.databases.iter().map(|d| d.name.as_str()))?;
            if catalog.roles.iter().any(|r| &r.name == owner) {
                Ok(())
            } else {
                Err(format!("the owner `{owner}` is not a role on the leader"))
            }
        }
        Action::CreateUser { name, database } => {
            let catalog = state.leader_catalog()?;
            check_identifier(NameKind::Role, name, catalog.roles.iter().map(|r| r.name.as_str()))?;
            if catalog.databases.iter().any(|d| &d.name == database) {
                Ok(())
            } else {
                Err(format!("there is no database `{database}` on the leader"))
            }
        }
        _ => Ok(()),
    }
}

/// A restore needs a complete backup, a new cluster name and a time it can reach.
fn restore_preconditions(
    backup: &str,
    target_time: Option<DateTime<Utc>>,
    new_cluster: &str,
    state: &State,
) -> Result<(), String> {
    check_cluster_name(new_cluster, &state.cluster)?;
    let backups = state.backups.as_ref().map(|b| b.value.backups.as_slice()).unwrap_or_default();
    let Some(chosen) = backups.iter().find(|b| b.id == backup) else {
        return Err(format!("there is no backup `{backup}` in the repository"));
    };
    if chosen.status != BackupStatus::Completed {
        return Err(format!("backup {backup} is not complete"));
    }
    match target_time {
        Some(target) => check_recovery_target(chosen, target, state.now),
        None => Ok(()),
    }
}

/// A point in time a restore of `backup` can reach: after the backup ended, and not in the future.
pub fn check_recovery_target(
    backup: &BackupReport,
    target: DateTime<Utc>,
    now: Option<DateTime<Utc>>,
) -> Result<(), String> {
    if let Some(stopped) = backup.stopped_at.filter(|stopped| target < *stopped) {
        return Err(format!(
            "{} is before backup {} finished ({}); choose a later time or an older backup",
            target.format("%Y-%m-%d %H:%M:%S UTC"),
            backup.id,
            stopped.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if now.is_some_and(|now| target > now) {
        return Err("that time is in the future".into());
    }
    Ok(())
}

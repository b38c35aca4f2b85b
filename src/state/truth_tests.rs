//! SQL's facts against the HA manager's: a leader SQL cannot reach, no member out of recovery,
//! replicas past a dead leader's last known position.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::model::{Lsn, Role};
use crate::observation::{FailureKind, Observation, ObservationKind};
use crate::spec::ThresholdsSpec;
use crate::state::State;
use crate::testing::{report, sample, streaming};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn apply(s: &mut State, at: i64, source: &str, kind: ObservationKind) {
    s.apply(&Observation::new(t(at), source.into(), kind));
}

fn failed(member: &str, failure: FailureKind) -> ObservationKind {
    ObservationKind::SourceFailed { member: Some(member.into()), error: format!("cannot connect to {member}"), failure }
}

/// m1 leads at LSN 1000, m2 and m3 stream from it, all sampled at 0 s.
fn healthy() -> State {
    let mut s = State::new(ThresholdsSpec::default());
    apply(
        &mut s,
        0,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "c".into(),
            platform: "patroni".into(),
            configured_members: vec!["m1".into(), "m2".into(), "m3".into()],
        },
    );
    let members =
        vec![report("m1", Role::Primary, 5001), report("m2", Role::Replica, 5002), report("m3", Role::Replica, 5003)];
    apply(&mut s, 0, "patroni", ObservationKind::MembersListed { members });
    let primary = sample(true, 1000, vec![streaming("m2"), streaming("m3")]);
    apply(&mut s, 0, "sql:m1", ObservationKind::MemberSampled { member: "m1".into(), sample: primary });
    for m in ["m2", "m3"] {
        apply(
            &mut s,
            0,
            &format!("sql:{m}"),
            ObservationKind::MemberSampled { member: m.into(), sample: sample(false, 1000, vec![]) },
        );
    }
    s
}

fn codes(s: &State) -> Vec<&'static str> {
    s.findings().into_iter().map(|f| f.code).collect()
}

#[test]
fn a_leader_refusing_sql_is_critical_at_once_and_never_shown_running() {
    let mut s = healthy();
    apply(&mut s, 1, "sql:m1", failed("m1", FailureKind::Refused));
    let m1 = &s.member_views()[0];
    assert_eq!(
        (m1.role, m1.state.as_str(), m1.manager_state.as_deref()),
        (Role::Primary, "unreachable", Some("running"))
    );
    assert_eq!(m1.sql_unreachable.as_ref().map(|u| u.seconds), Some(0));
    let crit =
        s.findings().into_iter().find(|f| f.code == "leader_unreachable").expect("a refused leader is CRIT at once");
    assert_eq!(crit.subject, "m1");
    assert!(
        crit.message.contains("unreachable by SQL for 0s") && crit.message.contains("`running`"),
        "{}",
        crit.message
    );
    // Its age counts from the first failure, not the latest.
    apply(&mut s, 4, "sql:m1", failed("m1", FailureKind::Refused));
    assert_eq!(s.member_views()[0].sql_unreachable.as_ref().map(|u| u.seconds), Some(3));
    assert!(!codes(&s).contains(&"member_unreachable"), "one finding for the leader, not two");
    // SQL answers again: the finding and the state clear.
    apply(
        &mut s,
        5,
        "sql:m1",
        ObservationKind::MemberSampled {
            member: "m1".into(),
            sample: sample(true, 1100, vec![streaming("m2"), streaming("m3")]),
        },
    );
    assert_eq!(s.member_views()[0].state, "running");
    assert!(!codes(&s).contains(&"leader_unreachable"));
}

#[test]
fn a_timeout_counts_only_when_it_repeats() {
    let mut s = healthy();
    apply(&mut s, 1, "sql:m1", failed("m1", FailureKind::Timeout));
    assert!(s.member_views()[0].sql_unreachable.is_none(), "one slow answer is not an outage");
    assert!(!codes(&s).contains(&"leader_unreachable"));
    apply(&mut s, 2, "sql:m1", failed("m1", FailureKind::Timeout));
    assert_eq!(s.member_views()[0].sql_unreachable.as_ref().map(|u| u.seconds), Some(1));
    assert!(codes(&s).contains(&"leader_unreachable"));
}

#[test]
fn a_member_that_accepts_no_new_connection_is_unreachable_though_its_session_answers() {
    let mut s = healthy();
    apply(&mut s, 5, "connect:m2", failed("m2", FailureKind::Timeout));
    apply(
        &mut s,
        6,
        "sql:m2",
        ObservationKind::MemberSampled { member: "m2".into(), sample: sample(false, 1000, vec![]) },
    );
    let m2 = &s.member_views()[1];
    assert_eq!((m2.state.as_str(), m2.sql_unreachable.as_ref().map(|u| u.seconds)), ("unreachable", Some(1)));
    apply(&mut s, 10, "connect:m2", ObservationKind::NewConnectionAccepted { member: "m2".into() });
    assert_eq!(s.member_views()[1].state, "streaming");
}

#[test]
fn every_member_in_recovery_means_no_writable_leader_whatever_the_manager_last_said() {
    let mut s = healthy();
    // The DCS is gone and Patroni demoted m1; its REST list still names m1 the leader.
    apply(
        &mut s,
        3,
        "sql:m1",
        ObservationKind::MemberSampled { member: "m1".into(), sample: sample(false, 1000, vec![]) },
    );
    let crit = s.findings().into_iter().find(|f| f.code == "no_writable_leader").expect("no member out of recovery");
    assert!(crit.message.contains("(m1, m2, m3)") && crit.message.contains("names m1 its leader"), "{}", crit.message);
    // A member out of recovery again ends it.
    apply(
        &mut s,
        4,
        "sql:m2",
        ObservationKind::MemberSampled { member: "m2".into(), sample: sample(true, 1200, vec![]) },
    );
    assert!(!codes(&s).contains(&"no_writable_leader"));
}

#[test]
fn replicas_past_an_unreachable_leaders_last_position_are_flagged_not_shown_caught_up() {
    let mut s = healthy();
    apply(&mut s, 1, "sql:m1", failed("m1", FailureKind::Refused));
    let mut past = sample(false, 1000, vec![]);
    past.receive_lsn = Some(Lsn(1400));
    past.replay_lsn = Some(Lsn(1400));
    apply(&mut s, 2, "sql:m2", ObservationKind::MemberSampled { member: "m2".into(), sample: past.clone() });
    let m2 = &s.member_views()[1];
    assert_eq!((m2.ahead_of_leader_bytes, m2.lag_bytes), (Some(400), None));
    // The dead leader's pg_stat_replication no longer speaks for it: its own receiver does.
    assert_eq!(m2.sync_state, None);
    assert!(s.findings().iter().any(|f| f.code == "ahead_of_leader" && f.subject == "m2"));
    // With a current leader, a replica sampled just after it is a moment ahead: that is no lag
    // and no finding.
    let mut s = healthy();
    apply(&mut s, 2, "sql:m2", ObservationKind::MemberSampled { member: "m2".into(), sample: past });
    let m2 = &s.member_views()[1];
    assert_eq!((m2.ahead_of_leader_bytes, m2.lag_bytes), (None, Some(0)));
    assert!(!codes(&s).contains(&"ahead_of_leader"));
}

//! How long one frame of each view takes for a big cluster State, drawn at 160x48 into ratatui's
//! `TestBackend` through the same `Terminal::draw` (render, diff, flush) the app uses.

// Bench harness code: a failed setup step should stop the benchmark loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{
    at_ms, backends, backup_catalog, databases, members_with_leader, pooler, primary_sample, replica_sample, roles,
    statements, MEMBERS,
};
use criterion::{criterion_group, criterion_main, Criterion};
use pgdeck::action::{Action, ActionOutcome, ActionRequest, BackupKind};
use pgdeck::command::ViewId;
use pgdeck::model::VolumeUsage;
use pgdeck::observation::{Observation, ObservationKind};
use pgdeck::spec::ThresholdsSpec;
use pgdeck::state::State;
use pgdeck::tui::keymap::{Keymap, KeymapBase};
use pgdeck::tui::theme::Theme;
use pgdeck::tui::ui::Ui;
use pgdeck::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const STATEMENTS: usize = 5_000;
const BACKENDS: usize = 2_000;
const ACTIONS: u64 = 1_000;
const LAG_ROUNDS: i64 = 120;

fn apply(state: &mut State, ms: i64, source: &str, kind: ObservationKind) {
    state.apply(&Observation::new(at_ms(ms), source.into(), kind));
}

fn sql(member: &str) -> String {
    format!("sql:{member}")
}

/// The big State, built only through `State::apply`:
/// - 1,000 actions requested and finished over ~17 minutes (9 of them switchovers that move the
///   leader round the three members and back), and a backup repository that grows from 48 to 60
///   backups: more than the 2,000 events the timeline keeps;
/// - then 120 one-second refresh rounds (members listed, three members sampled, pooler; volumes
///   every tenth round) with varying replica lag, so both replicas have a full lag history;
/// - then on the leader two workload samples one second apart (5,000 statements, so each has
///   rates; 2,000 backends with 40 lock chains) and a catalog of 50 databases and 200 roles.
fn big_state() -> State {
    let mut s = State::new(ThresholdsSpec::default());
    apply(
        &mut s,
        0,
        "patroni",
        ObservationKind::ClusterIdentified {
            cluster: "postgres-cluster".into(),
            platform: "patroni".into(),
            configured_members: MEMBERS.iter().map(|m| (*m).to_owned()).collect(),
        },
    );
    apply(&mut s, 0, "patroni", ObservationKind::MembersListed { members: members_with_leader(0) });
    apply(&mut s, 0, "patroni", ObservationKind::MaintenanceModeObserved { paused: false });
    apply(&mut s, 500, "pgbackrest", ObservationKind::BackupsListed { catalog: backup_catalog(61, 48) });
    observe_actions_and_backups(&mut s);
    let start = i64::try_from(ACTIONS).unwrap() * 1000 + 1000;
    observe_refresh_rounds(&mut s, start);
    let end = start + LAG_ROUNDS * 1000;
    observe_workload_and_catalog(&mut s, end);
    apply(&mut s, end, "clock", ObservationKind::Tick);
    s
}

/// Actions, switchovers and new backups, one action a second; ends with the first member leading.
fn observe_actions_and_backups(s: &mut State) {
    let mut leader = 0;
    let mut listed = 48;
    for id in 1..=ACTIONS {
        let ms = i64::try_from(id).unwrap() * 1000;
        let switchover = id % 111 == 0;
        let action = if switchover {
            Action::Switchover { candidate: Some(MEMBERS[(leader + 1) % 3].into()) }
        } else {
            let kind = [BackupKind::Incremental, BackupKind::Differential, BackupKind::Full]
                [usize::from(id % 10 == 0) + usize::from(id % 50 == 0)];
            Action::Backup { kind }
        };
        let request = ActionRequest {
            id,
            action: action.clone(),
            requested_at: at_ms(ms),
            requested_by: ["alice", "bob", "oncall-bot", "sre"][usize::try_from(id % 4).unwrap()].into(),
            confirmation: switchover.then(|| MEMBERS[(leader + 1) % 3].into()),
        };
        apply(s, ms, "dispatcher", ObservationKind::ActionRequested { request: request.clone() });
        if switchover {
            leader = (leader + 1) % 3;
            apply(s, ms + 400, "patroni", ObservationKind::MembersListed { members: members_with_leader(leader) });
        }
        let outcome = if id % 20 == 7 {
            ActionOutcome::Failed {
                error: "pgbackrest exited with status 82: unable to acquire lock on file 'backup.lock'".into(),
            }
        } else {
            ActionOutcome::Succeeded { detail: format!("{action} completed in {}s", 30 + id % 90) }
        };
        apply(s, ms + 500, "dispatcher", ObservationKind::ActionFinished { request, outcome });
        if id % 80 == 40 && listed < 60 {
            listed += 1;
            apply(s, ms + 700, "pgbackrest", ObservationKind::BackupsListed { catalog: backup_catalog(61, listed) });
        }
    }
    assert_eq!(leader, 0, "the switchovers bring the leader back to the first member");
}

/// One-second refresh rounds from `start` ms: lag history, volumes, pooler.
fn observe_refresh_rounds(s: &mut State, start: i64) {
    let mut lsn: u64 = 0x21_0000_0000;
    for round in 0..LAG_ROUNDS {
        let ms = start + round * 1000;
        let r = u64::try_from(round).unwrap();
        lsn += 0x20_0000 + (r % 7) * 0x1_0000;
        let replay2 = lsn - (r * 37 % 97) * 64 * 1024;
        let replay3 = lsn - if round % 40 == 20 { 20 * 1024 * 1024 } else { (r * 13 % 29) * 4096 };
        apply(s, ms, "patroni", ObservationKind::MembersListed { members: members_with_leader(0) });
        apply(
            s,
            ms + 10,
            &sql(MEMBERS[0]),
            ObservationKind::MemberSampled {
                member: MEMBERS[0].into(),
                sample: primary_sample(lsn, &[(MEMBERS[1], replay2), (MEMBERS[2], replay3)]),
            },
        );
        for (member, replay) in [(MEMBERS[1], replay2), (MEMBERS[2], replay3)] {
            let delay = (lsn - replay) as f64 / 4_000_000.0;
            apply(
                s,
                ms + 20,
                &sql(member),
                ObservationKind::MemberSampled { member: member.into(), sample: replica_sample(replay, delay) },
            );
        }
        apply(
            s,
            ms + 30,
            "pooler",
            ObservationKind::PoolerObserved { pooler: pooler(180 + u32::try_from(r % 17).unwrap()) },
        );
        if round % 10 == 0 {
            for (i, member) in MEMBERS.iter().enumerate() {
                let used = 96_000_000_000 + u64::try_from(i).unwrap() * 3_000_000_000 + r * 1_000_000;
                apply(
                    s,
                    ms + 40,
                    &format!("volume:{member}"),
                    ObservationKind::VolumeSampled {
                        member: (*member).into(),
                        usage: VolumeUsage { used_bytes: used, size_bytes: 214_748_364_800 },
                    },
                );
            }
        }
    }
}

/// Two workload samples one second apart before `end` ms, and the catalog, on the leader.
fn observe_workload_and_catalog(s: &mut State, end: i64) {
    let backends = backends(11, 20_000, BACKENDS, 50);
    for (offset, round) in [(-2000, 0), (-1000, 1)] {
        apply(
            s,
            end + offset,
            &sql(MEMBERS[0]),
            ObservationKind::WorkloadSampled {
                member: MEMBERS[0].into(),
                backends: backends.clone(),
                statements: statements(7, STATEMENTS, round),
            },
        );
    }
    let dbs = databases(50);
    let roles = roles(200, &dbs);
    apply(
        s,
        end - 1000,
        &sql(MEMBERS[0]),
        ObservationKind::CatalogListed { member: MEMBERS[0].into(), databases: dbs, roles },
    );
}

/// That the state is as big as the benchmark claims, so a changed builder cannot shrink it silently.
fn check(state: &State) {
    let leader = state.leader_name().expect("a leader");
    assert_eq!(leader, MEMBERS[0]);
    let rates = state.statement_rates(leader);
    assert_eq!(rates.len(), STATEMENTS);
    assert!(rates.iter().all(|r| r.rates.is_some()), "every statement has rates");
    let tree = state.blocking_tree(leader);
    assert_eq!(tree.len(), BACKENDS);
    assert!(tree.iter().filter(|(depth, _)| *depth > 0).count() >= 80, "lock chains");
    assert_eq!(state.events.len(), 2000);
    assert_eq!(state.backups.as_ref().map(|b| b.value.backups.len()), Some(60));
    let catalog = &state.catalog[leader].value;
    assert_eq!((catalog.databases.len(), catalog.roles.len()), (50, 200));
    for replica in &MEMBERS[1..] {
        assert_eq!(state.lag_history.get(*replica).map(std::collections::VecDeque::len), Some(120));
    }
}

fn render_views(c: &mut Criterion) {
    let state = big_state();
    check(&state);
    let theme = Theme::builtin("default").expect("the default theme");
    let keymap = Keymap::builtin(KeymapBase::Default);
    let mut group = c.benchmark_group("render");
    for view in ViewId::CYCLE.into_iter().chain([ViewId::Help]) {
        let mut ui = Ui::new(false, Duration::from_secs(1));
        ui.view = view;
        // One terminal per view, reused frame after frame as the app reuses its own.
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
        group.bench_function(view.name(), |b| {
            b.iter(|| {
                terminal.draw(|f| views::render(f, black_box(&state), &ui, &theme, &keymap)).unwrap();
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = render_views
}
criterion_main!(benches);

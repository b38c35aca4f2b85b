//! How long `State::apply` takes to fold a burst of 10,000 observations into a fresh State.

// Bench harness code: a failed setup step should stop the benchmark loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::hint::black_box;

use common::{
    at_ms, backends, backup_catalog, members_with_leader, pooler, primary_sample, replica_sample, statements, MEMBERS,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use pgdeck::observation::{Observation, ObservationKind};
use pgdeck::spec::ThresholdsSpec;
use pgdeck::state::State;

const BURST: usize = 10_000;

/// 1,000 one-second refresh rounds of ten observations each:
/// members listed, the leader and both replicas sampled, the pooler, the backup listing (a 60-backup
/// window that slides by one every 100 rounds), a clock tick, both replicas sampled again
/// half a second later, and a workload sample on the leader (200 statements whose counters grow,
/// 100 backends with three lock chains).
fn burst() -> Vec<Observation> {
    let mut out = Vec::with_capacity(BURST);
    let mut lsn: u64 = 0x21_0000_0000;
    let leader_source = format!("sql:{}", MEMBERS[0]);
    let backends = backends(3, 40_000, 100, 40);
    for round in 0..i64::try_from(BURST / 10).unwrap() {
        let ms = round * 1000;
        let r = u64::try_from(round).unwrap();
        lsn += 0x20_0000 + (r % 7) * 0x1_0000;
        let replay2 = lsn - (r * 37 % 97) * 64 * 1024;
        let replay3 = lsn - (r * 13 % 29) * 4096;
        let obs = |offset: i64, source: &str, kind: ObservationKind| {
            Observation::new(at_ms(ms + offset), source.into(), kind)
        };
        out.push(obs(0, "patroni", ObservationKind::MembersListed { members: members_with_leader(0) }));
        out.push(obs(
            10,
            &leader_source,
            ObservationKind::MemberSampled {
                member: MEMBERS[0].into(),
                sample: primary_sample(lsn, &[(MEMBERS[1], replay2), (MEMBERS[2], replay3)]),
            },
        ));
        for (member, replay) in [(MEMBERS[1], replay2), (MEMBERS[2], replay3)] {
            out.push(obs(
                20,
                &format!("sql:{member}"),
                ObservationKind::MemberSampled {
                    member: member.into(),
                    sample: replica_sample(replay, (lsn - replay) as f64 / 4_000_000.0),
                },
            ));
        }
        out.push(obs(
            30,
            "pooler",
            ObservationKind::PoolerObserved { pooler: pooler(180 + u32::try_from(r % 17).unwrap()) },
        ));
        let window = 51 + round / 100;
        out.push(obs(40, "pgbackrest", ObservationKind::BackupsListed { catalog: backup_catalog(window, 60) }));
        out.push(obs(50, "clock", ObservationKind::Tick));
        for (member, replay) in [(MEMBERS[1], replay2 + 0x8000), (MEMBERS[2], replay3 + 0x8000)] {
            out.push(obs(
                500,
                &format!("sql:{member}"),
                ObservationKind::MemberSampled {
                    member: member.into(),
                    sample: replica_sample(replay.min(lsn), (lsn - replay.min(lsn)) as f64 / 4_000_000.0),
                },
            ));
        }
        out.push(obs(
            600,
            &leader_source,
            ObservationKind::WorkloadSampled {
                member: MEMBERS[0].into(),
                backends: backends.clone(),
                statements: statements(5, 200, round),
            },
        ));
    }
    assert_eq!(out.len(), BURST);
    out
}

fn apply_burst(c: &mut Criterion) {
    let observations = burst();
    let mut group = c.benchmark_group("apply");
    group.bench_function("burst_10000", |b| {
        b.iter_batched(
            || observations.clone(),
            |observations| {
                let mut state = State::new(ThresholdsSpec::default());
                for obs in &observations {
                    state.apply(black_box(obs));
                }
                // Returned, so neither State nor the burst is dropped inside the measurement.
                (state, observations)
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = apply_burst
}
criterion_main!(benches);

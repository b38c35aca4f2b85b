//! SQL on a CNPG target's instances, in process against the fake API server, whose pods are real
//! PostgreSQL servers that require TLS with a certificate from the cluster's CA: through the API
//! server's port-forward (the default from outside a cluster) or at the pod IP, verify-full
//! against the `-ca` Secret either way; and what a wrong or missing CA, or a port-forward RBAC
//! refuses, looks like: a finding that names the cause, not an empty pane.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use pgdeck::config::SqlRoute;
use pgdeck::platform::cnpg::route::Route;
use pgdeck::platform::cnpg::CnpgPlatform;
use pgdeck::platform::Platform;
use pgdeck::source::Source;
use pgdeck::spec::ThresholdsSpec;
use pgdeck::state::State;
use support::fake_kube::postgres::Instances;
use support::fake_kube::tls::Ca;
use support::fake_kube::{cnpg, FakeKube, Kubeconfig, RecordedRequest};

const DEADLINE: Duration = Duration::from_secs(60);
const PRIMARY: &str = "postgres-cluster-1";
const REPLICA: &str = "postgres-cluster-2";
const NOTHING_THERE: &str = "postgres-cluster-3";

async fn platform(kc: &Kubeconfig, sql: SqlRoute) -> CnpgPlatform {
    CnpgPlatform::connect(cnpg::target(kc, sql, Duration::from_secs(5))).await.unwrap()
}

/// The seeded cluster with its first `running` instances served by real PostgreSQL at `ips`; the
/// last pod's IP has nothing listening.
fn seed(fake: &FakeKube, ips: [&str; 3]) {
    cnpg::Seed { pod_ips: ips.map(str::to_owned), primary: 0 }.apply(fake);
}

/// Polls the same sources (so sessions live across rounds, as in the console) until `cond`.
async fn observe_until(sources: &mut [Box<dyn Source>], state: &mut State, what: &str, cond: impl Fn(&State) -> bool) {
    let until = Instant::now() + DEADLINE;
    loop {
        for source in sources.iter_mut() {
            for observation in pgdeck::source::poll_with_timeout(source.as_mut(), Duration::from_secs(10)).await {
                state.apply(&observation);
            }
        }
        if cond(state) {
            return;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}: {:#?}\n{}\n{:#?}",
            state.member_views(),
            findings(state),
            state.workload
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn error_of(state: &State, member: &str) -> String {
    state.member_views().into_iter().find(|m| m.name == member).and_then(|m| m.error).unwrap_or_default()
}

fn findings(state: &State) -> String {
    format!("{:?}", state.findings())
}

fn sampled(state: &State, member: &str) -> bool {
    state.members.get(member).is_some_and(|m| m.sample.is_some())
}

fn forwards(fake: &FakeKube, pod: &str) -> Vec<RecordedRequest> {
    let path = format!("/api/v1/namespaces/postgres/pods/{pod}/portforward");
    fake.requests().into_iter().filter(|r| r.path == path).collect()
}

fn any_forwards(fake: &FakeKube) -> usize {
    fake.requests().iter().filter(|r| r.path.ends_with("/portforward")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_views_arrive_through_port_forward_over_tls_verified_against_the_clusters_ca() {
    let pg = Instances::start(&["127.0.0.111", "127.0.0.112"], &[PRIMARY, REPLICA]);
    pg.wait_streaming(1);
    assert_eq!(pg.psql(0, "CREATE EXTENSION pg_stat_statements"), "CREATE EXTENSION");
    let mut client = pg.spawn_psql(0, "orders-app", "SELECT pg_sleep(600)");
    let fake = FakeKube::start();
    seed(&fake, ["127.0.0.111", "127.0.0.112", "127.0.0.113"]);
    let kc = fake.kubeconfig("default");
    // Not configured: pgdeck is outside the (fake) cluster, so it goes through the API server.
    let platform = platform(&kc, SqlRoute::Auto).await;
    assert_eq!(platform.route(), Route::PortForward);
    let mut sources = platform.sources();
    let mut state = State::new(ThresholdsSpec::default());

    observe_until(&mut sources, &mut state, "replication, statements, activity and databases", |s| {
        let replica_streams =
            s.member_views().iter().any(|m| m.name == REPLICA && m.replication_state.as_deref() == Some("streaming"));
        let workload = s.workload.get(PRIMARY);
        let activity = workload.and_then(|w| w.backends.as_ref()).is_some_and(|b| !b.value.is_empty());
        let statements = workload.and_then(|w| w.statements.as_ref()).is_some_and(|st| !st.value.is_empty());
        let databases = s.catalog.get(PRIMARY).is_some_and(|c| c.value.databases.iter().any(|d| d.name == "postgres"));
        replica_streams && activity && statements && databases && sampled(s, REPLICA)
    })
    .await;
    let primary = state.member_views().into_iter().find(|m| m.name == PRIMARY).unwrap();
    assert!(primary.version.as_deref().unwrap().starts_with("15"), "{primary:#?}");
    let backends = &state.workload[PRIMARY].backends.as_ref().unwrap().value;
    let app = backends.iter().find(|b| b.application.as_deref() == Some("orders-app")).unwrap();
    assert!(app.query.as_deref().unwrap_or("").contains("pg_sleep(600)"), "{backends:#?}");
    let statements = &state.workload[PRIMARY].statements.as_ref().unwrap().value;
    assert!(statements.iter().any(|st| st.query.contains("CREATE EXTENSION pg_stat_statements")), "{statements:#?}");

    // Every pgdeck session on the servers is encrypted (pg_hba takes nothing else, too).
    let ssl = "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_ssl s \
               JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'pgdeck'";
    assert_eq!(pg.psql(0, ssl), "1/1");
    assert_eq!(pg.psql(1, ssl), "1/1");

    // The forward is what kube-rs asks for: GET on the pod's portforward subresource, port 5432.
    let sent = forwards(&fake, PRIMARY);
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].query.trim_start_matches('&'), "ports=5432");
    // One forward per session: the session stayed up across rounds, and so did its forward.
    assert_eq!(sent.len(), 1, "{sent:#?}");

    // Nothing listens at the third pod's IP: the API server's reason, with the address, per member.
    let third = error_of(&state, NOTHING_THERE);
    assert!(
        third.contains("through port-forward")
            && third.contains("error forwarding port 5432")
            && third.contains("dial tcp4 127.0.0.113:5432: connect: connection refused"),
        "{third}"
    );

    // The API server drops every forward (a restart): sessions are opened again, each on a new forward.
    let before = state.members[PRIMARY].sample.as_ref().unwrap().at;
    fake.restart();
    observe_until(&mut sources, &mut state, "a new forward to the primary", |s| {
        forwards(&fake, PRIMARY).len() == 2 && s.members[PRIMARY].sample.as_ref().is_some_and(|x| x.at > before)
    })
    .await;
    client.kill().unwrap();
    client.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_did_not_sign_the_servers_or_no_ca_at_all_is_a_finding_and_never_plaintext() {
    let pg = Instances::start(&["127.0.0.121"], &[PRIMARY]);
    let fake = FakeKube::start();
    seed(&fake, ["127.0.0.121", "127.0.0.122", "127.0.0.123"]);
    let kc = fake.kubeconfig("default");
    let platform = platform(&kc, SqlRoute::PortForward).await;

    // Someone replaced the CA Secret with another CA's certificate.
    cnpg::set_ca(&fake, &Ca::generate("stranger").cert_pem);
    let mut sources = platform.sources();
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&mut sources, &mut state, "the verification failure", |s| !error_of(s, PRIMARY).is_empty()).await;
    let error = error_of(&state, PRIMARY);
    assert!(
        error.contains("invalid peer certificate")
            && error.contains("UnknownIssuer")
            && error.contains("Secret postgres/postgres-cluster-ca")
            && error.contains("name postgres-cluster-rw"),
        "{error}"
    );
    assert!(!sampled(&state, PRIMARY));
    assert_eq!(pg.psql(0, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgdeck'"), "0");

    // The right CA is back: read again after the refusal, and the instance is seen.
    cnpg::set_ca(&fake, &support::fake_kube::tls::cluster_ca().cert_pem);
    observe_until(&mut sources, &mut state, "the primary over TLS", |s| sampled(s, PRIMARY)).await;

    // tls_server_name: the certificate is checked against that name instead of `-rw` (for
    // user-provided certificates): one it does not carry is refused and named, one it does is fine.
    let mut target = cnpg::target(&kc, SqlRoute::PortForward, Duration::from_secs(5));
    for (name, carried) in [("db.example.com", false), ("postgres-cluster-rw.postgres.svc", true)] {
        target.config.tls_server_name = Some(name.into());
        let named = CnpgPlatform::connect(target.clone()).await.unwrap();
        let mut sources = named.sources();
        let mut state = State::new(ThresholdsSpec::default());
        observe_until(&mut sources, &mut state, name, |s| sampled(s, PRIMARY) || !error_of(s, PRIMARY).is_empty())
            .await;
        let error = error_of(&state, PRIMARY);
        assert_eq!(sampled(&state, PRIMARY), carried, "{name}: {error}");
        if !carried {
            assert!(
                error.contains(&format!("not valid for name \"{name}\""))
                    && error.contains(&format!("and name {name}")),
                "{error}"
            );
        }
    }

    // No CA Secret at all: named, and no session is tried without TLS.
    fake.delete("v1", "Secret", "postgres", "postgres-cluster-ca").unwrap();
    let forwards_before = any_forwards(&fake);
    let mut sources = platform.sources();
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&mut sources, &mut state, "the missing CA", |s| findings(s).contains("postgres-cluster-ca")).await;
    let text = findings(&state);
    assert!(
        text.contains("there is no Secret postgres/postgres-cluster-ca (the cluster's server CA)")
            && text.contains("does not fall back to unencrypted SQL"),
        "{text}"
    );
    assert!(!sampled(&state, PRIMARY));
    assert_eq!(any_forwards(&fake), forwards_before, "no session was attempted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_forward_rbac_refuses_is_named_and_the_direct_route_still_works() {
    let _pg = Instances::start(&["127.0.0.131"], &[PRIMARY]);
    let fake = FakeKube::start();
    seed(&fake, ["127.0.0.131", "127.0.0.132", "127.0.0.133"]);
    let kc = fake.kubeconfig("default");

    fake.forbid("pods/portforward");
    let platform_pf = platform(&kc, SqlRoute::PortForward).await;
    let mut sources = platform_pf.sources();
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&mut sources, &mut state, "the refusal", |s| findings(s).contains("pods/portforward")).await;
    // Said once, of the cluster: the same refusal for every instance is one finding, not three.
    let refusals: Vec<_> = state.findings().into_iter().filter(|f| f.message.contains("forbidden by RBAC")).collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    let error = &refusals[0].message;
    assert!(
        error.contains("opening a port-forward to the instances: forbidden by RBAC")
            && error.contains("cannot get resource \"pods/portforward\"")
            && error.contains("`get` and `create` on pods/portforward in namespace postgres"),
        "{error}"
    );
    assert!([PRIMARY, REPLICA, NOTHING_THERE].iter().all(|m| error_of(&state, m).is_empty()));
    let refused = forwards(&fake, PRIMARY);
    assert!(!refused.is_empty() && refused.iter().all(|r| r.method == "GET"), "{refused:#?}");
    // Everything that does not need SQL still shows.
    assert_eq!(state.leader_name(), Some(PRIMARY));

    // The same target, direct: the pod IP, still verify-full, and no port-forward asked for.
    let forwards_before = any_forwards(&fake);
    let direct = platform(&kc, SqlRoute::Direct).await;
    assert_eq!(direct.route(), Route::Direct);
    let mut sources = direct.sources();
    let mut state = State::new(ThresholdsSpec::default());
    observe_until(&mut sources, &mut state, "the primary at its pod IP", |s| sampled(s, PRIMARY)).await;
    assert_eq!(any_forwards(&fake), forwards_before);
    let third = error_of(&state, NOTHING_THERE);
    assert!(third.contains("127.0.0.133:5432"), "{third}");
}

//! pgdeck's sessions to the local cluster are encrypted and verified against the cluster's own
//! CA; a server whose certificate does not chain to the CA pgdeck trusts is refused.

use std::time::Duration;

use pgdeck::platform::patroni::local::tls;
use pgdeck::secrets::Credentials;
use pgdeck::sql::{connect, Endpoint, Tls};

use super::{admin_password, healthy, open_console, port_of, SETTLE};
use crate::support::local_cluster::{leader, LocalCluster};
use crate::support::sql::{query, Login};

pub fn sessions_use_verified_tls(cluster: &LocalCluster) {
    let doc = healthy(cluster);
    let port = port_of(&doc, &leader(&doc).unwrap());
    let password = admin_password(cluster);
    let admin = Login { port, database: "postgres", user: "postgres", password: &password };
    let console = open_console(cluster, 160, 48);
    // An LSN on screen means the console's SQL sessions are up.
    console.wait_for("the members sampled over SQL", SETTLE, |s| {
        s.lines().any(|l| l.contains(" primary ") && l.contains(" 0/"))
    });
    let sessions = "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s \
                    USING (pid) WHERE a.application_name = 'pgdeck'";
    let counts = query(&admin, sessions).unwrap();
    console.keys(&["C-c"]);
    let (encrypted, all) = (counts[0][0].clone().unwrap(), counts[0][1].clone().unwrap());
    assert!(all != "0" && encrypted == all, "{encrypted} of {all} pgdeck sessions use TLS");

    // The same login against a CA that did not sign the cluster's certificate: refused.
    let dir = tempfile::tempdir().unwrap();
    let stranger = dir.path().join("ca.crt");
    std::fs::write(&stranger, tls::generate("stranger").unwrap().ca).unwrap();
    let endpoint = Endpoint {
        host: "127.0.0.1".into(),
        port,
        database: "postgres".into(),
        login: Credentials { username: "postgres".into(), password: pgdeck::secrets::Secret::new(password.clone()) }
            .into(),
        tls: Some(Tls::new(tls::client_config(&stranger).unwrap())),
        transport: pgdeck::sql::Transport::Tcp,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let refused = runtime.block_on(connect(&endpoint, Duration::from_secs(5), true)).err().unwrap();
    let text = format!("{refused:#}");
    assert!(text.contains("over verified TLS") && text.to_lowercase().contains("certificate"), "{text}");
    let trusted = cluster.dir().join("tls").join("ca.crt");
    let endpoint = Endpoint { tls: Some(Tls::new(tls::client_config(&trusted).unwrap())), ..endpoint };
    runtime.block_on(connect(&endpoint, Duration::from_secs(5), true)).unwrap();
}

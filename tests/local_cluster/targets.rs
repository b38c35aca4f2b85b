//! The console switches between configured targets as k9s switches contexts: from the local
//! Patroni cluster to a CNPG cluster (the fake Kubernetes API) and back, with `:target NAME`,
//! each target with its own State; a target that does not exist is refused where it is typed.

use std::time::Duration;

use crate::support::fake_kube::{cnpg, FakeKube};
use crate::support::local_cluster::LocalCluster;
use crate::support::tmux::Tmux;

const SETTLE: Duration = Duration::from_secs(60);

pub fn console_switches_targets(cluster: &LocalCluster) {
    let fake = FakeKube::start();
    // Pod IPs where nothing listens: the CNPG target's members show from the API alone.
    let ips = ["127.0.0.161".to_owned(), "127.0.0.162".to_owned(), "127.0.0.163".to_owned()];
    cnpg::Seed { pod_ips: ips, primary: 1 }.apply(&fake);
    let kc = fake.kubeconfig("default");
    let home = cluster.root.join("home");
    let config = home.join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "[targets.kube]\nplatform = \"cnpg\"\ncontext = \"fake\"\nsql = \"direct\"\n",
    )
    .unwrap();
    let dir = cluster.dir();
    let console = Tmux::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_pgdeck")),
        &["--dir", dir.to_str().unwrap()],
        &[
            ("PGDECK_HOME", home.to_str().unwrap()),
            ("TERM", "xterm-256color"),
            ("KUBECONFIG", kc.path.to_str().unwrap()),
        ],
        120,
        40,
    );
    let header = |s: &str| s.lines().next().unwrap_or_default().to_owned();
    console.wait_for("the local cluster", SETTLE, |s| header(s).contains("[local]") && header(s).contains("(patroni)"));

    console.keys(&[":"]);
    console.type_text("target");
    console.keys(&["Enter"]);
    console.wait_for("the targets listed", Duration::from_secs(10), |s| s.contains("targets: [local] kube"));

    console.keys(&[":"]);
    console.type_text("target nope");
    console.keys(&["Enter"]);
    console.wait_for("an unknown target refused", Duration::from_secs(10), |s| {
        s.contains("cannot watch nope: unknown target `nope`") && header(s).contains("[local]")
    });

    console.keys(&[":"]);
    console.type_text("target kube");
    console.keys(&["Enter"]);
    let on_kube = console.wait_for("the CNPG cluster", SETTLE, |s| {
        header(s).contains("[kube]")
            && header(s).contains("(cnpg)")
            && header(s).contains("leader postgres-cluster-2")
            && s.contains("now watching kube")
    });
    assert!(!on_kube.contains("(patroni)"), "nothing of the local cluster's State is left:\n{on_kube}");

    console.keys(&[":"]);
    console.type_text("target local");
    console.keys(&["Enter"]);
    console.wait_for("back on the local cluster", SETTLE, |s| {
        header(s).contains("[local]") && header(s).contains("(patroni)") && header(s).contains("leader ")
    });
    console.keys(&["C-c"]);
    std::fs::remove_file(config.join("config.toml")).unwrap();
}

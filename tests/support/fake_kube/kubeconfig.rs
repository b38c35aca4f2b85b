//! A temporary kubeconfig whose current context points at the fake, for kubectl and kube-rs.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Kubeconfig {
    dir: tempfile::TempDir,
    pub path: PathBuf,
}

pub const CONTEXT: &str = "fake";

impl Kubeconfig {
    pub fn write(server: &str, namespace: &str) -> Self {
        let dir = tempfile::tempdir().expect("kubeconfig dir");
        let path = dir.path().join("kubeconfig");
        // A static token, as a service account's: the fake accepts any, and clients must still
        // send it over plain http.
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {CONTEXT}\n  cluster:\n    server: {server}\n\
             contexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n    namespace: {namespace}\n\
             current-context: {CONTEXT}\nusers:\n- name: {CONTEXT}\n  user:\n    token: fake-token\npreferences: {{}}\n"
        );
        std::fs::write(&path, text).expect("write kubeconfig");
        Kubeconfig { dir, path }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `kubectl` with this kubeconfig and a discovery cache of its own: the default cache in
    /// `~/.kube/cache` is keyed by host and port, so a port reused from an earlier run would
    /// otherwise answer discovery from a stale cache.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(std::env::var_os("KUBECTL").unwrap_or_else(|| "kubectl".into()));
        cmd.arg("--kubeconfig")
            .arg(&self.path)
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG");
        cmd
    }
}

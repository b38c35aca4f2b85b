//! Switching the console to another configured target, as k9s switches contexts: the console
//! asks for a target by name and gets its platform, thresholds and audit trail; what a target
//! is (config, kubeconfig, the local cluster's files) stays with the CLI.

use std::sync::Arc;

use async_trait::async_trait;

use crate::audit::AuditLog;
use crate::platform::Platform;
use crate::spec::ThresholdsSpec;

/// A target opened for watching.
pub struct Opened {
    pub name: String,
    pub platform: Arc<dyn Platform>,
    pub thresholds: ThresholdsSpec,
    /// Its audit trail: the file names the target, so each target's actions stay apart.
    pub audit: AuditLog,
}

#[async_trait]
pub trait Targets: Send + Sync {
    /// Every target a switch may name, `local` first.
    fn names(&self) -> Vec<String>;
    async fn open(&self, name: &str) -> anyhow::Result<Opened>;
}

/// What `:target` alone says: the targets there are, and which one is watched.
pub fn listing(names: &[String], current: Option<&str>) -> String {
    let shown: Vec<String> =
        names.iter().map(|n| if Some(n.as_str()) == current { format!("[{n}]") } else { n.clone() }).collect();
    format!("targets: {}; `:target NAME` switches", shown.join(" "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listing_marks_the_target_watched() {
        let names = vec!["local".to_owned(), "prod".to_owned()];
        assert_eq!(super::listing(&names, Some("prod")), "targets: local [prod]; `:target NAME` switches");
    }
}

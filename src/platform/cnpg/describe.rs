//! What each action will send, shown before the operator confirms it: the exact request (method,
//! path, content type, body), built from the Cluster as the watcher holds it now.

use super::{actions, CnpgPlatform};
use crate::action::{Action, BackupKind};

pub fn describe(platform: &CnpgPlatform, action: &Action, leader: Option<&str>) -> String {
    let (ns, name) = (platform.namespace(), platform.cluster());
    let api = platform.api_url();
    let cluster = platform.cached_cluster();
    match action {
        Action::Switchover { candidate: Some(instance) } | Action::Failover { candidate: instance } => {
            let Some(cluster) = cluster else {
                return format!("the Cluster {ns}/{name} is not (yet) known: the promote will be refused");
            };
            let refusal = actions::check_promotable(&cluster, instance)
                .err()
                .map(|why| format!("\n(it will be refused: {why})"))
                .unwrap_or_default();
            let body = actions::promote_patch(&cluster, instance, crate::clock::now());
            format!(
                "PATCH {api}{}/status\nContent-Type: application/merge-patch+json\n{}\n\
                 (as `kubectl cnpg promote {name} {instance}`: resourceVersion and conditions as read just before \
                 sending, retried on 409 Conflict; the operator then demotes {} and promotes {instance}){refusal}",
                actions::cluster_path(ns, name),
                serde_json::to_string_pretty(&body).unwrap_or_default(),
                leader.unwrap_or("the current primary"),
            )
        }
        Action::Switchover { candidate: None } => {
            "CNPG promotes a named instance: choose the replica to promote; this request will be refused".into()
        }
        Action::Backup { kind: BackupKind::Full } => {
            let Some(cluster) = cluster else {
                return format!("the Cluster {ns}/{name} is not (yet) known: the backup will be refused");
            };
            match actions::backup_object(&cluster, name, ns, crate::clock::now()) {
                Ok(backup) => format!(
                    "POST {api}{}\nContent-Type: application/json\n{}\n(as `kubectl cnpg backup {name}`, named for the \
                     UTC second it is sent; then watched until CNPG reports it completed or failed)",
                    actions::backups_path(ns),
                    serde_json::to_string_pretty(&actions::backup_body(&backup)).unwrap_or_default()
                ),
                Err(e) => format!("the backup will be refused: {e}"),
            }
        }
        Action::Backup { .. } => "CNPG takes full base backups only: this request will be refused".into(),
        Action::CancelBackend { member, pid } | Action::TerminateBackend { member, pid } => {
            let function = if matches!(action, Action::TerminateBackend { .. }) {
                "pg_terminate_backend"
            } else {
                "pg_cancel_backend"
            };
            format!(
                "SELECT {function}({pid});\n(on {member}'s pod IP, port 5432, as {} from {})",
                platform.shared.superuser.describe(),
                platform.store.location()
            )
        }
        Action::Restore { backup, target_time, new_cluster } => {
            // The preview's spec is the cached one; the request sends the Cluster as read then.
            let source = cluster.and_then(|c| serde_json::to_value(c.as_ref()).ok()).unwrap_or_default();
            let body = super::restore::recovery_cluster(&source, backup, *target_time, new_cluster, ns);
            format!(
                "POST {api}/apis/postgresql.cnpg.io/v1/namespaces/{ns}/clusters\nContent-Type: application/json\n\
                 {{\"metadata\": {}, \"spec\": {{\"bootstrap\": {}, …the spec of {name} without its backup section…}}}}\n\
                 (refused if a Cluster {new_cluster} exists; the new cluster archives nowhere until it is given a \
                 backup section of its own)",
                body["metadata"], body["spec"]["bootstrap"]
            )
        }
        Action::RevealPassword { user } => match platform.user_secret(user) {
            Ok(secret) => crate::secrets::reveal_preview(user, &secret, &platform.store.location()),
            Err(e) => format!("nothing will be shown: {e:#}"),
        },
        Action::CreateDatabase { .. } | Action::CreateUser { .. } | Action::RotatePassword { .. } => {
            format!("{}: not supported on CNPG yet; this request will be refused", action.name())
        }
    }
}

//! What each action will send, shown before the operator confirms it: the exact request (method,
//! path, content type, body), built from the Cluster as the watcher holds it now.

use super::{actions, credentials, declarative, CnpgPlatform};
use crate::action::{Action, BackupKind};
use crate::config::TargetCredentials;

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
        Action::Apply { objects, .. } => apply_preview(objects),
        Action::Restore { backup, target_time, new_cluster } => {
            restore_preview(platform, cluster.as_deref(), backup, *target_time, new_cluster)
        }
        Action::RevealPassword { user } => match platform.user_secret(user) {
            Ok(secret) => crate::secrets::reveal_preview(user, &secret, &platform.store.location()),
            Err(e) => format!("nothing will be shown: {e:#}"),
        },
        Action::CreateDatabase { name: database, owner } => match declarative::database_object_name(name, database) {
            Ok(object) => format!(
                "POST {api}/apis/postgresql.cnpg.io/v1/namespaces/{ns}/databases\nContent-Type: application/json\n{}\n\
                 (then watched until CNPG sets status.applied; where the API has no Database kind, CNPG before 1.25: \
                 {} on the primary)",
                serde_json::to_string_pretty(&declarative::database_body(ns, name, &object, database, owner))
                    .unwrap_or_default(),
                crate::sql::admin::create_database(database, owner)
            ),
            Err(e) => format!("the request will be refused: {e:#}"),
        },
        Action::CreateUser { name: user, database } => match platform.target.config.credentials {
            TargetCredentials::Aws => crate::sql::users::create_preview(
                user,
                database,
                &platform.target.secrets.user_secret(user),
                &platform.store.location(),
                &format!("the primary {}", leader.unwrap_or("<none>")),
            ),
            TargetCredentials::Kube => managed_user_preview(platform, user, database),
        },
        Action::RotatePassword { user } => match platform.user_secret(user) {
            Ok(secret) => crate::sql::users::rotation_preview(
                user,
                &secret,
                &platform.store.location(),
                &format!("the primary {}", leader.unwrap_or("<none>")),
            ),
            Err(e) => format!("the request will be refused: {e:#}"),
        },
    }
}

/// The Secret, the JSON Patch on the Cluster as it is cached now, and the grants.
fn managed_user_preview(platform: &CnpgPlatform, user: &str, database: &str) -> String {
    let (ns, name, api) = (platform.namespace(), platform.cluster(), platform.api_url());
    let secret = match credentials::role_secret(name, user) {
        Ok(secret) => secret,
        Err(e) => return format!("the request will be refused: {e:#}"),
    };
    let role = declarative::role_entry(user, &secret);
    let cached = platform.cached_cluster().and_then(|c| serde_json::to_value(c.as_ref()).ok());
    let patch = cached
        .map(|c| declarative::add_role_patch(&c, &role))
        .transpose()
        .ok()
        .flatten()
        .map_or_else(|| "<the Cluster is not (yet) known>".to_owned(), |p| p.to_string());
    format!(
        "PATCH …/clusters/{name}?dryRun=All with the patch below: where the answer lacks the role (an operator \
         before CNPG 1.20 has no spec.managed.roles) the role is made with SQL on the primary instead, its \
         password stored in Secret {ns}/{secret}\n\
         POST {api}/api/v1/namespaces/{ns}/secrets\n  {secret}: kubernetes.io/basic-auth, username {user}, a generated \
         password, label cnpg.io/reload\n\
         PATCH {api}/apis/postgresql.cnpg.io/v1/namespaces/{ns}/clusters/{name}\n\
         Content-Type: application/json-patch+json\n{patch}\n\
         (re-read and retried if the Cluster changed; then watched until status.managedRolesStatus reconciles {user})\n\
         {};\n(on the primary, in database {database})",
        crate::sql::admin::grant_use(user, database, "<owner of the database>").join(";\n")
    )
}

/// One server-side apply per object, in order.
fn apply_preview(objects: &[serde_json::Value]) -> String {
    let each: Vec<String> = objects
        .iter()
        .map(|o| {
            let text = |p: &str| o.pointer(p).and_then(serde_json::Value::as_str).unwrap_or("?").to_owned();
            format!("  {} {}", text("/kind"), text("/metadata/name"))
        })
        .collect();
    format!(
        "PATCH each, Content-Type: application/apply-patch+yaml, ?fieldManager={} (server-side apply):\n{}",
        super::apply::FIELD_MANAGER,
        each.join("\n")
    )
}

/// The new Cluster's POST, from the Cluster and the Backup as the watchers hold them now (the
/// request sends them as read then).
fn restore_preview(
    platform: &CnpgPlatform,
    cluster: Option<&super::crd::Cluster>,
    backup: &str,
    target_time: Option<chrono::DateTime<chrono::Utc>>,
    new_cluster: &str,
) -> String {
    let (ns, name, api) = (platform.namespace(), platform.cluster(), platform.api_url());
    let source = cluster.and_then(|c| serde_json::to_value(c).ok()).unwrap_or_default();
    let chosen = platform
        .shared
        .watches
        .backups
        .get(&super::watch::key(ns, backup))
        .and_then(|b| serde_json::to_value(b.as_ref()).ok())
        .unwrap_or_else(|| serde_json::json!({"metadata": {"name": backup}}));
    let body = super::restore::recovery_cluster(&source, &chosen, target_time, new_cluster, ns);
    let external =
        body["spec"].get("externalClusters").map(|e| format!(", \"externalClusters\": {e}")).unwrap_or_default();
    format!(
        "POST {api}/apis/postgresql.cnpg.io/v1/namespaces/{ns}/clusters\nContent-Type: application/json\n\
         {{\"metadata\": {}, \"spec\": {{\"bootstrap\": {}{external}, …the spec of {name} without its backup \
         section…}}}}\n\
         (refused if a Cluster {new_cluster} exists, or the Backup is not a completed one of {name}; the new \
         cluster archives nowhere until it is given a backup section of its own)",
        body["metadata"], body["spec"]["bootstrap"],
    )
}

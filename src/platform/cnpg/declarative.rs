//! Databases and login roles the way CNPG wants them made: a `Database` object (CNPG 1.25+)
//! followed until the operator applied it, and a role added to the Cluster's
//! `spec.managed.roles` with a JSON Patch (`add …/roles/-`, guarded by a `test` of the
//! resourceVersion read) — never a merge patch, which would replace the whole list and drop the
//! roles others added — followed until `status.managedRolesStatus` says it is reconciled.

use std::time::Duration;

use anyhow::{bail, Result};
use futures::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Api;
use serde_json::{json, Value};

use super::client;
use super::crd::{API_VERSION, GROUP, VERSION};

/// How long the operator may take to apply a Database or reconcile a role before pgdeck says so.
pub const APPLY_WAIT: Duration = Duration::from_secs(45);
/// Re-reads of the Cluster when someone else changed it between the read and the patch.
const PATCH_ATTEMPTS: usize = 4;

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, VERSION, kind), plural)
}

pub fn databases(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource("Database", "databases"))
}

pub fn clusters(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource("Cluster", "clusters"))
}

/// The Database object's name: the cluster's and the database's, as a Kubernetes name.
pub fn database_object_name(cluster: &str, database: &str) -> Result<String> {
    super::credentials::object_name(cluster, "", database, "database", "a Kubernetes Database object")
}

pub fn database_body(namespace: &str, cluster: &str, object: &str, name: &str, owner: &str) -> Value {
    json!({
        "apiVersion": API_VERSION,
        "kind": "Database",
        "metadata": {"name": object, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "pgdeck"}},
        "spec": {"cluster": {"name": cluster}, "name": name, "owner": owner, "ensure": "present"},
    })
}

/// The role as `spec.managed.roles` holds it: a login whose password CNPG reads from `secret`.
pub fn role_entry(name: &str, secret: &str) -> Value {
    json!({
        "name": name,
        "ensure": "present",
        "login": true,
        "inherit": true,
        "connectionLimit": -1,
        "passwordSecret": {"name": secret},
        "comment": "created by pgdeck",
    })
}

/// The JSON Patch that appends `role` to the Cluster as read: `test` of its resourceVersion
/// first (so a concurrent change fails the patch instead of being overwritten), then `add` at
/// the deepest level that exists (`spec.managed` and its `roles` may both be absent).
pub fn add_role_patch(cluster: &Value, role: &Value) -> Result<Value> {
    let Some(version) = cluster.pointer("/metadata/resourceVersion").and_then(Value::as_str) else {
        bail!("the Cluster as read has no resourceVersion")
    };
    let add = match cluster.pointer("/spec/managed") {
        None | Some(Value::Null) => json!({"op": "add", "path": "/spec/managed", "value": {"roles": [role]}}),
        Some(managed) => match managed.get("roles") {
            None | Some(Value::Null) => json!({"op": "add", "path": "/spec/managed/roles", "value": [role]}),
            Some(_) => json!({"op": "add", "path": "/spec/managed/roles/-", "value": role}),
        },
    };
    Ok(json!([{"op": "test", "path": "/metadata/resourceVersion", "value": version}, add]))
}

fn managed_role_names(cluster: &Value) -> Vec<String> {
    cluster
        .pointer("/spec/managed/roles")
        .and_then(Value::as_array)
        .map(|roles| roles.iter().filter_map(|r| r.get("name")?.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Sends the JSON Patch that appends `role` (see [`add_role_patch`]), re-reading the Cluster
/// when another writer got there first; returns the Cluster as the API server answered. A role
/// already listed is refused: pgdeck does not take over another's role.
async fn patch_in_role(api: &Api<DynamicObject>, cluster: &str, role: &Value, params: &PatchParams) -> Result<Value> {
    let name = role.get("name").and_then(Value::as_str).unwrap_or_default();
    for _ in 0..PATCH_ATTEMPTS {
        let current = api
            .get(cluster)
            .await
            .map_err(|e| anyhow::anyhow!(client::explain(&e, &format!("reading Cluster {cluster}"))))?;
        let current = serde_json::to_value(&current)?;
        if managed_role_names(&current).iter().any(|n| n == name) {
            bail!("{name} is already in the Cluster's spec.managed.roles")
        }
        let patch = add_role_patch(&current, role)?;
        match api.patch(cluster, params, &Patch::<Value>::Json(serde_json::from_value(patch)?)).await {
            Ok(patched) => return Ok(serde_json::to_value(&patched)?),
            // 409: changed under us; 422: the resourceVersion `test` failed. Read again and retry.
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 422 => {}
            Err(e) => bail!(client::explain(&e, &format!("patching Cluster {cluster}'s spec.managed.roles"))),
        }
    }
    bail!("the Cluster {cluster} kept changing while pgdeck added {name}; try again")
}

/// Whether this API server keeps a role added to `spec.managed.roles`: the patch is sent as a
/// dry run (`dryRun=All`: validated, admitted and pruned, never stored) and its answer read. An
/// operator before 1.20 has no `managed` in its Cluster schema, so the API server prunes the
/// field without a word and the role would never be reconciled.
pub async fn keeps_managed_roles(api: &Api<DynamicObject>, cluster: &str, role: &Value) -> Result<bool> {
    let name = role.get("name").and_then(Value::as_str).unwrap_or_default();
    let params = PatchParams { dry_run: true, ..PatchParams::default() };
    let answered = patch_in_role(api, cluster, role, &params).await?;
    Ok(managed_role_names(&answered).iter().any(|n| n == name))
}

/// Appends the role to `spec.managed.roles` for real; an answer without it (the schema changed
/// since the dry run) is an error rather than a role that never comes.
pub async fn add_managed_role(api: &Api<DynamicObject>, cluster: &str, role: &Value) -> Result<()> {
    let name = role.get("name").and_then(Value::as_str).unwrap_or_default();
    let answered = patch_in_role(api, cluster, role, &PatchParams::default()).await?;
    if !managed_role_names(&answered).iter().any(|n| n == name) {
        bail!("the API server dropped {name} from the Cluster's spec.managed.roles (its CRD has no such field)")
    }
    Ok(())
}

/// What `status.managedRolesStatus` says of `role`: reconciled, refused (with its errors), or not yet.
pub fn role_state(cluster: &Value, role: &str) -> Option<Result<(), String>> {
    let status = cluster.pointer("/status/managedRolesStatus")?;
    if let Some(errors) = status.pointer("/cannotReconcile").and_then(|c| c.get(role)) {
        let errors: Vec<String> = errors
            .as_array()
            .map(|e| e.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        return Some(Err(errors.join("; ")));
    }
    let reconciled = status.pointer("/byStatus/reconciled").and_then(Value::as_array)?;
    reconciled.iter().any(|r| r.as_str() == Some(role)).then_some(Ok(()))
}

/// What a Database's status says: applied, refused with CNPG's message, or not yet known.
pub fn database_state(database: &Value) -> Option<Result<(), String>> {
    let applied = database.pointer("/status/applied").and_then(Value::as_bool)?;
    let message = database.pointer("/status/message").and_then(Value::as_str).unwrap_or("no message given");
    Some(if applied { Ok(()) } else { Err(message.to_owned()) })
}

/// Watches one object (not a poll) until `settled` says what became of it, or `APPLY_WAIT` passes.
pub async fn follow(
    api: &Api<DynamicObject>,
    name: &str,
    settled: impl Fn(&Value) -> Option<Result<(), String>>,
) -> Result<Option<Result<(), String>>> {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = std::pin::pin!(watcher(api.clone(), config).default_backoff().applied_objects());
    let watched = async {
        while let Some(item) = stream.next().await {
            let Ok(object) = item else { continue };
            if let Some(outcome) = settled(&serde_json::to_value(&object).unwrap_or_default()) {
                return Some(outcome);
            }
        }
        None
    };
    Ok(tokio::time::timeout(APPLY_WAIT, watched).await.ok().flatten())
}

/// Creates the Database object; `Ok(false)` when the API server has no Database kind (CNPG
/// before 1.25), so that the caller falls back to SQL.
pub async fn create_database_object(api: &Api<DynamicObject>, body: &Value) -> Result<bool> {
    let object: DynamicObject = serde_json::from_value(body.clone())?;
    let name = object.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            bail!("a Database object {name} already exists; see kubectl get database {name}")
        }
        Err(e) => bail!(client::explain(&e, &format!("creating Database {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(managed: Option<Value>) -> Value {
        let mut c = json!({"metadata": {"name": "pg", "resourceVersion": "42"}, "spec": {"instances": 3}});
        if let Some(m) = managed {
            c["spec"]["managed"] = m;
        }
        c
    }

    #[test]
    fn a_role_is_added_at_the_deepest_level_that_exists_guarded_by_the_version_read() {
        let role = role_entry("alice", "pg-role-alice");
        let test = json!({"op": "test", "path": "/metadata/resourceVersion", "value": "42"});
        assert_eq!(
            add_role_patch(&cluster(None), &role).unwrap(),
            json!([test, {"op": "add", "path": "/spec/managed", "value": {"roles": [role]}}])
        );
        assert_eq!(
            add_role_patch(&cluster(Some(json!({"services": {}}))), &role).unwrap(),
            json!([test, {"op": "add", "path": "/spec/managed/roles", "value": [role]}])
        );
        let others = json!({"roles": [{"name": "bob"}]});
        assert_eq!(
            add_role_patch(&cluster(Some(others)), &role).unwrap(),
            json!([test, {"op": "add", "path": "/spec/managed/roles/-", "value": role}])
        );
        assert_eq!(role["passwordSecret"]["name"], "pg-role-alice");
        assert_eq!(role["login"], true);
    }

    #[test]
    fn role_and_database_states_come_from_cnpgs_status() {
        let mut c = cluster(None);
        assert_eq!(role_state(&c, "alice"), None);
        c["status"] =
            json!({"managedRolesStatus": {"byStatus": {"reconciled": ["bob"], "pending-reconciliation": ["alice"]}}});
        assert_eq!(role_state(&c, "alice"), None);
        c["status"]["managedRolesStatus"]["byStatus"]["reconciled"] = json!(["bob", "alice"]);
        assert_eq!(role_state(&c, "alice"), Some(Ok(())));
        c["status"]["managedRolesStatus"]["cannotReconcile"] = json!({"alice": ["role \"x\" does not exist"]});
        assert_eq!(role_state(&c, "alice"), Some(Err("role \"x\" does not exist".into())));

        let mut db = json!({"spec": {}});
        assert_eq!(database_state(&db), None);
        db["status"] = json!({"applied": false, "message": "role \"nobody\" does not exist"});
        assert_eq!(database_state(&db), Some(Err("role \"nobody\" does not exist".into())));
        db["status"] = json!({"applied": true});
        assert_eq!(database_state(&db), Some(Ok(())));
    }

    #[test]
    fn object_names_are_kubernetes_names() {
        assert_eq!(database_object_name("pg", "order_items").unwrap(), "pg-order-items");
        assert!(database_object_name("pg", "price$").is_err());
    }
}

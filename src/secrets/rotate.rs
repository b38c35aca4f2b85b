//! Password rotation in the order that never strands a client: stage the new password in the
//! store, set it in PostgreSQL, prove it by logging in, and only then make it the current one.
//! Any failure puts things back so that the current secret still logs in, and says which step
//! failed; a rotation cut short after PostgreSQL changed is finished by the next one.

use anyhow::{anyhow, Result};
use async_trait::async_trait;

use crate::secrets::{CredentialStore, Credentials, Secret};

/// The server side of a rotation: where the password is set and where it is tried.
#[async_trait]
pub trait PasswordServer: Send + Sync {
    /// Where, for messages: "the leader postgres-cluster-1".
    fn describe(&self) -> String;
    async fn set_password(&self, user: &str, password: &Secret) -> Result<()>;
    /// Logs in as `user`; Ok only if the server accepts the password.
    async fn check_login(&self, user: &str, password: &Secret) -> Result<()>;
}

/// Rotates the password kept in the secret `name`. Returns what was done.
pub async fn rotate(store: &dyn CredentialStore, server: &dyn PasswordServer, name: &str) -> Result<String> {
    let location = store.location();
    let current =
        store.read(name).await.map_err(|e| anyhow!("rotation step 1 of 4 (read the current secret) failed: {e:#}"))?;
    let user = current.username.clone();
    let mut finished_earlier = String::new();
    if let Some((version, staged)) = store.pending(name).await? {
        // A staged password the server accepts while the current one fails: an earlier rotation
        // stopped between PostgreSQL and the store. Finishing it is what makes the secret work.
        let staged_works = server.check_login(&user, &staged.password).await.is_ok();
        if staged_works && server.check_login(&user, &current.password).await.is_err() {
            store.promote(name, &version).await.map_err(|e| {
                anyhow!(
                    "an earlier rotation of {user} left its working password staged, and promoting it failed: {e:#}"
                )
            })?;
            return Ok(format!(
                "finished an earlier, interrupted rotation of {user}: the password PostgreSQL already had is now \
                 current in {location}"
            ));
        }
        store.discard(name, &version).await?;
        finished_earlier = " (a stale staged version from an earlier attempt was dropped first)".into();
    }

    let new = Credentials { username: user.clone(), password: Secret::generate() };
    let version = store.stage(name, &new).await.map_err(|e| {
        anyhow!("rotation step 1 of 4 (stage the new password in {location}) failed: {e:#}; nothing changed")
    })?;
    if let Err(e) = server.set_password(&user, &new.password).await {
        let _ = store.discard(name, &version).await;
        return Err(anyhow!(
            "rotation step 2 of 4 (set the new password on {}) failed: {e:#}; the current secret still holds the \
             working password",
            server.describe()
        ));
    }
    if let Err(e) = server.check_login(&user, &new.password).await {
        let undo = put_back(store, server, name, &version, &current).await;
        return Err(anyhow!("rotation step 3 of 4 (log in with the new password) failed: {e:#}; {undo}"));
    }
    if let Err(e) = store.promote(name, &version).await {
        let undo = put_back(store, server, name, &version, &current).await;
        return Err(anyhow!(
            "rotation step 4 of 4 (make the new password current in {location}) failed: {e:#}; {undo}"
        ));
    }
    Ok(format!(
        "rotated the password of {user}{finished_earlier}: staged, set on {}, logged in with, and made current in \
         {location}",
        server.describe()
    ))
}

/// After PostgreSQL took the new password but the rotation cannot finish: the old password goes
/// back, so the current secret works again. If that fails, the staged version is kept, since it is
/// then the password that works, and the next rotation promotes it.
async fn put_back(
    store: &dyn CredentialStore,
    server: &dyn PasswordServer,
    name: &str,
    version: &str,
    current: &Credentials,
) -> String {
    match server.set_password(&current.username, &current.password).await {
        Ok(()) => {
            let _ = store.discard(name, version).await;
            format!("{} was set back to the password in the current secret, which works", server.describe())
        }
        Err(e) => format!(
            "setting the old password back failed too ({e:#}): PostgreSQL has the staged password; run the rotation \
             again to make it current"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::secrets::file::{CredentialFile, FileStore};

    /// A server that knows one password per user and can be told to fail a step.
    #[derive(Default)]
    struct Server {
        password: Mutex<String>,
        fail_set: Mutex<bool>,
    }

    #[async_trait]
    impl PasswordServer for Server {
        fn describe(&self) -> String {
            "the test server".into()
        }
        async fn set_password(&self, _: &str, password: &Secret) -> Result<()> {
            if *self.fail_set.lock().unwrap() {
                anyhow::bail!("server gone");
            }
            *self.password.lock().unwrap() = password.expose().to_owned();
            Ok(())
        }
        async fn check_login(&self, _: &str, password: &Secret) -> Result<()> {
            if *self.password.lock().unwrap() == password.expose() {
                Ok(())
            } else {
                anyhow::bail!("password authentication failed")
            }
        }
    }

    /// A store whose promotion fails: the interruption between PostgreSQL and the store.
    struct FailingPromote(FileStore);

    #[async_trait]
    impl CredentialStore for FailingPromote {
        fn location(&self) -> String {
            self.0.location()
        }
        async fn read(&self, name: &str) -> Result<Credentials> {
            self.0.read(name).await
        }
        async fn exists(&self, name: &str) -> Result<bool> {
            self.0.exists(name).await
        }
        async fn create(&self, name: &str, c: &Credentials, cluster: &str) -> Result<()> {
            self.0.create(name, c, cluster).await
        }
        async fn delete(&self, name: &str) -> Result<()> {
            self.0.delete(name).await
        }
        async fn stage(&self, name: &str, c: &Credentials) -> Result<String> {
            self.0.stage(name, c).await
        }
        async fn promote(&self, _: &str, _: &str) -> Result<()> {
            anyhow::bail!("injected: the store went away")
        }
        async fn discard(&self, name: &str, version: &str) -> Result<()> {
            self.0.discard(name, version).await
        }
        async fn pending(&self, name: &str) -> Result<Option<(String, Credentials)>> {
            self.0.pending(name).await
        }
    }

    fn store_with(dir: &std::path::Path, password: &str) -> FileStore {
        let path = dir.join("c.json");
        let mut file = CredentialFile::new(path.clone());
        file.insert("s", Credentials { username: "alice".into(), password: Secret::new(password) });
        file.save().unwrap();
        FileStore { path }
    }

    #[tokio::test]
    async fn a_rotation_changes_both_sides_and_the_old_password_stops_working() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), "old");
        let server = Server { password: Mutex::new("old".into()), ..Server::default() };
        rotate(&store, &server, "s").await.unwrap();
        let now = store.read("s").await.unwrap().password;
        assert_ne!(now.expose(), "old");
        server.check_login("alice", &now).await.unwrap();
        assert!(server.check_login("alice", &Secret::new("old")).await.is_err());
        assert!(store.pending("s").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_failed_promotion_puts_the_old_password_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = FailingPromote(store_with(dir.path(), "old"));
        let server = Server { password: Mutex::new("old".into()), ..Server::default() };
        let e = rotate(&store, &server, "s").await.unwrap_err().to_string();
        assert!(e.contains("step 4 of 4") && e.contains("set back"), "{e}");
        let current = store.read("s").await.unwrap().password;
        server.check_login("alice", &current).await.unwrap();
    }

    #[tokio::test]
    async fn a_rotation_cut_short_after_postgres_changed_is_finished_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let store = FailingPromote(store_with(dir.path(), "old"));
        let server = Server { password: Mutex::new("old".into()), ..Server::default() };
        // Promotion fails and putting the old password back fails as well: PostgreSQL keeps the
        // staged one, which the store still holds.
        let fail_back = async {
            let version =
                store.stage("s", &Credentials { username: "alice".into(), password: Secret::new("new") }).await?;
            server.set_password("alice", &Secret::new("new")).await?;
            store.promote("s", &version).await
        };
        assert!(fail_back.await.is_err());
        assert!(server.check_login("alice", &store.read("s").await.unwrap().password).await.is_err());
        let done = rotate(&store.0, &server, "s").await.unwrap();
        assert!(done.contains("finished an earlier, interrupted rotation"), "{done}");
        server.check_login("alice", &store.0.read("s").await.unwrap().password).await.unwrap();
    }

    #[tokio::test]
    async fn a_server_that_refuses_the_change_leaves_everything_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), "old");
        let server = Server { password: Mutex::new("old".into()), fail_set: Mutex::new(true) };
        let e = rotate(&store, &server, "s").await.unwrap_err().to_string();
        assert!(e.contains("step 2 of 4"), "{e}");
        assert_eq!(store.read("s").await.unwrap().password.expose(), "old");
        assert!(store.pending("s").await.unwrap().is_none());
    }
}

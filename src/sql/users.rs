//! Login roles made and re-passworded with SQL on the primary, the same on every platform: a
//! platform says where its primary is and how to open a session there (`Primary`); creating a
//! user and rotating a password are written once against that.

use anyhow::{bail, Result};
use async_trait::async_trait;
use tokio_postgres::Client;

use super::admin;
use crate::secrets::rotate::PasswordServer;
use crate::secrets::{CredentialStore, Credentials, Login, Secret};

/// A cluster's primary, as a platform finds it.
#[async_trait]
pub trait Primary: Send + Sync {
    /// The cluster's name, for messages and the tag on stored secrets.
    fn cluster(&self) -> String;
    /// The member that is primary now.
    async fn locate(&self) -> Result<String>;
    /// A session on `member`, in `database`, as `login`.
    async fn connect(&self, member: &str, database: &str, login: Login, read_only: bool) -> Result<Client>;
    /// The superuser's login, for admin sessions.
    fn superuser(&self) -> Login;
}

/// An admin session on the primary as it is now, in `database`; returns the primary's name too.
pub async fn admin_session(primary: &dyn Primary, database: &str) -> Result<(String, Client)> {
    let member = primary.locate().await?;
    let client = primary.connect(&member, database, primary.superuser(), false).await?;
    Ok((member, client))
}

/// Creates the login role `name` with a generated password and use of `database`, in one
/// transaction that commits only after the credentials are stored as `secret`: a failure to
/// store leaves no role behind with a password nobody knows.
pub async fn create_stored(
    primary: &dyn Primary,
    store: &dyn CredentialStore,
    secret: &str,
    name: &str,
    database: &str,
) -> Result<String> {
    let (member, mut client) = admin_session(primary, database).await?;
    let owner: String = client
        .query_one("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()", &[])
        .await?
        .try_get(0)?;
    let password = Secret::generate();
    let transaction = client.transaction().await?;
    for statement in admin::create_user(name, &admin::scram_verifier(&password), database, &owner) {
        transaction.batch_execute(&statement).await.map_err(|e| sql_error(&e))?;
    }
    let credentials = Credentials { username: name.to_owned(), password };
    if let Err(e) = store.create(secret, &credentials, &primary.cluster()).await {
        let _ = transaction.rollback().await;
        bail!("could not store the credentials in {}: {e:#}; nothing was created", store.location());
    }
    if let Err(e) = transaction.commit().await {
        let undo = store
            .delete(secret)
            .await
            .err()
            .map(|u| format!(" (and removing the stored secret failed too: {u:#})"))
            .unwrap_or_default();
        bail!("creating {name} failed at commit: {}{undo}", sql_error(&e));
    }
    Ok(format!(
        "user {name} created on {member} with access to {database}; credentials stored as {secret} in {}",
        store.location()
    ))
}

/// Grants an existing role the use of `database` that [`create_stored`] gives a new one.
pub async fn grant_use(primary: &dyn Primary, name: &str, database: &str) -> Result<String> {
    let (member, mut client) = admin_session(primary, database).await?;
    let owner: String = client
        .query_one("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()", &[])
        .await?
        .try_get(0)?;
    let transaction = client.transaction().await?;
    for statement in admin::grant_use(name, database, &owner) {
        transaction.batch_execute(&statement).await.map_err(|e| sql_error(&e))?;
    }
    transaction.commit().await.map_err(|e| sql_error(&e))?;
    Ok(member)
}

/// The rotation's server side on the primary: the password set as a SCRAM verifier, and tried
/// by logging in as the user to a database it may connect to.
pub struct PrimaryPasswords<'a>(pub &'a dyn Primary);

#[async_trait]
impl PasswordServer for PrimaryPasswords<'_> {
    fn describe(&self) -> String {
        format!("the primary of {}", self.0.cluster())
    }

    async fn set_password(&self, user: &str, password: &Secret) -> Result<()> {
        let (_, client) = admin_session(self.0, "postgres").await?;
        client
            .batch_execute(&admin::set_password(user, &admin::scram_verifier(password)))
            .await
            .map_err(|e| sql_error(&e))
    }

    async fn check_login(&self, user: &str, password: &Secret) -> Result<()> {
        // One primary for both sessions: the admin one that finds a database, and the login tried.
        let (member, admin_client) = admin_session(self.0, "postgres").await?;
        // A database the role may connect to: its own grant, or postgres when nothing narrower.
        let database: String = admin_client
            .query_one(
                "SELECT datname FROM pg_database WHERE datallowconn AND has_database_privilege($1, datname, 'CONNECT') \
                 ORDER BY datname = 'postgres', datname LIMIT 1",
                &[&user],
            )
            .await
            .map_err(|e| anyhow::anyhow!("{user} may connect to no database: {}", sql_error(&e)))?
            .try_get(0)?;
        let login = Credentials { username: user.to_owned(), password: password.clone() }.into();
        let client = self.0.connect(&member, &database, login, true).await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }
}

/// What [`create_stored`] will run, for the confirmation; `on` says where ("the leader m1").
pub fn create_preview(name: &str, database: &str, secret: &str, location: &str, on: &str) -> String {
    let statements =
        admin::create_user(name, "<SCRAM verifier of a generated password>", database, "<owner of the database>");
    format!(
        "BEGIN;\n{};\n-- store {{\"username\": \"{name}\", \"password\": …}} as {secret} in {location}\nCOMMIT;\n\
         (in database {database} on {on}; if storing fails, ROLLBACK)",
        statements.join(";\n"),
    )
}

/// What a rotation will do, for the confirmation; `on` says where the password is set.
pub fn rotation_preview(user: &str, secret: &str, location: &str, on: &str) -> String {
    format!(
        "1. stage a generated password for {user} beside the current one in {secret} ({location})\n\
         2. ALTER ROLE \"{user}\" PASSWORD '<SCRAM verifier>' on {on}\n\
         3. log in as {user} with it\n\
         4. make the staged password the current one\n\
         a failed step puts the old password back; clients must fetch the new secret"
    )
}

/// The server's own message for a failed statement, without tokio-postgres's wrapping.
pub fn sql_error(e: &tokio_postgres::Error) -> anyhow::Error {
    match e.as_db_error() {
        Some(db) => anyhow::anyhow!("{}: {}", db.severity(), db.message()),
        None => anyhow::anyhow!("{e}"),
    }
}

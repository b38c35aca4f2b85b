//! Plain SQL for tests, through the simple query protocol (which PgBouncer's transaction mode takes).

use std::time::Duration;

use tokio_postgres::{NoTls, SimpleQueryMessage};

pub struct Login<'a> {
    pub port: u16,
    pub database: &'a str,
    pub user: &'a str,
    pub password: &'a str,
}

/// Runs `sql` and returns its rows as text; an error as text too.
pub fn query(login: &Login<'_>, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(login.port)
            .dbname(login.database)
            .user(login.user)
            .password(login.password)
            .application_name("pgdeck-tests")
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) = config.connect(NoTls).await.map_err(|e| format!("connect: {e}"))?;
        tokio::spawn(connection);
        let messages = client.simple_query(sql).await.map_err(|e| format!("{e}: {:?}", e.as_db_error()))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect()),
                _ => None,
            })
            .collect())
    })
}

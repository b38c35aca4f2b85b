//! Quoting for DDL that cannot take bind parameters (CREATE ROLE, ALTER ROLE … PASSWORD).

/// `"name"` with embedded quotes doubled: safe for any identifier PostgreSQL accepts.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` with embedded quotes doubled; valid while `standard_conforming_strings` is on
/// (the default since 9.1), which pgdeck sets on its admin sessions to be sure.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `CREATE DATABASE`: it cannot run inside a transaction, so it is one statement on its own.
pub fn create_database(name: &str, owner: &str) -> String {
    format!("CREATE DATABASE {} OWNER {}", quote_ident(name), quote_ident(owner))
}

/// The statements that make `user` a login role with read-write use of `database`'s public
/// schema, now and for tables its owner creates later. `password` is what goes after PASSWORD:
/// a SCRAM verifier, so the cleartext never reaches the server or its logs.
pub fn create_user(user: &str, password: &str, database: &str, database_owner: &str) -> Vec<String> {
    let mut statements = vec![format!("CREATE ROLE {} LOGIN PASSWORD {}", quote_ident(user), quote_literal(password))];
    statements.extend(grant_use(user, database, database_owner));
    statements
}

/// Read-write use of `database`'s public schema for `user`, now and for tables its owner
/// creates later.
pub fn grant_use(user: &str, database: &str, database_owner: &str) -> Vec<String> {
    let (user, db, owner) = (quote_ident(user), quote_ident(database), quote_ident(database_owner));
    vec![
        format!("GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {user}"),
        format!("GRANT USAGE ON SCHEMA public TO {user}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {user}"),
        format!(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {user}"
        ),
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {user}"),
    ]
}

/// `pg_cancel_backend` (or, with `terminate`, `pg_terminate_backend`) on a session of `member`,
/// with the outcome as the operator reads it.
pub async fn signal_backend(
    client: &tokio_postgres::Client,
    member: &str,
    pid: i32,
    terminate: bool,
) -> anyhow::Result<String> {
    let sql = if terminate { "SELECT pg_terminate_backend($1)" } else { "SELECT pg_cancel_backend($1)" };
    let signalled: bool = client.query_one(sql, &[&pid]).await?.try_get(0)?;
    match (signalled, terminate) {
        (true, true) => Ok(format!("backend {pid} on {member} terminated")),
        (true, false) => Ok(format!("the query of backend {pid} on {member} was cancelled")),
        (false, _) => anyhow::bail!("backend {pid} is no longer running on {member}"),
    }
}

/// `ALTER ROLE … PASSWORD` with a SCRAM verifier (see [`scram_verifier`]).
pub fn set_password(user: &str, verifier: &str) -> String {
    format!("ALTER ROLE {} PASSWORD {}", quote_ident(user), quote_literal(verifier))
}

/// The password as it goes over the wire: a SCRAM-SHA-256 verifier with a fresh salt, as
/// psql's `\password` sends it.
pub fn scram_verifier(password: &crate::secrets::Secret) -> String {
    postgres_protocol::password::scram_sha_256(password.expose().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_statements_quote_every_name_and_carry_no_cleartext() {
        let secret = crate::secrets::Secret::new("cleartext-pw");
        let verifier = scram_verifier(&secret);
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
        let sql = create_user("alice", &verifier, "orders", "app").join(";\n");
        assert!(!sql.contains("cleartext-pw"));
        assert!(sql.starts_with(r#"CREATE ROLE "alice" LOGIN PASSWORD 'SCRAM-SHA-256$4096:"#), "{sql}");
        assert!(sql.contains(r#"GRANT CONNECT, TEMPORARY ON DATABASE "orders" TO "alice""#));
        assert!(sql.contains(r#"FOR ROLE "app" IN SCHEMA public"#));
        assert_eq!(create_database("x\"y", "o"), r#"CREATE DATABASE "x""y" OWNER "o""#);
    }

    #[test]
    fn quoting_doubles_embedded_quotes() {
        assert_eq!(quote_ident(r#"x"; DROP DATABASE postgres; --"#), r#""x""; DROP DATABASE postgres; --""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\'b"), r"'a\''b'");
    }
}

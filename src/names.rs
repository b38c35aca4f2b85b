//! What pgdeck accepts as a database, role or cluster name, checked as the operator types and
//! again by the Dispatcher. Stricter than PostgreSQL on purpose: a name that needs quoting in
//! every later psql session, or that shadows a system object, is refused with the reason.

/// PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated by the server.
pub const MAX_IDENTIFIER_BYTES: usize = 63;
/// A cluster name becomes a directory, a Patroni scope and, on Kubernetes, a DNS label with a
/// `-N` pod suffix and a `-pooler-rw` Service: 50 leaves room for both.
pub const MAX_CLUSTER_NAME: usize = 50;

/// PostgreSQL's fully reserved key words: usable only quoted, so refused as names.
const RESERVED_KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "system_user",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];
const SYSTEM_DATABASES: &[&str] = &["postgres", "template0", "template1"];
/// Role names PostgreSQL gives a meaning of its own (`GRANT … TO public`, `SET ROLE none`).
const SPECIAL_ROLES: &[&str] = &["public", "none", "postgres", "streaming_replica"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Database,
    Role,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            NameKind::Database => "database",
            NameKind::Role => "user",
        }
    }
}

/// Checks a new database or role name; `existing` are the names already there.
pub fn check_identifier<'a>(
    kind: NameKind,
    name: &str,
    existing: impl IntoIterator<Item = &'a str>,
) -> Result<(), String> {
    let noun = kind.noun();
    if name.is_empty() {
        return Err(format!("type a {noun} name"));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(format!("{} bytes is too long: PostgreSQL keeps {MAX_IDENTIFIER_BYTES}", name.len()));
    }
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') {
        return Err(format!("a {noun} name starts with a lowercase letter or _"));
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        return Err(format!("`{bad}` is not allowed: use lowercase letters, digits and _"));
    }
    if name.starts_with("pg_") {
        return Err("names starting with pg_ are reserved for PostgreSQL's own objects".into());
    }
    if RESERVED_KEYWORDS.contains(&name) {
        return Err(format!("`{name}` is an SQL reserved word"));
    }
    let special = match kind {
        NameKind::Database => SYSTEM_DATABASES,
        NameKind::Role => SPECIAL_ROLES,
    };
    if special.contains(&name) {
        return Err(format!("`{name}` is reserved for the system"));
    }
    if existing.into_iter().any(|e| e == name) {
        return Err(format!("a {noun} named `{name}` already exists"));
    }
    Ok(())
}

/// A new cluster's name: a DNS label (CNPG's rule), so the same name works on both platforms.
pub fn check_cluster_name(name: &str, current: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("type a name for the new cluster".into());
    }
    if name.len() > MAX_CLUSTER_NAME {
        return Err(format!("{} characters is too long: at most {MAX_CLUSTER_NAME}", name.len()));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("a cluster name starts with a lowercase letter".into());
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(format!("`{bad}` is not allowed: use lowercase letters, digits and -"));
    }
    if name.ends_with('-') {
        return Err("a cluster name ends with a letter or digit".into());
    }
    if name == current {
        return Err(format!("`{name}` is the running cluster: a restore never replaces it; choose a new name"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ordinary_names_pass() {
        assert_eq!(check_identifier(NameKind::Database, "orders_2026", []), Ok(()));
        assert_eq!(check_identifier(NameKind::Role, "_svc", ["app"]), Ok(()));
        assert_eq!(check_cluster_name("orders-restore-1", "postgres-cluster"), Ok(()));
    }

    #[test]
    fn each_rule_says_what_is_wrong() {
        let db = |n: &str| check_identifier(NameKind::Database, n, ["app"]).unwrap_err();
        assert!(db("").contains("type a database name"));
        assert!(db(&"a".repeat(64)).contains("64 bytes is too long"));
        assert!(db("9lives").contains("starts with a lowercase letter"));
        assert!(db("Orders").contains("starts with a lowercase letter"));
        assert!(db("my-db").contains("`-` is not allowed"));
        assert!(db("pg_stuff").contains("reserved for PostgreSQL"));
        assert!(db("select").contains("reserved word"));
        assert!(db("template1").contains("reserved for the system"));
        assert!(db("app").contains("already exists"));
        let role = check_identifier(NameKind::Role, "public", []).unwrap_err();
        assert!(role.contains("reserved for the system"), "{role}");
        assert!(check_cluster_name("postgres-cluster", "postgres-cluster").unwrap_err().contains("never replaces"));
        assert!(check_cluster_name("x-", "c").unwrap_err().contains("ends with"));
        assert!(check_cluster_name("a_b", "c").unwrap_err().contains("`_`"));
    }

    proptest! {
        /// Whatever is typed, an accepted name needs no quoting: no quote, semicolon or space
        /// can reach SQL through it.
        #[test]
        fn accepted_names_are_plain_identifiers(name in "\\PC{0,70}") {
            if check_identifier(NameKind::Role, &name, []).is_ok() {
                prop_assert!(name.len() <= MAX_IDENTIFIER_BYTES);
                prop_assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            }
        }

        #[test]
        fn injection_attempts_are_refused(tail in "[\"'; ]\\PC{0,20}") {
            let name = format!("x{tail}");
            prop_assert!(check_identifier(NameKind::Database, &name, []).is_err());
            prop_assert!(check_cluster_name(&name, "c").is_err());
        }
    }
}

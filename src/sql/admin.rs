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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_embedded_quotes() {
        assert_eq!(quote_ident(r#"x"; DROP DATABASE postgres; --"#), r#""x""; DROP DATABASE postgres; --""#);
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\'b"), r"'a\''b'");
    }
}

//! `pgdeck spec show` through the real binary: the effective spec and its errors.

use std::process::Command;

#[allow(clippy::unwrap_used)] // test helper: a binary that cannot start fails the test
fn pgdeck(args: &[&str], home: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgdeck")).env("PGDECK_HOME", home).args(args).output().unwrap()
}

#[test]
fn effective_spec_holds_the_reference_values() {
    let home = tempfile::tempdir().unwrap();
    let out = pgdeck(&["spec", "show"], home.path());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let spec: toml::Value = toml::from_str(&text).unwrap();
    let params = &spec["postgresql"]["parameters"];
    for (k, v) in [
        ("max_connections", "200"),
        ("shared_buffers", "512MB"),
        ("effective_cache_size", "3GB"),
        ("work_mem", "8MB"),
        ("wal_buffers", "16MB"),
        ("maintenance_work_mem", "64MB"),
        ("max_wal_size", "1GB"),
        ("checkpoint_timeout", "5min"),
    ] {
        assert_eq!(params[k].as_str(), Some(v), "{k}");
    }
    let nets: Vec<&str> =
        spec["network"]["allowed_cidrs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(nets, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]);
    assert_eq!(spec["storage"]["size"].as_str(), Some("50Gi"));
    assert_eq!(spec["storage"]["storage_class"].as_str(), Some("nfs-postgres-v2"));
    assert_eq!(spec["backup"]["schedule"].as_str(), Some("0 0 2 * * *"));
    assert_eq!(spec["pooler"]["max_client_conn"].as_integer(), Some(1000));
}

#[test]
fn a_spec_file_overrides_and_a_spec_in_the_config_dir_is_found() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(home.path().join("config/spec.toml"), "[pooler]\ndefault_pool_size = 40\n").unwrap();
    let out = pgdeck(&["spec", "show"], home.path());
    assert!(out.status.success());
    let spec: toml::Value = toml::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(spec["pooler"]["default_pool_size"].as_integer(), Some(40));
    assert_eq!(spec["pooler"]["max_client_conn"].as_integer(), Some(1000));
}

#[test]
fn a_malformed_spec_names_file_line_field_value_and_what_is_allowed() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("bad.toml");
    std::fs::write(&file, "instances = 3\n\n[postgresql.parameters]\nshared_buffers = \"a lot\"\n").unwrap();
    let out = pgdeck(&["spec", "show", "--spec", file.to_str().unwrap()], home.path());
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(file.to_str().unwrap()), "{err}");
    assert!(err.contains("postgresql.parameters.shared_buffers"), "{err}");
    assert!(err.contains("a lot"), "{err}");
    assert!(err.contains("512MB"), "names an allowed form: {err}");

    std::fs::write(&file, "instances = 3\nreplicas = 2\n").unwrap();
    let out = pgdeck(&["spec", "show", "--spec", file.to_str().unwrap()], home.path());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("{}:2:1: field `replicas`", file.display())), "{err}");
}

#[test]
fn a_missing_spec_file_says_it_does_not_exist() {
    let home = tempfile::tempdir().unwrap();
    let out = pgdeck(&["spec", "show", "--spec", "/nonexistent/spec.toml"], home.path());
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/spec.toml: the spec file does not exist"), "{err}");
}

/// `spec show --spec FILE` with `text` in FILE: its exit status must be a failure; its stderr.
#[allow(clippy::unwrap_used)] // test helper: a failure to set up fails the test
fn refused(text: &str) -> (String, String) {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("f.toml");
    std::fs::write(&file, text).unwrap();
    let out = pgdeck(&["spec", "show", "--spec", file.to_str().unwrap()], home.path());
    assert!(!out.status.success(), "{text:?} was accepted");
    (file.display().to_string(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_wrong_value_names_its_field_and_line_and_quotes_it() {
    let (file, err) = refused("name = \"orders\"\ninstances = 0\n");
    assert!(
        err.starts_with(&format!("pgdeck: {file}:2:1: field `instances` has value `0`: an integer from 1 to 9")),
        "{err}"
    );
    assert!(err.contains("\n  2 | instances = 0\n"), "quotes the line: {err}");

    let (file, err) = refused("instances = \"three\"\n");
    assert!(err.starts_with(&format!("pgdeck: {file}:1:13: field `instances` has value `\"three\"`")), "{err}");
    assert!(err.contains("expected a whole number") && !err.contains("<document>"), "{err}");

    let (file, err) = refused("[pooler]\ninstances = 0\n");
    assert!(err.contains(&format!("{file}:2:1: field `pooler.instances` has value `0`")), "{err}");
}

#[test]
fn an_unknown_key_is_named_with_its_table_and_line() {
    let (file, err) = refused("instances = 3\n[pooler]\npool_mod = \"session\"\n");
    assert!(err.contains(&format!("{file}:3:1: field `pooler.pool_mod`: unknown field `pool_mod`")), "{err}");
    assert!(err.contains("`pool_mode`"), "names the fields it takes: {err}");
}

#[test]
fn a_toml_syntax_error_names_the_line_column_and_token() {
    let (file, err) = refused("[postgresql\nx=1\n");
    assert!(err.contains(&format!("{file}:1:12: not valid TOML: invalid table header")), "{err}");
    assert!(err.contains("found the end of the line"), "{err}");
    assert!(err.contains("\n  1 | [postgresql\n    |            ^"), "quotes the line, points at the column: {err}");

    let (file, err) = refused("instances = 3 3\n");
    assert!(err.contains(&format!("{file}:1:15: not valid TOML")) && err.contains("found `3`"), "{err}");
}

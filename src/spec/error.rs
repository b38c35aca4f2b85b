//! `SpecError`: a spec that could not be used, naming the file, the line, the field, the value
//! and what is allowed, with the line quoted.

use std::fmt;
use std::io::ErrorKind;
use std::path::Path;

use crate::toml_located::{Keys, Mistake, Place};

/// A spec that could not be used: which file and where in it, which field, the value, and what
/// is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// The file as it was given (or `<built-in defaults>`).
    pub file: String,
    /// Where in the file; none when the file could not be read or the field is not in it.
    pub place: Option<Box<Place>>,
    /// The dotted field (`pooler.pool_mode`, `network.allowed_cidrs[0]`); empty when the file
    /// could not be read or is not TOML.
    pub field: String,
    pub value: String,
    /// What the field allows, or what is wrong with the file.
    pub allowed: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(place) = &self.place {
            write!(f, ":{}:{}", place.line, place.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
            if !self.value.is_empty() {
                write!(f, " has value `{}`", self.value)?;
            }
        }
        write!(f, ": {}", self.allowed)?;
        if let Some(place) = &self.place {
            write!(f, "\n{}", place.quote(true))?;
        }
        Ok(())
    }
}

impl SpecError {
    /// A value the checks refused, placed at its key in `text` when the file names it.
    pub(super) fn located_in(mut self, text: &str) -> Self {
        if self.place.is_none() && !self.field.is_empty() {
            self.place = Keys::parse(text).span_of(&self.field).map(|span| Box::new(Place::at(text, span.start)));
        }
        self
    }
}

/// A file that is not TOML, or TOML that does not fit the spec (an unknown field, a wrong type).
pub(super) fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> SpecError {
    let mistake = Mistake::of(text, e);
    let allowed = if mistake.syntax {
        mistake.message
    } else {
        format!("{}; `pgdeck spec show` prints every field with its default", mistake.message)
    };
    let place = mistake.place.map(Box::new);
    SpecError { file: origin.to_owned(), place, field: mistake.key, value: mistake.value, allowed }
}

/// A spec file that could not be read: missing, a directory, not readable.
pub(super) fn unreadable(path: &Path, e: &std::io::Error) -> SpecError {
    let allowed = match e.kind() {
        ErrorKind::NotFound => {
            let absolute = std::path::absolute(path).ok().filter(|a| a != path);
            let looked = absolute.map(|a| format!(" (looked for {})", a.display())).unwrap_or_default();
            format!(
                "the spec file does not exist{looked}; pass an existing TOML file with --spec, or leave --spec out \
                 for the built-in defaults"
            )
        }
        ErrorKind::IsADirectory => "is a directory, not a spec file; pass a TOML file with --spec".to_owned(),
        ErrorKind::PermissionDenied => "the spec file cannot be read: permission denied".to_owned(),
        ErrorKind::InvalidData => "the spec file is not UTF-8 text; a spec is a TOML file".to_owned(),
        _ => format!("cannot read the spec file ({e})"),
    };
    SpecError { file: path.display().to_string(), place: None, field: String::new(), value: String::new(), allowed }
}

#[cfg(test)]
mod tests {
    use crate::spec::ClusterSpec;

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let e = ClusterSpec::from_toml("instances = 3\n[pooler]\npool_mod = \"session\"\n", "my.toml").unwrap_err();
        assert_eq!((e.file.as_str(), e.place.as_ref().map(|p| (p.line, p.column))), ("my.toml", Some((3, 1))));
        assert_eq!((e.field.as_str(), e.value.as_str()), ("pooler.pool_mod", ""));
        assert!(e.allowed.contains("pool_mode"), "{e}");
        assert!(e.to_string().ends_with("\n  3 | pool_mod = \"session\"\n    | ^"), "{e}");
    }

    #[test]
    fn a_wrong_type_names_its_field_line_and_value() {
        let e = ClusterSpec::from_toml("name = \"x\"\ninstances = \"three\"\n", "f.toml").unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("instances", "\"three\""));
        assert_eq!(e.place.as_ref().map(|p| (p.line, p.column)), Some((2, 13)));
        assert!(e.allowed.contains("expected a whole number"), "{e}");
        assert!(!e.to_string().contains("<document>") && !e.to_string().contains("u32"), "{e}");
        let e = ClusterSpec::from_toml("[backup]\nretention = 30\n", "f.toml").unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("backup.retention", "30"));
        let e = ClusterSpec::from_toml("[resources.requests]\ncpu = \"1\"\n", "f.toml").unwrap_err();
        assert_eq!((e.field.as_str(), e.place.map(|p| p.line)), ("resources.requests.memory", Some(1)));
        let e = ClusterSpec::from_toml("[network]\nallowed_cidrs = [\n  \"10.0.0.0/8\",\n  \"x\",\n]\n", "f.toml")
            .unwrap_err();
        assert_eq!((e.field.as_str(), e.place.map(|p| p.line)), ("network.allowed_cidrs[1]", Some(4)));
        let e = ClusterSpec::from_toml("pooler = 3\n", "f.toml").unwrap_err();
        assert_eq!(e.field, "pooler");
        assert!(e.allowed.contains("expected a table"), "{e}");
    }

    #[test]
    fn a_syntax_error_names_line_column_and_token() {
        let e = ClusterSpec::from_toml("instances = 3\n[postgresql\nx=1\n", "f.toml").unwrap_err();
        assert_eq!(e.place.as_ref().map(|p| (p.line, p.column)), Some((2, 12)));
        assert_eq!(e.field, "");
        let text = e.to_string();
        assert!(text.starts_with("f.toml:2:12: not valid TOML: invalid table header"), "{text}");
        assert!(text.contains("found the end of the line"), "{text}");
        assert!(text.ends_with("  2 | [postgresql\n    |            ^"), "{text}");
        let e = ClusterSpec::from_toml("instances = 3 3\n", "f.toml").unwrap_err();
        assert!(e.to_string().contains("found `3`"), "{e}");
    }

    #[test]
    fn a_missing_file_says_it_does_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let e = ClusterSpec::load(Some(&missing)).unwrap_err();
        assert_eq!(e.file, missing.display().to_string());
        assert!(e.allowed.starts_with("the spec file does not exist"), "{e}");
        let e = ClusterSpec::load(Some(dir.path())).unwrap_err();
        assert!(e.allowed.contains("is a directory"), "{e}");
    }
}

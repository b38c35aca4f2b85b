//! Where in a TOML text a mistake is, for messages that point at it: the line and column, the
//! line itself, the key a value belongs to, and the token a syntax error stopped at. Used by the
//! spec (`--spec FILE`) and `config.toml`.

use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// How much of a long line a message quotes.
const QUOTED_CHARS: usize = 160;

/// A place in a text: its 1-based line and column (in characters) and that line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
    /// The whole line, without its line break.
    pub text: String,
}

impl Place {
    /// The place of byte `offset` of `text` (clamped to the text, and back to a character boundary).
    pub fn at(text: &str, offset: usize) -> Self {
        let offset = floor_boundary(text, offset);
        let (before, after) = text.split_at(offset);
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let end = after.find('\n').map_or(text.len(), |i| offset + i);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[start..].chars().count() + 1,
            text: text[start..end].trim_end_matches('\r').to_owned(),
        }
    }

    /// The line, quoted as compilers do, with a caret under the column when `caret`:
    ///
    /// ```text
    ///     3 | pool_mod = "session"
    ///       | ^
    /// ```
    pub fn quote(&self, caret: bool) -> String {
        let text: String = self.text.chars().take(QUOTED_CHARS).map(|c| if c == '\t' { ' ' } else { c }).collect();
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        if caret && self.column <= QUOTED_CHARS + 1 {
            format!("  {number} | {text}\n  {gutter} | {}^", " ".repeat(self.column - 1))
        } else {
            format!("  {number} | {text}")
        }
    }
}

/// `offset`, clamped to `text` and moved back to the start of the character it falls in.
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// What a TOML error stopped at: the text of `span`, or the end of its line or of the file.
pub fn found_at(text: &str, span: &Range<usize>) -> String {
    let start = floor_boundary(text, span.start);
    let rest = &text[start..];
    let mut end = floor_boundary(text, span.end).max(start);
    // A word (a key, a number) is shown whole even where the span holds its first character.
    let word = |c: char| c.is_alphanumeric() || "_-.+:".contains(c);
    if rest.starts_with(word) {
        end = end.max(start + rest.find(|c: char| !word(c)).unwrap_or(rest.len()));
    }
    let token = text[start..end].lines().next().unwrap_or_default().trim();
    if !token.is_empty() {
        let shown: String = token.chars().take(40).collect();
        return format!("`{shown}`");
    }
    match rest.chars().next() {
        None => "the end of the file".to_owned(),
        Some('\n' | '\r') => "the end of the line".to_owned(),
        Some(c) if c.is_whitespace() => "a space".to_owned(),
        Some(c) => format!("`{c}`"),
    }
}

/// A TOML error as a person reads it: the parser's message on one line, with Rust's type names
/// (`u32`, `struct PoolerSpec`, `a map`) put as TOML says them.
pub fn plain_message(e: &toml::de::Error) -> String {
    let mut message = e.message().trim().lines().map(str::trim).collect::<Vec<_>>().join("; ");
    for (rust, toml) in [
        ("expected u8", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected a map", "expected a table"),
        ("expected a sequence", "expected an array"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: array"),
    ] {
        message = message.replace(rust, toml);
    }
    if let Some(at) = message.find("expected struct ") {
        let rest = &message[at + "expected struct ".len()..];
        let name_len = rest.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(rest.len());
        message = format!("{}expected a table{}", &message[..at], &rest[name_len..]);
    }
    message
}

/// A TOML text's mistake, located: from `toml::from_str` of a type, or from a text that is not TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mistake {
    pub place: Option<Place>,
    /// The dotted key whose name or value is wrong; empty when the text is not TOML.
    pub key: String,
    /// The value as written (`"three"`); empty for an unknown key or a syntax error.
    pub value: String,
    /// What is wrong: toml's message in TOML's words; for a syntax error, with what it found.
    pub message: String,
    /// The text is not TOML at all (as opposed to TOML that does not fit).
    pub syntax: bool,
}

impl Mistake {
    /// Locates `e`, an error of deserialising `text`.
    pub fn of(text: &str, e: &toml::de::Error) -> Self {
        let place = e.span().map(|span| Place::at(text, span.start));
        let message = plain_message(e);
        if text.parse::<toml::Table>().is_err() {
            let found = e
                .span()
                .map(|span| found_at(text, &span))
                // `duplicate key `a``: the message names what it found.
                .filter(|found| !message.contains(found.as_str()))
                .map(|found| format!("; found {found}"))
                .unwrap_or_default();
            return Self {
                place,
                key: String::new(),
                value: String::new(),
                message: format!("not valid TOML: {message}{found}"),
                syntax: true,
            };
        }
        let keys = Keys::parse(text);
        let mut key = e.span().and_then(|span| keys.around(span.start)).unwrap_or_default().to_owned();
        if let (Some(missing), Some(span)) = (message.strip_prefix("missing field `"), e.span()) {
            // Its span is the table that lacks it: a `[header]`, or an inline table's value.
            let header = keys.on_line_from(text, span.start).unwrap_or(&key);
            let missing = missing.split('`').next().unwrap_or_default();
            key = if header.is_empty() { missing.to_owned() } else { format!("{header}.{missing}") };
        }
        let value = match e.span() {
            // The span of an unknown key is the key itself: the message names it.
            Some(_) if message.starts_with("unknown field") => String::new(),
            Some(span) => {
                let written = text.get(floor_boundary(text, span.start)..floor_boundary(text, span.end));
                let written = written.unwrap_or_default().trim();
                let first_line = written.lines().next().unwrap_or_default();
                let mut value: String = first_line.chars().take(80).collect();
                if value.len() < written.len() {
                    value.push('…');
                }
                value
            }
            None => String::new(),
        };
        Self { place, key, value, message, syntax: false }
    }
}

/// Every key of a TOML document, by dotted path (`pooler.pool_mode`, `network.allowed_cidrs`),
/// with the span of its name, in the order they appear.
#[derive(Debug, Default)]
pub struct Keys(Vec<(String, Range<usize>)>);

impl Keys {
    /// The keys of `text`; none when it is not TOML.
    pub fn parse(text: &str) -> Self {
        let mut keys = Vec::new();
        if let Ok(node) = toml::from_str::<Node>(text) {
            node.flatten("", &mut keys);
        }
        keys.sort_by_key(|(_, span)| span.start);
        Self(keys)
    }

    /// Where the key `path` is, or the element of an array (`a.b[2]`) is.
    pub fn span_of(&self, path: &str) -> Option<Range<usize>> {
        let find = |path: &str| self.0.iter().find(|(key, _)| key == path).map(|(_, span)| span.clone());
        find(path).or_else(|| {
            // An element whose place is unknown: its array's key.
            let array = path.strip_suffix(']').and_then(|p| p.rfind('[').map(|i| &p[..i]))?;
            find(array)
        })
    }

    /// The last key that starts at or after byte `offset` on the same line: the table a
    /// `[header]` there names.
    fn on_line_from(&self, text: &str, offset: usize) -> Option<&str> {
        let line_end = text.get(offset..).and_then(|rest| rest.find('\n')).map_or(text.len(), |i| offset + i);
        self.0.iter().rev().find(|(_, span)| span.start >= offset && span.start < line_end).map(|(key, _)| key.as_str())
    }

    /// The key whose name or value holds byte `offset`: the last key that starts at or before it.
    pub fn around(&self, offset: usize) -> Option<&str> {
        self.0.iter().rev().find(|(_, span)| span.start <= offset).map(|(key, _)| key.as_str())
    }
}

/// A TOML value, reduced to where its keys are.
enum Node {
    Table(Vec<(Spanned<String>, Node)>),
    /// Elements with their places (none where toml has none for them).
    Array(Vec<(Option<Range<usize>>, Node)>),
    Scalar,
}

impl Node {
    fn flatten(self, prefix: &str, out: &mut Vec<(String, Range<usize>)>) {
        match self {
            Node::Table(entries) => {
                for (key, value) in entries {
                    let span = key.span();
                    let path = if prefix.is_empty() { key.into_inner() } else { format!("{prefix}.{}", key.get_ref()) };
                    value.flatten(&path, out);
                    out.push((path, span));
                }
            }
            Node::Array(items) => {
                for (i, (span, item)) in items.into_iter().enumerate() {
                    let path = format!("{prefix}[{i}]");
                    item.flatten(&path, out);
                    if let Some(span) = span {
                        out.push((path, span));
                    }
                }
            }
            Node::Scalar => {}
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        loop {
            // A date-time arrives as a map whose one key has no place in the text: it is a value.
            let Ok(key) = map.next_key::<Spanned<String>>() else { return Ok(Node::Scalar) };
            let Some(key) = key else { break };
            entries.push((key, map.next_value::<Node>()?));
        }
        Ok(Node::Table(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        // An element without a place in the text ends the search for places in this array.
        while let Ok(Some(item)) = seq.next_element::<Spanned<Node>>() {
            let span = item.span();
            items.push((Some(span), item.into_inner()));
        }
        Ok(Node::Array(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\r\nc";
        assert_eq!(Place::at(text, 0), Place { line: 1, column: 1, text: "a = 1".into() });
        let at_x = text.find('x').unwrap();
        assert_eq!(Place::at(text, at_x), Place { line: 2, column: 7, text: "bé = \"x\"".into() });
        assert_eq!(Place::at(text, text.len() + 10).line, 3);
        // Inside a character: moved back to its start.
        assert_eq!(Place::at(text, 8).column, 2);
        assert_eq!(Place::at(text, at_x).quote(true), "  2 | bé = \"x\"\n    |       ^");
    }

    #[test]
    fn keys_are_found_by_path_and_by_offset() {
        let text =
            "name = \"x\"\n[postgresql.parameters]\n\"a.b\" = \"1\"\n[network]\nallowed_cidrs = [\n  \"a\",\n]\n\
                    pooler.instances = 0\nwhen = 1979-05-27T07:32:00Z\nt = { u = 1 }\n";
        let keys = Keys::parse(text);
        let line = |path: &str| keys.span_of(path).map(|s| Place::at(text, s.start).line);
        assert_eq!(line("name"), Some(1));
        assert_eq!(line("postgresql.parameters"), Some(2));
        assert_eq!(line("postgresql.parameters.a.b"), Some(3));
        assert_eq!(line("network.allowed_cidrs[0]"), Some(6));
        assert_eq!(line("network.allowed_cidrs[9]"), Some(5));
        assert_eq!(line("network.pooler.instances"), Some(8));
        assert_eq!(line("network.when"), Some(9));
        assert_eq!(line("network.t.u"), Some(10));
        assert_eq!(line("instances"), None);
        assert_eq!(keys.around(text.find("\"a\"").unwrap()), Some("network.allowed_cidrs[0]"));
        assert_eq!(keys.around(text.find("0\n").unwrap()), Some("network.pooler.instances"));
        assert!(Keys::parse("[a\nb = 1").0.is_empty());
    }

    #[test]
    fn found_tokens_name_the_end_of_a_line_or_file() {
        assert_eq!(found_at("a = 3 3\n", &(6..7)), "`3`");
        assert_eq!(found_at("a = 1\nabc = 2\n", &(6..7)), "`abc`");
        assert_eq!(found_at("[a\n", &(2..3)), "the end of the line");
        assert_eq!(found_at("a =", &(3..3)), "the end of the file");
        assert_eq!(found_at("a = \"x", &(40..41)), "the end of the file");
    }

    #[test]
    fn messages_speak_toml() {
        let e = toml::from_str::<std::collections::BTreeMap<String, u32>>("a = \"x\"").unwrap_err();
        assert_eq!(plain_message(&e), "invalid type: string \"x\", expected a whole number");
    }
}

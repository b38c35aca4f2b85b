//! Keymap: which key means which Command in which context. The shipped keymaps are compiled in;
//! a user's keymap.toml patches one of them. Help and the footer are generated from `bindings`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use serde::Deserialize;
use toml::Spanned;

use super::keys::{nearest, KeySpec, KEY_SYNTAX};
use crate::command::Command;

const DEFAULT_TOML: &str = include_str!("../../keymaps/default.toml");
const VIM_TOML: &str = include_str!("../../keymaps/vim.toml");

const ENTRY_SYNTAX: &str =
    "entries are `command-name = { keys = [\"j\", \"down\"], desc = \"Move down\" }` in tables [global], [normal], \
     [modal], [input], [form], [quit-dialog]";

/// Where a key is being pressed; `Global` bindings apply in every other context too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyContext {
    Global,
    /// Browsing views.
    Normal,
    /// A confirmation dialog is open.
    Modal,
    /// Typing into a line: plain characters belong to the input, not the keymap.
    Input,
    /// Filling in a form: plain characters go to the focused field.
    Form,
    /// The quit question is open (`q` on the Overview): its keys answer it, any other key stays.
    QuitDialog,
}

impl KeyContext {
    pub const ALL: [KeyContext; 6] = [
        KeyContext::Global,
        KeyContext::Normal,
        KeyContext::Modal,
        KeyContext::Input,
        KeyContext::Form,
        KeyContext::QuitDialog,
    ];

    pub fn name(self) -> &'static str {
        match self {
            KeyContext::Global => "global",
            KeyContext::Normal => "normal",
            KeyContext::Modal => "modal",
            KeyContext::Input => "input",
            KeyContext::Form => "form",
            KeyContext::QuitDialog => "quit-dialog",
        }
    }

    pub fn from_name(name: &str) -> Option<KeyContext> {
        KeyContext::ALL.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// Contexts where a plain character must reach a text input (global is active during input).
    fn types_text(self) -> bool {
        matches!(self, KeyContext::Global | KeyContext::Input | KeyContext::Form)
    }
}

/// The shipped keymap a user's patch applies to (`--keymap vim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeymapBase {
    #[default]
    Default,
    Vim,
}

impl KeymapBase {
    fn source(self) -> (&'static str, &'static str) {
        match self {
            KeymapBase::Default => (DEFAULT_TOML, "keymaps/default.toml"),
            KeymapBase::Vim => (VIM_TOML, "keymaps/vim.toml"),
        }
    }
}

/// One line of help: a command, its keys as written in the keymap, and its description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub command: Command,
    pub keys: Vec<String>,
    pub desc: String,
}

/// A refused keymap: where, what and what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapError {
    pub file: String,
    /// 1-based; `None` when the whole file is at fault (unreadable).
    pub line: Option<usize>,
    pub value: String,
    pub message: String,
    pub allowed: String,
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.message)?;
        if !self.value.is_empty() {
            write!(f, ": `{}`", self.value)?;
        }
        write!(f, "; allowed: {}", self.allowed)
    }
}

impl std::error::Error for KeymapError {}

#[derive(Debug, Clone)]
struct Key {
    spec: KeySpec,
    label: String,
}

/// Where an entry came from, so a clash can point at the line the user wrote.
#[derive(Debug, Clone)]
struct Origin {
    file: String,
    line: usize,
    /// 0 for the base keymap, 1 for the user's patch: a clash is blamed on the later layer.
    layer: u8,
}

#[derive(Debug, Clone)]
struct Entry {
    command: Command,
    keys: Vec<Key>,
    desc: String,
    origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    /// Indexed by `KeyContext::index`, entries in file order.
    tables: [Vec<Entry>; 6],
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::builtin(KeymapBase::Default)
    }
}

impl Keymap {
    /// A shipped keymap. The shipped files are tested to parse; should one ever fail, ctrl-c still quits.
    pub fn builtin(base: KeymapBase) -> Keymap {
        let (text, origin) = base.source();
        Keymap::from_toml(text, origin).unwrap_or_else(|_| Keymap::last_resort())
    }

    /// The shipped `base` patched by the user's file; a missing file leaves the base as it is.
    pub fn load(base: KeymapBase, user_file: Option<&Path>) -> Result<Keymap, KeymapError> {
        let keymap = Keymap::builtin(base);
        let Some(path) = user_file else { return Ok(keymap) };
        let origin = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => keymap.patched(&text, &origin),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(keymap),
            Err(e) => Err(KeymapError {
                file: origin,
                line: None,
                value: String::new(),
                message: format!("cannot read the keymap ({e})"),
                allowed: "a readable TOML file, or no file at all for the shipped keymap".to_owned(),
            }),
        }
    }

    /// A complete keymap: every entry must name its keys.
    pub fn from_toml(text: &str, origin: &str) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap { tables: Default::default() };
        for entry in parse_layer(text, origin)? {
            let Some(keys) = entry.keys else {
                return Err(KeymapError {
                    file: origin.to_owned(),
                    line: Some(entry.line),
                    value: entry.command.name().to_owned(),
                    message: "entry has no `keys`".to_owned(),
                    allowed: ENTRY_SYNTAX.to_owned(),
                });
            };
            let desc = entry.desc.unwrap_or_else(|| entry.command.name().to_owned());
            let origin = Origin { file: origin.to_owned(), line: entry.line, layer: 0 };
            keymap.tables[entry.ctx.index()].push(Entry { command: entry.command, keys, desc, origin });
        }
        keymap.validate()?;
        Ok(keymap)
    }

    /// This keymap with a partial patch applied: each entry replaces that command's keys (and
    /// desc, if given) in its context; `keys = []` unbinds it.
    pub fn patched(&self, text: &str, origin: &str) -> Result<Keymap, KeymapError> {
        let mut keymap = self.clone();
        for patch in parse_layer(text, origin)? {
            let at = Origin { file: origin.to_owned(), line: patch.line, layer: 1 };
            let table = &mut keymap.tables[patch.ctx.index()];
            if let Some(entry) = table.iter_mut().find(|e| e.command == patch.command) {
                if let Some(keys) = patch.keys {
                    entry.keys = keys;
                }
                if let Some(desc) = patch.desc {
                    entry.desc = desc;
                }
                entry.origin = at;
            } else {
                let desc = patch.desc.unwrap_or_else(|| self.desc_of(patch.command));
                table.push(Entry { command: patch.command, keys: patch.keys.unwrap_or_default(), desc, origin: at });
            }
        }
        keymap.validate()?;
        Ok(keymap)
    }

    /// The command a key means in `ctx`, else in `global`. Releases are ignored so that terminals
    /// reporting event types do not fire each command twice.
    pub fn resolve(&self, key: &KeyEvent, ctx: KeyContext) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let spec = KeySpec::from_event(key);
        if ctx.types_text() && spec.is_printable() {
            return None;
        }
        self.lookup(ctx, spec).or_else(|| self.lookup(KeyContext::Global, spec))
    }

    /// The context's bound commands in file order (global ones are not repeated here).
    pub fn bindings(&self, ctx: KeyContext) -> Vec<Binding> {
        self.tables[ctx.index()]
            .iter()
            .filter(|e| !e.keys.is_empty())
            .map(|e| Binding {
                command: e.command,
                keys: e.keys.iter().map(|k| k.label.clone()).collect(),
                desc: e.desc.clone(),
            })
            .collect()
    }

    /// The first key for `command` in `ctx` (else in `global`), as the keymap writes it.
    pub fn key_label(&self, command: Command, ctx: KeyContext) -> Option<String> {
        let first =
            |c: KeyContext| self.tables[c.index()].iter().find(|e| e.command == command).and_then(|e| e.keys.first());
        first(ctx).or_else(|| first(KeyContext::Global)).map(|k| k.label.clone())
    }

    fn lookup(&self, ctx: KeyContext, spec: KeySpec) -> Option<Command> {
        self.tables[ctx.index()].iter().find(|e| e.keys.iter().any(|k| k.spec == spec)).map(|e| e.command)
    }

    fn desc_of(&self, command: Command) -> String {
        self.tables
            .iter()
            .flatten()
            .find(|e| e.command == command)
            .map_or_else(|| command.name().to_owned(), |e| e.desc.clone())
    }

    /// A binding of `spec` in `ctx` to something other than `command`.
    fn other_binding(&self, ctx: KeyContext, spec: KeySpec, command: Command) -> Option<(&Key, &Entry)> {
        self.tables[ctx.index()]
            .iter()
            .filter(|e| e.command != command)
            .find_map(|e| e.keys.iter().find(|k| k.spec == spec).map(|k| (k, e)))
    }

    fn last_resort() -> Keymap {
        let quit = Entry {
            command: Command::Quit,
            keys: vec![Key {
                spec: KeySpec::from_event(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
                label: "ctrl-c".to_owned(),
            }],
            desc: "Quit".to_owned(),
            origin: Origin { file: "<built in>".to_owned(), line: 0, layer: 0 },
        };
        let mut keymap = Keymap { tables: Default::default() };
        keymap.tables[KeyContext::Global.index()].push(quit);
        keymap
    }

    /// Refuses plain characters where text is typed, and one key meaning two commands in a
    /// context (global keys count in every context, since `resolve` falls back to them).
    fn validate(&self) -> Result<(), KeymapError> {
        for ctx in KeyContext::ALL {
            for entry in &self.tables[ctx.index()] {
                for key in &entry.keys {
                    if ctx.types_text() && key.spec.is_printable() {
                        return Err(KeymapError {
                            file: entry.origin.file.clone(),
                            line: Some(entry.origin.line),
                            value: key.label.clone(),
                            message: format!("`{}` in [{}] is bound to a plain character", entry.command, ctx.name()),
                            allowed: "a named key (enter, esc, f1, ...) or one with ctrl-/alt-: plain characters \
                                      are typed into inputs, and [global] is active there too"
                                .to_owned(),
                        });
                    }
                    let clash = self.other_binding(ctx, key.spec, entry.command).or_else(|| {
                        (ctx != KeyContext::Global)
                            .then(|| self.other_binding(KeyContext::Global, key.spec, entry.command))
                            .flatten()
                    });
                    if let Some(other) = clash {
                        return Err(clash_error(ctx, (key, entry), other));
                    }
                }
            }
        }
        Ok(())
    }
}

fn clash_error(ctx: KeyContext, a: (&Key, &Entry), b: (&Key, &Entry)) -> KeymapError {
    let rank = |e: &Entry| (e.origin.layer, e.origin.line);
    let ((key, blamed), (other_key, other)) = if rank(a.1) >= rank(b.1) { (a, b) } else { (b, a) };
    KeymapError {
        file: blamed.origin.file.clone(),
        line: Some(blamed.origin.line),
        value: key.label.clone(),
        message: format!(
            "in [{}], `{}` and `{}` ({}:{}, as `{}`) share a key",
            ctx.name(),
            blamed.command,
            other.command,
            other.origin.file,
            other.origin.line,
            other_key.label
        ),
        allowed: "one command per key in a context, global keys included; rebind the other command too, or \
                  unbind it with keys = []"
            .to_owned(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    keys: Option<Vec<Spanned<String>>>,
    desc: Option<String>,
}

type RawFile = BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, RawEntry>>;

/// One entry of a keymap file, checked against the command and key vocabularies.
struct LayerEntry {
    ctx: KeyContext,
    command: Command,
    keys: Option<Vec<Key>>,
    desc: Option<String>,
    line: usize,
}

fn parse_layer(text: &str, origin: &str) -> Result<Vec<LayerEntry>, KeymapError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
    let err = |at: usize, value: &str, message: String, allowed: String| KeymapError {
        file: origin.to_owned(),
        line: Some(line_of(text, at)),
        value: value.to_owned(),
        message,
        allowed,
    };
    // Spanned keys order by value; the span restores the order the file was written in.
    let mut tables: Vec<_> = raw.into_iter().collect();
    tables.sort_by_key(|(name, _)| name.span().start);
    let mut out = Vec::new();
    for (table, entries) in tables {
        let ctx = KeyContext::from_name(table.get_ref()).ok_or_else(|| {
            let allowed = "[global], [normal], [modal], [input], [form], [quit-dialog]".to_owned();
            err(table.span().start, table.get_ref(), "unknown context table".to_owned(), allowed)
        })?;
        let mut entries: Vec<_> = entries.into_iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        for (name, entry) in entries {
            let line = line_of(text, name.span().start);
            let command = Command::from_name(name.get_ref()).ok_or_else(|| {
                let allowed = format!(
                    "a command name; nearest: {}",
                    nearest(name.get_ref(), Command::ALL.map(Command::name)).join(", ")
                );
                err(name.span().start, name.get_ref(), format!("unknown command in [{}]", ctx.name()), allowed)
            })?;
            let keys = entry
                .keys
                .map(|keys| {
                    keys.into_iter()
                        .map(|k| match KeySpec::parse(k.get_ref()) {
                            Ok(spec) => Ok(Key { spec, label: k.get_ref().clone() }),
                            Err(why) => Err(err(
                                k.span().start,
                                k.get_ref(),
                                format!("bad key for `{command}` ({why})"),
                                KEY_SYNTAX.to_owned(),
                            )),
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?;
            out.push(LayerEntry { ctx, command, keys, desc: entry.desc, line });
        }
    }
    Ok(out)
}

fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> KeymapError {
    let span = e.span().map(|s| s.start.min(text.len())..s.end.min(text.len()));
    KeymapError {
        file: origin.to_owned(),
        line: span.as_ref().map(|s| line_of(text, s.start)),
        value: span.map(|s| text[s].trim().chars().take(80).collect()).unwrap_or_default(),
        message: e.message().trim().to_owned(),
        allowed: ENTRY_SYNTAX.to_owned(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |before| before.matches('\n').count()) + 1
}

#[cfg(test)]
#[path = "keymap_tests.rs"]
mod tests;

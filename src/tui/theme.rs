//! Theme: the style of each semantic role. Views ask for `Role::Leader`, never for green, so a
//! theme (or NO_COLOR) can change every colour cue at once. Shipped themes are compiled in; a
//! user's theme.toml patches the chosen one, and colours are degraded to what the terminal shows.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use toml::Spanned;

const BUILTIN: [(&str, &str); 3] = [
    ("default", include_str!("../../themes/default.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

const FIELDS: &str = "fg, bg (colours) and bold, italic, reversed, underlined, dim (true or false)";
const COLORS: &str = "black red green yellow blue magenta cyan gray darkgray lightred lightgreen lightyellow \
                      lightblue lightmagenta lightcyan white reset, \"#rrggbb\", or an integer 0-255";

/// What a piece of the screen means; the theme decides how that looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Text,
    Muted,
    Title,
    Header,
    Border,
    BorderFocused,
    Selected,
    Key,
    Leader,
    Replica,
    Down,
    Stale,
    LagWarn,
    LagOk,
    Danger,
    Warning,
    Ok,
    GaugeFilled,
    GaugeEmpty,
    Footer,
    Modal,
}

/// Each role with its file name, in declaration order so that `role as usize` indexes it.
const ROLE_NAMES: [(Role, &str); 21] = [
    (Role::Text, "text"),
    (Role::Muted, "muted"),
    (Role::Title, "title"),
    (Role::Header, "header"),
    (Role::Border, "border"),
    (Role::BorderFocused, "border-focused"),
    (Role::Selected, "selected"),
    (Role::Key, "key"),
    (Role::Leader, "leader"),
    (Role::Replica, "replica"),
    (Role::Down, "down"),
    (Role::Stale, "stale"),
    (Role::LagWarn, "lag-warn"),
    (Role::LagOk, "lag-ok"),
    (Role::Danger, "danger"),
    (Role::Warning, "warning"),
    (Role::Ok, "ok"),
    (Role::GaugeFilled, "gauge-filled"),
    (Role::GaugeEmpty, "gauge-empty"),
    (Role::Footer, "footer"),
    (Role::Modal, "modal"),
];

impl Role {
    pub const ALL: [Role; 21] = {
        let mut all = [Role::Text; 21];
        let mut i = 0;
        while i < ROLE_NAMES.len() {
            all[i] = ROLE_NAMES[i].0;
            i += 1;
        }
        all
    };

    /// The kebab-case name theme files use.
    pub fn name(self) -> &'static str {
        ROLE_NAMES[self as usize].1
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    Ansi16,
    Indexed256,
    TrueColor,
}

impl ColorDepth {
    /// From the environment, passed as a lookup so the decision is testable without touching it.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> ColorDepth {
        let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        let term = env("TERM").unwrap_or_default();
        if colorterm == "truecolor" || colorterm == "24bit" || term.ends_with("-direct") {
            ColorDepth::TrueColor
        } else if term.contains("256color") {
            ColorDepth::Indexed256
        } else {
            ColorDepth::Ansi16
        }
    }
}

/// A refused theme: where, which key, the bad value and what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    pub file: String,
    /// 1-based; `None` when no line is at fault (an unreadable file, an unknown theme name).
    pub line: Option<usize>,
    pub key: String,
    pub value: String,
    pub allowed: String,
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": `{}` has value `{}`; allowed: {}", self.key, self.value, self.allowed)
    }
}

impl std::error::Error for ThemeError {}

/// One role as a file describes it; `off` records an explicit `false` so it can undo a base style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct RoleStyle {
    fg: Option<Color>,
    bg: Option<Color>,
    on: Modifier,
    off: Modifier,
}

impl RoleStyle {
    fn degraded(self, depth: ColorDepth) -> RoleStyle {
        RoleStyle { fg: self.fg.map(|c| degrade(c, depth)), bg: self.bg.map(|c| degrade(c, depth)), ..self }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    name: String,
    /// Indexed by the role's position in `Role::ALL`.
    roles: [RoleStyle; Role::ALL.len()],
}

impl Default for Theme {
    fn default() -> Self {
        Theme::builtin("default").unwrap_or_else(|| Theme::plain("default"))
    }
}

impl Theme {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn style(&self, role: Role) -> Style {
        let spec = self.roles[role as usize];
        let mut style = Style::default().add_modifier(spec.on).remove_modifier(spec.off);
        if let Some(fg) = spec.fg {
            style = style.fg(fg);
        }
        if let Some(bg) = spec.bg {
            style = style.bg(bg);
        }
        style
    }

    /// A shipped theme by name, with its colours as written (not degraded).
    pub fn builtin(name: &str) -> Option<Theme> {
        let (name, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let layer = parse_layer(text, &format!("themes/{name}.toml")).ok()?;
        Some(Theme::plain(name).patched(&layer.roles))
    }

    /// A complete theme file; roles it leaves out come from `extends` (a shipped theme, `default`
    /// unless named), so a user's theme need only say what differs.
    pub fn from_toml(text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let layer = parse_layer(text, origin)?;
        let base = match &layer.extends {
            None => Theme::default(),
            Some((extends, line)) => Theme::builtin(extends).ok_or_else(|| ThemeError {
                file: origin.to_owned(),
                line: Some(*line),
                key: "extends".to_owned(),
                value: extends.clone(),
                allowed: builtin_names(),
            })?,
        };
        let name = Path::new(origin).file_stem().map_or_else(|| origin.to_owned(), |s| s.to_string_lossy().into());
        Ok(Theme { name, ..base.patched(&layer.roles) })
    }

    /// The theme to draw with. `no_color` (NO_COLOR set and non-empty) picks monochrome unless a
    /// theme is named explicitly; `<user_config_dir>/theme.toml` then patches the roles it names,
    /// and is honoured under NO_COLOR too since it is the user's own explicit choice.
    pub fn load(
        name_or_path: Option<&str>,
        user_config_dir: Option<&Path>,
        no_color: bool,
        depth: ColorDepth,
    ) -> Result<Theme, ThemeError> {
        let mut theme = match name_or_path {
            Some(name) => Theme::named(name, user_config_dir)?,
            None if no_color => Theme::builtin("monochrome").unwrap_or_else(|| Theme::plain("monochrome")),
            None => Theme::default(),
        };
        if let Some(path) = user_config_dir.map(|dir| dir.join("theme.toml")) {
            if let Some(text) = read_if_exists(&path)? {
                theme = theme.patch_from(&text, &path.display().to_string())?;
            }
        }
        Ok(theme.degraded(depth))
    }

    /// This theme with a partial patch applied: each role named replaces that role entirely.
    pub fn patch_from(self, text: &str, origin: &str) -> Result<Theme, ThemeError> {
        let layer = parse_layer(text, origin)?;
        if let Some((extends, line)) = layer.extends {
            return Err(ThemeError {
                file: origin.to_owned(),
                line: Some(line),
                key: "extends".to_owned(),
                value: extends,
                allowed: "only [roles] in a patch; choose the base theme with --theme or the config's theme".to_owned(),
            });
        }
        Ok(self.patched(&layer.roles))
    }

    /// The theme with every colour brought within `depth`.
    #[must_use]
    pub fn degraded(self, depth: ColorDepth) -> Theme {
        Theme { roles: self.roles.map(|r| r.degraded(depth)), ..self }
    }

    fn plain(name: &str) -> Theme {
        Theme { name: name.to_owned(), roles: [RoleStyle::default(); Role::ALL.len()] }
    }

    fn patched(mut self, roles: &[(Role, RoleStyle)]) -> Theme {
        for (role, style) in roles {
            self.roles[*role as usize] = *style;
        }
        self
    }

    fn named(name: &str, user_config_dir: Option<&Path>) -> Result<Theme, ThemeError> {
        if let Some(theme) = Theme::builtin(name) {
            return Ok(theme);
        }
        let in_config = user_config_dir
            .filter(|_| !name.contains(['/', '\\']))
            .map(|dir| dir.join("themes").join(format!("{name}.toml")));
        for path in in_config.into_iter().chain([PathBuf::from(name)]) {
            if let Some(text) = read_if_exists(&path)? {
                return Theme::from_toml(&text, &path.display().to_string());
            }
        }
        let dir = user_config_dir.map_or_else(|| "<config dir>".to_owned(), |d| d.display().to_string());
        Err(ThemeError {
            file: "--theme".to_owned(),
            line: None,
            key: "theme".to_owned(),
            value: name.to_owned(),
            allowed: format!("{}, a file {dir}/themes/<name>.toml, or a path to a theme file", builtin_names()),
        })
    }
}

fn builtin_names() -> String {
    BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn read_if_exists(path: &Path) -> Result<Option<String>, ThemeError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ThemeError {
            file: path.display().to_string(),
            line: None,
            key: "<file>".to_owned(),
            value: e.to_string(),
            allowed: "a readable TOML file".to_owned(),
        }),
    }
}

type RawRole = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTheme {
    extends: Option<Spanned<String>>,
    #[serde(default)]
    roles: BTreeMap<Spanned<String>, RawRole>,
}

struct Layer {
    /// The base theme's name and the line naming it.
    extends: Option<(String, usize)>,
    roles: Vec<(Role, RoleStyle)>,
}

fn parse_layer(text: &str, origin: &str) -> Result<Layer, ThemeError> {
    let raw: RawTheme = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
    let err = |at: usize, key: String, value: String, allowed: String| ThemeError {
        file: origin.to_owned(),
        line: Some(line_of(text, at)),
        key,
        value,
        allowed,
    };
    // Spanned keys order by value; sorting by span reports the first mistake in the file first.
    let mut raw_roles: Vec<_> = raw.roles.into_iter().collect();
    raw_roles.sort_by_key(|(name, _)| name.span().start);
    let mut roles = Vec::new();
    for (name, fields) in raw_roles {
        let role = Role::from_name(name.get_ref()).ok_or_else(|| {
            let allowed = Role::ALL.map(Role::name).join(", ");
            err(name.span().start, "roles".to_owned(), name.get_ref().clone(), format!("a role: {allowed}"))
        })?;
        let mut style = RoleStyle::default();
        let mut fields: Vec<_> = fields.into_iter().collect();
        fields.sort_by_key(|(field, _)| field.span().start);
        for (field, value) in fields {
            let key = format!("roles.{}.{}", role.name(), field.get_ref());
            let shown = match value.get_ref() {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let bad = |allowed: &str| err(value.span().start, key.clone(), shown.clone(), allowed.to_owned());
            let modifier = match field.get_ref().as_str() {
                "fg" => {
                    style.fg = Some(parse_color(value.get_ref()).map_err(|why| bad(&format!("{why}: {COLORS}")))?);
                    continue;
                }
                "bg" => {
                    style.bg = Some(parse_color(value.get_ref()).map_err(|why| bad(&format!("{why}: {COLORS}")))?);
                    continue;
                }
                "bold" => Modifier::BOLD,
                "italic" => Modifier::ITALIC,
                "reversed" => Modifier::REVERSED,
                "underlined" => Modifier::UNDERLINED,
                "dim" => Modifier::DIM,
                other => {
                    let key = format!("roles.{}", role.name());
                    return Err(err(field.span().start, key, other.to_owned(), format!("the fields {FIELDS}")));
                }
            };
            match value.get_ref() {
                toml::Value::Boolean(true) => style.on |= modifier,
                toml::Value::Boolean(false) => style.off |= modifier,
                _ => return Err(bad("true or false")),
            }
        }
        roles.push((role, style));
    }
    let extends = raw.extends.map(|e| (e.get_ref().clone(), line_of(text, e.span().start)));
    Ok(Layer { extends, roles })
}

fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> ThemeError {
    let span = e.span().map(|s| s.start.min(text.len())..s.end.min(text.len()));
    let message = e.message().trim();
    // toml names the offending field in its message; it is the first quoted word.
    let key = message.split('`').nth(1).unwrap_or("<document>").to_owned();
    ThemeError {
        file: origin.to_owned(),
        line: span.as_ref().map(|s| line_of(text, s.start)),
        key,
        value: span.map(|s| text[s].trim().chars().take(80).collect()).unwrap_or_default(),
        allowed: format!(
            "{message}; a theme is `extends = \"<theme>\"` (optional) and a [roles] table of {{ {FIELDS} }}"
        ),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(0, |before| before.matches('\n').count()) + 1
}

/// The 16 ANSI colours with the VGA palette's values: the classic reference for "what red is",
/// so `#ff0000` lands on red rather than on whichever bright red a terminal happens to use.
const ANSI: [(Color, &str, [u8; 3]); 16] = [
    (Color::Black, "black", [0, 0, 0]),
    (Color::Red, "red", [170, 0, 0]),
    (Color::Green, "green", [0, 170, 0]),
    (Color::Yellow, "yellow", [170, 170, 0]),
    (Color::Blue, "blue", [0, 0, 170]),
    (Color::Magenta, "magenta", [170, 0, 170]),
    (Color::Cyan, "cyan", [0, 170, 170]),
    (Color::Gray, "gray", [170, 170, 170]),
    (Color::DarkGray, "darkgray", [85, 85, 85]),
    (Color::LightRed, "lightred", [255, 85, 85]),
    (Color::LightGreen, "lightgreen", [85, 255, 85]),
    (Color::LightYellow, "lightyellow", [255, 255, 85]),
    (Color::LightBlue, "lightblue", [85, 85, 255]),
    (Color::LightMagenta, "lightmagenta", [255, 85, 255]),
    (Color::LightCyan, "lightcyan", [85, 255, 255]),
    (Color::White, "white", [255, 255, 255]),
];

fn parse_color(value: &toml::Value) -> Result<Color, &'static str> {
    match value {
        toml::Value::Integer(n) => u8::try_from(*n).map(Color::Indexed).map_err(|_| "an index outside 0-255"),
        toml::Value::String(s) => {
            if let Some(hex) = s.strip_prefix('#') {
                let channel = |i: usize| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
                return match (hex.len(), channel(0), channel(2), channel(4)) {
                    (6, Some(r), Some(g), Some(b)) => Ok(Color::Rgb(r, g, b)),
                    _ => Err("malformed hex colour (want #rrggbb)"),
                };
            }
            let name: String = s.to_ascii_lowercase().chars().filter(|c| !matches!(c, '-' | '_' | ' ')).collect();
            if name == "reset" {
                return Ok(Color::Reset);
            }
            let name = name.replace("grey", "gray");
            ANSI.iter().find(|(_, n, _)| *n == name).map(|(c, _, _)| *c).ok_or("an unknown colour name")
        }
        _ => Err("neither a colour name nor an index"),
    }
}

fn degrade(color: Color, depth: ColorDepth) -> Color {
    match (depth, color) {
        (ColorDepth::Indexed256, Color::Rgb(r, g, b)) => Color::Indexed(nearest_indexed([r, g, b])),
        (ColorDepth::Ansi16, Color::Rgb(r, g, b)) => nearest_ansi([r, g, b]),
        (ColorDepth::Ansi16, Color::Indexed(i)) => {
            ANSI.get(usize::from(i)).map_or_else(|| nearest_ansi(indexed_rgb(i)), |(c, _, _)| *c)
        }
        (_, c) => c,
    }
}

fn distance(a: [u8; 3], b: [u8; 3]) -> u32 {
    a.iter().zip(b).map(|(x, y)| u32::from(x.abs_diff(y)).pow(2)).sum()
}

fn nearest_ansi(rgb: [u8; 3]) -> Color {
    ANSI.iter().min_by_key(|(_, _, c)| distance(rgb, *c)).map_or(Color::Reset, |(c, _, _)| *c)
}

/// Only the 6x6x6 cube and the grey ramp are searched: their values are fixed by xterm, while
/// 0-15 vary with the user's palette.
fn nearest_indexed(rgb: [u8; 3]) -> u8 {
    (16..=255).min_by_key(|i| distance(rgb, indexed_rgb(*i))).unwrap_or(16)
}

fn indexed_rgb(index: u8) -> [u8; 3] {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    match index {
        0..=15 => ANSI[usize::from(index)].2,
        16..=231 => {
            let n = usize::from(index - 16);
            [LEVELS[n / 36], LEVELS[(n / 6) % 6], LEVELS[n % 6]]
        }
        _ => {
            let v = 8 + 10 * (index - 232);
            [v, v, v]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_builtin() -> Vec<Theme> {
        BUILTIN.iter().map(|(name, _)| Theme::builtin(name).unwrap()).collect()
    }

    #[test]
    fn shipped_themes_parse_and_define_every_role() {
        for (name, text) in BUILTIN {
            let layer = parse_layer(text, name).unwrap_or_else(|e| panic!("{e}"));
            for role in Role::ALL {
                assert!(layer.roles.iter().any(|(r, _)| *r == role), "{name} lacks `{}`", role.name());
            }
        }
        assert_eq!(
            all_builtin().iter().map(Theme::name).collect::<Vec<_>>(),
            ["default", "high-contrast", "monochrome"]
        );
        assert_eq!(Theme::builtin("solarized"), None);
    }

    #[test]
    fn role_names_round_trip() {
        for (i, role) in Role::ALL.into_iter().enumerate() {
            assert_eq!(role as usize, i);
            assert_eq!(Role::from_name(role.name()), Some(role));
        }
        assert_eq!(Role::from_name("lag-warn"), Some(Role::LagWarn));
    }

    #[test]
    fn monochrome_has_no_colours_yet_keeps_cues_apart() {
        let mono = Theme::builtin("monochrome").unwrap();
        for role in Role::ALL {
            let style = mono.style(role);
            assert_eq!((style.fg, style.bg), (None, None), "{}", role.name());
        }
        let cues = [Role::Leader, Role::Replica, Role::Down, Role::Danger, Role::Selected];
        for (i, a) in cues.iter().enumerate() {
            for b in &cues[i + 1..] {
                assert_ne!(mono.style(*a), mono.style(*b), "{} vs {}", a.name(), b.name());
            }
        }
    }

    #[test]
    fn high_contrast_uses_only_basic_colours() {
        let hc = Theme::builtin("high-contrast").unwrap();
        for role in Role::ALL {
            let style = hc.style(role);
            for c in [style.fg, style.bg].into_iter().flatten() {
                assert!(ANSI.iter().any(|(a, _, _)| *a == c), "{}: {c:?}", role.name());
            }
        }
    }

    #[test]
    fn no_color_picks_monochrome_unless_a_theme_is_named() {
        let t = Theme::load(None, None, true, ColorDepth::TrueColor).unwrap();
        assert_eq!(t.name(), "monochrome");
        let t = Theme::load(Some("high-contrast"), None, true, ColorDepth::TrueColor).unwrap();
        assert_eq!(t.name(), "high-contrast");
        assert_eq!(Theme::load(None, None, false, ColorDepth::TrueColor).unwrap().name(), "default");
    }

    #[test]
    fn user_patch_replaces_only_the_roles_it_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("theme.toml"), "[roles]\nleader = { fg = \"magenta\", underlined = true }\n")
            .unwrap();
        let t = Theme::load(None, Some(dir.path()), false, ColorDepth::TrueColor).unwrap();
        assert_eq!(t.style(Role::Leader), Style::default().fg(Color::Magenta).add_modifier(Modifier::UNDERLINED));
        assert_eq!(t.style(Role::Replica), Theme::default().style(Role::Replica));
    }

    #[test]
    fn named_themes_come_from_the_config_dir_or_a_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        let text = "extends = \"monochrome\"\n[roles]\ndanger = { fg = \"#ff0000\", bold = true }\n";
        std::fs::write(dir.path().join("themes/alarm.toml"), text).unwrap();
        let t = Theme::load(Some("alarm"), Some(dir.path()), false, ColorDepth::Ansi16).unwrap();
        assert_eq!(t.name(), "alarm");
        assert_eq!(t.style(Role::Danger).fg, Some(Color::Red));
        assert_eq!(t.style(Role::Leader), Theme::builtin("monochrome").unwrap().style(Role::Leader));
        let path = dir.path().join("themes/alarm.toml");
        let t = Theme::load(Some(path.to_str().unwrap()), None, false, ColorDepth::TrueColor).unwrap();
        assert_eq!(t.style(Role::Danger).fg, Some(Color::Rgb(255, 0, 0)));
        let e = Theme::load(Some("solarized"), Some(dir.path()), false, ColorDepth::TrueColor).unwrap_err();
        assert!(e.to_string().contains("solarized") && e.allowed.contains("high-contrast"), "{e}");
    }

    #[test]
    fn colours_degrade_to_the_terminal_depth() {
        assert_eq!(degrade(Color::Rgb(255, 0, 0), ColorDepth::Ansi16), Color::Red);
        assert_eq!(degrade(Color::Rgb(250, 250, 250), ColorDepth::Ansi16), Color::White);
        assert_eq!(degrade(Color::Rgb(255, 0, 0), ColorDepth::Indexed256), Color::Indexed(196));
        assert_eq!(degrade(Color::Rgb(128, 128, 128), ColorDepth::Indexed256), Color::Indexed(244));
        assert_eq!(degrade(Color::Rgb(1, 2, 3), ColorDepth::TrueColor), Color::Rgb(1, 2, 3));
        assert_eq!(degrade(Color::Indexed(196), ColorDepth::Ansi16), Color::Red);
        assert_eq!(degrade(Color::Indexed(9), ColorDepth::Ansi16), Color::LightRed);
        assert_eq!(degrade(Color::Indexed(78), ColorDepth::Indexed256), Color::Indexed(78));
        let t = Theme::load(None, None, false, ColorDepth::Ansi16).unwrap();
        for role in Role::ALL {
            let style = t.style(role);
            for c in [style.fg, style.bg].into_iter().flatten() {
                assert!(!matches!(c, Color::Indexed(_) | Color::Rgb(..)), "{}: {c:?}", role.name());
            }
        }
    }

    #[test]
    fn depth_is_detected_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(ColorDepth::detect(&env(&[("COLORTERM", "truecolor")])), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::detect(&env(&[("COLORTERM", "24bit"), ("TERM", "xterm")])), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::detect(&env(&[("TERM", "tmux-256color")])), ColorDepth::Indexed256);
        assert_eq!(ColorDepth::detect(&env(&[("TERM", "xterm"), ("COLORTERM", "yes")])), ColorDepth::Ansi16);
        assert_eq!(ColorDepth::detect(&env(&[])), ColorDepth::Ansi16);
    }

    fn refused(text: &str) -> ThemeError {
        let e = Theme::default().patch_from(text, "theme.toml").unwrap_err();
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("theme.toml:{}:", e.line.unwrap())), "{shown}");
        assert!(shown.contains(&e.value) && shown.contains(&e.key), "{shown}");
        e
    }

    #[test]
    fn each_error_names_file_line_key_value_and_what_is_allowed() {
        let e = refused("[roles]\nleader = { fg = \"green\" }\nleadr = { fg = \"green\" }\n");
        assert_eq!((e.line, e.value.as_str()), (Some(3), "leadr"));
        assert!(e.allowed.contains("leader") && e.allowed.contains("lag-warn"), "{e}");
        let e = refused("[roles]\n\nleader = { fg = \"grean\" }\n");
        assert_eq!((e.line, e.key.as_str(), e.value.as_str()), (Some(3), "roles.leader.fg", "grean"));
        assert!(e.allowed.contains("lightgreen") && e.allowed.contains("#rrggbb"), "{e}");
        let e = refused("[roles]\nleader = { bg = \"#12345g\" }\n");
        assert_eq!((e.line, e.value.as_str()), (Some(2), "#12345g"));
        assert!(e.allowed.contains("malformed hex"), "{e}");
        let e = refused("[roles]\nleader = { fg = 300 }\n");
        assert_eq!(e.value, "300");
        let e = refused("[roles.leader]\nfg = \"green\"\ncolour = \"red\"\n");
        assert_eq!((e.line, e.key.as_str(), e.value.as_str()), (Some(3), "roles.leader", "colour"));
        assert!(e.allowed.contains("underlined"), "{e}");
        let e = refused("[roles]\nleader = { bold = \"yes\" }\n");
        assert_eq!((e.key.as_str(), e.value.as_str()), ("roles.leader.bold", "yes"));
        assert_eq!(refused("[roles]\nzz = {}\naa = {}\n").value, "zz");
        let e = refused("[colours]\nleader = { bold = true }\n");
        assert_eq!(e.line, Some(1));
        assert!(e.value.contains("colours"), "{e}");
    }

    #[test]
    fn colour_syntax() {
        let parse = |v: toml::Value| parse_color(&v);
        assert_eq!(parse("Light-Green".into()), Ok(Color::LightGreen));
        assert_eq!(parse("grey".into()), Ok(Color::Gray));
        assert_eq!(parse("reset".into()), Ok(Color::Reset));
        assert_eq!(parse("#0a0B0c".into()), Ok(Color::Rgb(10, 11, 12)));
        assert_eq!(parse(toml::Value::Integer(214)), Ok(Color::Indexed(214)));
        assert!(parse("#fff".into()).is_err());
        assert!(parse(toml::Value::Integer(-1)).is_err());
    }
}

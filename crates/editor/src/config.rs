//! The editor's config file (TOML, in the platform's config dir): hub, user,
//! roster, colours per code, key bindings, mouse, ambiguous width, where the
//! cursor goes after a code. Parsing and checking only; no terminal here.
//! A bad file is an error naming the file, the line and the key, found
//! before the terminal is touched.

use super::action::Command;
use super::keymap::KeyCombo;
use ratatui::style::Color;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the cursor goes after a code is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advance {
    /// The next date (a week is typed as a row of keys).
    #[default]
    Right,
    /// The next person.
    Down,
    /// Stay on the cell.
    None,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    server: Option<String>,
    user: Option<String>,
    token: Option<String>,
    ca: Option<PathBuf>,
    roster: Option<String>,
    mouse: Option<bool>,
    ambiguous_wide: Option<bool>,
    advance: Option<Advance>,
    fill_seconds: Option<u64>,
    #[serde(default)]
    colours: BTreeMap<String, String>,
    #[serde(default)]
    keys: BTreeMap<String, KeyList>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyList {
    One(String),
    Many(Vec<String>),
}

/// The editor's settings: the file's, with defaults for what it leaves out.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where it was read from (None: no file).
    pub path: Option<PathBuf>,
    pub server: Option<String>,
    pub user: Option<String>,
    /// The bearer token for a hub with accounts.
    pub token: Option<String>,
    /// The CA certificates (PEM) a wss:// hub's certificate must chain to.
    pub ca: Option<PathBuf>,
    pub roster: Option<String>,
    pub mouse: bool,
    /// Draw East Asian ambiguous-width characters (○ △ ×) as two columns,
    /// for terminals that do.
    pub ambiguous_wide: bool,
    pub advance: Advance,
    /// How long the fill (ctrl-f) searches unless Esc stops it.
    pub fill_seconds: u64,
    /// Colours per code, over the roster's own.
    pub colours: BTreeMap<String, Color>,
    /// Keys bound to commands in place of their defaults.
    pub keys: BTreeMap<Command, Vec<KeyCombo>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            path: None,
            server: None,
            user: None,
            token: None,
            ca: None,
            roster: None,
            mouse: true,
            ambiguous_wide: false,
            advance: Advance::Right,
            fill_seconds: FILL_SECONDS,
            colours: BTreeMap::new(),
            keys: BTreeMap::new(),
        }
    }
}

/// What is wrong with a config file, and where.
#[derive(Debug, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.key.is_empty() {
            String::new()
        } else {
            format!(" `{}`", self.key)
        };
        write!(
            f,
            "{}:{}:{at} {}",
            self.path.display(),
            self.line,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}

/// The config file's usual place, e.g. ~/.config/rota/config.toml.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "rota").map(|d| d.config_dir().join("config.toml"))
}

/// Reads the config at `path`: a missing file is the defaults.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(ConfigError {
            path: path.to_path_buf(),
            line: 0,
            key: String::new(),
            message: format!("cannot read: {e}"),
        }),
    }
}

/// How long the fill searches unless the config says (Esc stops it
/// sooner, keeping the best so far), and the most the config may say.
pub const FILL_SECONDS: u64 = 20;
pub const MAX_FILL_SECONDS: u64 = 3_600;

/// Parses a config file's text; `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let error = |line: usize, key: &str, message: String| ConfigError {
        path: path.to_path_buf(),
        line,
        key: key.to_string(),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        let key = e.span().map(|s| key_at(text, s.start)).unwrap_or_default();
        error(line, &key, e.message().trim().to_string())
    })?;
    let mut config = Config {
        path: Some(path.to_path_buf()),
        server: file.server,
        user: file.user,
        token: file.token,
        ca: file.ca,
        roster: file.roster,
        mouse: file.mouse.unwrap_or(true),
        ambiguous_wide: file.ambiguous_wide.unwrap_or(false),
        advance: file.advance.unwrap_or_default(),
        fill_seconds: match file.fill_seconds {
            None => FILL_SECONDS,
            Some(s) if (1..=MAX_FILL_SECONDS).contains(&s) => s,
            Some(s) => {
                return Err(error(
                    line_of_key(text, "", "fill_seconds"),
                    "fill_seconds",
                    format!("{s} seconds: give 1 to {MAX_FILL_SECONDS}"),
                ));
            }
        },
        ..Config::default()
    };
    for (code, colour) in file.colours {
        let c = super::colour::parse_colour(&colour).ok_or_else(|| {
            error(
                line_of_key(text, "colours", &code),
                &format!("colours.{code}"),
                format!("`{colour}` is not a colour: {}", super::colour::COLOUR_HINT),
            )
        })?;
        config.colours.insert(code, c);
    }
    for (name, list) in file.keys {
        let path_key = format!("keys.{name}");
        let line = line_of_key(text, "keys", &name);
        let command = Command::from_name(&name).ok_or_else(|| {
            error(
                line,
                &path_key,
                format!(
                    "no such command; commands are: {}",
                    Command::names().join(", ")
                ),
            )
        })?;
        let keys = match list {
            KeyList::One(k) => vec![k],
            KeyList::Many(ks) => ks,
        };
        if keys.is_empty() {
            return Err(error(line, &path_key, "no keys given".into()));
        }
        let mut combos = Vec::new();
        for k in keys {
            combos.push(KeyCombo::parse(&k).map_err(|m| error(line, &path_key, m))?);
        }
        config.keys.insert(command, combos);
    }
    // A key bound to two commands would do only one of them.
    if let Some((key, a, b)) = super::keymap::Keymap::new(&config.keys).clashes().first() {
        let (mine, other) = if config.keys.contains_key(a) {
            (a, b)
        } else {
            (b, a)
        };
        let name = |c: &Command| {
            Command::names()
                .into_iter()
                .find(|n| Command::from_name(n) == Some(*c))
                .unwrap_or("?")
        };
        return Err(error(
            line_of_key(text, "keys", name(mine)),
            &format!("keys.{}", name(mine)),
            format!(
                "`{key}` is already the key of `{}`: bind {} to another key, or give `{}` another key too",
                name(other),
                name(mine),
                name(other)
            ),
        ));
    }
    if let Some(s) = &config.server {
        rota_client::HubAddr::parse_server(s).map_err(|m| {
            error(
                line_of_key(text, "", "server"),
                "server",
                m.replace("--server", "server"),
            )
        })?;
    }
    Ok(config)
}

/// The 1-based line holding byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(1, |t| t.bytes().filter(|&b| b == b'\n').count() + 1)
}

/// The key a line starts with (`name = ...`), for an error toml reports
/// by position.
fn key_at(text: &str, offset: usize) -> String {
    let line = line_of(text, offset);
    text.lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .unwrap_or_default()
}

/// The line where `key` is set inside `[table]` (or at the top when table
/// is empty); 0 when not found.
fn line_of_key(text: &str, table: &str, key: &str) -> usize {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.trim().to_string();
            continue;
        }
        if let Some((k, _)) = t.split_once('=') {
            let k = k.trim().trim_matches('"');
            if current == table && k == key {
                return i + 1;
            }
            if table.is_empty() && k == key && current.is_empty() {
                return i + 1;
            }
            if !table.is_empty() && k == format!("{table}.{key}") && current.is_empty() {
                return i + 1;
            }
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> PathBuf {
        PathBuf::from("/home/u/.config/rota/config.toml")
    }

    #[test]
    fn a_full_file_is_read() {
        let text = r##"
server = "ws://hub:7878"
user = "alice"
roster = "ward-a"
mouse = false
ambiguous_wide = true
advance = "down"

[colours]
N = "magenta"
"夜" = "#336699"

[keys]
undo = "U"
history = ["ctrl-h", "f2"]
"##;
        let c = parse(&p(), text).expect("reads");
        assert_eq!(c.server.as_deref(), Some("ws://hub:7878"));
        assert!(!c.mouse);
        assert!(c.ambiguous_wide);
        assert_eq!(c.advance, Advance::Down);
        assert_eq!(c.colours.get("N"), Some(&Color::Magenta));
        assert_eq!(c.colours.get("夜"), Some(&Color::Rgb(0x33, 0x66, 0x99)));
        assert_eq!(c.keys.get(&Command::History).map(Vec::len), Some(2));
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let c = parse(&p(), "").expect("reads");
        assert_eq!(
            c,
            Config {
                path: Some(p()),
                ..Config::default()
            }
        );
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let cases = [
            ("user = \"a\"\nmouse = \"yes\"\n", 2, "mouse"),
            ("\n\n[colours]\nN = \"blurple\"\n", 4, "colours.N"),
            ("[keys]\nfly = \"f\"\n", 2, "keys.fly"),
            ("[keys]\nundo = \"ctrl-\"\n", 2, "keys.undo"),
            ("user = \"a\"\ncolour = 3\n", 2, "colour"),
            ("server = \"http://x\"\n", 1, "server"),
            ("[keys]\nundo = \"x\"\n", 2, "keys.undo"),
            ("user = \"a\"\nfill_seconds = 0\n", 2, "fill_seconds"),
            ("fill_seconds = 90000\n", 1, "fill_seconds"),
            ("fill_seconds = -3\n", 1, "fill_seconds"),
        ];
        for (text, line, key) in cases {
            let e = parse(&p(), text).expect_err(text);
            assert_eq!((e.line, e.key.as_str()), (line, key), "{text}: {e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("{}:{line}: `{key}`", p().display())),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_missing_file_is_fine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = load(&dir.path().join("none.toml")).expect("defaults");
        assert_eq!(c, Config::default());
    }
}

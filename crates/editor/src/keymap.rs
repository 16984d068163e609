//! The key map: which keys run which command. One table of bindings
//! (each command's name in the config file, its default keys, what it
//! does), which the config file overrides and the help lists, so the help
//! is never out of date. Knows nothing of the editor's state: `keys` looks
//! a key up in it for the mode at hand.

use super::action::Command;
use crossterm::event::{KeyCode, KeyModifiers};
use std::collections::BTreeMap;

/// Each command: its name in the config file, its default keys, what it
/// does (the help's words). The one table of bindings.
const COMMANDS: &[(Command, &str, &[&str], &str)] = &[
    (Command::Left, "left", &["h", "left"], "previous date"),
    (Command::Right, "right", &["l", "right"], "next date"),
    (Command::Up, "up", &["k", "up"], "previous person"),
    (Command::Down, "down", &["j", "down"], "next person"),
    (Command::WeekForward, "week_forward", &["w"], "a week later"),
    (Command::WeekBack, "week_back", &["b"], "a week earlier"),
    (Command::PageUp, "page_up", &["pgup"], "a screen up"),
    (Command::PageDown, "page_down", &["pgdn"], "a screen down"),
    (
        Command::FirstDate,
        "first_date",
        &["home"],
        "the planning period's first date (again: the grid's)",
    ),
    (
        Command::LastDate,
        "last_date",
        &["end"],
        "the planning period's last date (again: the grid's)",
    ),
    (
        Command::FirstPerson,
        "first_person",
        &["g g"],
        "first person",
    ),
    (Command::LastPerson, "last_person", &["G"], "last person"),
    (Command::Today, "today", &["t"], "today"),
    (
        Command::Jump,
        "jump",
        &["g"],
        "jump to a date (24, 24/12) or a person",
    ),
    (
        Command::EnterCode,
        "enter_code",
        &["i"],
        "type a code in any case: i d1, i n3 (or Shift: D1, N3)",
    ),
    (
        Command::Clear,
        "clear",
        &["delete", "backspace", "x"],
        "clear the cell",
    ),
    (Command::Undo, "undo", &["u"], "undo your last edit"),
    (Command::Redo, "redo", &["ctrl-r"], "redo"),
    (
        Command::NextConflict,
        "next_conflict",
        &["c"],
        "next conflict or rejected edit",
    ),
    (
        Command::History,
        "history",
        &["H", "f2"],
        "history of the cell (from the hub)",
    ),
    (
        Command::NextWarning,
        "next_warning",
        &["!"],
        "next rule warning",
    ),
    (
        Command::Warnings,
        "warnings",
        &["e"],
        "list the rule warnings (Enter goes to one)",
    ),
    (
        Command::Request,
        "request",
        &["R", "f3"],
        "the cell's request (off, off N 2, on N); empty withdraws",
    ),
    (
        Command::Requests,
        "requests",
        &["W", "f4"],
        "list the person's requests (Tab: the date's; Enter goes to one)",
    ),
    (
        Command::Shifts,
        "shifts",
        &["M", "f6"],
        "the person's published shifts from today, 4 weeks (staff: yours)",
    ),
    (
        Command::NextUnpublished,
        "next_unpublished",
        &["]"],
        "next change staff were not shown (# marks them)",
    ),
    (
        Command::PreviousUnpublished,
        "previous_unpublished",
        &["["],
        "previous change staff were not shown",
    ),
    (
        Command::Publish,
        "publish",
        &["P", "f5"],
        "publish the block's dates or a range (admins)",
    ),
    (
        Command::Fill,
        "fill",
        &["ctrl-f", "f7"],
        "fill the block's empty cells with proposals (Esc stops)",
    ),
    (
        Command::AcceptProposals,
        "accept_proposals",
        &["+"],
        "accept the proposals in the block (or all of them)",
    ),
    (
        Command::DiscardProposals,
        "discard_proposals",
        &["-"],
        "discard the proposals in the block (or all of them)",
    ),
    (
        Command::Select,
        "select",
        &["v"],
        "select a block (v again or Esc: stop)",
    ),
    (
        Command::SelectLeft,
        "select_left",
        &["shift-left"],
        "select, a date to the left",
    ),
    (
        Command::SelectRight,
        "select_right",
        &["shift-right"],
        "select, a date to the right",
    ),
    (
        Command::SelectUp,
        "select_up",
        &["shift-up"],
        "select, a person up",
    ),
    (
        Command::SelectDown,
        "select_down",
        &["shift-down"],
        "select, a person down",
    ),
    (
        Command::Yank,
        "yank",
        &["y"],
        "copy the block (or the cell)",
    ),
    (
        Command::Paste,
        "paste",
        &["p"],
        "paste what y copied, from the cursor",
    ),
    (
        Command::CopyLastWeek,
        "copy_last_week",
        &["o"],
        "copy last week onto this week (selected people)",
    ),
    (
        Command::Pattern,
        "pattern",
        &["s"],
        "lay a pattern (D,D,N,N,OFF) over the block",
    ),
    (
        Command::CoverFold,
        "coverage",
        &["z"],
        "coverage rows: per code, folded, hidden",
    ),
    (Command::Find, "find", &["/"], "find a person by name"),
    (Command::FindNext, "find_next", &["n"], "next person found"),
    (
        Command::Filter,
        "filter",
        &["f"],
        "show a group, people with warnings, everyone",
    ),
    (
        Command::Manage,
        "manage",
        &["m"],
        "manage staff, shift codes, rules, settings and users",
    ),
    (Command::Help, "help", &["?"], "this help"),
    (
        Command::Quit,
        "quit",
        &["q", "ctrl-c"],
        "quit (twice when edits are unsaved)",
    ),
    (Command::Redraw, "redraw", &["ctrl-l"], "redraw the screen"),
    (
        Command::Reconnect,
        "reconnect",
        &["r"],
        "reconnect to the hub now",
    ),
    (
        Command::Suspend,
        "suspend",
        &["ctrl-z"],
        "suspend to the shell",
    ),
];

impl Command {
    /// The command a config file names.
    pub fn from_name(name: &str) -> Option<Command> {
        COMMANDS.iter().find(|c| c.1 == name).map(|c| c.0)
    }

    pub fn names() -> Vec<&'static str> {
        COMMANDS.iter().map(|c| c.1).collect()
    }

    fn entry(self) -> &'static (Command, &'static str, &'static [&'static str], &'static str) {
        // Every command has a row: `every_command_has_one_row` checks it.
        COMMANDS
            .iter()
            .find(|c| c.0 == self)
            .unwrap_or(&COMMANDS[0])
    }

    pub fn describe(self) -> &'static str {
        self.entry().3
    }

    /// Its name in the config file (`history`).
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Every command, in the help's order.
    pub fn all() -> impl Iterator<Item = Command> {
        COMMANDS.iter().map(|c| c.0)
    }
}

/// One key with its modifiers, as a config file or the help writes it:
/// `x`, `G`, `ctrl-r`, `pgdn`, `f2`. `g g` is two keys in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCombo {
    /// A key pressed first (the `g` of `g g`).
    pub prefix: Option<(KeyCode, KeyModifiers)>,
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyCombo {
    pub fn parse(s: &str) -> Result<KeyCombo, String> {
        let s = s.trim();
        if let Some((first, second)) = s.split_once(' ')
            && !first.is_empty()
            && !second.trim().is_empty()
        {
            let a = parse_one(first)?;
            let b = parse_one(second.trim())?;
            return Ok(KeyCombo {
                prefix: Some(a),
                code: b.0,
                mods: b.1,
            });
        }
        let (code, mods) = parse_one(s)?;
        Ok(KeyCombo {
            prefix: None,
            code,
            mods,
        })
    }

    fn matches(&self, code: KeyCode, mods: KeyModifiers) -> bool {
        self.code == code && self.mods == mods
    }
}

impl std::fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((c, m)) = self.prefix {
            write!(f, "{} ", show_key(c, m))?;
        }
        f.write_str(&show_key(self.code, self.mods))
    }
}

fn parse_one(s: &str) -> Result<(KeyCode, KeyModifiers), String> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = s;
    loop {
        let lower = rest.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
            mods |= KeyModifiers::CONTROL;
            rest = &rest[rest.len() - r.len()..];
        } else if let Some(r) = lower.strip_prefix("alt-").filter(|r| !r.is_empty()) {
            mods |= KeyModifiers::ALT;
            rest = &rest[rest.len() - r.len()..];
        } else if let Some(r) = lower.strip_prefix("shift-").filter(|r| r.len() > 1) {
            // Shift with a named key (shift-left); a shifted character is
            // the character itself (G).
            mods |= KeyModifiers::SHIFT;
            rest = &rest[rest.len() - r.len()..];
        } else {
            break;
        }
    }
    let named = match rest.to_ascii_lowercase().as_str() {
        "left" => Some(KeyCode::Left),
        "right" => Some(KeyCode::Right),
        "up" => Some(KeyCode::Up),
        "down" => Some(KeyCode::Down),
        "pgup" | "pageup" => Some(KeyCode::PageUp),
        "pgdn" | "pagedown" => Some(KeyCode::PageDown),
        "home" => Some(KeyCode::Home),
        "end" => Some(KeyCode::End),
        "enter" => Some(KeyCode::Enter),
        "tab" => Some(KeyCode::Tab),
        "esc" => Some(KeyCode::Esc),
        "delete" | "del" => Some(KeyCode::Delete),
        "backspace" => Some(KeyCode::Backspace),
        "space" => Some(KeyCode::Char(' ')),
        _ => None,
    };
    if let Some(code) = named {
        return Ok((code, mods));
    }
    let lower = rest.to_ascii_lowercase();
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok())
        && (1..=12).contains(&n)
    {
        return Ok((KeyCode::F(n), mods));
    }
    let mut chars = rest.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => {
            // Ctrl with a letter arrives as the lower-case letter.
            let c = if mods.contains(KeyModifiers::CONTROL) {
                c.to_ascii_lowercase()
            } else {
                c
            };
            Ok((KeyCode::Char(c), mods))
        }
        _ => Err(format!(
            "`{s}` is not a key: write a character (x, G, ?), a name (left, pgdn, home, enter, tab, esc, delete, backspace, space, f1..f12), with ctrl- or alt- before it if needed"
        )),
    }
}

fn show_key(code: KeyCode, mods: KeyModifiers) -> String {
    let mut s = String::new();
    if mods.contains(KeyModifiers::CONTROL) {
        s.push_str("Ctrl-");
    }
    if mods.contains(KeyModifiers::ALT) {
        s.push_str("Alt-");
    }
    if mods.contains(KeyModifiers::SHIFT) {
        s.push_str("Shift-");
    }
    match code {
        KeyCode::Char(' ') => s.push_str("Space"),
        KeyCode::Char(c) => s.push(c),
        KeyCode::Left => s.push('←'),
        KeyCode::Right => s.push('→'),
        KeyCode::Up => s.push('↑'),
        KeyCode::Down => s.push('↓'),
        KeyCode::PageUp => s.push_str("PgUp"),
        KeyCode::PageDown => s.push_str("PgDn"),
        KeyCode::Home => s.push_str("Home"),
        KeyCode::End => s.push_str("End"),
        KeyCode::Enter => s.push_str("Enter"),
        KeyCode::Tab => s.push_str("Tab"),
        KeyCode::BackTab => s.push_str("Shift-Tab"),
        KeyCode::Esc => s.push_str("Esc"),
        KeyCode::Delete => s.push_str("Delete"),
        KeyCode::Backspace => s.push_str("Backspace"),
        KeyCode::F(n) => s.push_str(&format!("F{n}")),
        other => s.push_str(&format!("{other:?}")),
    }
    s
}

/// The grid's bindings: the defaults with the config's replacements.
#[derive(Clone, Debug)]
pub struct Keymap {
    bindings: Vec<(Command, Vec<KeyCombo>)>,
}

impl Keymap {
    pub fn new(overrides: &BTreeMap<Command, Vec<KeyCombo>>) -> Keymap {
        let bindings = COMMANDS
            .iter()
            .map(|(cmd, _, keys, _)| {
                let combos = overrides.get(cmd).cloned().unwrap_or_else(|| {
                    keys.iter()
                        .filter_map(|k| KeyCombo::parse(k).ok())
                        .collect()
                });
                (*cmd, combos)
            })
            .collect();
        Keymap { bindings }
    }

    /// The command for a key alone.
    pub(crate) fn one_key(&self, code: KeyCode, mods: KeyModifiers) -> Option<Command> {
        self.bindings.iter().find_map(|(cmd, combos)| {
            combos
                .iter()
                .any(|k| k.prefix.is_none() && k.matches(code, mods))
                .then_some(*cmd)
        })
    }

    /// The command for a key after `prefix` (the second `g` of `g g`).
    pub(crate) fn two_keys(
        &self,
        prefix: (KeyCode, KeyModifiers),
        code: KeyCode,
        mods: KeyModifiers,
    ) -> Option<Command> {
        self.bindings.iter().find_map(|(cmd, combos)| {
            combos
                .iter()
                .any(|k| k.prefix == Some(prefix) && k.matches(code, mods))
                .then_some(*cmd)
        })
    }

    /// Whether a key starts a two-key binding (`g` of `g g`).
    pub(crate) fn is_prefix(&self, code: KeyCode, mods: KeyModifiers) -> bool {
        self.bindings
            .iter()
            .flat_map(|(_, c)| c)
            .any(|k| k.prefix == Some((code, mods)))
    }

    /// Keys bound to two commands: (the key, one command, the other).
    pub fn clashes(&self) -> Vec<(KeyCombo, Command, Command)> {
        let mut out = Vec::new();
        for (i, (a, ka)) in self.bindings.iter().enumerate() {
            for (b, kb) in self.bindings.iter().skip(i + 1) {
                for k in ka.iter().filter(|k| kb.contains(k)) {
                    out.push((k.clone(), *a, *b));
                }
            }
        }
        out
    }

    /// The keys bound to a command.
    pub fn keys_of(&self, cmd: Command) -> &[KeyCombo] {
        self.bindings
            .iter()
            .find(|(c, _)| *c == cmd)
            .map_or(&[], |(_, k)| k.as_slice())
    }

    /// (keys, what they do) for every grid command, for the help. A key
    /// that types a code in this roster (`taken`) is not the command's
    /// here: it is said so, and the keys left are listed.
    pub fn help_rows(&self, taken: &dyn Fn(&KeyCombo) -> bool) -> Vec<(String, String)> {
        self.bindings
            .iter()
            .map(|(cmd, combos)| {
                let (lost, free): (Vec<&KeyCombo>, Vec<&KeyCombo>) =
                    combos.iter().partition(|k| taken(k));
                let keys: Vec<String> = free.iter().map(|k| k.to_string()).collect();
                let mut what = cmd.describe().to_string();
                if !lost.is_empty() {
                    let lost: Vec<String> = lost.iter().map(|k| k.to_string()).collect();
                    what.push_str(&format!(
                        " ({} types a code in this roster{})",
                        lost.join(" "),
                        if free.is_empty() {
                            "; bind another key in the config"
                        } else {
                            ""
                        }
                    ));
                }
                (keys.join(" "), what)
            })
            .collect()
    }
}

/// The keys of the other modes, for the help: (mode, keys, what).
pub const MODE_HELP: &[(&str, &str, &str)] = &[
    (
        "codes",
        "type a code",
        "set as soon as one code fits; Enter/Tab complete; Esc cancels",
    ),
    (
        "jump",
        "type, ↑↓, Enter",
        "pick a date or person; Esc cancels",
    ),
    (
        "conflict",
        "m / t / d / n / Esc",
        "keep mine / keep theirs / dismiss a rejected edit / next / close",
    ),
    ("history", "j k / n / Esc", "scroll / older page / close"),
    (
        "request",
        "R, type, Enter",
        "off · off N 2 · on E, school run (weight 1-3, note after a comma); empty withdraws; Ctrl-u clears; Esc cancels",
    ),
    (
        "requests",
        "W, j k, Tab, Enter",
        "a person's requests, or (Tab) a date's: move, switch, go to one",
    ),
    (
        "shifts",
        "M, j k, PgDn PgUp, g G",
        "a person's published shifts from today (staff: yours): scroll; Esc closes",
    ),
    (
        "publish",
        "P, dates, Enter, a note, Enter, y",
        "1/3 to 28/3 (filled in with the planning period; a block's dates without asking); the note is optional; y publishes, n or Esc does not; Ctrl-u clears",
    ),
    ("undo", "y / n", "undo over someone else's change, or not"),
    (
        "block",
        "v, Shift+arrows, drag",
        "then a code fills, x clears, y copies, s lays a pattern; one undo each",
    ),
    (
        "paste",
        "the terminal's paste",
        "tab- or comma-separated codes land as a block at the cursor",
    ),
    (
        "find",
        "/ text, Enter · n",
        "the cursor follows the first name holding it · next one",
    ),
    (
        "filter",
        "f, j k, Enter",
        "a group, people with warnings, everyone",
    ),
    (
        "manage",
        "m: Tab Shift-Tab, j k, a, Enter, d, J K",
        "staff / codes / rules / settings / users: switch, move, add, change, remove, reorder",
    ),
    (
        "form",
        "type, Tab ↑↓, Enter, Esc",
        "fields are checked as you type; Enter saves, Esc cancels",
    ),
    (
        "mouse",
        "click, wheel",
        "move to a cell; scroll (Shift: sideways)",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_one_row_and_its_default_keys_parse() {
        for (cmd, name, keys, _) in COMMANDS {
            assert_eq!(COMMANDS.iter().filter(|c| c.0 == *cmd).count(), 1, "{name}");
            assert_eq!(Command::from_name(name), Some(*cmd));
            for k in *keys {
                KeyCombo::parse(k).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }

    #[test]
    fn keys_parse_and_show() {
        let k = KeyCombo::parse("ctrl-r").expect("parses");
        assert_eq!(
            (k.code, k.mods),
            (KeyCode::Char('r'), KeyModifiers::CONTROL)
        );
        assert_eq!(k.to_string(), "Ctrl-r");
        assert_eq!(KeyCombo::parse("g g").expect("parses").to_string(), "g g");
        assert_eq!(KeyCombo::parse("F2").expect("parses").code, KeyCode::F(2));
        assert!(KeyCombo::parse("ctrl-").is_err());
        assert!(KeyCombo::parse("hello").is_err());
    }
}

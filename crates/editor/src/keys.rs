//! A key event in, an action out, for the mode at hand. Pure: [`lookup`]
//! reads a [`KeyContext`] (the mode, a first key of two, the key map,
//! which characters start a code) and nothing else of the editor's state;
//! [`action_for`] makes that context from the state.

use super::action::{Action, Input, PanelKey};
use super::keymap::Keymap;
use super::state::{Mode, PublishPrompt, State};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The key event's modifiers as bindings compare them: Shift is part of
/// the character (`G`), so it is dropped for characters.
fn normal_mods(key: &KeyEvent) -> KeyModifiers {
    let mut m = key.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    if matches!(key.code, KeyCode::Char(_)) {
        m.remove(KeyModifiers::SHIFT);
    }
    m
}

/// What a key is looked up against: the mode, a first key of two, the
/// key map, and whether a character starts one of the roster's codes. No
/// more of the state than that.
pub struct KeyContext<'a> {
    pub mode: &'a Mode,
    pub prefix: Option<(KeyCode, KeyModifiers)>,
    pub keymap: &'a Keymap,
    pub starts_code: &'a dyn Fn(char) -> bool,
}

/// The action for a key in the editor's current mode (see [`lookup`]).
pub fn action_for(state: &State, key: KeyEvent) -> Option<Action> {
    let starts_code = |c| state.code_starts_with(c);
    let cx = KeyContext {
        mode: &state.mode,
        prefix: state.prefix,
        keymap: &state.keymap,
        starts_code: &starts_code,
    };
    lookup(&cx, key)
}

/// The action for a key in a mode; None for a key that does nothing there
/// (and key releases: keys act on press only).
pub fn lookup(cx: &KeyContext<'_>, key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press && key.kind != KeyEventKind::Repeat {
        return None;
    }
    let mods = normal_mods(&key);
    let ctrl = mods.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') && !matches!(cx.mode, Mode::Normal) {
        return Some(Action::Panel(PanelKey::Close));
    }
    match cx.mode {
        Mode::Normal => normal(cx, key.code, mods),
        // Ctrl-u rubs out a request typed (or filled in) whole, and the
        // publish prompt's range or note.
        Mode::Request(_) | Mode::Publish(_) if ctrl && key.code == KeyCode::Char('u') => {
            Some(Action::Input(Input::Clear))
        }
        // The publish question: y publishes, n or Esc does not.
        Mode::Publish(PublishPrompt::Confirm { .. }) => match key.code {
            KeyCode::Char('y') => Some(Action::Panel(PanelKey::Yes)),
            KeyCode::Char('n') | KeyCode::Esc => Some(Action::Panel(PanelKey::No)),
            _ => None,
        },
        Mode::Entry { .. }
        | Mode::Jump { .. }
        | Mode::Pattern { .. }
        | Mode::Find { .. }
        | Mode::Request(_)
        | Mode::Publish(_) => text_input(key.code, mods),
        Mode::Requests(_) => match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('W') | KeyCode::F(4) => {
                Some(Action::Panel(PanelKey::Close))
            }
            KeyCode::Char('j') | KeyCode::Down => Some(Action::Panel(PanelKey::Down)),
            KeyCode::Char('k') | KeyCode::Up => Some(Action::Panel(PanelKey::Up)),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::Panel(PanelKey::PageDown)),
            KeyCode::PageUp => Some(Action::Panel(PanelKey::PageUp)),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Panel(PanelKey::Home)),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Panel(PanelKey::End)),
            KeyCode::Tab | KeyCode::BackTab => Some(Action::Panel(PanelKey::NextTab)),
            KeyCode::Enter => Some(Action::Panel(PanelKey::Choose)),
            _ => None,
        },
        Mode::Shifts(_) => match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('M') | KeyCode::F(6) => {
                Some(Action::Panel(PanelKey::Close))
            }
            KeyCode::Char('j') | KeyCode::Down => Some(Action::Panel(PanelKey::Down)),
            KeyCode::Char('k') | KeyCode::Up => Some(Action::Panel(PanelKey::Up)),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::Panel(PanelKey::PageDown)),
            KeyCode::PageUp => Some(Action::Panel(PanelKey::PageUp)),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Panel(PanelKey::Home)),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Panel(PanelKey::End)),
            _ => None,
        },
        Mode::Warnings(_) => match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('e') => {
                Some(Action::Panel(PanelKey::Close))
            }
            KeyCode::Char('j') | KeyCode::Down => Some(Action::Panel(PanelKey::Down)),
            KeyCode::Char('k') | KeyCode::Up => Some(Action::Panel(PanelKey::Up)),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::Panel(PanelKey::PageDown)),
            KeyCode::PageUp => Some(Action::Panel(PanelKey::PageUp)),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Panel(PanelKey::Home)),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Panel(PanelKey::End)),
            KeyCode::Tab => Some(Action::Panel(PanelKey::NextTab)),
            KeyCode::Enter => Some(Action::Panel(PanelKey::Choose)),
            _ => None,
        },
        Mode::Filter { .. } => match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('f') => {
                Some(Action::Panel(PanelKey::Close))
            }
            KeyCode::Char('j') | KeyCode::Down => Some(Action::Panel(PanelKey::Down)),
            KeyCode::Char('k') | KeyCode::Up => Some(Action::Panel(PanelKey::Up)),
            KeyCode::Enter => Some(Action::Panel(PanelKey::Choose)),
            _ => None,
        },
        Mode::Manage(m) if m.form.is_some() || m.adding_rule => text_input(key.code, mods),
        Mode::Manage(m) if m.confirm_remove => Some(Action::Panel(match key.code {
            KeyCode::Char('y') => PanelKey::Yes,
            _ => PanelKey::No,
        })),
        Mode::Manage(_) => Some(Action::Panel(match key.code {
            KeyCode::Esc | KeyCode::Char('q') => PanelKey::Close,
            KeyCode::Tab | KeyCode::Char('l') | KeyCode::Right => PanelKey::NextTab,
            KeyCode::BackTab | KeyCode::Char('h') | KeyCode::Left => PanelKey::PreviousTab,
            KeyCode::Char('j') | KeyCode::Down => PanelKey::Down,
            KeyCode::Char('k') | KeyCode::Up => PanelKey::Up,
            KeyCode::Char('a') => PanelKey::Add,
            KeyCode::Enter | KeyCode::Char('e') => PanelKey::Choose,
            KeyCode::Char('d') => PanelKey::Remove,
            KeyCode::Char('J') => PanelKey::MoveDown,
            KeyCode::Char('K') => PanelKey::MoveUp,
            KeyCode::Char('r') => PanelKey::Retry,
            KeyCode::PageDown => PanelKey::PageDown,
            KeyCode::PageUp => PanelKey::PageUp,
            KeyCode::Home | KeyCode::Char('g') => PanelKey::Home,
            KeyCode::End | KeyCode::Char('G') => PanelKey::End,
            _ => return None,
        })),
        Mode::Help { .. } => match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') => {
                Some(Action::Panel(PanelKey::Close))
            }
            KeyCode::Char('j') | KeyCode::Down => Some(Action::Panel(PanelKey::Down)),
            KeyCode::Char('k') | KeyCode::Up => Some(Action::Panel(PanelKey::Up)),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::Panel(PanelKey::PageDown)),
            KeyCode::PageUp => Some(Action::Panel(PanelKey::PageUp)),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Panel(PanelKey::Home)),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Panel(PanelKey::End)),
            _ => None,
        },
        Mode::Conflicts { .. } => match key.code {
            KeyCode::Char('m') => Some(Action::Panel(PanelKey::KeepMine)),
            KeyCode::Char('t') => Some(Action::Panel(PanelKey::KeepTheirs)),
            KeyCode::Char('d') => Some(Action::Panel(PanelKey::Dismiss)),
            KeyCode::Char('n') | KeyCode::Char('c') | KeyCode::Tab => {
                Some(Action::Panel(PanelKey::Next))
            }
            KeyCode::Esc | KeyCode::Char('q') => Some(Action::Panel(PanelKey::Close)),
            _ => None,
        },
        Mode::History(_) => match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('H') => {
                Some(Action::Panel(PanelKey::Close))
            }
            KeyCode::Char('j') | KeyCode::Down => Some(Action::Panel(PanelKey::Down)),
            KeyCode::Char('k') | KeyCode::Up => Some(Action::Panel(PanelKey::Up)),
            KeyCode::Char('n') => Some(Action::Panel(PanelKey::More)),
            KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::Panel(PanelKey::PageDown)),
            KeyCode::PageUp => Some(Action::Panel(PanelKey::PageUp)),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Panel(PanelKey::Home)),
            KeyCode::Char('r') => Some(Action::Panel(PanelKey::Retry)),
            _ => None,
        },
        Mode::ConfirmUndo { .. } => match key.code {
            KeyCode::Char('y') => Some(Action::Panel(PanelKey::Yes)),
            KeyCode::Char('n') | KeyCode::Esc => Some(Action::Panel(PanelKey::No)),
            _ => None,
        },
    }
}

fn text_input(code: KeyCode, mods: KeyModifiers) -> Option<Action> {
    let input = match code {
        KeyCode::Char(c) if !mods.contains(KeyModifiers::CONTROL) => Input::Char(c),
        KeyCode::Backspace => Input::Back,
        KeyCode::Enter => Input::Enter,
        KeyCode::Tab => Input::Tab,
        KeyCode::BackTab => Input::Up,
        KeyCode::Esc => Input::Esc,
        KeyCode::Up => Input::Up,
        KeyCode::Down => Input::Down,
        _ => return None,
    };
    Some(Action::Input(input))
}

fn normal(cx: &KeyContext<'_>, code: KeyCode, mods: KeyModifiers) -> Option<Action> {
    let keymap = cx.keymap;
    if let Some(prefix) = cx.prefix {
        if let Some(cmd) = keymap.two_keys(prefix, code, mods) {
            return Some(Action::Do(cmd));
        }
        // `g` then a key that completes nothing: `g`'s own command, then
        // the key (`g` `A` jumps with "A" typed).
        return Some(match keymap.one_key(prefix.0, prefix.1) {
            Some(cmd) => Action::PrefixThen(cmd, code, mods),
            None => Action::Panel(PanelKey::Close),
        });
    }
    // A key that starts a code is the code's, unless it is a lower-case
    // letter (those are commands): `L` types a late shift, `l` moves.
    if let KeyCode::Char(c) = code
        && mods.is_empty()
        && !c.is_ascii_lowercase()
        && (cx.starts_code)(c)
    {
        return Some(Action::Input(Input::Char(c)));
    }
    if keymap.is_prefix(code, mods) {
        return Some(Action::Prefix(code, mods));
    }
    if let Some(cmd) = keymap.one_key(code, mods) {
        return Some(Action::Do(cmd));
    }
    match code {
        KeyCode::Esc => Some(Action::Panel(PanelKey::Close)),
        KeyCode::Char(c) if mods.is_empty() => Some(Action::Unbound(c.to_string())),
        _ => None,
    }
}

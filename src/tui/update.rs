//! `update`: an action in (a key's, the mouse's, the sync engine's, a
//! timer's), the state changed, effects out (edits and requests for the
//! sync engine, terminal chores). No I/O and no clock here: the app loop
//! sets `state.now` and carries the effects out.

use super::config::Advance;
use super::keys::Command;
use super::state::{HistoryPanel, Layout, Line, Mark, Mode, Other, State, same_code};
use crate::domain::{Date, Op, Target};
use crate::protocol::{Cursor, HistoryQuery, PresenceInfo};
use crate::script::diff::plural;
use crate::sync::{ConnState, EntryState, OutboxEntry, SyncEvent};
use crossterm::event::{KeyCode, KeyModifiers};
use std::collections::BTreeMap;

/// A key in a text prompt (code entry, jump).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    Char(char),
    Back,
    Enter,
    Tab,
    Esc,
    Up,
    Down,
}

/// A key in a panel (help, conflicts, history, a question).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelKey {
    Close,
    Up,
    Down,
    KeepMine,
    KeepTheirs,
    Dismiss,
    Next,
    More,
    Yes,
    No,
    /// Enter on a list: take the selected line.
    Choose,
    NextTab,
    Add,
    Remove,
    MoveUp,
    MoveDown,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Do(Command),
    Input(Input),
    Panel(PanelKey),
    /// The first key of two was pressed.
    Prefix(KeyCode, KeyModifiers),
    /// The first key's own command, then this key.
    PrefixThen(Command, KeyCode, KeyModifiers),
    /// A key that means nothing here.
    Unbound(String),
    Click {
        x: u16,
        y: u16,
    },
    /// The mouse moved with its left button down: the block grows.
    Drag {
        x: u16,
        y: u16,
    },
    /// Text pasted into the terminal (bracketed paste).
    Paste(String),
    Wheel {
        down: bool,
        sideways: bool,
    },
    Resize(u16, u16),
    /// Time passed (a highlight fades, a countdown moves).
    Tick,
    Sync(SyncEvent),
    /// The outbox and the others, as the engine has them now.
    Outbox(Vec<OutboxEntry>),
    Others(Vec<PresenceInfo>),
    /// An edit was made (None: it changed nothing). `targets`: what it
    /// wrote, when known (None: look at everything again).
    Edited {
        op_id: Option<u64>,
        what: String,
        targets: Option<Vec<Target>>,
    },
    /// An edit or a request was refused before it reached the hub.
    Failed(String),
    /// Undo would overwrite this many changes by others.
    UndoChangedSince(usize),
    HistoryAsked(u64),
    HistoryUnavailable(String),
    /// A request about users went to the hub (its id), or could not.
    UsersAsked(u64),
    UsersUnavailable(String),
}

/// What `update` asks the app loop to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Edit {
        ops: Vec<Op>,
        what: String,
    },
    Undo {
        anyway: bool,
    },
    Redo,
    KeepMine(u64),
    KeepTheirs(u64),
    Dismiss(u64),
    ShareCursor(Option<Cursor>),
    History(HistoryQuery),
    /// Ask the hub for the roster's users.
    AskUsers,
    /// Change a user's role on the roster, or add a user.
    SetRole(super::forms::RoleChange),
    /// Read the outbox and the others again.
    Refresh,
    /// Stop waiting out the backoff.
    Reconnect,
    Suspend,
    Redraw,
}

const HISTORY_PAGE: u32 = 50;

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    state.dirty = true;
    let mut fx = Vec::new();
    // Any other key between two `q`s asks again.
    if is_user(&action) && action != Action::Do(Command::Quit) {
        state.quit_armed = false;
    }
    match action {
        Action::Do(cmd) => {
            state.prefix = None;
            command(state, cmd, &mut fx);
        }
        Action::Prefix(code, mods) => {
            state.prefix = Some((code, mods));
        }
        Action::PrefixThen(cmd, code, _) => {
            state.prefix = None;
            command(state, cmd, &mut fx);
            let input = match code {
                KeyCode::Char(c) => Some(Input::Char(c)),
                KeyCode::Esc => Some(Input::Esc),
                KeyCode::Enter => Some(Input::Enter),
                KeyCode::Backspace => Some(Input::Back),
                _ => None,
            };
            if let (Mode::Jump { .. }, Some(input)) = (&state.mode, input) {
                jump_input(state, input, &mut fx);
            }
        }
        Action::Input(input) => match state.mode {
            Mode::Jump { .. } => jump_input(state, input, &mut fx),
            Mode::Pattern { .. } => pattern_input(state, input, &mut fx),
            Mode::Find { .. } => find_input(state, input, &mut fx),
            Mode::Manage(_) => manage_input(state, input, &mut fx),
            _ => entry_input(state, input, &mut fx),
        },
        Action::Panel(key) => panel(state, key, &mut fx),
        Action::Unbound(k) => {
            state.prefix = None;
            say(
                state,
                format!("`{k}` is no code and no command here; ? lists the keys"),
            );
        }
        Action::Click { x, y } => click(state, x, y, &mut fx),
        Action::Drag { x, y } => drag(state, x, y, &mut fx),
        Action::Paste(text) => paste_text(state, &text, &mut fx),
        Action::Wheel { down, sideways } => wheel(state, down, sideways),
        Action::Resize(w, h) => {
            state.size = (w, h);
            state.scroll_to_cursor();
        }
        Action::Tick => prune_flashes(state),
        Action::Sync(e) => sync_event(state, e, &mut fx),
        Action::Outbox(entries) => set_outbox(state, entries),
        Action::Others(list) => {
            state.others = list
                .into_iter()
                .map(|p| {
                    (
                        p.session,
                        Other {
                            user: p.user,
                            cursor: p.cursor,
                        },
                    )
                })
                .collect();
        }
        Action::Edited {
            op_id,
            what,
            targets,
        } => match op_id {
            Some(_) => {
                say(state, what);
                // Staff or codes changed: the grid's rows and codes too.
                let records = targets
                    .as_ref()
                    .is_none_or(|t| t.iter().any(|t| !matches!(t, Target::Cell { .. })));
                if records {
                    relayout(state);
                }
                recheck(state, targets.as_deref());
                // Mark the cells it wrote (pending) without waiting for the
                // engine's event.
                fx.push(Effect::Refresh);
            }
            None => say(state, "nothing to change".into()),
        },
        Action::Failed(m) => warn(state, m),
        Action::UndoChangedSince(n) => state.mode = Mode::ConfirmUndo { changed: n },
        Action::HistoryAsked(req) => {
            if let Mode::History(p) = &mut state.mode {
                p.waiting = Some(req);
            }
        }
        Action::HistoryUnavailable(m) => {
            if let Mode::History(p) = &mut state.mode {
                p.waiting = None;
                p.problem = Some(m);
            }
        }
        Action::UsersAsked(req) => {
            state.users.waiting = Some(req);
            state.users.problem = None;
        }
        Action::UsersUnavailable(m) => {
            state.users.waiting = None;
            state.users.problem = Some(m);
        }
    }
    fx
}

fn is_user(a: &Action) -> bool {
    matches!(
        a,
        Action::Do(_)
            | Action::Input(_)
            | Action::Panel(_)
            | Action::Prefix(..)
            | Action::PrefixThen(..)
            | Action::Unbound(_)
            | Action::Click { .. }
            | Action::Drag { .. }
            | Action::Paste(_)
    )
}

fn say(state: &mut State, m: String) {
    state.message = Some((m, false));
}

fn warn(state: &mut State, m: String) {
    state.message = Some((m, true));
}

fn command(state: &mut State, cmd: Command, fx: &mut Vec<Effect>) {
    let days = state.layout.days;
    let people = state.layout.staff.len();
    let page = state.grid_lines().saturating_sub(1).max(1);
    match cmd {
        Command::Left => move_to(state, None, Some(state.cursor.col.saturating_sub(1)), fx),
        Command::Right => move_to(state, None, Some(state.cursor.col + 1), fx),
        Command::Up => move_to(state, Some(state.cursor.person.saturating_sub(1)), None, fx),
        Command::Down => move_to(state, Some(state.cursor.person + 1), None, fx),
        Command::WeekForward => move_to(state, None, Some(state.cursor.col + 7), fx),
        Command::WeekBack => move_to(state, None, Some(state.cursor.col.saturating_sub(7)), fx),
        Command::PageDown => move_to(state, Some(state.cursor.person + page), None, fx),
        Command::PageUp => move_to(
            state,
            Some(state.cursor.person.saturating_sub(page)),
            None,
            fx,
        ),
        Command::FirstDate => move_to(state, None, Some(0), fx),
        Command::LastDate => move_to(state, None, Some(days.saturating_sub(1)), fx),
        Command::FirstPerson => move_to(state, Some(0), None, fx),
        Command::LastPerson => move_to(state, Some(people.saturating_sub(1)), None, fx),
        Command::Today => {
            let today = state.today;
            go_to_date(state, today, fx);
        }
        Command::Jump => {
            state.mode = Mode::Jump {
                query: String::new(),
                selected: 0,
            };
        }
        Command::Clear => set_code(state, None, fx),
        Command::CoverFold => {
            use super::state::CoverageShown::*;
            let next = match state.coverage_mode() {
                PerCode => Folded,
                Folded => Hidden,
                Hidden => PerCode,
            };
            state.coverage_shown = Some(next);
            state.scroll_to_cursor();
            say(
                state,
                match next {
                    PerCode => "coverage: a row per code".into(),
                    Folded => "coverage: one row, rules under (-) or over (+) each date".into(),
                    Hidden => "coverage rows hidden (z shows them)".into(),
                },
            );
        }
        Command::Select => {
            if state.anchor.take().is_none() {
                state.anchor = Some(state.cursor);
                say(
                    state,
                    "selecting: move to grow the block · a code fills it · x clears · y copies · s pattern · Esc stops".into(),
                );
            }
        }
        Command::SelectLeft | Command::SelectRight | Command::SelectUp | Command::SelectDown => {
            if state.anchor.is_none() {
                state.anchor = Some(state.cursor);
            }
            let c = state.cursor;
            match cmd {
                Command::SelectLeft => move_to(state, None, Some(c.col.saturating_sub(1)), fx),
                Command::SelectRight => move_to(state, None, Some(c.col + 1), fx),
                Command::SelectUp => move_to(state, Some(c.person.saturating_sub(1)), None, fx),
                _ => move_to(state, Some(c.person + 1), None, fx),
            }
        }
        Command::Yank => {
            let b = super::block::block_or_cursor(state);
            state.register = super::block::copy(state, b);
            state.anchor = None;
            say(
                state,
                format!(
                    "copied {} × {} (p pastes from the cursor)",
                    b.people(),
                    plural(b.days(), "date")
                ),
            );
        }
        Command::Paste => {
            if state.register.is_empty() {
                warn(
                    state,
                    "nothing copied yet: y copies the block or the cell".into(),
                );
                return;
            }
            let cells = state.register.clone();
            paste_cells(state, &cells, "pasted", fx);
        }
        Command::CopyLastWeek => {
            let (ops, (monday, sunday)) = super::block::last_week(state);
            let people = super::block::block_or_cursor(state).people();
            state.anchor = None;
            if ops.is_empty() {
                say(state, "this week already matches last week".into());
            } else {
                let what = format!(
                    "copied last week onto {} – {} for {}",
                    monday.0.format("%a %-d %b"),
                    sunday.0.format("%a %-d %b"),
                    plural(people, "person")
                );
                fx.push(Effect::Edit { ops, what });
            }
        }
        Command::Pattern => {
            state.mode = Mode::Pattern {
                typed: String::new(),
            }
        }
        Command::Find => {
            state.mode = Mode::Find {
                query: String::new(),
            }
        }
        Command::FindNext => match state.last_find.clone() {
            Some(q) => find(state, &q, true, fx),
            None => say(state, "/ finds a person first".into()),
        },
        Command::Filter => {
            let selected = state
                .filter_choices()
                .iter()
                .position(|f| *f == state.filter)
                .unwrap_or(0);
            state.mode = Mode::Filter { selected };
        }
        Command::Manage => {
            state.mode = Mode::Manage(super::forms::Manage {
                tab: super::forms::Tab::Staff,
                selected: 0,
                form: None,
                confirm_remove: false,
                adding_rule: false,
            })
        }
        Command::Undo => fx.push(Effect::Undo { anyway: false }),
        Command::Redo => fx.push(Effect::Redo),
        Command::NextConflict => {
            if state.troubles().is_empty() {
                say(state, "no conflicts and no rejected edits".into());
            } else {
                state.mode = Mode::Conflicts { index: 0 };
                show_trouble(state, 0, fx);
            }
        }
        Command::History => open_history(state, fx),
        Command::Help => state.mode = Mode::Help { scroll: 0 },
        Command::Quit => quit(state),
        Command::Redraw => fx.push(Effect::Redraw),
        Command::Suspend => fx.push(Effect::Suspend),
        Command::NextWarning => next_warning(state, fx),
        Command::Reconnect => {
            say(state, "reconnecting…".into());
            fx.push(Effect::Reconnect);
        }
    }
}

/// Moves the cursor (clamped to the grid) and tells the others.
fn move_to(state: &mut State, person: Option<usize>, col: Option<usize>, fx: &mut Vec<Effect>) {
    let before = state.cursor;
    if let Some(p) = person {
        state.cursor.person = p.min(state.layout.staff.len().saturating_sub(1));
    }
    if let Some(c) = col {
        state.cursor.col = c.min(state.layout.days.saturating_sub(1));
    }
    state.scroll_to_cursor();
    if state.cursor != before {
        share_cursor(state, fx);
    }
}

fn share_cursor(state: &State, fx: &mut Vec<Effect>) {
    let cursor = state.person().map(|p| Cursor {
        staff: p.id.clone(),
        date: state.cursor_date(),
    });
    fx.push(Effect::ShareCursor(cursor));
}

fn go_to_date(state: &mut State, date: Date, fx: &mut Vec<Effect>) {
    if state.layout.col_of(date).is_none() {
        let before = state.cursor_date();
        state.layout.include(date);
        state.cursor.col = state.layout.col_of(before).unwrap_or(0);
        state.left = 0;
    }
    let col = state.layout.col_of(date);
    move_to(state, None, col, fx);
}

/// Code entry: each key narrows the codes; one that fits and no longer one
/// starting with it sets the cell at once.
fn entry_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let mut typed = match &state.mode {
        Mode::Entry { typed } => typed.clone(),
        _ => String::new(),
    };
    match input {
        Input::Char(c) => typed.push(c),
        Input::Back => {
            typed.pop();
            if typed.is_empty() {
                state.mode = Mode::Normal;
                return;
            }
        }
        Input::Esc => {
            state.mode = Mode::Normal;
            return;
        }
        Input::Enter | Input::Tab => {
            let cands = state.candidates(&typed);
            let exact = cands.iter().find(|c| same_code(c, &typed)).copied();
            let pick = exact.or(if cands.len() == 1 {
                Some(cands[0])
            } else {
                None
            });
            match pick {
                Some(code) => {
                    let code = code.to_string();
                    state.mode = Mode::Normal;
                    set_code(state, Some(code), fx);
                }
                None if cands.is_empty() => unknown_code(state, &typed),
                None if input == Input::Tab => {
                    // Complete as far as the candidates agree.
                    let common = common_prefix(&cands);
                    if common.chars().count() > typed.chars().count() {
                        typed = common;
                    }
                    say(state, format!("one of: {}", cands.join(" ")));
                    state.mode = Mode::Entry { typed };
                }
                None => say(
                    state,
                    format!("`{typed}` could be {}: type more", cands.join(", ")),
                ),
            }
            return;
        }
        Input::Up | Input::Down => return,
    }
    let cands = state.candidates(&typed);
    match cands.as_slice() {
        [] => unknown_code(state, &typed),
        [one] if same_code(one, &typed) => {
            let code = one.to_string();
            state.mode = Mode::Normal;
            set_code(state, Some(code), fx);
        }
        _ => state.mode = Mode::Entry { typed },
    }
}

fn common_prefix(cands: &[&str]) -> String {
    let Some(first) = cands.first() else {
        return String::new();
    };
    let mut out = String::new();
    for (i, c) in first.chars().enumerate() {
        if cands.iter().all(|k| k.chars().nth(i) == Some(c)) {
            out.push(c);
        } else {
            break;
        }
    }
    out
}

fn unknown_code(state: &mut State, typed: &str) {
    state.mode = Mode::Normal;
    let known: Vec<&str> = state.layout.codes.keys().map(String::as_str).collect();
    warn(
        state,
        format!(
            "no code `{typed}`; codes here: {} (nothing changed)",
            known.join(" ")
        ),
    );
}

/// Sets (or clears) the cell under the cursor, then moves on.
fn set_code(state: &mut State, code: Option<String>, fx: &mut Vec<Effect>) {
    if let Some(b) = state.selection() {
        let ops = super::block::fill(state, b, code.as_deref());
        state.anchor = None;
        let cells = format!("{} × {}", b.people(), plural(b.days(), "date"));
        if ops.is_empty() {
            say(state, format!("the {cells} already hold that"));
            return;
        }
        let what = match &code {
            Some(c) => format!("filled {cells} with {c}"),
            None => format!("cleared {cells}"),
        };
        fx.push(Effect::Edit { ops, what });
        return;
    }
    let Some(person) = state.person().cloned() else {
        warn(state, "no staff in this roster yet".into());
        return;
    };
    let date = state.cursor_date();
    let what = match &code {
        Some(c) => format!("set {c} for {} on {}", person.name, show_date(date)),
        None => format!("cleared {} on {}", person.name, show_date(date)),
    };
    fx.push(Effect::Edit {
        ops: vec![Op::SetCell {
            staff: person.id,
            date,
            code: code.clone(),
            base: 0,
        }],
        what,
    });
    if code.is_some() {
        match state.advance() {
            Advance::Right => move_to(state, None, Some(state.cursor.col + 1), fx),
            Advance::Down => move_to(state, Some(state.cursor.person + 1), None, fx),
            Advance::None => {}
        }
    }
}

pub fn show_date(d: Date) -> String {
    d.0.format("%a %-d %b %Y").to_string()
}

/// Jump: a date (2026-12-24, 24, 24/12) or part of a person's name.
fn jump_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let Mode::Jump {
        mut query,
        mut selected,
    } = state.mode.clone()
    else {
        return;
    };
    match input {
        Input::Char('g') if query.is_empty() => {
            // `g g`: the first person.
            state.mode = Mode::Normal;
            move_to(state, Some(0), None, fx);
            return;
        }
        Input::Char(c) => {
            query.push(c);
            selected = 0;
        }
        Input::Back => {
            query.pop();
            selected = 0;
        }
        Input::Up => selected = selected.saturating_sub(1),
        Input::Down => selected += 1,
        Input::Tab => selected += 1,
        Input::Esc => {
            state.mode = Mode::Normal;
            return;
        }
        Input::Enter => {
            state.mode = Mode::Normal;
            if let Some(date) = parse_jump_date(&query, state.cursor_date()) {
                go_to_date(state, date, fx);
                return;
            }
            let matches = jump_matches(state, &query);
            match matches.get(selected.min(matches.len().saturating_sub(1))) {
                Some(&p) => move_to(state, Some(p), None, fx),
                None => warn(state, format!("no date and no person matches `{query}`")),
            }
            return;
        }
    }
    let n = jump_matches(state, &query).len();
    selected = selected.min(n.saturating_sub(1));
    state.mode = Mode::Jump { query, selected };
}

/// People whose name or id holds `query` (any case), in roster order.
pub fn jump_matches(state: &State, query: &str) -> Vec<usize> {
    let q = query.to_lowercase();
    if q.is_empty() {
        return Vec::new();
    }
    state
        .layout
        .staff
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name.to_lowercase().contains(&q) || p.id.to_lowercase().contains(&q))
        .map(|(i, _)| i)
        .collect()
}

/// A date typed as 2026-12-24, 24/12[/2026], 24.12. or 24 (in the month of
/// `near`).
pub fn parse_jump_date(s: &str, near: Date) -> Option<Date> {
    use chrono::{Datelike, NaiveDate};
    let s = s.trim().trim_end_matches('.');
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let parts: Vec<&str> = s.split(['/', '.']).collect();
    let num = |i: usize| parts.get(i).and_then(|p| p.trim().parse::<i32>().ok());
    let (day, month, year) = match parts.len() {
        1 => (num(0)?, near.0.month() as i32, near.0.year()),
        2 => (num(0)?, num(1)?, near.0.year()),
        3 => (num(0)?, num(1)?, num(2)?),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?).map(Date)
}

fn panel(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    let choices = match state.mode {
        Mode::Filter { .. } => state.filter_choices(),
        _ => Vec::new(),
    };
    match (&mut state.mode, key) {
        (Mode::Normal, PanelKey::Close) => {
            state.message = None;
            state.prefix = None;
            state.anchor = None;
        }
        (Mode::Filter { selected }, PanelKey::Down) => {
            *selected = (*selected + 1).min(choices.len().saturating_sub(1))
        }
        (Mode::Filter { selected }, PanelKey::Up) => *selected = selected.saturating_sub(1),
        (Mode::Filter { selected }, PanelKey::Choose) => {
            let choice = choices.get(*selected).cloned();
            state.mode = Mode::Normal;
            if let Some(f) = choice {
                set_filter(state, f, fx);
            }
        }
        (Mode::Manage(_), k) => manage_key(state, k, fx),
        (Mode::Help { scroll }, PanelKey::Down) => *scroll += 1,
        (Mode::Help { scroll }, PanelKey::Up) => *scroll = scroll.saturating_sub(1),
        (Mode::History(p), PanelKey::Down) => p.scroll += 1,
        (Mode::History(p), PanelKey::Up) => p.scroll = p.scroll.saturating_sub(1),
        (Mode::History(p), PanelKey::More) => match (&p.next, p.waiting) {
            (Some(next), None) => fx.push(Effect::History(HistoryQuery {
                staff: Some(p.staff.clone()),
                date: Some(p.date),
                before: Some(next.clone()),
                limit: Some(HISTORY_PAGE),
                ..HistoryQuery::default()
            })),
            (_, Some(_)) => {}
            (None, None) => say(state, "no older changes".into()),
        },
        (Mode::Conflicts { index }, PanelKey::Next) => {
            let next = *index + 1;
            let n = state.troubles().len().max(1);
            let i = next % n;
            state.mode = Mode::Conflicts { index: i };
            show_trouble(state, i, fx);
        }
        (
            Mode::Conflicts { index },
            k @ (PanelKey::KeepMine | PanelKey::KeepTheirs | PanelKey::Dismiss),
        ) => {
            let index = *index;
            let Some(entry) = state.troubles().get(index).map(|e| (*e).clone()) else {
                state.mode = Mode::Normal;
                return;
            };
            let conflicted = matches!(entry.state, EntryState::Conflict { .. });
            match (k, conflicted) {
                (PanelKey::KeepMine, true) => fx.push(Effect::KeepMine(entry.op_id)),
                (PanelKey::KeepTheirs, true) => fx.push(Effect::KeepTheirs(entry.op_id)),
                (PanelKey::Dismiss, false) => fx.push(Effect::Dismiss(entry.op_id)),
                (PanelKey::Dismiss, true) => {
                    say(state, "a conflict: keep mine (m) or keep theirs (t)".into())
                }
                _ => say(state, "a rejected edit: dismiss it with d".into()),
            }
        }
        (Mode::ConfirmUndo { .. }, PanelKey::Yes) => {
            state.mode = Mode::Normal;
            fx.push(Effect::Undo { anyway: true });
        }
        (Mode::ConfirmUndo { .. }, PanelKey::No) => {
            state.mode = Mode::Normal;
            say(state, "undo cancelled".into());
        }
        (_, PanelKey::Close) => state.mode = Mode::Normal,
        _ => {}
    }
}

/// Puts the cursor on the first cell a conflicted or rejected edit writes.
fn show_trouble(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let target = state.troubles().get(index).and_then(|e| {
        e.ops.iter().find_map(|op| match op.target() {
            Target::Cell { staff, date } => Some((staff, date)),
            _ => None,
        })
    });
    if let Some((staff, date)) = target {
        let person = state.layout.person_index(&staff);
        if state.layout.col_of(date).is_none() {
            state.layout.include(date);
        }
        let col = state.layout.col_of(date);
        move_to(state, person, col, fx);
    }
}

fn open_history(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(person) = state.person().cloned() else {
        return;
    };
    let date = state.cursor_date();
    let connected = matches!(state.conn, ConnState::Connected { .. });
    state.mode = Mode::History(HistoryPanel {
        staff: person.id.clone(),
        date,
        entries: Vec::new(),
        next: None,
        waiting: None,
        problem: (!connected).then(|| {
            "History is kept on the hub, and this editor is offline: it shows once connected."
                .to_string()
        }),
        scroll: 0,
    });
    if connected {
        fx.push(Effect::History(HistoryQuery {
            staff: Some(person.id),
            date: Some(date),
            limit: Some(HISTORY_PAGE),
            ..HistoryQuery::default()
        }));
    }
}

fn quit(state: &mut State) {
    let (pending, conflicted, _) = state.counts();
    let unsaved = pending + conflicted;
    if unsaved == 0 || state.quit_armed {
        state.quit = true;
        return;
    }
    state.quit_armed = true;
    warn(
        state,
        format!(
            "{unsaved} edit{} not yet on the hub; {} queued in the outbox (never lost) and sent next time. q again to quit",
            if unsaved == 1 { "" } else { "s" },
            if unsaved == 1 {
                "it stays"
            } else {
                "they stay"
            }
        ),
    );
}

/// The cell at a screen position, when it is one of the grid's.
fn cell_at(state: &State, x: u16, y: u16) -> Option<(usize, usize)> {
    let grid_x = state.layout.name_cols + 1;
    if y < 3 || x < grid_x || (y - 3) as usize >= state.grid_lines() {
        return None;
    }
    let line = state.top + (y - 3) as usize;
    let rel = ((x - grid_x) / state.col_cols()) as usize;
    if rel >= state.grid_cols() {
        return None;
    }
    let col = state.left + rel;
    match state.layout.lines.get(line) {
        Some(Line::Person(p)) if col < state.layout.days => Some((*p, col)),
        _ => None,
    }
}

fn click(state: &mut State, x: u16, y: u16, fx: &mut Vec<Effect>) {
    state.mode = Mode::Normal;
    state.anchor = None;
    if let Some((person, col)) = cell_at(state, x, y) {
        move_to(state, Some(person), Some(col), fx);
    }
}

/// A drag from the cell clicked: the block from there to here.
fn drag(state: &mut State, x: u16, y: u16, fx: &mut Vec<Effect>) {
    if let Some((person, col)) = cell_at(state, x, y) {
        if state.anchor.is_none() {
            state.anchor = Some(state.cursor);
        }
        move_to(state, Some(person), Some(col), fx);
    }
}

/// Cells laid from the block's corner (or the cursor) as one edit.
fn paste_cells(state: &mut State, cells: &super::block::Cells, verb: &str, fx: &mut Vec<Effect>) {
    let b = super::block::block_or_cursor(state);
    let at = super::state::Pos {
        person: b.top,
        col: b.left,
    };
    let (ops, cut) = super::block::paste(state, at, cells);
    state.anchor = None;
    let rows = cells.len();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let mut what = format!("{verb} {} × {}", rows, plural(cols, "date"));
    if cut > 0 {
        what.push_str(&format!(
            " ({cut} cell{} past the grid's edge left out)",
            if cut == 1 { "" } else { "s" }
        ));
    }
    if ops.is_empty() {
        warn(state, format!("nothing to paste here: {what}"));
    } else {
        fx.push(Effect::Edit { ops, what });
    }
}

/// Bracketed paste: into the text being typed, or as a block of codes.
fn paste_text(state: &mut State, text: &str, fx: &mut Vec<Effect>) {
    let first_line = text.lines().next().unwrap_or("").trim().to_string();
    match &mut state.mode {
        Mode::Jump { query, .. } | Mode::Find { query } => query.push_str(&first_line),
        Mode::Pattern { typed } => typed.push_str(&first_line),
        Mode::Manage(m) => {
            if let Some(f) = &mut m.form
                && f.editable(f.focus)
                && let Some(field) = f.fields.get_mut(f.focus)
            {
                field.value.push_str(&first_line);
                recheck_form(state);
            }
        }
        Mode::Normal | Mode::Entry { .. } => {
            state.mode = Mode::Normal;
            match super::block::parse_clipboard(state, text) {
                Ok(cells) => paste_cells(state, &cells, "pasted from the clipboard", fx),
                Err(m) => warn(state, format!("{m} (nothing changed)")),
            }
        }
        _ => {}
    }
}

/// `s`: a pattern typed, then laid over the block on Enter.
fn pattern_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let Mode::Pattern { typed } = &mut state.mode else {
        return;
    };
    match input {
        Input::Char(c) => typed.push(c),
        Input::Back => {
            typed.pop();
        }
        Input::Esc => state.mode = Mode::Normal,
        Input::Enter => {
            let typed = typed.clone();
            state.mode = Mode::Normal;
            let codes = crate::domain::parse_pattern(&typed).and_then(|codes| {
                codes
                    .iter()
                    .map(|c| super::block::known_code(state, c))
                    .collect::<Result<Vec<String>, String>>()
            });
            match codes {
                Ok(codes) => {
                    let ops = super::block::pattern(state, &codes);
                    let b = super::block::block_or_cursor(state);
                    state.anchor = None;
                    let what = format!(
                        "laid {} over {}",
                        codes.join(","),
                        plural(b.people(), "person")
                    );
                    fx.push(Effect::Edit { ops, what });
                }
                Err(m) => warn(state, format!("{m} (nothing changed)")),
            }
        }
        _ => {}
    }
}

/// `/`: the cursor follows the first name holding what is typed.
fn find_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let Mode::Find { query } = &mut state.mode else {
        return;
    };
    match input {
        Input::Char(c) => query.push(c),
        Input::Back => {
            query.pop();
        }
        Input::Esc | Input::Enter => {
            let q = query.clone();
            state.mode = Mode::Normal;
            if !q.is_empty() {
                state.last_find = Some(q);
            }
            return;
        }
        Input::Tab | Input::Down => {
            let q = query.clone();
            find(state, &q, true, fx);
            return;
        }
        Input::Up => return,
    }
    let q = query.clone();
    find(state, &q, false, fx);
}

/// Moves to the next person (from the cursor's, or after it) whose name
/// holds `q`, wrapping round.
fn find(state: &mut State, q: &str, after: bool, fx: &mut Vec<Effect>) {
    let n = state.layout.staff.len();
    if q.is_empty() || n == 0 {
        return;
    }
    let q = q.to_lowercase();
    let start = state.cursor.person + usize::from(after);
    let hit = (0..n)
        .map(|i| (start + i) % n)
        .find(|&p| state.layout.staff[p].name.to_lowercase().contains(&q));
    match hit {
        Some(p) => {
            move_to(state, Some(p), None, fx);
            state.message = None;
        }
        None => warn(state, format!("no one here is called `{q}`")),
    }
}

fn set_filter(state: &mut State, f: super::state::Filter, fx: &mut Vec<Effect>) {
    state.filter = f;
    state.anchor = None;
    relayout(state);
    let shown = state.layout.staff.len();
    say(
        state,
        format!(
            "showing {} ({})",
            state.filter.describe(),
            plural(shown, "person")
        ),
    );
    share_cursor(state, fx);
}

fn recheck_form(state: &mut State) {
    let view = state.view.clone();
    if let Mode::Manage(m) = &mut state.mode
        && let Some(f) = &mut m.form
    {
        f.errors = view.read(|r| f.check(r).err().unwrap_or_default());
    }
}

/// Keys in the manage panel's list (a form takes text input instead).
fn manage_key(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    use super::forms::{Form, FormKind, Tab, list};
    let view = state.view.clone();
    let users = state.users.users.clone();
    let Mode::Manage(m) = &mut state.mode else {
        return;
    };
    let items = if m.tab == Tab::Users {
        super::forms::user_lines(&users)
    } else {
        view.read(|r| list(r, m.tab))
    };
    let key_of = items.get(m.selected).map(|(k, _)| k.clone());
    if m.confirm_remove {
        m.confirm_remove = false;
        if key != PanelKey::Yes {
            return;
        }
        let Some(k) = key_of else { return };
        if m.tab == Tab::Users {
            fx.push(Effect::SetRole(super::forms::RoleChange {
                user: k,
                role: None,
                create: false,
            }));
            return;
        }
        let (op, what) = view.read(|r| match m.tab {
            Tab::Users => unreachable!("handled above"),
            Tab::Staff => (
                Op::RemoveStaff {
                    id: k.clone(),
                    base: r.staff_member(&k).map(|s| s.seq),
                },
                format!(
                    "removed {} (their history is kept)",
                    r.staff_member(&k).map_or(k.as_str(), |s| s.name.as_str())
                ),
            ),
            Tab::Codes => (
                Op::RemoveCode {
                    code: k.clone(),
                    base: r.code(&k).map(|c| c.seq),
                },
                format!("removed code {k}"),
            ),
            Tab::Rules => (
                Op::RemoveRule {
                    id: k.clone(),
                    base: r.rule(&k).map(|x| x.seq),
                },
                format!("removed rule {k}"),
            ),
        });
        fx.push(Effect::Edit {
            ops: vec![op],
            what,
        });
        return;
    }
    match key {
        PanelKey::Close => {
            state.mode = Mode::Normal;
            // A new user's token is shown once.
            state.users.token = None;
        }
        PanelKey::NextTab => {
            m.tab = m.tab.next();
            m.selected = 0;
            if m.tab == Tab::Users {
                fx.push(Effect::AskUsers);
            }
        }
        PanelKey::Down => m.selected = (m.selected + 1).min(items.len().saturating_sub(1)),
        PanelKey::Up => m.selected = m.selected.saturating_sub(1),
        PanelKey::Add => match m.tab {
            Tab::Staff => m.form = Some(Form::add_staff()),
            Tab::Codes => m.form = Some(Form::code(None)),
            Tab::Rules => m.adding_rule = true,
            Tab::Users => m.form = Some(Form::user(None)),
        },
        PanelKey::Choose => {
            let Some(k) = key_of else { return };
            m.form = view.read(|r| match m.tab {
                Tab::Users => users
                    .iter()
                    .find(|u| u.user == k)
                    .map(|u| Form::user(Some(u))),
                Tab::Staff => r.staff_member(&k).map(Form::edit_staff),
                Tab::Codes => Some(Form::code(r.code(&k))),
                Tab::Rules => r.rule(&k).map(|x| Form::rule(FormKind::Staffing, Some(x))),
            });
        }
        PanelKey::Remove if key_of.is_some() => m.confirm_remove = true,
        PanelKey::MoveUp | PanelKey::MoveDown if m.tab == Tab::Staff => {
            let up = key == PanelKey::MoveUp;
            let other = if up {
                m.selected.checked_sub(1)
            } else {
                Some(m.selected + 1).filter(|i| *i < items.len())
            };
            let (Some(a), Some(b)) = (
                key_of,
                other.and_then(|i| items.get(i)).map(|x| x.0.clone()),
            ) else {
                return;
            };
            let ops = view.read(|r| {
                let (Some(sa), Some(sb)) = (r.staff_member(&a), r.staff_member(&b)) else {
                    return Vec::new();
                };
                // The grid keeps a group together: order within it.
                if sa.group != sb.group {
                    return Vec::new();
                }
                let (oa, ob) = if sa.order != sb.order {
                    (sb.order, sa.order)
                } else if up {
                    (sb.order - 1, sb.order)
                } else {
                    (sb.order + 1, sb.order)
                };
                [(sa, oa), (sb, ob)]
                    .into_iter()
                    .map(|(s, order)| Op::UpdateStaff {
                        id: s.id.clone(),
                        name: None,
                        group: None,
                        order: Some(order),
                        base: Some(s.seq),
                    })
                    .collect()
            });
            if ops.is_empty() {
                warn(
                    state,
                    "the grid keeps each group together: change the person's group to move them into another".into(),
                );
                return;
            }
            m.selected = other.unwrap_or(m.selected);
            fx.push(Effect::Edit {
                ops,
                what: format!("moved {} {}", a, if up { "up" } else { "down" }),
            });
        }
        _ => {}
    }
    recheck_form(state);
}

/// Text keys in the manage panel: a form's fields, or the kind of a new
/// rule (s staffing, f forbidden sequence, l limit).
fn manage_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    use super::forms::{Form, FormKind};
    let view = state.view.clone();
    let Mode::Manage(m) = &mut state.mode else {
        return;
    };
    if m.adding_rule {
        m.adding_rule = false;
        let kind = match input {
            Input::Char('s') => FormKind::Staffing,
            Input::Char('f') => FormKind::Sequence,
            Input::Char('l') => FormKind::Limit,
            _ => return,
        };
        m.form = Some(Form::rule(kind, None));
        recheck_form(state);
        return;
    }
    let Some(form) = &mut m.form else {
        return;
    };
    match input {
        Input::Char(c) => {
            if form.editable(form.focus)
                && let Some(f) = form.fields.get_mut(form.focus)
            {
                f.value.push(c);
            }
        }
        Input::Back => {
            if form.editable(form.focus)
                && let Some(f) = form.fields.get_mut(form.focus)
            {
                f.value.pop();
            }
        }
        Input::Tab | Input::Down => form.focus = (form.focus + 1) % form.fields.len().max(1),
        Input::Up => {
            form.focus = form
                .focus
                .checked_sub(1)
                .unwrap_or(form.fields.len().saturating_sub(1))
        }
        Input::Esc => {
            m.form = None;
            return;
        }
        Input::Enter if matches!(form.kind, FormKind::User { .. }) => {
            match form.role_change() {
                Ok(change) => {
                    m.form = None;
                    if change.create {
                        state.users.creating = Some(change.user.clone());
                    }
                    fx.push(Effect::SetRole(change));
                }
                Err(errors) => {
                    if let Some((i, _)) = errors.first() {
                        form.focus = *i;
                    }
                    form.errors = errors;
                }
            }
            return;
        }
        Input::Enter => {
            match view.read(|r| form.check(r)) {
                Ok(op) => {
                    let what = format!("{}: saved", form.title());
                    m.form = None;
                    fx.push(Effect::Edit {
                        ops: vec![op],
                        what,
                    });
                }
                Err(errors) => {
                    if let Some((i, _)) = errors.first() {
                        form.focus = *i;
                    }
                    form.errors = errors;
                }
            }
            return;
        }
    }
    recheck_form(state);
}

fn wheel(state: &mut State, down: bool, sideways: bool) {
    const STEP: usize = 3;
    if sideways {
        let max = state.layout.days.saturating_sub(state.grid_cols());
        state.left = if down {
            (state.left + STEP).min(max)
        } else {
            state.left.saturating_sub(STEP)
        };
    } else {
        let max = state.layout.lines.len().saturating_sub(state.grid_lines());
        state.top = if down {
            (state.top + STEP).min(max)
        } else {
            state.top.saturating_sub(STEP)
        };
    }
}

fn prune_flashes(state: &mut State) {
    let now = state.now;
    state.flashes.retain(|_, row| {
        row.retain(|_, (at, _)| now - *at < super::state::FLASH_MS);
        !row.is_empty()
    });
}

fn sync_event(state: &mut State, e: SyncEvent, fx: &mut Vec<Effect>) {
    match e {
        SyncEvent::Connection(c) => {
            match &c {
                ConnState::Connected { .. } => {
                    state.offline_since = None;
                    state.retry_at = None;
                    fx.push(Effect::Refresh);
                    // The hub learns where this editor's cursor is.
                    share_cursor(state, fx);
                }
                ConnState::Retrying { retry_in, .. } => {
                    state.offline_since.get_or_insert(state.now);
                    state.retry_at = Some(state.now + retry_in.as_millis() as i64);
                    state.others.clear();
                }
                ConnState::Offline { .. } | ConnState::Refused { .. } => {
                    state.offline_since.get_or_insert(state.now);
                    state.retry_at = None;
                    state.others.clear();
                }
                ConnState::Connecting { .. } => {}
            }
            state.conn = c;
        }
        SyncEvent::Remote {
            user,
            changes,
            count,
            ..
        } => {
            // A batch too large to be listed (an import): lay the grid out
            // again; its cells are not highlighted one by one.
            let mut records = changes.len() < count;
            if records {
                say(state, format!("{user} changed {count} cells"));
            }
            for c in &changes {
                match c.target() {
                    Target::Cell { staff, date } => {
                        state.layout.include(date);
                        state
                            .flashes
                            .entry(staff)
                            .or_default()
                            .insert(date, (state.now, user.clone()));
                    }
                    _ => records = true,
                }
            }
            if records {
                relayout(state);
                recheck(state, None);
            } else {
                let targets: Vec<Target> = changes.iter().map(|c| c.target()).collect();
                recheck(state, Some(&targets));
            }
        }
        SyncEvent::Resynced { .. } => {
            relayout(state);
            recheck(state, None);
            fx.push(Effect::Refresh);
        }
        SyncEvent::Acked { overwritten, .. } => {
            if !overwritten.is_empty() {
                warn(
                    state,
                    format!(
                        "your edit overwrote {} change(s) by others (last writer wins)",
                        overwritten.len()
                    ),
                );
            }
            fx.push(Effect::Refresh);
        }
        SyncEvent::Conflicted { conflicts, .. } => {
            // The view dropped the edit: look again.
            recheck(state, None);
            let who = conflicts
                .first()
                .map(|c| c.user.clone())
                .unwrap_or_default();
            warn(
                state,
                format!("conflict: {who} changed a cell you edited first; c to resolve"),
            );
            fx.push(Effect::Refresh);
        }
        SyncEvent::Rejected { message, .. } => {
            recheck(state, None);
            warn(state, format!("edit rejected: {message}; c to see it"));
            fx.push(Effect::Refresh);
        }
        SyncEvent::Queued { .. } | SyncEvent::Outbox { .. } | SyncEvent::AllSaved => {
            fx.push(Effect::Refresh);
        }
        SyncEvent::Presence(p) => {
            state.others.insert(
                p.session,
                Other {
                    user: p.user,
                    cursor: p.cursor,
                },
            );
        }
        SyncEvent::Left { session, .. } => {
            state.others.remove(&session);
        }
        SyncEvent::History { req, entries, next } => {
            if let Mode::History(p) = &mut state.mode
                && p.waiting == Some(req)
            {
                p.waiting = None;
                p.entries.extend(entries);
                p.next = next;
            }
        }
        SyncEvent::Users { req, users, token } => {
            if state.users.waiting == Some(req) {
                let creating = state.users.creating.take();
                state.users.waiting = None;
                state.users.problem = None;
                state.users.users = users;
                if let (Some(user), Some(token)) = (creating, token) {
                    state.users.token = Some((user, token));
                }
            }
        }
        SyncEvent::RequestFailed { req, message } if state.users.waiting == Some(req) => {
            state.users.waiting = None;
            state.users.creating = None;
            state.users.problem = Some(message);
        }
        SyncEvent::RequestFailed { req, message } => {
            if let Mode::History(p) = &mut state.mode
                && p.waiting == Some(req)
            {
                p.waiting = None;
                p.problem = Some(message);
            }
        }
    }
}

/// The rule findings after an edit of `targets` (None: anything may have
/// changed), read from the view.
pub fn recheck(state: &mut State, targets: Option<&[Target]>) {
    let view = state.view.clone();
    view.read(|r| match targets {
        Some(t) => state.findings.update(r, t),
        None => state.findings = crate::domain::rules::Findings::new(r),
    });
    state.finding_at = None;
    // Who has warnings changes with every edit.
    if state.filter == super::state::Filter::Warned {
        relayout(state);
    }
}

/// `!`: the cursor to the next finding, its sentence in the status line.
fn next_warning(state: &mut State, fx: &mut Vec<Effect>) {
    let all = state.findings.all();
    if all.is_empty() {
        say(state, "no rule warnings".into());
        return;
    }
    let i = state.finding_at.map_or(0, |i| (i + 1) % all.len());
    let f = all[i].clone();
    let n = all.len();
    state.finding_at = Some(i);
    let person = f.staff.first().and_then(|id| state.layout.person_index(id));
    if state.layout.col_of(f.first).is_none() {
        state.layout.include(f.first);
    }
    let col = state.layout.col_of(f.first);
    move_to(state, person, col, fx);
    warn(state, format!("{} of {n}: {}", i + 1, f.message()));
}

/// Staff or codes changed: lay the grid out again, keeping the cursor on
/// the same person and date.
pub fn relayout(state: &mut State) {
    let person = state.person().map(|p| p.id.clone());
    let date = state.cursor_date();
    let mut layout = state.view.read(|r| {
        Layout::build(
            r,
            state.today,
            &state.config,
            &state.filter,
            &state.findings,
        )
    });
    layout.include(date);
    state.cursor.person = person
        .and_then(|id| layout.person_index(&id))
        .unwrap_or(state.cursor.person)
        .min(layout.staff.len().saturating_sub(1));
    state.cursor.col = layout.col_of(date).unwrap_or(0);
    state.layout = layout;
    state.scroll_to_cursor();
}

/// The outbox as the engine has it now: marks for the cells it writes.
fn set_outbox(state: &mut State, entries: Vec<OutboxEntry>) {
    let mut marks: std::collections::HashMap<String, BTreeMap<Date, Mark>> = Default::default();
    for e in &entries {
        for op in &e.ops {
            let Op::SetCell {
                staff, date, code, ..
            } = op
            else {
                continue;
            };
            let mark = match &e.state {
                EntryState::Pending => Mark::Pending,
                EntryState::Conflict { conflicts } => {
                    let theirs = conflicts.iter().find(|c| {
                        matches!(&c.target, Target::Cell { staff: s, date: d } if s == staff && d == date)
                    });
                    Mark::Conflict {
                        op_id: e.op_id,
                        mine: code.clone(),
                        theirs: theirs.and_then(|c| c.value.as_str().map(str::to_string)),
                        user: theirs.map(|c| c.user.clone()).unwrap_or_default(),
                        at: theirs.map_or(0, |c| c.at),
                    }
                }
                EntryState::Rejected { message, .. } => Mark::Rejected {
                    op_id: e.op_id,
                    reason: message.clone(),
                },
            };
            marks.entry(staff.clone()).or_default().insert(*date, mark);
        }
    }
    state.marks = marks;
    state.outbox = entries;
    if let Mode::Conflicts { index } = state.mode {
        let n = state.troubles().len();
        if n == 0 {
            state.mode = Mode::Normal;
            say(state, "no conflicts left".into());
        } else {
            state.mode = Mode::Conflicts {
                index: index.min(n - 1),
            };
        }
    }
}

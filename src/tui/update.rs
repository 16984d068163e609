//! `update`: an action in (a key's, the mouse's, the sync engine's, a
//! timer's), the state changed, effects out (edits and requests for the
//! sync engine, terminal chores). No I/O and no clock here: the app loop
//! sets `state.now` and carries the effects out.

use super::config::Advance;
use super::keys::Command;
use super::state::{HistoryPanel, Layout, Line, Mark, Mode, Other, State, same_code};
use crate::domain::{Date, Op, Target};
use crate::protocol::{Cursor, HistoryQuery, PresenceInfo};
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
    match (&mut state.mode, key) {
        (Mode::Normal, PanelKey::Close) => {
            state.message = None;
            state.prefix = None;
        }
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

fn click(state: &mut State, x: u16, y: u16, fx: &mut Vec<Effect>) {
    state.mode = Mode::Normal;
    let grid_x = state.layout.name_cols + 1;
    if y < 3 || x < grid_x {
        return;
    }
    let line = state.top + (y - 3) as usize;
    let col = state.left + ((x - grid_x) / state.col_cols()) as usize;
    let person = match state.layout.lines.get(line) {
        Some(Line::Person(p)) => *p,
        _ => return,
    };
    if col < state.layout.days {
        move_to(state, Some(person), Some(col), fx);
    }
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
                ConnState::Offline { .. } => {
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
    let mut layout = state
        .view
        .read(|r| Layout::build(r, state.today, &state.config));
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

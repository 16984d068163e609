//! `update` in the grid: commands, moves, typing codes, the mouse.

use super::*;
use crate::action::Command;
use crate::action::{Effect, Input};
use crate::config::Advance;
use crate::state::*;
use crate::typing::same_code;
use rota_core::domain::{Date, Op};
use rota_core::protocol::Cursor;
use rota_script::diff::plural;
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn command(state: &mut State, cmd: Command, fx: &mut Vec<Effect>) {
    let days = state.layout.days;
    let people = state.layout.staff.len();
    let page = state.grid_lines().saturating_sub(1).max(1);
    // What would change cells is refused at its key when the role does
    // not allow it (not after a prompt is filled in).
    if matches!(
        cmd,
        Command::Clear | Command::Paste | Command::CopyLastWeek | Command::Pattern
    ) && let Some(why) = cell_refusal(state)
    {
        warn(state, why);
        return;
    }
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
        // The planning period's first (last) date, then the grid's.
        // (From wherever the cursor is: pressed on the period's first
        // date, it goes on to the grid's.)
        Command::FirstDate => match state.view.read(|r| r.period()) {
            Some(p) if state.cursor_date() != p.from => go_to_date(state, p.from, fx),
            _ => move_to(state, None, Some(0), fx),
        },
        Command::LastDate => match state.view.read(|r| r.period()) {
            Some(p) if state.cursor_date() != p.to => go_to_date(state, p.to, fx),
            _ => move_to(state, None, Some(days.saturating_sub(1)), fx),
        },
        Command::FirstPerson => move_to(state, Some(0), None, fx),
        Command::LastPerson => move_to(state, Some(people.saturating_sub(1)), None, fx),
        Command::Today => {
            let today = state.today;
            go_to_date(state, today, fx);
            state.show_near_left(state.cursor.col);
        }
        Command::Jump => {
            state.mode = Mode::Jump {
                query: String::new(),
                selected: 0,
            };
        }
        // On an empty cell that holds a proposal (and no block), `x`
        // discards the proposal.
        Command::Clear if state.selection().is_none() && super::fill::proposal_here(state) => {
            super::fill::discard_here(state, fx)
        }
        Command::Clear => set_code(state, None, fx),
        Command::CoverFold => {
            use crate::state::CoverageShown::*;
            let next = match state.coverage_mode() {
                PerCode => Folded,
                Folded => Hidden,
                Hidden => PerCode,
            };
            state.coverage_shown = Some(next);
            state.scroll_to_cursor();
            let shown = state.coverage_mode();
            say(
                state,
                match (next, shown) {
                    (PerCode, PerCode) => "coverage: a row per code".into(),
                    (PerCode, _) => format!(
                        "coverage: the {} rows of codes do not fit beside the people: folded (z again hides them)",
                        state.findings.coverage_rows().len()
                    ),
                    (Folded, _) => {
                        "coverage: one row, rules under (-) or over (+) each date".into()
                    }
                    (Hidden, _) => "coverage rows hidden (z shows them)".into(),
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
            let b = crate::block::block_or_cursor(state);
            if let Some(why) = too_big(b.people() * b.days()) {
                warn(state, why);
                return;
            }
            state.register = crate::block::copy(state, b);
            state.anchor = None;
            say(
                state,
                format!(
                    "copied {} × {} (p pastes from the cursor)",
                    plural(b.people(), "person"),
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
            let (ops, (monday, sunday)) = crate::block::last_week(state);
            let people = crate::block::block_or_cursor(state).people();
            state.anchor = None;
            if ops.is_empty() {
                say(state, "this week already matches last week".into());
            } else {
                let what = format!(
                    "copied last week onto {} – {} for {}{}",
                    monday.0.format("%a %-d %b"),
                    sunday.0.format("%a %-d %b"),
                    plural(people, "person"),
                    replaced(state, &ops)
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
        Command::EnterCode => match cell_refusal(state) {
            Some(why) => warn(state, why),
            None => {
                state.mode = Mode::Entry {
                    typed: String::new(),
                    opened: true,
                }
            }
        },
        Command::Warnings => {
            state.mode = Mode::Warnings(WarningsPanel {
                all: false,
                selected: 0,
            });
        }
        Command::Request => open_request(state),
        Command::Requests => open_requests(state),
        Command::Shifts => open_shifts(state),
        Command::NextUnpublished => step_unpublished(state, true, fx),
        Command::PreviousUnpublished => step_unpublished(state, false, fx),
        Command::Publish => open_publish(state),
        Command::Fill => super::fill::start(state, fx),
        Command::AcceptProposals => super::fill::accept(state, fx),
        Command::DiscardProposals => super::fill::discard(state, fx),
        Command::Manage => {
            state.mode = Mode::Manage(crate::forms::Manage {
                tab: crate::forms::Tab::Staff,
                selected: 0,
                form: None,
                confirm_remove: false,
                adding_rule: false,
            })
        }
        Command::Undo => {
            state.reveal_at = Some(state.keys_taken);
            fx.push(Effect::Undo { anyway: false });
        }
        Command::Redo => {
            state.reveal_at = Some(state.keys_taken);
            fx.push(Effect::Redo);
        }
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
            say(state, super::sync::RECONNECTING.into());
            fx.push(Effect::Reconnect);
        }
    }
}

/// Moves the cursor (clamped to the grid) and tells the others.
pub(super) fn move_to(
    state: &mut State,
    person: Option<usize>,
    col: Option<usize>,
    fx: &mut Vec<Effect>,
) {
    let before = state.cursor;
    if let Some(p) = person {
        state.cursor.person = p.min(state.layout.staff.len().saturating_sub(1));
    }
    if let Some(c) = col {
        // Past the last date the grid grows (within reach of today): a
        // week typed from its last date goes on, never onto one cell.
        if c >= state.layout.days {
            let date = state.layout.date(c);
            state.include(date);
        }
        state.cursor.col = c.min(state.layout.days.saturating_sub(1));
    }
    state.scroll_to_cursor();
    if state.cursor != before {
        share_cursor(state, fx);
    }
}

pub(super) fn share_cursor(state: &State, fx: &mut Vec<Effect>) {
    let cursor = state.person().map(|p| Cursor {
        staff: p.id.clone(),
        date: state.cursor_date(),
    });
    fx.push(Effect::ShareCursor(cursor));
}

pub(super) fn go_to_date(state: &mut State, date: Date, fx: &mut Vec<Effect>) {
    if state.layout.col_of(date).is_none() && !state.include(date) {
        let (low, high) = crate::state::reach(state.today);
        warn(
            state,
            format!(
                "{} is too far: the grid reaches from {} to {} ({} years each side of today)",
                show_date(date),
                show_date(low),
                show_date(high),
                crate::state::REACH_YEARS
            ),
        );
        return;
    }
    // A date off screen comes in near the left, as today does with `t`.
    let col = state.layout.col_of(date);
    let on_screen = col.is_some_and(|c| c >= state.left && c < state.left + state.grid_cols());
    if let (Some(c), false) = (col, on_screen) {
        state.show_near_left(c);
    }
    move_to(state, None, col, fx);
}

/// Why a block of `cells` cells is refused: more than one edit may carry
/// (and more than the editor holds well in memory to copy).
pub(super) fn too_big(cells: usize) -> Option<String> {
    let max = rota_core::protocol::MAX_OPS_PER_CHANGE_SET;
    (cells > max).then(|| {
        format!("that block is {cells} cells; one edit takes at most {max}: select fewer people or dates")
    })
}

/// Why this editor's role does not let it change cells (None: it does).
pub(super) fn cell_refusal(state: &State) -> Option<String> {
    state.refusal(&[Op::SetCell {
        staff: String::new(),
        date: state.cursor_date(),
        code: None,
        base: 0,
    }])
}

/// Code entry: each key narrows the codes; one that fits and no longer one
/// starting with it sets the cell at once. A key that starts no code is
/// refused and the entry stays open (the keys after a typo are never taken
/// for commands).
pub(super) fn entry_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let (mut typed, opened) = match &state.mode {
        Mode::Entry { typed, opened } => (typed.clone(), *opened),
        _ => (String::new(), false),
    };
    if typed.is_empty()
        && let Some(why) = cell_refusal(state)
    {
        // Said at the first key, not after a whole code is typed.
        state.mode = Mode::Normal;
        warn(state, why);
        return;
    }
    match input {
        Input::Char(c) => {
            let mut longer = typed.clone();
            longer.push(c);
            if state.candidates(&longer).is_empty() {
                state.mode = Mode::Entry {
                    typed: typed.clone(),
                    opened,
                };
                unknown_code(state, &typed, &longer);
                return;
            }
            typed = longer;
        }
        Input::Back => {
            typed.pop();
            if typed.is_empty() && !opened {
                state.mode = Mode::Normal;
                return;
            }
            state.mode = Mode::Entry { typed, opened };
            return;
        }
        Input::Esc => {
            state.mode = Mode::Normal;
            return;
        }
        Input::Enter | Input::Tab => {
            let cands = state.candidates(&typed);
            // The code as typed, case and all, else one that differs only
            // in the case of its letters.
            let exact = cands
                .iter()
                .find(|c| **c == typed)
                .or_else(|| cands.iter().find(|c| same_code(c, &typed)))
                .copied();
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
                None if cands.is_empty() => unknown_code(state, "", &typed),
                None if typed.is_empty() && input == Input::Enter => warn(
                    state,
                    "type a code first (Esc leaves; x clears a cell)".into(),
                ),
                None if input == Input::Tab => {
                    // Complete as far as the candidates agree.
                    let common = common_prefix(&cands);
                    if common.chars().count() > typed.chars().count() {
                        typed = common;
                    }
                    say(state, format!("one of: {}", cands.join(" ")));
                    state.mode = Mode::Entry { typed, opened };
                }
                None => warn(
                    state,
                    format!(
                        "`{typed}` is no code; it starts {}: type more (Tab completes, Esc leaves)",
                        cands.join(", ")
                    ),
                ),
            }
            return;
        }
        Input::Up | Input::Down | Input::Clear => return,
    }
    let cands = state.candidates(&typed);
    match cands.as_slice() {
        [one] if same_code(one, &typed) => {
            let code = one.to_string();
            state.mode = Mode::Normal;
            set_code(state, Some(code), fx);
        }
        _ => state.mode = Mode::Entry { typed, opened },
    }
}

pub(super) fn common_prefix(cands: &[&str]) -> String {
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

/// Says that `tried` starts no code (what was typed before it, `kept`,
/// stays typed).
pub(super) fn unknown_code(state: &mut State, kept: &str, tried: &str) {
    let known: Vec<&str> = if kept.is_empty() {
        state.layout.codes.keys().map(String::as_str).collect()
    } else {
        state.candidates(kept)
    };
    let which = if kept.is_empty() {
        "codes here"
    } else {
        "it could be"
    };
    warn(
        state,
        format!(
            "no code starts with `{tried}`; {which}: {} (Esc leaves)",
            known.join(" ")
        ),
    );
}

/// Sets (or clears) the cell under the cursor, then moves on.
pub(super) fn set_code(state: &mut State, code: Option<String>, fx: &mut Vec<Effect>) {
    if let Some(b) = state.selection() {
        if let Some(why) = too_big(b.people() * b.days()) {
            warn(state, why);
            return;
        }
        let ops = crate::block::fill(state, b, code.as_deref());
        state.anchor = None;
        let cells = format!(
            "{} × {}",
            plural(b.people(), "person"),
            plural(b.days(), "date")
        );
        if ops.is_empty() {
            say(state, format!("the {cells} already hold that"));
            return;
        }
        let what = match &code {
            Some(c) => format!("filled {cells} with {c}{}", replaced(state, &ops)),
            None => format!("cleared {cells}{}", replaced(state, &ops)),
        };
        fx.push(Effect::Edit { ops, what });
        return;
    }
    let Some(person) = state.person().cloned() else {
        warn(state, "no staff in this roster yet".into());
        return;
    };
    let date = state.cursor_date();
    let mut what = match &code {
        Some(c) => format!("set {c} for {} on {}", person.name, show_date(date)),
        None => format!("cleared {} on {}", person.name, show_date(date)),
    };
    if state
        .view
        .read(|r| r.period())
        .is_some_and(|p| !p.contains(date))
    {
        what.push_str(" (outside the planning period: no rule checks it)");
    }
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
        let before = state.cursor;
        match state.advance() {
            Advance::Right => move_to(state, None, Some(state.cursor.col + 1), fx),
            Advance::Down => move_to(state, Some(state.cursor.person + 1), None, fx),
            Advance::None => return,
        }
        if state.cursor == before {
            let (_, high) = crate::state::reach(state.today);
            let end = match state.advance() {
                Advance::Down => "the last person".to_string(),
                _ => format!("{}, as far as the grid reaches", show_date(high)),
            };
            // Said with the edit (its message replaces what is said now).
            if let Some(Effect::Edit { what, .. }) = fx
                .iter_mut()
                .rev()
                .find(|e| matches!(e, Effect::Edit { .. }))
            {
                what.push_str(&format!("; the cursor stays: this is {end}"));
            }
        }
    }
}

/// " (replacing AL ×1, N ×4)": the codes `ops` write over, and how many
/// of its cells fall outside the planning period (no rule checks them);
/// or nothing.
pub(super) fn replaced(state: &State, ops: &[Op]) -> String {
    let mut over: BTreeMap<String, usize> = BTreeMap::new();
    let mut outside = 0;
    state.view.read(|r| {
        let period = r.period();
        for op in ops {
            if let Op::SetCell {
                staff, date, code, ..
            } = op
            {
                if period.is_some_and(|p| !p.contains(*date)) {
                    outside += 1;
                }
                if let Some((Some(old), _)) = r.cell(staff, *date)
                    && code.as_deref() != Some(old)
                {
                    *over.entry(old.to_string()).or_default() += 1;
                }
            }
        }
    });
    let mut out = String::new();
    if !over.is_empty() {
        let parts: Vec<String> = over.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        out.push_str(&format!(" (replacing {})", parts.join(", ")));
    }
    if outside > 0 {
        out.push_str(&format!(
            " ({} outside the planning period: no rule checks {})",
            plural(outside, "cell"),
            if outside == 1 { "it" } else { "them" }
        ));
    }
    out
}

pub fn show_date(d: Date) -> String {
    d.0.format("%a %-d %b %Y").to_string()
}

pub(super) fn quit(state: &mut State) {
    // A fill's search would be dropped: asked once.
    if state.filling.is_some() && !state.quit_armed {
        state.quit_armed = true;
        warn(
            state,
            "a fill is running: q again quits and drops it (Esc stops it and proposes the best so far)"
                .into(),
        );
        return;
    }
    let (pending, conflicted, _) = state.counts();
    let unsaved = pending + conflicted;
    if unsaved == 0 || state.quit_armed {
        state.quit = true;
        return;
    }
    state.quit_armed = true;
    // Connected, with edits only on their way (none in conflict): they
    // reach the hub in a moment, and the editor quits then.
    if conflicted == 0 && matches!(state.conn, rota_client::ConnState::Connected { .. }) {
        state.quit_when_saved = true;
        say(
            state,
            format!(
                "saving {pending} edit{}, then quitting; q again quits now (what is not saved stays queued)",
                if pending == 1 { "" } else { "s" }
            ),
        );
        return;
    }
    warn(state, unsaved_said(unsaved));
}

/// Said of edits not on the hub when `q` is pressed: they are kept.
fn unsaved_said(unsaved: usize) -> String {
    format!(
        "{unsaved} edit{} not yet on the hub; {} queued in the outbox (never lost) and sent next time. q again to quit",
        if unsaved == 1 { "" } else { "s" },
        if unsaved == 1 {
            "it stays"
        } else {
            "they stay"
        }
    )
}

/// A quit that waited for the hub when the hub is lost: why, what is
/// kept, and that a second `q` quits.
pub(super) fn quit_offline(state: &mut State, reason: &str) {
    let (pending, conflicted, _) = state.counts();
    let said = unsaved_said(pending + conflicted);
    warn(state, format!("offline ({reason}): {said}"));
}

/// The cell at a screen position, when it is one of the grid's.
pub(super) fn cell_at(state: &State, x: u16, y: u16) -> Option<(usize, usize)> {
    let grid_x = state.name_cols() + 1;
    if y < 3 || x < grid_x || (y - 3) as usize >= state.grid_lines() {
        return None;
    }
    let line = state.top + (y - 3) as usize;
    let rel = ((x - grid_x) / state.col_cols()) as usize;
    if rel >= state.grid_cols() {
        return None;
    }
    let col = state.left + rel;
    if col >= state.layout.days {
        return None;
    }
    // A group's heading stands for its first person (a click there, or a
    // drag started there, begins with them).
    state
        .layout
        .lines
        .get(line..)?
        .iter()
        .find_map(|l| match l {
            Line::Person(p) => Some((*p, col)),
            Line::Group(_) => None,
        })
}

pub(super) fn click(state: &mut State, x: u16, y: u16, fx: &mut Vec<Effect>) {
    state.mode = Mode::Normal;
    state.anchor = None;
    if let Some((person, col)) = cell_at(state, x, y) {
        move_to(state, Some(person), Some(col), fx);
    }
}

/// A drag from the cell clicked: the block from there to here.
pub(super) fn drag(state: &mut State, x: u16, y: u16, fx: &mut Vec<Effect>) {
    if let Some((person, col)) = cell_at(state, x, y) {
        if state.anchor.is_none() {
            state.anchor = Some(state.cursor);
        }
        move_to(state, Some(person), Some(col), fx);
    }
}

/// Cells laid from the block's corner (or the cursor) as one edit.
pub(super) fn paste_cells(
    state: &mut State,
    cells: &crate::block::Cells,
    verb: &str,
    fx: &mut Vec<Effect>,
) {
    let b = crate::block::block_or_cursor(state);
    let size = cells.iter().map(Vec::len).sum::<usize>();
    if let Some(why) = too_big(size) {
        warn(state, why);
        return;
    }
    let at = crate::state::Pos {
        person: b.top,
        col: b.left,
    };
    let rows = cells.len();
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    // The grid grows to take the dates pasted past its last (within
    // reach of today).
    if cols > 0 {
        let last = state.layout.date(b.left + cols - 1);
        state.include(last);
    }
    let (ops, cut) = crate::block::paste(state, at, cells);
    state.anchor = None;
    // What landed (past the grid's edge, less than was copied).
    let (mut people, mut dates) = (BTreeSet::new(), BTreeSet::new());
    for op in &ops {
        if let Op::SetCell { staff, date, .. } = op {
            people.insert(staff.as_str());
            dates.insert(*date);
        }
    }
    let (landed_rows, landed_cols) = if cut == 0 {
        (rows, cols)
    } else {
        (people.len(), dates.len())
    };
    let mut what = format!(
        "{verb} {} × {}{}",
        plural(landed_rows, "person"),
        plural(landed_cols, "date"),
        replaced(state, &ops)
    );
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
pub(super) fn paste_text(state: &mut State, text: &str, fx: &mut Vec<Effect>) {
    let first_line = text.lines().next().unwrap_or("").trim().to_string();
    match &mut state.mode {
        Mode::Jump { query, .. } | Mode::Find { query } => query.push_str(&first_line),
        Mode::Pattern { typed } => typed.push_str(&first_line),
        Mode::Request(p) => p.typed.push_str(&first_line),
        Mode::Publish(PublishPrompt::Range { typed } | PublishPrompt::Note { typed, .. }) => {
            typed.push_str(&first_line)
        }
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
            match crate::block::parse_clipboard(state, text) {
                Ok(cells) => paste_cells(state, &cells, "pasted from the clipboard", fx),
                Err(m) => warn(state, format!("nothing pasted: {m}")),
            }
        }
        _ => {}
    }
}

pub(super) fn wheel(state: &mut State, down: bool, sideways: bool) {
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

pub(super) fn prune_flashes(state: &mut State) {
    let now = state.now;
    state.flashes.retain(|_, row| {
        row.retain(|_, (at, _)| now - *at < crate::state::FLASH_MS);
        !row.is_empty()
    });
}

pub(super) fn set_filter(state: &mut State, f: crate::state::Filter, fx: &mut Vec<Effect>) {
    state.filter = f;
    state.anchor = None;
    // Chosen again: who has warnings now, no one kept from before.
    state.warned_shown.clear();
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

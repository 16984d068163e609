//! `update` in the panels: help, conflicts, history, filter, warnings.

use super::*;
use crate::action::{Effect, PanelKey};
use crate::state::*;
use rota_client::{ConnState, EntryState};
use rota_core::domain::Target;

pub(super) fn panel(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    let help_end = match state.mode {
        Mode::Help { .. } => crate::help::max_scroll(state),
        _ => 0,
    };
    let choices = match state.mode {
        Mode::Filter { .. } => state.filter_choices(),
        _ => Vec::new(),
    };
    // A page: the panel's rows less one, so a line stays in view.
    let page = (state.size.1 as usize).saturating_sub(6).max(1);
    match (&mut state.mode, key) {
        (Mode::Normal, PanelKey::Close) => {
            state.message = None;
            state.prefix = None;
            state.anchor = None;
            // Esc stops a fill's search: it ends with the best so far.
            if state.filling.is_some() {
                fx.push(Effect::StopFill);
                say(
                    state,
                    "stopping the fill: it proposes the best it found".into(),
                );
            }
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
        (Mode::Warnings(_), k) => warnings_key(state, k, fx),
        (Mode::Requests(_), k) => super::requests::requests_key(state, k, fx),
        (Mode::Shifts(_), k) => super::requests::shifts_key(state, k),
        (Mode::Publish(_), k) => super::publish::publish_key(state, k, fx),
        // No further than the help's last line at the panel's bottom.
        (Mode::Help { scroll }, PanelKey::Down) => *scroll = (*scroll + 1).min(help_end),
        (Mode::Help { scroll }, PanelKey::Up) => *scroll = scroll.saturating_sub(1),
        (Mode::Help { scroll }, PanelKey::PageDown) => *scroll = (*scroll + page).min(help_end),
        (Mode::Help { scroll }, PanelKey::PageUp) => *scroll = scroll.saturating_sub(page),
        (Mode::Help { scroll }, PanelKey::Home) => *scroll = 0,
        (Mode::Help { scroll }, PanelKey::End) => *scroll = help_end,
        (Mode::History(p), PanelKey::Down) => p.scroll += 1,
        (Mode::History(p), PanelKey::Up) => p.scroll = p.scroll.saturating_sub(1),
        (Mode::History(p), PanelKey::PageDown) => p.scroll += page,
        (Mode::History(p), PanelKey::PageUp) => p.scroll = p.scroll.saturating_sub(page),
        (Mode::History(p), PanelKey::Home) => p.scroll = 0,
        (Mode::History(p), PanelKey::More) => match (p.next.clone(), p.waiting) {
            (Some(next), None) => super::asking::ask_history(state, Some(next), fx),
            (_, Some(_)) => {}
            (None, None) => say(state, "no older changes".into()),
        },
        (_, PanelKey::Retry) => super::asking::ask_again(state, fx),
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
            state.reveal_at = Some(state.keys_taken);
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

/// Puts the cursor on the first cell a conflicted or rejected edit writes
/// (or whose request it writes).
pub(super) fn show_trouble(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    let target = state.troubles().get(index).and_then(|e| {
        e.ops.iter().find_map(|op| match op.target() {
            Target::Cell { staff, date } | Target::Request { staff, date } => Some((staff, date)),
            _ => None,
        })
    });
    if let Some((staff, date)) = target {
        let person = state.layout.person_index(&staff);
        state.include(date);
        let col = state.layout.col_of(date);
        move_to(state, person, col, fx);
    }
}

pub(super) fn open_history(state: &mut State, fx: &mut Vec<Effect>) {
    let Some(person) = state.person().cloned() else {
        return;
    };
    // Said at the key: the hub would refuse it.
    if let Some(why) = state.history_refusal(&person.id) {
        warn(state, why);
        return;
    }
    let date = state.cursor_date();
    let connected = matches!(state.conn, ConnState::Connected { .. });
    state.mode = Mode::History(HistoryPanel {
        staff: person.id.clone(),
        date,
        entries: Vec::new(),
        next: None,
        waiting: None,
        problem: (!connected).then(|| {
            "History is kept on the hub, and this editor is offline: it is asked for once connected."
                .to_string()
        }),
        scroll: 0,
    });
    if connected {
        super::asking::ask_history(state, None, fx);
    }
}

/// `!`: the cursor to the next finding, its sentence in the status line.
pub(super) fn next_warning(state: &mut State, fx: &mut Vec<Effect>) {
    let all = state.findings.all();
    if all.is_empty() {
        say(state, "no rule warnings".into());
        return;
    }
    // On from where the last one left the cursor; else the first at or
    // after the cursor's date (round to the first after the last).
    let date = state.cursor_date();
    let i = match state.finding_at {
        Some(i) if all.get(i).is_some_and(|f| f.first == date) => (i + 1) % all.len(),
        _ => all.iter().position(|f| f.first >= date).unwrap_or(0),
    };
    let f = all[i].clone();
    let n = all.len();
    state.finding_at = Some(i);
    go_to_finding(state, &f, fx);
    warn(state, format!("{} of {n}: {}", i + 1, f.message()));
}

/// The findings the warnings panel lists: of the dates on screen, or all;
/// the rules' first, then the unmet requests (soft: never blocking).
pub fn listed_warnings(state: &State, all: bool) -> Vec<&rota_core::domain::rules::Finding> {
    let (first, last) = state.dates_shown();
    state
        .findings
        .all()
        .into_iter()
        .chain(state.findings.unmet_requests())
        .filter(|f| all || (f.first <= last && f.last >= first))
        .collect()
}

/// Keys in the warnings panel: move, switch between the screen's dates
/// and all, go to one.
fn warnings_key(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    let Mode::Warnings(w) = state.mode else {
        return;
    };
    let n = listed_warnings(state, w.all).len();
    let page = (state.size.1 as usize / 2).max(1);
    let mut w = w;
    match key {
        PanelKey::Close => {
            state.mode = Mode::Normal;
            return;
        }
        PanelKey::Down => w.selected = (w.selected + 1).min(n.saturating_sub(1)),
        PanelKey::Up => w.selected = w.selected.saturating_sub(1),
        PanelKey::PageDown => w.selected = (w.selected + page).min(n.saturating_sub(1)),
        PanelKey::PageUp => w.selected = w.selected.saturating_sub(page),
        PanelKey::Home => w.selected = 0,
        PanelKey::End => w.selected = n.saturating_sub(1),
        PanelKey::NextTab => {
            w.all = !w.all;
            w.selected = 0;
        }
        PanelKey::Choose => {
            let f = listed_warnings(state, w.all)
                .get(w.selected)
                .map(|f| (*f).clone());
            state.mode = Mode::Normal;
            if let Some(f) = f {
                // `!` goes on from here.
                state.finding_at = state.findings.all().iter().position(|x| **x == f);
                go_to_finding(state, &f, fx);
                let sentence = f.message();
                warn(state, sentence);
            }
            return;
        }
        _ => {}
    }
    state.mode = Mode::Warnings(w);
}

/// The cursor to a finding's first cell (its first person, its first date).
pub(super) fn go_to_finding(
    state: &mut State,
    f: &rota_core::domain::rules::Finding,
    fx: &mut Vec<Effect>,
) {
    let person = f.staff.first().and_then(|id| state.layout.person_index(id));
    state.include(f.first);
    let col = state.layout.col_of(f.first);
    move_to(state, person, col, fx);
}

//! `update`: an action in (a key's, the mouse's, the sync engine's, a
//! timer's), the state changed, effects out (edits and requests for the
//! sync engine, terminal chores). No I/O and no clock here: the app loop
//! sets `state.now` and carries the effects out.
//!
//! One room a mode: [`grid`] (commands, moves, typing codes, the mouse),
//! [`prompts`] (jump, find, pattern), [`panels`] (help, conflicts, history,
//! filter, warnings), [`requests`] (the request prompt and the requests
//! panel), [`publish`] (the unpublished changes and the publish prompt),
//! [`manage`] (staff, codes, rules and users forms), [`fill`] (the fill,
//! its proposals accepted or discarded),
//! [`sync`] (what the engine tells).

mod asking;
mod fill;
mod grid;
mod manage;
mod panels;
mod prompts;
mod publish;
mod requests;
mod sync;

pub use grid::show_date;
pub use panels::listed_warnings;
pub use prompts::{
    JumpTarget, bare_day, jump_matches, jump_targets, parse_jump_date, parse_jump_date_in,
};
pub use requests::{listed_requests, listed_shifts};
pub use sync::{recheck, relayout};

use super::action::Command;
use super::action::{Action, Effect, Input};
use super::state::{Mode, State};
use crossterm::event::KeyCode;
use grid::*;
use manage::*;
use panels::*;
use prompts::*;
use publish::*;
use requests::*;
use rota_core::domain::Target;
use sync::*;

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    state.dirty = true;
    let mut fx = Vec::new();
    if is_user(&action) {
        state.keys_taken += 1;
        // Any other key between two `q`s asks again.
        if action != Action::Do(Command::Quit) {
            state.quit_armed = false;
            state.quit_when_saved = false;
        }
        // What was said is gone at the next key (a new user's token
        // with it: it is shown once).
        state.message = None;
        state.users.token = None;
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
            Mode::Request(_) => request_input(state, input, &mut fx),
            Mode::Publish(_) => publish_input(state, input),
            _ => entry_input(state, input, &mut fx),
        },
        Action::Panel(key) => panel(state, key, &mut fx),
        Action::Unbound(k) => {
            state.prefix = None;
            let m = unbound(state, &k);
            say(state, m);
        }
        Action::Click { x, y } => click(state, x, y, &mut fx),
        Action::Drag { x, y } => drag(state, x, y, &mut fx),
        Action::Paste(text) => paste_text(state, &text, &mut fx),
        Action::Wheel { down, sideways } => wheel(state, down, sideways),
        Action::Resize(w, h) => {
            state.size = (w, h);
            state.scroll_to_cursor();
        }
        Action::Tick => {
            prune_flashes(state);
            asking::expire(state);
        }
        Action::Sync(e) => sync_event(state, e, &mut fx),
        Action::Outbox(entries) => set_outbox(state, entries),
        Action::Others(list) => set_others(state, list),
        Action::Edited {
            op_id,
            what,
            targets,
            reveal,
        } => match op_id {
            Some(_) => {
                say(state, what);
                // Staff or codes changed: the grid's rows and codes too.
                let records = targets.as_ref().is_none_or(|t| {
                    t.iter()
                        .any(|t| !matches!(t, Target::Cell { .. } | Target::Proposal { .. }))
                });
                if records {
                    relayout(state);
                }
                recheck(state, targets.as_deref());
                // What came back is shown, unless a key came after the
                // undo (the user has moved on: the cursor stays theirs).
                if reveal && state.reveal_at.take() == Some(state.keys_taken) {
                    reveal_cell(state, targets.as_deref(), &mut fx);
                }
                // Mark the cells it wrote (pending) without waiting for the
                // engine's event.
                refresh_desk(state);
            }
            None => say(state, "nothing to change".into()),
        },
        Action::Failed(m) => warn(state, m),
        Action::UndoChangedSince(question) => state.mode = Mode::ConfirmUndo { question },
        Action::NotAsked { req, message } => asking::failed(state, req, message),
        Action::ShiftsChanged(m) => say(state, m),
        Action::FillProgress(p) => fill::progress(state, p),
        Action::FillDone(outcome) => fill::done(state, outcome, &mut fx),
    }
    keep_to_role(state, &mut fx);
    fx
}

/// The cursor to the first cell of `targets` (what an undo brought back):
/// the top row's, on its first date, whatever order the edit wrote them in.
fn reveal_cell(state: &mut State, targets: Option<&[Target]>, fx: &mut Vec<Effect>) {
    let Some((person, date)) = targets
        .into_iter()
        .flatten()
        .filter_map(|t| match t {
            Target::Cell { staff, date } | Target::Request { staff, date } => {
                Some((state.layout.person_index(staff), *date))
            }
            _ => None,
        })
        .min_by_key(|(person, date)| (person.unwrap_or(usize::MAX), *date))
    else {
        return;
    };
    state.include(date);
    let col = state.layout.col_of(date);
    move_to(state, person, col, fx);
}

/// What to say of a key that means nothing in the grid: when codes start
/// with it (a lower-case letter: those are commands), how to type them.
fn unbound(state: &State, k: &str) -> String {
    let Some(c) = k.chars().next() else {
        return "? lists the keys".into();
    };
    // The codes this key would start, were it not a command, and how
    // each is typed (d1 as D1; D as it is written, with Shift).
    let codes = state.candidates(k);
    if codes.is_empty() {
        return format!("`{k}` is no code and no command here; ? lists the keys");
    }
    let shown: Vec<String> = codes
        .iter()
        .take(4)
        .map(|code| {
            let keys = state.keys_for_code(code);
            if keys == *code {
                code.to_string()
            } else {
                format!("{code} as {keys}")
            }
        })
        .collect();
    format!(
        "`{c}` is no command here, and codes are typed from a capital: type {}{} (or i, then the code as written)",
        shown.join(", "),
        if codes.len() > 4 { ", …" } else { "" }
    )
}

/// The edits `fx` asks for that the editor's role on the roster does not
/// allow are dropped, and said so (the hub would refuse them).
fn keep_to_role(state: &mut State, fx: &mut Vec<Effect>) {
    let mut refused = None;
    fx.retain(|e| match e {
        Effect::Edit { ops, .. } => match state.refusal(ops) {
            Some(why) => {
                refused = Some(why);
                false
            }
            None => true,
        },
        _ => true,
    });
    if let Some(why) = refused {
        warn(state, why);
    }
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

pub(super) fn say(state: &mut State, m: String) {
    state.message = Some((m, false));
}

pub(super) fn warn(state: &mut State, m: String) {
    state.message = Some((m, true));
}

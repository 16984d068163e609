//! Questions the editor puts to the hub (a cell's history, the roster's
//! users) and their answers. Each question's id is chosen here, and the
//! panel waits for it before the effect that asks is carried out, so an
//! answer can never arrive before it is waited for. Every question ends
//! in its answer, a refusal, or, after [`ANSWER_WAIT_MS`], a line saying
//! the hub did not answer and that `r` asks again.

use crate::action::Effect;
use crate::action::RoleChange;
use crate::state::{ANSWER_WAIT_MS, Mode, State};
use rota_core::protocol::{HistoryQuery, RosterUser};

/// History entries a page holds.
pub const HISTORY_PAGE: u32 = 50;

/// Asks for a page of the cursor cell's history (`before`: the page after
/// that cursor), if the history panel is open.
pub fn ask_history(state: &mut State, before: Option<String>, fx: &mut Vec<Effect>) {
    let asked = state.ask();
    let Mode::History(p) = &mut state.mode else {
        return;
    };
    p.waiting = Some(asked);
    p.problem = None;
    fx.push(Effect::History {
        req: asked.req,
        query: HistoryQuery {
            staff: Some(p.staff.clone()),
            date: Some(p.date),
            before,
            limit: Some(HISTORY_PAGE),
            ..HistoryQuery::default()
        },
    });
}

/// Asks for the roster's users (the manage panel's users tab).
pub fn ask_users(state: &mut State, fx: &mut Vec<Effect>) {
    let asked = state.ask();
    state.users.waiting = Some(asked);
    state.users.problem = None;
    fx.push(Effect::AskUsers { req: asked.req });
}

/// Asks the hub to change a user's role (or add a user): the answer is
/// the list as it then stands (with a new user's token).
pub fn set_role(state: &mut State, change: RoleChange, fx: &mut Vec<Effect>) {
    let asked = state.ask();
    state.users.waiting = Some(asked);
    state.users.problem = None;
    state.users.creating = change.create.then(|| change.user.clone());
    fx.push(Effect::SetRole {
        req: asked.req,
        change,
    });
}

/// A page of history arrived for `req`.
pub fn history_page(
    state: &mut State,
    req: u64,
    entries: Vec<rota_core::protocol::HistoryEntry>,
    next: Option<String>,
) {
    if let Mode::History(p) = &mut state.mode
        && p.waiting.is_some_and(|w| w.req == req)
    {
        p.waiting = None;
        p.entries.extend(entries);
        p.next = next;
    }
}

/// The users list arrived for `req` (with a new user's token, once).
pub fn users_list(state: &mut State, req: u64, users: Vec<RosterUser>, token: Option<String>) {
    if state.users.waiting.is_none_or(|w| w.req != req) {
        return;
    }
    let creating = state.users.creating.take();
    state.users.waiting = None;
    state.users.problem = None;
    state.users.users = users;
    if let (Some(user), Some(token)) = (creating, token) {
        state.users.token = Some((user, token));
    }
}

/// The question `req` was refused, could not be put, or its connection
/// went before the answer: the panel waiting for it says why.
pub fn failed(state: &mut State, req: u64, message: String) {
    if state.users.waiting.is_some_and(|w| w.req == req) {
        state.users.waiting = None;
        state.users.creating = None;
        state.users.problem = Some(format!("{message} (r asks again)"));
    }
    if let Mode::History(p) = &mut state.mode
        && p.waiting.is_some_and(|w| w.req == req)
    {
        p.waiting = None;
        p.problem = Some(format!("{message} (r asks again)"));
    }
}

/// Questions waited for past their time are given up, and said so.
pub fn expire(state: &mut State) {
    let now = state.now;
    let late: Vec<u64> = state
        .waiting()
        .filter(|w| w.until <= now)
        .map(|w| w.req)
        .collect();
    for req in late {
        failed(
            state,
            req,
            format!("the hub did not answer within {} s", ANSWER_WAIT_MS / 1000),
        );
    }
}

/// `r` in a panel that asks the hub: ask again (the history's first page
/// or the page that failed; the users list).
pub fn ask_again(state: &mut State, fx: &mut Vec<Effect>) {
    match &state.mode {
        Mode::History(p) if p.waiting.is_none() => {
            // The page after the last one shown (the first when none is).
            let before = if p.entries.is_empty() {
                None
            } else {
                p.next.clone()
            };
            if p.entries.is_empty() || before.is_some() {
                ask_history(state, before, fx);
            }
        }
        Mode::Manage(m) if m.tab == crate::forms::Tab::Users && state.users.waiting.is_none() => {
            ask_users(state, fx)
        }
        _ => {}
    }
}

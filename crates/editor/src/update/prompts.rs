//! `update` in the prompts: jump, find, pattern.

use super::*;
use crate::action::{Effect, Input};
use crate::state::*;
use rota_core::domain::Date;
use rota_script::diff::plural;

/// Jump: a date (2026-12-24, 24, 24/12) or part of a person's name.
pub(super) fn jump_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
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
        Input::Clear => return,
        Input::Esc => {
            state.mode = Mode::Normal;
            return;
        }
        Input::Enter => {
            state.mode = Mode::Normal;
            let targets = jump_targets(state, &query);
            match targets.get(selected.min(targets.len().saturating_sub(1))) {
                Some(JumpTarget::Date(d)) => go_to_date(state, *d, fx),
                Some(JumpTarget::Person(p)) => move_to(state, Some(*p), None, fx),
                None => warn(state, format!("no date and no person matches `{query}`")),
            }
            return;
        }
    }
    let n = jump_targets(state, &query).len();
    selected = selected.min(n.saturating_sub(1));
    state.mode = Mode::Jump { query, selected };
}

/// A place the jump list offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JumpTarget {
    Date(Date),
    /// A person (index into the layout's staff).
    Person(usize),
}

/// What the jump list offers for `query`, in its order: the date it names
/// (if any), then the people whose name or id holds it. Enter takes the
/// selected one.
pub fn jump_targets(state: &State, query: &str) -> Vec<JumpTarget> {
    // A day alone is of the cursor's month, and of today's when that is
    // another: both offered, the cursor's first.
    let period = state.view.read(|r| r.period());
    let cursor = parse_jump_date_in(query, state.cursor_date(), period);
    let today = parse_jump_date_in(query, state.today, period)
        .filter(|d| Some(*d) != cursor && bare_day(query));
    cursor
        .into_iter()
        .chain(today)
        .map(JumpTarget::Date)
        .chain(
            jump_matches(state, query)
                .into_iter()
                .map(JumpTarget::Person),
        )
        .collect()
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

/// Whether `query` is a day of the month alone ("24").
pub fn bare_day(query: &str) -> bool {
    let q = query.trim().trim_end_matches('.');
    !q.is_empty() && q.len() <= 2 && q.bytes().all(|b| b.is_ascii_digit())
}

/// A date typed as 2026-12-24, 24/12/2026, 24/12/26, 24.12.2026, 24/12 or 24.12.
/// (the one of that day and month nearest `near`: typed in March 2027,
/// 14/12 is 14 Dec 2026, not Dec 2027), or 24 (in the month of `near`).
pub fn parse_jump_date(s: &str, near: Date) -> Option<Date> {
    parse_jump_date_in(s, near, None)
}

pub use crate::dates::parse_jump_date_in;

/// `s`: a pattern typed, then laid over the block on Enter.
pub(super) fn pattern_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
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
            let codes = rota_core::domain::parse_pattern(&typed).and_then(|codes| {
                // Every unknown code named at once, not the first alone.
                let mut unknown = Vec::new();
                let known: Vec<Option<String>> = codes
                    .iter()
                    .map(|c| {
                        c.as_ref().and_then(|c| {
                            crate::block::known_code(state, c)
                                .map_err(|_| unknown.push(format!("`{c}`")))
                                .ok()
                        })
                    })
                    .collect();
                if unknown.is_empty() {
                    return Ok(known);
                }
                let here: Vec<&str> = state.layout.codes.keys().map(String::as_str).collect();
                Err(format!(
                    "no code {} here; codes here: {}",
                    unknown.join(", "),
                    here.join(" ")
                ))
            });
            match codes {
                Ok(codes) => {
                    state.mode = Mode::Normal;
                    let b = crate::block::block_or_cursor(state);
                    if let Some(why) = too_big(b.people() * b.days()) {
                        warn(state, why);
                        return;
                    }
                    let ops = crate::block::pattern(state, &codes);
                    let b = crate::block::block_or_cursor(state);
                    state.anchor = None;
                    let what = format!(
                        "laid {} over {}{}",
                        rota_core::domain::show_pattern(&codes),
                        plural(b.people(), "person"),
                        super::grid::replaced(state, &ops)
                    );
                    fx.push(Effect::Edit { ops, what });
                }
                // Kept as typed, to be put right (the block stays chosen).
                Err(m) => warn(
                    state,
                    format!("{m}: nothing changed; put it right and Enter, or Esc"),
                ),
            }
        }
        _ => {}
    }
}

/// `/`: the cursor follows the first name holding what is typed.
pub(super) fn find_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
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
        Input::Up | Input::Clear => return,
    }
    let q = query.clone();
    find(state, &q, false, fx);
}

/// Moves to the next person (from the cursor's, or after it) whose name
/// holds `q`, wrapping round.
pub(super) fn find(state: &mut State, q: &str, after: bool, fx: &mut Vec<Effect>) {
    let n = state.layout.staff.len();
    if q.is_empty() || n == 0 {
        return;
    }
    let typed = q.to_string();
    let q = q.to_lowercase();
    let start = state.cursor.person + usize::from(after);
    let hit = (0..n)
        .map(|i| (start + i) % n)
        .find(|&p| state.layout.staff[p].name.to_lowercase().contains(&q));
    let here = state.cursor.person;
    match hit {
        Some(p) => {
            move_to(state, Some(p), None, fx);
            state.message = None;
            // `n` says when it went round, or found the one it was on.
            if after {
                let count = state
                    .layout
                    .staff
                    .iter()
                    .filter(|s| s.name.to_lowercase().contains(&q))
                    .count();
                if p == here {
                    say(state, format!("`{typed}`: the only match"));
                } else if p < here {
                    say(
                        state,
                        format!("`{typed}`: from the top again ({count} matches)"),
                    );
                }
            }
        }
        None => warn(state, format!("no one here is called `{q}`")),
    }
}

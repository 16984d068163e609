//! `update` for staff requests: the prompt that enters, changes or
//! withdraws the request of the cursor's cell (`R`), and the panel that
//! lists a person's or a date's requests (`W`); and the panel of a
//! person's published shifts (`M`).

use super::*;
use crate::action::{Effect, Input, PanelKey};
use crate::requests::{Line, Listing, lines, parse, prompt_text};
use crate::state::*;
use rota_core::domain::{Op, Request};

/// Why this editor's role does not let it enter requests on the cursor's
/// row (None: it does; a member of staff, on their own row only).
fn request_refusal(state: &State) -> Option<String> {
    state.refusal(&[Op::RemoveRequest {
        staff: state.person().map(|p| p.id.clone()).unwrap_or_default(),
        date: state.cursor_date(),
        base: None,
    }])
}

/// `R`: the prompt, filled in with the cell's request when it has one.
pub(super) fn open_request(state: &mut State) {
    if let Some(why) = request_refusal(state) {
        warn(state, why);
        return;
    }
    let Some(person) = state.person().cloned() else {
        warn(state, "no staff in this roster yet".into());
        return;
    };
    let typed = state
        .cursor_request()
        .map(|r| prompt_text(&r))
        .unwrap_or_default();
    state.mode = Mode::Request(RequestPrompt {
        staff: person.id,
        date: state.cursor_date(),
        typed,
    });
}

/// A key at the request prompt: Enter sends what it reads (empty: the
/// request is withdrawn); what cannot be read is said and stays typed.
pub(super) fn request_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let Mode::Request(p) = &mut state.mode else {
        return;
    };
    match input {
        Input::Char(c) => p.typed.push(c),
        Input::Back => {
            p.typed.pop();
        }
        Input::Clear => p.typed.clear(),
        Input::Esc => state.mode = Mode::Normal,
        Input::Enter => {
            let p = p.clone();
            send_request(state, p, fx);
        }
        Input::Tab | Input::Up | Input::Down => {}
    }
}

/// Who a request is for and when, in words: "Amara Okafor on Tue 1 Dec
/// 2026".
fn whose(state: &State, staff: &str, date: rota_core::domain::Date) -> String {
    let name = state
        .view
        .read(|r| r.staff_member(staff).map(|s| s.name.clone()))
        .unwrap_or_else(|| staff.to_string());
    format!("{name} on {}", show_date(date))
}

fn send_request(state: &mut State, p: RequestPrompt, fx: &mut Vec<Effect>) {
    let current = state.view.read(|r| r.request(&p.staff, p.date).cloned());
    let whose = whose(state, &p.staff, p.date);
    if p.typed.trim().is_empty() {
        state.mode = Mode::Normal;
        match current {
            Some(r) => fx.push(Effect::Edit {
                ops: vec![Op::RemoveRequest {
                    staff: p.staff,
                    date: p.date,
                    base: None,
                }],
                what: format!("withdrew the request of {whose} ({})", r.wish),
            }),
            None => say(
                state,
                format!("{whose} has no request: nothing to withdraw"),
            ),
        }
        return;
    }
    let read = state.view.read(|r| parse(&p.typed, r, current.as_ref()));
    let typed = match read {
        Ok(t) => t,
        // Kept as typed, to be put right.
        Err(m) => {
            warn(
                state,
                format!("{m}: nothing sent; put it right and Enter, or Esc"),
            );
            return;
        }
    };
    state.mode = Mode::Normal;
    if current.as_ref().is_some_and(|r| typed.same_as(r)) {
        say(state, format!("{whose} already asks {}", typed.describe()));
        return;
    }
    let code = state.view.read(|r| {
        r.cell(&p.staff, p.date)
            .and_then(|(c, _)| c.map(str::to_string))
    });
    let request = Request {
        weight: typed.weight,
        note: typed.note.clone(),
        ..Request::new(&p.staff, p.date, typed.wish.clone())
    };
    let stands = if crate::requests::met(&request, code.as_deref(), &state.layout) {
        "met".to_string()
    } else {
        format!("not met: has {}", code.as_deref().unwrap_or("nothing"))
    };
    let verb = if current.is_some() {
        "changed the request of"
    } else {
        "request of"
    };
    fx.push(Effect::Edit {
        ops: vec![Op::PutRequest {
            request,
            base: None,
        }],
        what: format!("{verb} {whose}: {} ({stands})", typed.describe()),
    });
}

/// `W`: the cursor's person's requests, the first on or after the
/// cursor's date selected.
pub(super) fn open_requests(state: &mut State) {
    let Some(person) = state.person().cloned() else {
        warn(state, "no staff in this roster yet".into());
        return;
    };
    let date = state.cursor_date();
    let listing = Listing::Person(person.id.clone());
    let listed = listed_requests(state, &listing);
    let selected = listed
        .iter()
        .position(|l| l.date >= date)
        .unwrap_or(listed.len().saturating_sub(1));
    state.mode = Mode::Requests(RequestsPanel {
        listing,
        staff: person.id,
        date,
        selected,
    });
}

/// The lines the requests panel lists.
pub fn listed_requests(state: &State, listing: &Listing) -> Vec<Line> {
    state.view.read(|r| lines(r, &state.layout, listing))
}

/// Keys in the requests panel: move, switch between the person's and the
/// date's, go to one.
pub(super) fn requests_key(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    let Mode::Requests(p) = &state.mode else {
        return;
    };
    let mut p = p.clone();
    let listed = listed_requests(state, &p.listing);
    let n = listed.len();
    let page = (state.size.1 as usize / 2).max(1);
    match key {
        PanelKey::Close => {
            state.mode = Mode::Normal;
            return;
        }
        PanelKey::Down => p.selected = (p.selected + 1).min(n.saturating_sub(1)),
        PanelKey::Up => p.selected = p.selected.saturating_sub(1),
        PanelKey::PageDown => p.selected = (p.selected + page).min(n.saturating_sub(1)),
        PanelKey::PageUp => p.selected = p.selected.saturating_sub(page),
        PanelKey::Home => p.selected = 0,
        PanelKey::End => p.selected = n.saturating_sub(1),
        PanelKey::NextTab => {
            p.listing = match p.listing {
                Listing::Person(_) => Listing::Date(p.date),
                Listing::Date(_) => Listing::Person(p.staff.clone()),
            };
            // The cursor's cell's request, else the first.
            let listed = listed_requests(state, &p.listing);
            p.selected = listed
                .iter()
                .position(|l| l.staff == p.staff && l.date == p.date)
                .or_else(|| match p.listing {
                    Listing::Person(_) => listed.iter().position(|l| l.date >= p.date),
                    Listing::Date(_) => None,
                })
                .unwrap_or(0);
        }
        PanelKey::Choose => {
            state.mode = Mode::Normal;
            let Some(line) = listed.get(p.selected.min(n.saturating_sub(1))) else {
                return;
            };
            go_to_request(state, line, fx);
            return;
        }
        _ => {}
    }
    state.mode = Mode::Requests(p);
}

/// `M`: the published shifts of the cursor's person (a member of staff:
/// their own row's, wherever the cursor is) from the editor's today.
pub(super) fn open_shifts(state: &mut State) {
    let staff = match (state.own_row(), state.person()) {
        (Some(me), _) => me.to_string(),
        (None, Some(p)) => p.id.clone(),
        (None, None) => {
            warn(state, "no staff in this roster yet".into());
            return;
        }
    };
    state.mode = Mode::Shifts(ShiftsPanel {
        staff,
        from: state.today,
        scroll: 0,
    });
}

/// The lines of the shifts panel (see [`crate::shifts::lines`]).
pub fn listed_shifts(state: &State, p: &ShiftsPanel) -> Vec<String> {
    state
        .view
        .read(|r| crate::shifts::lines(r, &p.staff, p.from))
}

/// Keys in the shifts panel: scroll, close.
pub(super) fn shifts_key(state: &mut State, key: PanelKey) {
    let Mode::Shifts(p) = &state.mode else {
        return;
    };
    let mut p = p.clone();
    let end = crate::shifts::max_scroll(&listed_shifts(state, &p), state.size);
    let page = (state.size.1 as usize / 2).max(1);
    match key {
        PanelKey::Close => {
            state.mode = Mode::Normal;
            return;
        }
        PanelKey::Down => p.scroll += 1,
        PanelKey::Up => p.scroll = p.scroll.saturating_sub(1),
        PanelKey::PageDown => p.scroll += page,
        PanelKey::PageUp => p.scroll = p.scroll.saturating_sub(page),
        PanelKey::Home => p.scroll = 0,
        PanelKey::End => p.scroll = end,
        _ => {}
    }
    p.scroll = p.scroll.min(end);
    state.mode = Mode::Shifts(p);
}

/// The cursor to a request's cell, its line said.
fn go_to_request(state: &mut State, line: &Line, fx: &mut Vec<Effect>) {
    let Some(person) = state.layout.person_index(&line.staff) else {
        let name = state
            .view
            .read(|r| r.staff_member(&line.staff).map(|s| s.name.clone()))
            .unwrap_or_else(|| line.staff.clone());
        warn(
            state,
            format!("{name} is not shown under the filter (f shows everyone)"),
        );
        return;
    };
    if !state.include(line.date) && state.layout.col_of(line.date).is_none() {
        warn(state, format!("{} is too far from today", line.text));
        return;
    }
    let col = state.layout.col_of(line.date);
    move_to(state, Some(person), col, fx);
    say(state, line.text.clone());
}

//! `update` for the fill: the search asked for (ctrl-f: the block, or the
//! planning period), its progress on the status line, its outcome sent as
//! one proposal edit; proposals accepted (`+`) or discarded (`-`), the
//! block's or all of them, each as one edit.

use super::*;
use crate::fill::{self, Ask, Outcome, Progress};
use rota_core::domain::{Date, Op};
use rota_script::diff::plural;

/// The people and dates a fill or a proposal key covers: the block's, or
/// (no block) everyone over the planning period (the dates shown without
/// one).
fn covered(state: &mut State) -> (Option<Vec<String>>, Date, Date) {
    if let Some(b) = state.selection() {
        let staff = state.layout.staff[b.top..=b.bottom]
            .iter()
            .map(|p| p.id.clone())
            .collect();
        let (from, to) = (state.layout.date(b.left), state.layout.date(b.right));
        state.anchor = None;
        return (Some(staff), from, to);
    }
    let (from, to) = match state.view.read(|r| r.period()) {
        Some(p) => (p.from, p.to),
        None => state.dates_shown(),
    };
    (None, from, to)
}

/// ctrl-f: starts the search (one at a time).
pub(super) fn start(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(why) = cell_refusal(state) {
        warn(state, why);
        return;
    }
    if state.filling.is_some() {
        warn(
            state,
            "a fill is already running: Esc stops it and keeps the best so far".into(),
        );
        return;
    }
    let (staff, from, to) = covered(state);
    let who = staff
        .as_ref()
        .map_or_else(|| "everyone".to_string(), |s| plural(s.len(), "person"));
    state.filling = Some(None);
    say(
        state,
        format!("filling the empty cells of {who}, {from} to {to}… (Esc stops and keeps the best)"),
    );
    fx.push(Effect::Fill(Ask {
        from,
        to,
        staff,
        seconds: state.config.fill_seconds,
    }));
}

pub(super) fn progress(state: &mut State, p: Progress) {
    if state.filling.is_none() {
        return;
    }
    // A warning (q asked while filling, + refused) stays until a key.
    if !state.message.as_ref().is_some_and(|(_, warned)| *warned) {
        say(state, fill::progress_text(&p));
    }
    state.filling = Some(Some(p));
}

/// The search ended: its proposals go out as one edit.
pub(super) fn done(state: &mut State, outcome: Outcome, fx: &mut Vec<Effect>) {
    state.filling = None;
    match outcome {
        Outcome::Refused(why) => warn(state, why),
        Outcome::Proposed {
            ops,
            cells,
            before,
            after,
            stopped,
        } => {
            let how = if stopped { "stopped; " } else { "" };
            if ops.is_empty() {
                say(
                    state,
                    format!(
                        "fill {how}nothing new to propose ({})",
                        fill::score_text(&after)
                    ),
                );
                return;
            }
            let what = format!(
                "fill {how}proposes {} ({}; was {}): + accepts, - discards",
                fill::count(cells, "cell"),
                fill::score_text(&after),
                fill::score_text(&before)
            );
            fx.push(Effect::Edit { ops, what });
        }
    }
}

/// The cursor's cell is empty and holds a proposal.
pub(super) fn proposal_here(state: &State) -> bool {
    let (Some(p), date) = (state.person(), state.cursor_date()) else {
        return false;
    };
    state.view.read(|r| {
        r.cell(&p.id, date).and_then(|(c, _)| c).is_none() && r.proposal(&p.id, date).is_some()
    })
}

/// The proposals a key covers, or why there are none.
fn proposals(state: &mut State) -> Result<Vec<(String, Date, String)>, String> {
    if let Some(why) = cell_refusal(state) {
        return Err(why);
    }
    if state.filling.is_some() {
        return Err(
            "a fill is running: Esc stops it (its proposals come first), then accept or discard"
                .into(),
        );
    }
    let (staff, from, to) = covered(state);
    let found = state
        .view
        .read(|r| fill::proposals_in(r, staff.as_deref(), from, to));
    if found.is_empty() {
        return Err(match staff {
            Some(_) => "no proposals in the block".into(),
            None => "no proposals: ctrl-f proposes a fill".into(),
        });
    }
    Ok(found)
}

/// `+`: the proposals become cells, as one edit.
pub(super) fn accept(state: &mut State, fx: &mut Vec<Effect>) {
    match proposals(state) {
        Err(why) => warn(state, why),
        Ok(found) => {
            let ops: Vec<Op> = state.view.read(|r| fill::accept_ops(r, &found));
            let what = format!("accepted {}", fill::count(found.len(), "proposed cell"));
            fx.push(Effect::Edit { ops, what });
        }
    }
}

/// `x` on a proposed (empty) cell: its proposal withdrawn.
pub(super) fn discard_here(state: &mut State, fx: &mut Vec<Effect>) {
    let (Some(p), date) = (state.person(), state.cursor_date()) else {
        return;
    };
    let id = p.id.clone();
    let Some(code) = state
        .view
        .read(|r| r.proposal(&id, date).map(str::to_string))
    else {
        return;
    };
    let ops = fill::discard_ops(&[(id, date, code.clone())]);
    fx.push(Effect::Edit {
        ops,
        what: format!("discarded the proposed {code}"),
    });
}

/// `-`: the proposals are withdrawn, as one edit.
pub(super) fn discard(state: &mut State, fx: &mut Vec<Effect>) {
    match proposals(state) {
        Err(why) => warn(state, why),
        Ok(found) => {
            let ops = fill::discard_ops(&found);
            let what = format!("discarded {}", fill::count(found.len(), "proposed cell"));
            fx.push(Effect::Edit { ops, what });
        }
    }
}

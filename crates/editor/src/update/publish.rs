//! `update` for publications: stepping through the cells that differ from
//! what staff were shown (`]`, `[`), and the publish prompt (`P`): its
//! range (a block's dates without asking), its note, its question.

use super::*;
use crate::action::{Effect, Input, PanelKey};
use crate::publish::{cells_in, change_text, next_number, parse_range, range_text};
use crate::state::*;
use rota_core::domain::{Date, MAX_PUBLICATION_NOTE, Op, Role};
use rota_script::diff::plural;

/// Why this editor may not publish (None: it may; a role not said yet is
/// the hub's to judge), said at the key.
fn publish_refusal(state: &State) -> Option<String> {
    let role = state.role()?;
    if role == "admin" {
        return None;
    }
    let you = Role::parse(role).map_or_else(|| format!("`{role}`"), Role::with_article);
    Some(format!(
        "publishing takes the admin role; you are {you} (ask an admin of roster {})",
        state.roster_name
    ))
}

/// `P`: with a block, its dates (asks for the note); else the range,
/// filled in with the planning period (the dates on screen without one).
pub(super) fn open_publish(state: &mut State) {
    if let Some(why) = publish_refusal(state) {
        warn(state, why);
        return;
    }
    if let Some(why) = offline(state) {
        warn(state, why);
        return;
    }
    if let Some(b) = state.selection() {
        let (from, to) = (state.layout.date(b.left), state.layout.date(b.right));
        // A publication is of everyone on its dates: the block's people
        // do not matter, and the block is done with.
        state.anchor = None;
        state.mode = Mode::Publish(PublishPrompt::Note {
            from,
            to,
            typed: String::new(),
        });
        return;
    }
    let (from, to) = match state.view.read(|r| r.period()) {
        Some(p) => (p.from, p.to),
        None => state.dates_shown(),
    };
    state.mode = Mode::Publish(PublishPrompt::Range {
        typed: format!("{from} to {to}"),
    });
}

/// A key at the publish prompt's range or note.
pub(super) fn publish_input(state: &mut State, input: Input) {
    let Mode::Publish(p) = &mut state.mode else {
        return;
    };
    let typed = match p {
        PublishPrompt::Range { typed } | PublishPrompt::Note { typed, .. } => typed,
        PublishPrompt::Confirm { .. } => return,
    };
    match input {
        Input::Char(c) => typed.push(c),
        Input::Back => {
            typed.pop();
        }
        Input::Clear => typed.clear(),
        Input::Esc => state.mode = Mode::Normal,
        Input::Tab | Input::Up | Input::Down => {}
        Input::Enter => {
            let p = p.clone();
            next_stage(state, p);
        }
    }
}

/// Enter at the range (read, then the note) or at the note (checked,
/// then the question). What cannot be read is said and stays typed.
fn next_stage(state: &mut State, p: PublishPrompt) {
    match p {
        PublishPrompt::Range { typed } => {
            let period = state.view.read(|r| r.period());
            match parse_range(&typed, state.cursor_date(), period) {
                Ok((from, to)) => {
                    state.mode = Mode::Publish(PublishPrompt::Note {
                        from,
                        to,
                        typed: String::new(),
                    })
                }
                Err(m) => warn(
                    state,
                    format!("{m}: nothing published; put it right and Enter, or Esc"),
                ),
            }
        }
        PublishPrompt::Note { from, to, typed } => {
            let note = typed.trim().to_string();
            let n = note.chars().count();
            let wrong = if n > MAX_PUBLICATION_NOTE {
                Some(format!(
                    "the note is {n} characters; at most {MAX_PUBLICATION_NOTE}"
                ))
            } else if note.chars().any(char::is_control) {
                Some("the note holds a control character (a tab?): take it out".into())
            } else {
                rota_core::domain::check_visible("the note", &note).err()
            };
            if let Some(m) = wrong {
                warn(
                    state,
                    format!("{m}: nothing published; put it right and Enter, or Esc"),
                );
                return;
            }
            let (cells, number) = state.view.read(|r| (cells_in(r, from, to), next_number(r)));
            let question = format!(
                "Publish {} ({}) as publication {number}? y/n",
                range_text(from, to),
                plural(cells, "cell")
            );
            state.mode = Mode::Publish(PublishPrompt::Confirm {
                from,
                to,
                note,
                question,
            });
        }
        PublishPrompt::Confirm { .. } => {}
    }
}

/// Why a publication cannot go now: it says what staff see when the hub
/// takes it, so it is never left queued while offline (as `rota
/// --publish` never queues one).
fn offline(state: &State) -> Option<String> {
    (!matches!(state.conn, rota_client::ConnState::Connected { .. })).then(|| {
        "nothing published: the hub is not connected, and a publication is never queued (it says what staff see when the hub takes it); publish again once connected".to_string()
    })
}

/// The answer to the publish question: y sends the publication (one
/// edit), n or Esc sends nothing.
pub(super) fn publish_key(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    let Mode::Publish(p) = &state.mode else {
        return;
    };
    let p = p.clone();
    match (p, key) {
        (
            PublishPrompt::Confirm {
                from,
                to,
                note,
                question,
            },
            PanelKey::Yes,
        ) => {
            state.mode = Mode::Normal;
            if let Some(why) = offline(state) {
                warn(state, why);
                return;
            }
            // "Publish … as publication 3? y/n" as done.
            let done = question
                .trim_start_matches("Publish ")
                .trim_end_matches("? y/n");
            let mut what = format!("published {done}");
            if !note.is_empty() {
                what.push_str(&format!(": {note}"));
            }
            fx.push(Effect::Edit {
                ops: vec![Op::Publish { from, to, note }],
                what,
            });
        }
        (_, PanelKey::No | PanelKey::Close) => {
            state.mode = Mode::Normal;
            say(state, "nothing published".into());
        }
        _ => {}
    }
}

/// `]` (`[`): the cursor to the next (previous) cell that differs from
/// what staff were shown, from the cursor, round at either end; which of
/// how many, who, when, what was published and what is there now, said.
pub(super) fn step_unpublished(state: &mut State, forward: bool, fx: &mut Vec<Effect>) {
    if !state.sees_draft() {
        let you = state
            .role()
            .and_then(Role::parse)
            .map_or_else(|| "not an editor".to_string(), Role::with_article);
        warn(
            state,
            format!("unpublished changes are for the roster's editors and admins (you are {you})"),
        );
        return;
    }
    if !state.layout.publishes {
        say(
            state,
            "nothing is published yet, so nothing differs from what staff were shown (P publishes, for admins)".into(),
        );
        return;
    }
    let all = state.unpublished.in_order(&state.layout);
    let hidden = all.iter().filter(|(p, _, _)| p.is_none()).count();
    let shown: Vec<(usize, String, Date)> = all
        .into_iter()
        .filter_map(|(p, staff, date)| Some((p?, staff, date)))
        .collect();
    if shown.is_empty() {
        match hidden {
            0 => say(
                state,
                "no unpublished changes: every cell is as staff were shown it".into(),
            ),
            1 => warn(
                state,
                "the one unpublished change is of someone the filter hides (f shows everyone)"
                    .into(),
            ),
            n => warn(
                state,
                format!(
                    "the {n} unpublished changes are of people the filter hides (f shows everyone)"
                ),
            ),
        }
        return;
    }
    let here = (state.cursor.person, state.cursor_date());
    let n = shown.len();
    let i = if forward {
        shown
            .iter()
            .position(|(p, _, d)| (*p, *d) > here)
            .unwrap_or(0)
    } else {
        shown
            .iter()
            .rposition(|(p, _, d)| (*p, *d) < here)
            .unwrap_or(n - 1)
    };
    let (person, staff, date) = shown[i].clone();
    let published = state
        .unpublished
        .row(&staff)
        .and_then(|r| r.get(&date).cloned())
        .flatten();
    move_to(state, Some(person), None, fx);
    go_to_date(state, date, fx);
    let mut m = format!(
        "{} of {n}: {}",
        i + 1,
        state
            .view
            .read(|r| change_text(r, &staff, date, published.as_deref()))
    );
    if hidden > 0 {
        m.push_str(&format!(
            " ({hidden} more of people the filter hides: f shows everyone)"
        ));
    }
    say(state, m);
}

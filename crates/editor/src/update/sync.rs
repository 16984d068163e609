//! `update` for what the sync engine tells: connection, remote edits,
//! acks, conflicts, answers; and the grid laid out and checked again.

use super::*;
use crate::action::Effect;
use crate::state::*;
use rota_client::{ConnState, EntryState, OutboxEntry, SyncEvent};
use rota_core::domain::{Date, Op, Target};
use rota_script::diff::plural;
use std::collections::BTreeMap;

/// What `r` says until the connection is back.
pub(super) const RECONNECTING: &str = "reconnecting…";
/// How what is said of a lost connection starts.
const OFFLINE: &str = "offline: ";

pub(super) fn sync_event(state: &mut State, e: SyncEvent, fx: &mut Vec<Effect>) {
    match e {
        SyncEvent::Connection(c) => {
            match &c {
                ConnState::Connected { .. } => {
                    // What was said of being offline is no longer true.
                    if let Some(news) = state.role_news.take() {
                        say(state, news);
                    } else if state
                        .message
                        .as_ref()
                        .is_some_and(|(m, _)| m == RECONNECTING || m.starts_with(OFFLINE))
                    {
                        say(state, "connected again".into());
                    }
                    state.offline_since = None;
                    state.retry_at = None;
                    state.conn = c.clone();
                    // A panel that could not ask while offline asks now.
                    let history_unasked = matches!(&state.mode,
                        Mode::History(p) if p.waiting.is_none() && p.entries.is_empty());
                    if history_unasked {
                        super::asking::ask_history(state, None, fx);
                    }
                    refresh_desk(state);
                    // The hub learns where this editor's cursor is.
                    share_cursor(state, fx);
                    check_shifts(state, fx);
                }
                ConnState::Retrying { retry_in, reason } => {
                    // A quit waiting for the hub waits no more: said so,
                    // and a second q quits.
                    if state.quit_when_saved {
                        state.quit_when_saved = false;
                        super::grid::quit_offline(state, reason);
                    } else if state.offline_since.is_none() {
                        // Said whole once (the header may have no room).
                        warn(
                            state,
                            format!(
                                "{OFFLINE}{reason}; edits are kept here and sent when the hub is back"
                            ),
                        );
                    }
                    state.offline_since.get_or_insert(state.now);
                    state.retry_at = Some(state.now + retry_in.as_millis() as i64);
                    state.others.clear();
                }
                ConnState::Refused { reason } => {
                    state.offline_since.get_or_insert(state.now);
                    state.retry_at = None;
                    state.others.clear();
                    // Said whole (the header may have no room for it).
                    if !matches!(state.conn, ConnState::Refused { .. }) {
                        warn(
                            state,
                            format!("refused by the hub: {reason} (r tries again)"),
                        );
                    }
                }
                ConnState::Offline { .. } => {
                    state.offline_since.get_or_insert(state.now);
                    state.retry_at = None;
                    state.others.clear();
                }
                // Not connected: who was here is not known now.
                ConnState::Connecting { .. } => state.others.clear(),
            }
            state.conn = c;
        }
        SyncEvent::Remote {
            user,
            changes,
            count,
            cells,
            proposed,
            withdrawn,
            ..
        } => {
            // A batch too large to be listed (an import): lay the grid out
            // again; its cells are not highlighted one by one.
            let mut records = changes.len() < count;
            if proposed + withdrawn > 0 {
                say(state, proposals_said(&user, proposed, withdrawn, cells));
            } else if records {
                let others = count - cells.min(count);
                let mut m = format!("{user} changed {}", plural(cells, "cell"));
                if others > 0 {
                    m.push_str(&format!(" and {}", plural(others, "other record")));
                }
                say(state, m);
            }
            // A publication while a member of staff looks: what it
            // changed of their shifts is said, and kept as seen.
            let published = changes
                .iter()
                .any(|c| matches!(c.target(), Target::Publication { .. }));
            if published
                && state.shifts_checked
                && let Some(staff) = state.own_row().map(str::to_string)
            {
                fx.push(Effect::CheckShifts {
                    staff,
                    from: state.today,
                    live: true,
                });
            }
            for c in &changes {
                match c.target() {
                    Target::Cell { staff, date } => {
                        // Wider, when it is before the first date: what
                        // is on screen stays on its dates.
                        state.include(date);
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
            refresh_desk(state);
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
            refresh_desk(state);
        }
        SyncEvent::Conflicted { conflicts, .. } => {
            // The view dropped the edit: look again.
            recheck(state, None);
            let who = conflicts
                .first()
                .map(|c| c.user.clone())
                .unwrap_or_default();
            let cells = if conflicts.len() == 1 {
                "a cell".to_string()
            } else {
                format!("{} cells", conflicts.len())
            };
            // Said as it happened: theirs reached the hub before yours.
            warn(
                state,
                format!(
                    "conflict: {who} changed {cells} before your edit reached the hub; yours is kept here, not saved; c to choose"
                ),
            );
            refresh_desk(state);
        }
        SyncEvent::Rejected { message, .. } => {
            recheck(state, None);
            warn(state, format!("edit rejected: {message}; c to see it"));
            refresh_desk(state);
        }
        SyncEvent::Queued { .. } | SyncEvent::Outbox { .. } | SyncEvent::AllSaved => {
            refresh_desk(state);
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
            super::asking::history_page(state, req, entries, next)
        }
        SyncEvent::Users { req, users, token } => {
            super::asking::users_list(state, req, users, token)
        }
        SyncEvent::RequestFailed { req, message } => super::asking::failed(state, req, message),
        SyncEvent::Access(access) => {
            let bound_before = state.own_row().map(str::to_string);
            let role_before = state.access.role.clone();
            let sent_draft = state.sees_draft();
            state.access = access;
            if let (Some(before), Some(now)) = (role_before, state.access.role.clone())
                && before != now
            {
                let news = role_news(state, &now);
                if state.sees_draft() != sent_draft {
                    state.role_news = Some(news.clone());
                }
                say(state, news);
            }
            // A role that sees the draft (or no longer does) has a column
            // more (or less) for the unpublished marks.
            state.scroll_to_cursor();
            // A member of staff starts on their own row (on the same
            // date): when the hub first says whose it is, or another.
            if let Some(row) = state.own_row().map(str::to_string)
                && bound_before.as_deref() != Some(row.as_str())
                && let Some(person) = state.layout.person_index(&row)
            {
                move_to(state, Some(person), None, fx);
            }
            check_shifts(state, fx);
        }
        // The editor never asks for the list of rosters.
        SyncEvent::Rosters { .. } => {}
    }
}

/// "your role on this roster is now staff (Chloe Martin's row): you see
/// what was published and enter your own requests".
fn role_news(state: &State, role: &str) -> String {
    let what = match role {
        "staff" => "you see what was published and enter your own requests",
        "viewer" => "you see what was published; nothing can be changed",
        "editor" => "you see the roster as it is and change cells and requests",
        "admin" => "you see the roster as it is, change anything and publish",
        _ => "",
    };
    let whose = match state.own_row() {
        Some(row) if role == "staff" => format!(" ({}'s row)", state.name_of(row)),
        _ => String::new(),
    };
    format!("your role on this roster is now {role}{whose}: {what}")
}

/// Once a session, when connected and bound to a row: a member of staff
/// is told how their published shifts changed since they last looked.
fn check_shifts(state: &mut State, fx: &mut Vec<Effect>) {
    if state.shifts_checked || !matches!(state.conn, ConnState::Connected { .. }) {
        return;
    }
    if let Some(staff) = state.own_row().map(str::to_string) {
        state.shifts_checked = true;
        fx.push(Effect::CheckShifts {
            staff,
            from: state.today,
            live: false,
        });
    }
}

/// The rule findings after an edit of `targets` (None: anything may have
/// changed), read from the view.
pub fn recheck(state: &mut State, targets: Option<&[Target]>) {
    let view = state.view.clone();
    view.read(|r| match targets {
        Some(t) => {
            state.findings.update(r, t);
            state.unpublished.update(r, t);
        }
        None => {
            state.findings = rota_core::domain::rules::Findings::new(r);
            state.unpublished = crate::publish::Unpublished::new(r);
        }
    });
    state.finding_at = None;
    // Who has warnings changes with every edit.
    if state.filter == crate::state::Filter::Warned {
        relayout(state);
    }
}

/// Staff or codes changed: lay the grid out again, keeping the cursor on
/// the same person and date.
pub fn relayout(state: &mut State) {
    let taken_before = keys_taken(state);
    let layout = state.view.read(|r| {
        Layout::build(
            r,
            state.today,
            &state.config,
            &state.filter,
            &state.findings,
            &state.warned_shown,
        )
    });
    if state.filter == crate::state::Filter::Warned {
        state
            .warned_shown
            .extend(layout.staff.iter().map(|p| p.id.clone()));
    }
    state.set_layout(layout);
    // A code that now takes a command's key (a new code HOL takes H from
    // history): said to everyone, with the key the command has left.
    let newly: Vec<(Command, String)> = keys_taken(state)
        .into_iter()
        .filter(|k| !taken_before.contains(k))
        .collect();
    if let Some((cmd, key)) = newly.first() {
        let code = state
            .layout
            .codes
            .keys()
            .find(|c| key.chars().next().is_some_and(|k| c.starts_with(k)))
            .cloned()
            .unwrap_or_default();
        let left = match state.key_label(*cmd) {
            Some(k) => format!("{} is {k} here", cmd.name()),
            None => format!("bind {} to another key in the config", cmd.name()),
        };
        say(
            state,
            format!("the code {code} now takes the key {key} (it types the code): {left}"),
        );
    }
}

/// The commands' keys that type a code here, with their commands.
fn keys_taken(state: &State) -> Vec<(Command, String)> {
    Command::all()
        .filter_map(|cmd| {
            state
                .keymap
                .keys_of(cmd)
                .iter()
                .find(|k| state.key_taken(k))
                .map(|k| (cmd, k.to_string()))
        })
        .collect()
}

/// The outbox and the others, read from the engine's desk when they moved
/// on since last read (no round trip to the engine: it publishes them
/// before it tells of a change).
pub(super) fn refresh_desk(state: &mut State) {
    let seen = state.desk_seen;
    let fresh = state
        .view
        .desk(|d| (d.version != seen).then(|| (d.version, d.outbox.clone(), d.others.clone())));
    if let Some((version, outbox, others)) = fresh {
        state.desk_seen = version;
        set_outbox(state, outbox);
        set_others(state, others);
    }
}

/// Who else is here, as the engine has them.
pub(super) fn set_others(state: &mut State, list: Vec<rota_core::protocol::PresenceInfo>) {
    state.others = list
        .into_iter()
        .map(|p| {
            (
                p.session,
                crate::state::Other {
                    user: p.user,
                    cursor: p.cursor,
                },
            )
        })
        .collect();
}

/// The outbox as the engine has it now: marks for the cells it writes.
pub(super) fn set_outbox(state: &mut State, entries: Vec<OutboxEntry>) {
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
    if state.quit_when_saved {
        let (pending, conflicted, _) = state.counts();
        if pending + conflicted == 0 {
            state.quit = true;
        }
    }
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

/// What a colleague's batch did to proposals: proposed cells (an assisted
/// fill, or an accept undone), or withdrew proposals, accepting them when
/// it wrote cells too.
fn proposals_said(user: &str, proposed: usize, withdrawn: usize, cells: usize) -> String {
    if proposed > 0 {
        format!(
            "{user} proposed {}: + accepts, - discards",
            crate::fill::count(proposed, "cell")
        )
    } else if cells > 0 {
        format!(
            "{user} accepted {}",
            crate::fill::count(withdrawn, "proposal")
        )
    } else {
        format!(
            "{user} discarded {}",
            crate::fill::count(withdrawn, "proposal")
        )
    }
}

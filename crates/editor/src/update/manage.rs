//! `update` in the manage panel: its lists (staff, shift codes, rules,
//! settings, users) and their forms. What the editor's role does not
//! allow is said at the key that asks for it, not after a form is filled.

use super::*;
use crate::action::RoleChange;
use crate::action::{Effect, Input, PanelKey};
use crate::forms::{Form, FormKind, Tab, list, user_lines};
use crate::state::*;
use rota_core::domain::Op;

/// The form's errors and notes, from what it holds now (each key).
pub(super) fn recheck_form(state: &mut State) {
    let view = state.view.clone();
    let command_keys = command_keys(state);
    let row = user_row(state);
    if let Mode::Manage(m) = &mut state.mode
        && let Some(f) = &mut m.form
    {
        // The role typed is staff: the row is asked for (and not else).
        f.fit_user_fields(row.as_deref());
        view.read(|r| {
            f.errors = f.check(r).err().unwrap_or_default();
            f.notes = f.notes(r, &command_keys);
        });
    }
}

/// The row a user form's staff field is filled in with when the role
/// typed becomes `staff`: the user's own when they have one, else the
/// cursor's person.
fn user_row(state: &State) -> Option<String> {
    let Mode::Manage(m) = &state.mode else {
        return None;
    };
    let Some(crate::forms::FormKind::User { existing }) = m.form.as_ref().map(|f| &f.kind) else {
        return None;
    };
    existing
        .as_ref()
        .and_then(|u| state.users.users.iter().find(|x| x.user == *u))
        .and_then(|u| u.staff.clone())
        .or_else(|| state.person().map(|p| p.id.clone()))
}

/// The grid's keys a new code's first character would take over: the
/// upper-case letters and other characters bound to a command alone, each
/// with the command's name and the key it would have left (F2 for H).
fn command_keys(state: &State) -> Vec<(char, &'static str, Option<String>)> {
    use crate::action::Command;
    let mut out = Vec::new();
    for name in Command::names() {
        let Some(cmd) = Command::from_name(name) else {
            continue;
        };
        let keys = state.keymap.keys_of(cmd);
        for k in keys {
            if let (None, crossterm::event::KeyCode::Char(c)) = (k.prefix, k.code)
                && k.mods.is_empty()
                && !c.is_ascii_lowercase()
            {
                let other = keys
                    .iter()
                    .find(|o| *o != k && !state.key_taken(o))
                    .map(|o| o.to_string());
                out.push((c, name, other));
            }
        }
    }
    out
}

/// Why this editor may not change what the tab lists (None: it may).
fn manage_refusal(state: &State, tab: Tab) -> Option<String> {
    if state.may_manage() {
        return None;
    }
    let what = match tab {
        Tab::Users => "manage the roster's users",
        _ => "change staff, shift codes, rules or settings",
    };
    Some(format!(
        "to {what} takes the admin role; you are {} (ask an admin of roster {})",
        state.role().map_or("not an admin".to_string(), |r| format!(
            "{} {r}",
            article(r)
        )),
        state.roster_name
    ))
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Keys in the manage panel's list (a form takes text input instead).
pub(super) fn manage_key(state: &mut State, key: PanelKey, fx: &mut Vec<Effect>) {
    let view = state.view.clone();
    let users = state.users.users.clone();
    let Mode::Manage(m) = &state.mode else {
        return;
    };
    let tab = m.tab;
    let items = if tab == Tab::Users {
        user_lines(&users)
    } else {
        view.read(|r| list(r, tab))
    };
    let key_of = items.get(m.selected).map(|(k, _)| k.clone());
    let changes = matches!(
        key,
        PanelKey::Add
            | PanelKey::Choose
            | PanelKey::Remove
            | PanelKey::MoveUp
            | PanelKey::MoveDown
            | PanelKey::Yes
    );
    if changes
        && !m.confirm_remove
        && let Some(why) = manage_refusal(state, tab)
    {
        warn(state, why);
        return;
    }
    let Mode::Manage(m) = &mut state.mode else {
        return;
    };
    if m.confirm_remove {
        m.confirm_remove = false;
        if key != PanelKey::Yes {
            say(state, "nothing removed".into());
            return;
        }
        let Some(k) = key_of else { return };
        remove(state, tab, k, fx);
        return;
    }
    match key {
        PanelKey::Close => {
            state.mode = Mode::Normal;
            // A new user's token is shown once.
            state.users.token = None;
        }
        PanelKey::NextTab | PanelKey::PreviousTab => {
            m.tab = if key == PanelKey::NextTab {
                m.tab.next()
            } else {
                m.tab.previous()
            };
            m.selected = 0;
            if m.tab == Tab::Users && state.may_manage() {
                super::asking::ask_users(state, fx);
                return;
            }
        }
        PanelKey::Down => m.selected = (m.selected + 1).min(items.len().saturating_sub(1)),
        PanelKey::Up => m.selected = m.selected.saturating_sub(1),
        PanelKey::PageDown => {
            let page = (state.size.1 as usize).saturating_sub(8).max(1);
            m.selected = (m.selected + page).min(items.len().saturating_sub(1));
        }
        PanelKey::PageUp => {
            let page = (state.size.1 as usize).saturating_sub(8).max(1);
            m.selected = m.selected.saturating_sub(page);
        }
        PanelKey::Home => m.selected = 0,
        PanelKey::End => m.selected = items.len().saturating_sub(1),
        PanelKey::Add => match tab {
            Tab::Staff => m.form = Some(Form::add_staff()),
            Tab::Codes => m.form = Some(Form::code(None)),
            Tab::Rules => m.adding_rule = true,
            Tab::Settings => m.form = Some(view.read(Form::settings)),
            // Where the hub said why users cannot be listed (no accounts,
            // offline), none can be added either: said at the key.
            Tab::Users => match state.users.problem.clone() {
                Some(p) if state.users.users.is_empty() => {
                    warn(state, format!("no user can be added now: {p}"));
                    return;
                }
                _ => m.form = Some(Form::user(None)),
            },
        },
        PanelKey::Choose => {
            let Some(k) = key_of else { return };
            m.form = view.read(|r| match tab {
                Tab::Users => users
                    .iter()
                    .find(|u| u.user == k)
                    .map(|u| Form::user(Some(u))),
                Tab::Staff => r.staff_member(&k).map(Form::edit_staff),
                Tab::Codes => Some(Form::code(r.code(&k))),
                Tab::Rules => r.rule(&k).map(|x| Form::rule(FormKind::Staffing, Some(x))),
                Tab::Settings => Some(Form::settings(r)),
            });
        }
        PanelKey::Remove if tab == Tab::Settings => {
            warn(
                state,
                "settings are changed, not removed: Enter changes them".into(),
            );
            return;
        }
        PanelKey::Remove if tab == Tab::Codes && key_of.is_some() => {
            // A code in use cannot go: said now, not after the question.
            let code = key_of.clone().unwrap_or_default();
            let uses = view.read(|r| {
                let (n, first) = r.code_uses(&code);
                let at = first.map(|(staff, date)| {
                    let name = r.staff_member(staff).map_or(staff, |s| s.name.as_str());
                    format!("{name}, {}", show_date(date))
                });
                (n, at)
            });
            match uses {
                (0, _) => m.confirm_remove = true,
                (n, at) => {
                    let cells = if n == 1 { "1 cell" } else { "cells" };
                    warn(
                        state,
                        format!(
                            "code {code} is in {}{}: change or clear {} first; nothing removed",
                            if n == 1 {
                                cells.to_string()
                            } else {
                                format!("{n} {cells}")
                            },
                            at.map(|a| format!(" (the first: {a})")).unwrap_or_default(),
                            if n == 1 { "it" } else { "them" }
                        ),
                    );
                    return;
                }
            }
        }
        PanelKey::Remove if key_of.is_some() => m.confirm_remove = true,
        PanelKey::MoveUp | PanelKey::MoveDown if tab == Tab::Staff => {
            let up = key == PanelKey::MoveUp;
            let other = if up {
                m.selected.checked_sub(1)
            } else {
                Some(m.selected + 1).filter(|i| *i < items.len())
            };
            let (Some(a), Some(b)) = (
                key_of,
                other.and_then(|i| items.get(i)).map(|x| x.0.clone()),
            ) else {
                return;
            };
            let ops = view.read(|r| reorder(r, &a, &b, up));
            if ops.is_empty() {
                warn(
                    state,
                    "the grid keeps each group together: change the person's group to move them into another".into(),
                );
                return;
            }
            m.selected = other.unwrap_or(m.selected);
            let name = view.read(|r| r.staff_member(&a).map(|s| s.name.clone()));
            fx.push(Effect::Edit {
                ops,
                what: format!(
                    "moved {} {}",
                    name.unwrap_or(a),
                    if up { "up" } else { "down" }
                ),
            });
        }
        PanelKey::Retry => super::asking::ask_again(state, fx),
        _ => {}
    }
    recheck_form(state);
}

/// The edit that swaps two people's places (within their group).
fn reorder(r: &rota_core::domain::Roster, a: &str, b: &str, up: bool) -> Vec<Op> {
    let (Some(sa), Some(sb)) = (r.staff_member(a), r.staff_member(b)) else {
        return Vec::new();
    };
    // The grid keeps a group together: order within it.
    if sa.group != sb.group {
        return Vec::new();
    }
    let (oa, ob) = if sa.order != sb.order {
        (sb.order, sa.order)
    } else if up {
        (sb.order - 1, sb.order)
    } else {
        (sb.order + 1, sb.order)
    };
    [(sa, oa), (sb, ob)]
        .into_iter()
        .map(|(s, order)| Op::UpdateStaff {
            id: s.id.clone(),
            name: None,
            group: None,
            order: Some(order),
            base: Some(s.seq),
        })
        .collect()
}

/// `d` then `y`: removes the selected person, code or rule, or a user's
/// role on the roster.
fn remove(state: &mut State, tab: Tab, k: String, fx: &mut Vec<Effect>) {
    if tab == Tab::Users {
        let change = RoleChange {
            user: k,
            role: None,
            create: false,
            staff: None,
        };
        super::asking::set_role(state, change, fx);
        return;
    }
    let view = state.view.clone();
    let removal = view.read(|r| match tab {
        Tab::Staff => Some((
            Op::RemoveStaff {
                id: k.clone(),
                base: r.staff_member(&k).map(|s| s.seq),
            },
            format!(
                "removed {} (their history is kept)",
                r.staff_member(&k).map_or(k.as_str(), |s| s.name.as_str())
            ),
        )),
        Tab::Codes => Some((
            Op::RemoveCode {
                code: k.clone(),
                base: r.code(&k).map(|c| c.seq),
            },
            format!("removed code {k}"),
        )),
        Tab::Rules => Some((
            Op::RemoveRule {
                id: k.clone(),
                base: r.rule(&k).map(|x| x.seq),
            },
            format!("removed rule {k}"),
        )),
        Tab::Users | Tab::Settings => None,
    });
    if let Some((op, what)) = removal {
        fx.push(Effect::Edit {
            ops: vec![op],
            what,
        });
    }
}

/// Text keys in the manage panel: a form's fields, or the kind of a new
/// rule (s staffing, f forbidden sequence, l limit).
pub(super) fn manage_input(state: &mut State, input: Input, fx: &mut Vec<Effect>) {
    let view = state.view.clone();
    let Mode::Manage(m) = &mut state.mode else {
        return;
    };
    if m.adding_rule {
        m.adding_rule = false;
        let kind = match input {
            Input::Char('s') => FormKind::Staffing,
            Input::Char('f') => FormKind::Sequence,
            Input::Char('l') => FormKind::Limit,
            _ => return,
        };
        m.form = Some(Form::rule(kind, None));
        recheck_form(state);
        return;
    }
    let Some(form) = &mut m.form else {
        return;
    };
    match input {
        Input::Char(c) => {
            if form.editable(form.focus)
                && let Some(f) = form.fields.get_mut(form.focus)
            {
                f.value.push(c);
            }
        }
        Input::Back => {
            if form.editable(form.focus)
                && let Some(f) = form.fields.get_mut(form.focus)
            {
                f.value.pop();
            }
        }
        Input::Tab | Input::Down => form.focus = (form.focus + 1) % form.fields.len().max(1),
        Input::Up => {
            form.focus = form
                .focus
                .checked_sub(1)
                .unwrap_or(form.fields.len().saturating_sub(1))
        }
        Input::Esc => {
            m.form = None;
            say(state, "closed: nothing changed".into());
            return;
        }
        Input::Clear => return,
        Input::Enter if matches!(form.kind, FormKind::User { .. }) => {
            match view.read(|r| form.role_change(r)) {
                Ok(change) => {
                    m.form = None;
                    super::asking::set_role(state, change, fx);
                }
                Err(errors) => {
                    let said = not_saved(form, &errors);
                    if let Some((i, _)) = errors.first() {
                        form.focus = *i;
                    }
                    form.errors = errors;
                    warn(state, said);
                }
            }
            return;
        }
        Input::Enter => {
            match view.read(|r| form.check(r)) {
                Ok(ops) if ops.is_empty() => {
                    m.form = None;
                    say(state, "nothing to change".into());
                }
                Ok(ops) => {
                    // Sent, not yet saved: the hub may still find a
                    // colleague's change first (then it is a conflict).
                    let what = format!("{}: done, on its way to the hub", form.title());
                    m.form = None;
                    fx.push(Effect::Edit { ops, what });
                }
                Err(errors) => {
                    let said = not_saved(form, &errors);
                    if let Some((i, _)) = errors.first() {
                        form.focus = *i;
                    }
                    form.errors = errors;
                    warn(state, said);
                }
            }
            return;
        }
    }
    recheck_form(state);
}

/// What Enter says of a form it cannot save: how many things, and the
/// first (the field the cursor goes to).
fn not_saved(form: &Form, errors: &[(usize, String)]) -> String {
    let first = errors
        .first()
        .map(|(i, m)| {
            let name = form.fields.get(*i).map_or("", |f| f.name);
            format!("{name}: {m}")
        })
        .unwrap_or_default();
    match errors.len() {
        1 => format!("not saved: {first}"),
        n => format!("not saved: {n} things to put right; first {first}"),
    }
}

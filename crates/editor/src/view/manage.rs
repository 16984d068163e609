//! The manage panel: tabs of staff, shift codes, rules, settings and users,
//! the list of the tab, and the form when one is open. A form's errors and
//! notes are wrapped under their field, never cut.

use super::{panel_box, panel_lines, wrap_all};
use crate::forms::{Form, Manage, Tab, list, user_lines};
use crate::grid::put_text;
use crate::state::State;
use crate::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use rota_core::text::{wrap, wrap_row};

/// The question `d` asks, naming what it would remove.
pub fn removal_question(state: &State, m: &Manage) -> String {
    let key = selected_key(state, m).unwrap_or_default();
    let what = match m.tab {
        Tab::Staff => state
            .view
            .read(|r| r.staff_member(&key).map(|s| format!("{} ({key})", s.name)))
            .unwrap_or(key),
        Tab::Codes => format!("code {key}"),
        Tab::Rules => format!("rule {key}"),
        Tab::Settings => key,
        Tab::Users => format!("{key}'s role on this roster"),
    };
    format!("remove {what}?")
}

/// The key (staff id, code, rule id, user) of the selected line.
fn selected_key(state: &State, m: &Manage) -> Option<String> {
    items(state, m.tab).get(m.selected).map(|(k, _)| k.clone())
}

fn items(state: &State, tab: Tab) -> Vec<(String, String)> {
    if tab == Tab::Users {
        user_lines(&state.users.users)
    } else {
        state.view.read(|r| list(r, tab))
    }
}

pub(super) fn panel(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, m: &Manage) {
    let items = items(state, m.tab);
    let h = area.height.saturating_sub(4).max(6);
    let inner = panel_box(
        buf,
        area,
        area.width.saturating_sub(4).min(110),
        h,
        "manage the roster",
        t,
    );
    let all: usize = Tab::ALL.iter().map(|t| t.name().len() + 3).sum();
    if all <= inner.width as usize {
        let mut x = inner.x;
        for tab in Tab::ALL {
            let style = if tab == m.tab {
                t.panel.add_modifier(Modifier::REVERSED | Modifier::BOLD)
            } else {
                t.panel
            };
            x = put_text(
                buf,
                x,
                inner.y,
                &format!(" {} ", tab.name()),
                inner.right(),
                style,
                false,
            ) + 1;
        }
    } else {
        // Too narrow for every tab: the one shown, and where it is.
        let i = Tab::ALL.iter().position(|x| *x == m.tab).unwrap_or(0);
        let line = rota_core::text::fit_segments(
            &[
                format!(" {} ", m.tab.name()),
                format!("{}/{}", i + 1, Tab::ALL.len()),
                "Tab next".to_string(),
            ],
            " ",
            inner.width as usize,
        );
        put_text(
            buf,
            inner.x,
            inner.y,
            &line,
            inner.right(),
            t.panel.add_modifier(Modifier::BOLD),
            false,
        );
    }
    let body = Rect {
        y: inner.y + 2,
        height: inner.height.saturating_sub(2),
        ..inner
    };
    if let Some(form) = &m.form {
        form_lines(buf, body, t, form);
        return;
    }
    if m.adding_rule {
        let lines = [
            "A new rule of which kind?".to_string(),
            String::new(),
            "  s  staffing: between min and max people on a code a day".into(),
            "  f  forbidden sequence: one code may not follow another".into(),
            "  l  limit: a person's runs, shifts, hours or weekends".into(),
        ];
        panel_lines(buf, body, &wrap_all(&lines, body.width), 0, t.panel);
        return;
    }
    let mut body = body;
    let note = match m.tab {
        Tab::Users => {
            let u = &state.users;
            match (&u.token, &u.problem, u.waiting) {
                // Shown in a box of its own (see `token_box`).
                (Some(_), _, _) => None,
                (None, Some(p), _) => Some((p.clone(), t.panel.patch(t.error))),
                (None, None, Some(_)) => Some(("asking the hub…".to_string(), t.panel)),
                _ if !state.may_manage() => Some((
                    "The users of a roster are its admins' to see and change.".to_string(),
                    t.panel,
                )),
                _ => None,
            }
        }
        _ if !state.may_manage() => Some((
            format!(
                "Read only: changing these takes the admin role, and you are {}.",
                state
                    .role()
                    .map_or("not an admin".into(), |r| format!("an {r}")
                        .replace("an viewer", "a viewer"))
            ),
            t.panel.add_modifier(Modifier::DIM),
        )),
        _ => None,
    };
    if let Some((line, style)) = note {
        let lines = wrap(&line, body.width as usize);
        for (i, l) in lines.iter().enumerate().take(body.height as usize) {
            put_text(
                buf,
                body.x,
                body.y + i as u16,
                l,
                body.right(),
                style,
                false,
            );
        }
        let used = lines.len() as u16 + 1;
        body.y += used;
        body.height = body.height.saturating_sub(used);
    }
    if items.is_empty() {
        if m.tab != Tab::Users {
            put_text(
                buf,
                body.x,
                body.y,
                &format!("no {} yet: a adds one", m.tab.name()),
                body.right(),
                t.panel,
                false,
            );
        }
        return;
    }
    // Each item whole (a long one wraps under itself); from the selected
    // one back, as many as fit above it.
    let rows = body.height as usize;
    let cols = body.width as usize;
    let selected = m.selected.min(items.len() - 1);
    let height = |i: usize| wrap_row(&items[i].1, cols).len();
    let mut start = selected;
    let mut used = height(selected);
    while start > 0 && used + height(start - 1) <= rows {
        start -= 1;
        used += height(start);
    }
    let mut y = body.y;
    for (i, (_, line)) in items.iter().enumerate().skip(start) {
        let mut style = t.panel;
        if i == selected {
            style = style.add_modifier(Modifier::REVERSED);
            if m.confirm_remove {
                style = style.patch(t.error);
            }
        }
        for part in wrap_row(line, cols) {
            if y >= body.bottom() {
                return;
            }
            put_text(buf, body.x, y, &part, body.right(), style, false);
            y += 1;
        }
    }
}

/// A new user's token, shown once: whole, in a box of its own over the
/// screen, wrapped to its width; on a screen too small for the box and
/// its words, the token alone over the whole screen (the editor takes
/// screens down to 20x5: 100 cells, more than a token's 86 characters).
pub(super) fn token_box(buf: &mut Buffer, area: Rect, t: &Theme, user: &str, token: &str) {
    use ratatui::widgets::{Clear, Widget};
    let title = format!("{user}'s token, shown only now: copy it, it is gone at the next key");
    let style = t.panel.add_modifier(Modifier::BOLD);
    let boxed_w = area.width.saturating_sub(2).clamp(20, 100).min(area.width);
    let inner_w = boxed_w.saturating_sub(2) as usize;
    let mut lines = wrap(&title, inner_w);
    lines.push(String::new());
    lines.extend(wrap(token, inner_w));
    if lines.len() as u16 + 2 <= area.height.saturating_sub(2) {
        let inner = panel_box(buf, area, boxed_w, lines.len() as u16 + 2, "token", t);
        for (i, l) in lines.iter().enumerate() {
            put_text(
                buf,
                inner.x,
                inner.y + i as u16,
                l,
                inner.right(),
                style,
                false,
            );
        }
        return;
    }
    // No room for a box: the token alone, from the top left.
    Clear.render(area, buf);
    buf.set_style(area, t.panel);
    for (i, l) in wrap(token, area.width as usize)
        .iter()
        .enumerate()
        .take(area.height as usize)
    {
        put_text(
            buf,
            area.x,
            area.y + i as u16,
            l,
            area.right(),
            style,
            false,
        );
    }
}

/// A form: each field with its value, what it takes (or what is wrong, or
/// a note), wrapped beside it or under it when the panel is narrow.
fn form_lines(buf: &mut Buffer, area: Rect, t: &Theme, form: &Form) {
    put_text(
        buf,
        area.x,
        area.y,
        form.title(),
        area.right(),
        t.panel.add_modifier(Modifier::BOLD),
        false,
    );
    let label_w = 13u16;
    let value_w = 24u16;
    // What a field takes goes beside it when there is room, else under it.
    let beside = area.width >= label_w + value_w + 1 + 24;
    let (hint_x, hint_w) = if beside {
        let x = area.x + label_w + value_w + 1;
        (x, area.right().saturating_sub(x))
    } else {
        (area.x + 2, area.width.saturating_sub(2))
    };
    // Each field's lines: its own, then what is said of it (beside it
    // when there is room, else under it).
    let said_of = |i: usize| -> Vec<(String, ratatui::style::Style)> {
        let mut said: Vec<(String, ratatui::style::Style)> = form
            .errors
            .iter()
            .filter(|(at, _)| *at == i)
            .map(|(_, m)| (format!("✗ {m}"), t.panel.patch(t.error)))
            .collect();
        said.extend(
            form.notes
                .iter()
                .filter(|(at, _)| *at == i)
                .map(|(_, m)| (format!("· {m}"), t.panel.add_modifier(Modifier::BOLD))),
        );
        if said.is_empty()
            && (beside || i == form.focus)
            && let Some(f) = form.fields.get(i)
        {
            said.push((f.hint.to_string(), t.panel.add_modifier(Modifier::DIM)));
        }
        said.into_iter()
            .flat_map(|(text, style)| {
                wrap(&text, hint_w as usize)
                    .into_iter()
                    .map(move |l| (l, style))
            })
            .collect()
    };
    let height = |i: usize| -> u16 {
        let said = said_of(i).len() as u16;
        if beside { said.max(1) } else { 1 + said }
    };
    // The verdict keeps the last line; the fields scroll above it so the
    // one being typed in is always in view.
    let top = area.y + 2;
    let bottom = area.bottom().saturating_sub(2).max(top);
    let mut first = 0;
    let room = bottom.saturating_sub(top);
    while first < form.focus && (first..=form.focus).map(height).sum::<u16>() > room {
        first += 1;
    }
    let mut y = top;
    if first > 0 {
        put_text(
            buf,
            area.right().saturating_sub(12),
            area.y,
            &format!("↑ {first} more"),
            area.right(),
            t.panel.add_modifier(Modifier::DIM),
            false,
        );
    }
    for (i, f) in form.fields.iter().enumerate().skip(first) {
        if y >= bottom {
            break;
        }
        let focused = i == form.focus;
        let label_style = if focused {
            t.panel.add_modifier(Modifier::BOLD)
        } else {
            t.panel
        };
        put_text(buf, area.x, y, f.name, area.x + label_w, label_style, false);
        let mut value_style = t.panel.add_modifier(Modifier::UNDERLINED);
        if focused {
            value_style = value_style.add_modifier(Modifier::REVERSED);
        }
        if !form.editable(i) {
            value_style = t.panel.add_modifier(Modifier::DIM);
        }
        let vx = area.x + label_w;
        for cx in vx..(vx + value_w).min(area.right()) {
            if let Some(cell) = buf.cell_mut((cx, y)) {
                cell.set_symbol(" ");
                cell.set_style(value_style);
            }
        }
        // A value longer than its box: where it is typed, its end (the
        // cursor stays seen); elsewhere its start, cut with "…".
        let room = (vx + value_w).min(area.right()).saturating_sub(vx) as usize;
        let shown = if focused {
            rota_core::text::fit_tail(&format!("{}▏", f.value), room)
        } else {
            rota_core::text::fit_words(&f.value, room)
        };
        put_text(buf, vx, y, &shown, vx + value_w, value_style, false);
        let mut hy = if beside { y } else { y + 1 };
        for (l, style) in said_of(i) {
            if hy >= bottom {
                break;
            }
            put_text(buf, hint_x, hy, &l, area.right(), style, false);
            hy += 1;
        }
        y = hy.max(y + 1);
    }
    let verdict = if form.errors.is_empty() {
        (
            "✓ Enter saves".to_string(),
            t.panel.add_modifier(Modifier::BOLD),
        )
    } else {
        (
            format!(
                "✗ {} to put right before it can be saved",
                if form.errors.len() == 1 {
                    "1 thing".to_string()
                } else {
                    format!("{} things", form.errors.len())
                }
            ),
            t.panel.patch(t.error),
        )
    };
    let vy = (y + 1).min(area.bottom().saturating_sub(1));
    if vy >= area.y {
        put_text(buf, area.x, vy, &verdict.0, area.right(), verdict.1, false);
    }
}

/// The record a form's edit writes: "person s1", "code E", "rule min-e".
pub(super) fn what_record(op: &rota_core::domain::Op) -> String {
    use rota_core::domain::Target;
    match op.target() {
        Target::Staff { id } => format!("person {id}"),
        Target::Code { code } => format!("code {code}"),
        Target::Rule { id } => format!("rule {id}"),
        Target::Settings => "settings".into(),
        Target::Cell { staff, date } => format!("{staff} on {date}"),
        Target::Request { staff, date } => format!("{staff}'s request on {date}"),
        Target::Proposal { staff, date } => format!("the proposal for {staff} on {date}"),
        Target::Publication { .. } => "the publication".into(),
    }
}

/// What a form's edit sets, in a few words.
pub(super) fn mine_record(op: &rota_core::domain::Op) -> String {
    use rota_core::domain::Op;
    match op {
        Op::AddStaff { name, group, .. } => format!("{name} ({group})"),
        Op::UpdateStaff { name, group, .. } => format!(
            "{} ({})",
            name.as_deref().unwrap_or("same name"),
            group.as_deref().unwrap_or("same group")
        ),
        Op::RemoveStaff { .. } | Op::RemoveCode { .. } | Op::RemoveRule { .. } => "removed".into(),
        Op::PutCode { code, .. } => format!("{} {} h", code.label, code.hours),
        Op::PutRule { rule, .. } => crate::forms::describe_rule(&rule.kind),
        Op::SetConflictMode { mode } => format!("{mode:?}"),
        Op::SetPeriod { from, to } => format!("period {from} to {to}"),
        Op::SetTimeZone { zone } => {
            format!("time zone {}", zone.as_deref().unwrap_or("(none)"))
        }
        Op::SetCell { code, .. } => code.clone().unwrap_or_else(|| "(empty)".into()),
        Op::PutRequest { request, .. } => request.describe(),
        Op::RemoveRequest { .. } => "withdrawn".into(),
        Op::Propose { code, .. } => match code {
            Some(c) => format!("{c} proposed"),
            None => "proposal withdrawn".into(),
        },
        Op::Publish { from, to, .. } => format!("published {from} to {to}"),
    }
}

/// The record as the colleague left it (as the hub sent it back).
pub(super) fn their_record(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "(none)".into();
    }
    if let Ok(r) = serde_json::from_value::<rota_core::domain::Rule>(v.clone()) {
        return crate::forms::describe_rule(&r.kind);
    }
    if let Ok(s) = serde_json::from_value::<rota_core::domain::Settings>(v.clone())
        && v.get("conflict_mode").is_some()
    {
        let period = s.period.map_or("no period".into(), |p| {
            format!("period {} to {}", p.from, p.to)
        });
        return format!(
            "{period}, time zone {}",
            s.time_zone.as_deref().unwrap_or("(none)")
        );
    }
    if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
        let group = v.get("group").and_then(|g| g.as_str()).unwrap_or("");
        let gone = v.get("active").and_then(|a| a.as_bool()) == Some(false);
        return format!("{name} ({group}){}", if gone { ", removed" } else { "" });
    }
    if let Some(code) = v.get("code").and_then(|c| c.as_str()) {
        let label = v.get("label").and_then(|l| l.as_str()).unwrap_or("");
        let hours = v.get("hours").and_then(|h| h.as_f64()).unwrap_or(0.0);
        return format!("{code} {label} {hours} h");
    }
    v.to_string()
}

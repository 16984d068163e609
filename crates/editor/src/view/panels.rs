//! The panels drawn over the grid: help, conflicts, a cell's history, the
//! jump list, the filter, the list of rule warnings, the list of
//! requests, and a person's published shifts. Every line is wrapped to the panel's width; a panel larger
//! than the screen scrolls.

use super::{panel_box, panel_lines, when, wrap_all};
use crate::grid::{glyph, put_text};
use crate::state::{HistoryPanel, RequestsPanel, ShiftsPanel, State, WarningsPanel};
use crate::theme::Theme;
use crate::update::{
    JumpTarget, bare_day, jump_targets, listed_requests, listed_shifts, listed_warnings, show_date,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::widgets::{Block, Borders, Clear, Widget};
use rota_client::EntryState;
use rota_core::domain::rules::Finding;
use rota_core::text::wrap;

/// Every line of the help: (keys, what they do). See [`crate::help`].
pub fn help_lines(state: &State) -> Vec<(String, String)> {
    crate::help::entries(state)
}

pub(super) fn help(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, scroll: usize) {
    use crate::help;
    let width = help::panel_width(area.width);
    let key_w = help::key_cols(width);
    let lines = help::lines(state, width);
    let rows = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let shown = rows.saturating_sub(2) as usize;
    // Scrolled no further than its last line at the bottom.
    let scroll = scroll.min(lines.len().saturating_sub(shown));
    let title = if shown >= lines.len() {
        "keys (Esc closes)".to_string()
    } else {
        format!(
            "help, lines {}–{} of {} (j k, PgDn PgUp, g G; Esc closes)",
            scroll + 1,
            (scroll + shown).min(lines.len()),
            lines.len()
        )
    };
    let inner = panel_box(buf, area, width, lines.len() as u16 + 2, &title, t);
    for (i, (k, d)) in lines
        .iter()
        .skip(scroll)
        .take(inner.height as usize)
        .enumerate()
    {
        let y = inner.y + i as u16;
        // Keys too long for their column have a line of their own.
        let key_end = if d.is_empty() {
            inner.right()
        } else {
            inner.x + key_w
        };
        put_text(
            buf,
            inner.x,
            y,
            k,
            key_end,
            t.panel.add_modifier(Modifier::BOLD),
            false,
        );
        put_text(buf, inner.x + key_w, y, d, inner.right(), t.panel, false);
    }
}

/// The most cells of one edit a conflict panel lists.
const LISTED_OPS: usize = 12;

pub(super) fn conflicts(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, index: usize) {
    let troubles = state.troubles();
    let Some(entry) = troubles.get(index) else {
        return;
    };
    let mut lines: Vec<String> = Vec::new();
    let title = match &entry.state {
        EntryState::Conflict { conflicts } => {
            lines.push(format!(
                "Your edit (made {}) met {} change{} by others:",
                when(state, entry.created),
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" }
            ));
            for op in entry.ops.iter().take(LISTED_OPS) {
                lines.push(conflict_line(state, op, conflicts));
            }
            if entry.ops.len() > LISTED_OPS {
                lines.push(format!(
                    "  … and {} more in this edit",
                    entry.ops.len() - LISTED_OPS
                ));
            }
            lines.push(String::new());
            lines.push(
                "m: keep mine (send it over theirs) · t: keep theirs (drop mine) · n: next".into(),
            );
            format!("conflict {} of {}", index + 1, troubles.len())
        }
        EntryState::Rejected {
            message, problems, ..
        } => {
            lines.push(format!(
                "The hub did not take your edit {} (made {}), so it is not saved:",
                entry.op_id,
                when(state, entry.created)
            ));
            for (i, op) in entry.ops.iter().enumerate().take(LISTED_OPS) {
                let mut line = conflict_line(state, op, &[]).replacen("mine ", "", 1);
                if let Some(p) = problems.iter().find(|p| p.op == i) {
                    line.push_str(&format!(": {}", plain_problem(p)));
                }
                lines.push(line);
            }
            if entry.ops.len() > LISTED_OPS {
                lines.push(format!(
                    "  … and {} more in this edit",
                    entry.ops.len() - LISTED_OPS
                ));
            }
            if problems.is_empty() {
                lines.push(format!("  why: {message}"));
            }
            lines.push(String::new());
            lines.push(
                "d: dismiss it (the cells keep the hub's values) · n: next · Esc: close".into(),
            );
            format!("rejected edit {} of {}", index + 1, troubles.len())
        }
        EntryState::Pending => return,
    };
    let width = area.width.saturating_sub(4).clamp(40, 110).min(area.width);
    let lines = wrap_all(&lines, width.saturating_sub(2));
    let inner = panel_box(buf, area, width, lines.len() as u16 + 2, &title, t);
    panel_lines(buf, inner, &lines, 0, t.panel);
}

/// Why the hub would not take one write, in a person's words.
fn plain_problem(p: &rota_core::domain::Problem) -> String {
    match p.code.as_str() {
        "staff_removed" | "unknown_staff" => "this person is no longer in the roster".into(),
        _ => p.message.clone(),
    }
}

/// One write of a conflicted edit: mine, and theirs (who, when) if any.
fn conflict_line(
    state: &State,
    op: &rota_core::domain::Op,
    conflicts: &[rota_core::domain::Conflict],
) -> String {
    use super::manage::{mine_record, their_record, what_record};
    if let rota_core::domain::Op::SetCell {
        staff, date, code, ..
    } = op
    {
        let name = state
            .view
            .read(|r| r.staff_member(staff).map(|s| s.name.clone()))
            .unwrap_or_else(|| staff.clone());
        let theirs = conflicts.iter().find(|c| {
            matches!(&c.target, rota_core::domain::Target::Cell { staff: s, date: d } if s == staff && d == date)
        });
        let mine = code.clone().unwrap_or_else(|| "(empty)".into());
        return match theirs {
            Some(c) => format!(
                "  {name}, {}: mine {mine}, theirs {} ({}, {})",
                show_date(*date),
                c.value.as_str().unwrap_or("(empty)"),
                c.user,
                when(state, c.at)
            ),
            None => format!("  {name}, {}: mine {mine}", show_date(*date)),
        };
    }
    // A request: as a cell's, by name and date, mine and theirs as requests.
    if let rota_core::domain::Target::Request { staff, date } = op.target() {
        let said = |r: Option<rota_core::domain::Request>| {
            r.map_or_else(
                || "request withdrawn".to_string(),
                |r| format!("request {}", crate::requests::wish_text(&r)),
            )
        };
        let mine = said(match op {
            rota_core::domain::Op::PutRequest { request, .. } => Some(request.clone()),
            _ => None,
        });
        let mut line = format!(
            "  {}, {}: ",
            state.name_of(&staff),
            date.0.format("%a %-d %b")
        );
        match conflicts.iter().find(|c| c.target == op.target()) {
            Some(c) => {
                let theirs = match serde_json::from_value(c.value.clone()) {
                    Ok(r) => said(Some(r)),
                    Err(_) if c.value.is_null() => "no request".to_string(),
                    Err(_) => "a request".to_string(),
                };
                line.push_str(&format!(
                    "mine {mine}, theirs {theirs} ({}, {})",
                    c.user,
                    when(state, c.at)
                ));
            }
            None => line.push_str(&format!("mine {mine}")),
        }
        return line;
    }
    // A person, a code, a rule or a setting changed from a form.
    let target = op.target();
    let theirs = conflicts.iter().find(|c| c.target == target);
    let mut line = format!("  {}: mine {}", what_record(op), mine_record(op));
    if let Some(c) = theirs {
        line.push_str(&format!(
            ", theirs {} ({}, {})",
            their_record(&c.value),
            c.user,
            when(state, c.at)
        ));
    }
    line
}

pub(super) fn history(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, p: &HistoryPanel) {
    let name = state
        .view
        .read(|r| r.staff_member(&p.staff).map(|s| s.name.clone()))
        .unwrap_or_else(|| p.staff.clone());
    let title = format!("history: {name}, {} (newest first)", show_date(p.date));
    let mut lines: Vec<String> = p.entries.iter().map(|e| history_line(state, e)).collect();
    if let Some(problem) = &p.problem {
        lines.push(problem.clone());
    } else if p.waiting.is_some() {
        lines.push("asking the hub…".into());
    } else if p.entries.is_empty() {
        lines.push("never written".into());
    } else if p.next.is_some() {
        lines.push("n: older changes".into());
    } else {
        lines.push("(the first change)".into());
    }
    let width = 78.min(area.width);
    let lines = wrap_all(&lines, width.saturating_sub(2));
    let h = (lines.len() as u16 + 2)
        .min(area.height.saturating_sub(4))
        .max(4);
    let inner = panel_box(buf, area, width, h, &title, t);
    let scroll = p
        .scroll
        .min(lines.len().saturating_sub(inner.height as usize));
    panel_lines(buf, inner, &lines, scroll, t.panel);
}

/// One change of a cell's history as the panel lists it: when, who, what
/// changed, and the edit's note (a script's file).
pub fn history_line(state: &State, e: &rota_core::protocol::HistoryEntry) -> String {
    let note = e
        .note
        .as_deref()
        .map(|n| format!("  [{n}]"))
        .unwrap_or_default();
    format!(
        "{:<13} {:<10} {}{note}",
        when(state, e.at),
        e.user,
        history_change(e)
    )
}

/// What one history entry changed: a cell's code before → after ("(empty)
/// → D"); a request's wish, as a request ("request: off N (weight 2) → off
/// (weight 3)", "request withdrawn: off N"); a publication's dates; any
/// other record as the conflict panel says it.
pub fn history_change(e: &rota_core::protocol::HistoryEntry) -> String {
    use super::manage::their_record;
    match e.entity.as_str() {
        "cell" => {
            let code = |v: &serde_json::Value| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| "(empty)".into())
            };
            format!("{} → {}", code(&e.before), code(&e.after))
        }
        "request" => crate::requests::history_text(&e.before, &e.after),
        "publication" => {
            match serde_json::from_value::<rota_core::domain::Publication>(e.after.clone()) {
                Ok(p) => {
                    let mut s = format!(
                        "published {} (publication {})",
                        crate::publish::range_text(p.from, p.to),
                        p.number
                    );
                    if !p.note.is_empty() {
                        s.push_str(&format!(": {}", p.note));
                    }
                    s
                }
                Err(_) => "a publication".into(),
            }
        }
        other => format!(
            "{other}: {} → {}",
            their_record(&e.before),
            their_record(&e.after)
        ),
    }
}

/// What the jump list offers for `query`, as it shows them: the date it
/// names (if any), then the people it matches.
/// The choices as shown in `cols` columns: a long name shortened at words
/// (its id kept whole), dates whole.
fn jump_choices(state: &State, query: &str, cols: usize) -> Vec<String> {
    use chrono::Datelike;
    let of_month = |d: rota_core::domain::Date| {
        if !bare_day(query) {
            ""
        } else if d.0.month() == state.cursor_date().0.month()
            && d.0.year() == state.cursor_date().0.year()
        {
            " (the cursor's month)"
        } else {
            " (this month)"
        }
    };
    jump_targets(state, query)
        .into_iter()
        .filter_map(|t| match t {
            JumpTarget::Date(d) => Some(format!("date: {}{}", show_date(d), of_month(d))),
            JumpTarget::Person(p) => state.layout.staff.get(p).map(|person| {
                let id_cols = rota_core::text::text_cols(&person.id, false) + 3;
                let name = rota_core::text::short_name(&person.name, cols.saturating_sub(id_cols));
                format!("{name} ({})", person.id)
            }),
        })
        .collect()
}

pub(super) fn jump(
    buf: &mut Buffer,
    area: Rect,
    state: &State,
    t: &Theme,
    query: &str,
    selected: usize,
) {
    let width = 44.min(area.width);
    let choices = jump_choices(state, query, width.saturating_sub(2) as usize);
    if choices.is_empty() {
        return;
    }
    let shown = choices
        .len()
        .min(8)
        .min(area.height.saturating_sub(4) as usize)
        .max(1);
    let h = shown as u16 + 2;
    let r = Rect {
        x: area.x,
        y: area.bottom().saturating_sub(1 + h),
        width,
        height: h,
    };
    Clear.render(r, buf);
    let title = format!(
        " {} choice{} ",
        choices.len(),
        if choices.len() == 1 { "" } else { "s" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .style(t.panel);
    let inner = block.inner(r);
    block.render(r, buf);
    let start = selected.saturating_sub(shown - 1);
    for (i, c) in choices.iter().enumerate().skip(start).take(shown) {
        let y = inner.y + (i - start) as u16;
        let style = if i == selected {
            t.panel.add_modifier(Modifier::REVERSED)
        } else {
            t.panel
        };
        let c = rota_core::text::fit_words(c, inner.width as usize);
        put_text(buf, inner.x, y, &c, inner.right(), style, false);
    }
}

pub(super) fn filter(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, selected: usize) {
    let choices = state.filter_choices();
    let inner = panel_box(buf, area, 44, choices.len() as u16 + 2, "show", t);
    let rows = inner.height as usize;
    let start = selected.saturating_sub(rows.saturating_sub(1));
    for (i, f) in choices.iter().enumerate().skip(start).take(rows) {
        let mut style = t.panel;
        if i == selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let mark = if *f == state.filter { "● " } else { "  " };
        put_text(
            buf,
            inner.x,
            inner.y + (i - start) as u16,
            &format!("{mark}{}", f.describe()),
            inner.right(),
            style,
            false,
        );
    }
}

/// A finding as the warnings list shows it: its sentence, then its rule.
pub fn warning_line(f: &Finding) -> String {
    format!("{}  [{}]", f.message(), f.rule)
}

/// Whether a finding is an unmet request (soft), not a rule's.
fn is_request(f: &Finding) -> bool {
    matches!(f.what, rota_core::domain::rules::What::Request { .. })
}

/// The warnings panel's title in at most `room` columns: as many of its
/// parts as fit, each whole (the hint goes first, then the words shorten),
/// counts of one in the singular. `rules`: the rule warnings listed (all
/// of them, `total`, with `all`); `unmet`: the unmet requests listed,
/// named when the roster has any (`requests`).
pub fn warnings_title(
    all: bool,
    rules: usize,
    total: usize,
    unmet: usize,
    requests: bool,
    room: usize,
) -> String {
    use rota_script::diff::plural;
    let asks = |what: &str| {
        if requests {
            format!(", {}", plural(unmet, what))
        } else {
            String::new()
        }
    };
    let (long, short) = (asks("unmet request"), asks("unmet"));
    let candidates = if all {
        let all_of = |what: &str| match total {
            1 => plural(1, what),
            n => format!("all {}", plural(n, what)),
        };
        vec![
            format!(
                "{}{long} (Tab: the dates on screen)",
                all_of("rule warning")
            ),
            format!("{}{long} (Tab: on screen)", all_of("rule warning")),
            format!("{}{long}", all_of("rule warning")),
            format!("{}{long}", all_of("warning")),
            format!("{}{short}", all_of("warning")),
            plural(total, "warning"),
        ]
    } else {
        let of_total = |what: &str| format!("{rules} of {}", plural(total, what));
        vec![
            format!(
                "{}{long} on the dates shown (Tab: all)",
                of_total("rule warning")
            ),
            format!("{}{long} on the dates shown", of_total("rule warning")),
            format!("{}{long} on screen", of_total("warning")),
            format!("{}{short} on screen", of_total("warning")),
            format!("{}{short}", of_total("warning")),
            format!("{rules} of {total}"),
        ]
    };
    let last = candidates.last().cloned().unwrap_or_default();
    candidates
        .into_iter()
        .find(|c| rota_core::text::text_cols(c, false) <= room)
        .unwrap_or(last)
}

pub(super) fn warnings(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, w: &WarningsPanel) {
    let listed = listed_warnings(state, w.all);
    let total = state.findings.len();
    let unmet = listed.iter().filter(|f| is_request(f)).count();
    let rules = listed.len() - unmet;
    let width = area.width.saturating_sub(4).clamp(30, 120).min(area.width);
    let room = width.saturating_sub(4) as usize;
    let asks = if w.all {
        state.findings.unmet_count()
    } else {
        unmet
    };
    let title = warnings_title(
        w.all,
        rules,
        total,
        asks,
        state.findings.unmet_count() > 0,
        room,
    );
    let h = area.height.saturating_sub(4).max(3);
    let inner = panel_box(buf, area, width, h, &title, t);
    if listed.is_empty() {
        let none = if w.all {
            "No rule warnings and no unmet requests: every rule holds over the planning period."
        } else {
            "None on the dates shown (Tab lists all)."
        };
        panel_lines(buf, inner, &wrap(none, inner.width as usize), 0, t.panel);
        return;
    }
    // From the selected warning back, as many as fit above it.
    let rows = inner.height as usize;
    let selected = w.selected.min(listed.len() - 1);
    let height = |f: &Finding| wrap(&warning_line(f), room).len();
    let mut start = selected;
    let mut used = height(listed[selected]);
    while start > 0 && used + height(listed[start - 1]) <= rows {
        start -= 1;
        used += height(listed[start]);
    }
    let mut y = inner.y;
    for (i, f) in listed.iter().enumerate().skip(start) {
        let style = if i == selected {
            t.panel.add_modifier(Modifier::REVERSED)
        } else {
            t.panel
        };
        for (j, l) in wrap(&warning_line(f), room).iter().enumerate() {
            if y >= inner.bottom() {
                return;
            }
            // An unmet request is marked as the cells mark it.
            let lead = match (j, is_request(f)) {
                (0, true) => format!("{} ", glyph::UNMET),
                (0, false) => "• ".into(),
                _ => "  ".into(),
            };
            let end = put_text(buf, inner.x, y, &lead, inner.right(), t.panel, false);
            put_text(buf, end, y, l, inner.right(), style, false);
            y += 1;
        }
    }
}

pub(super) fn requests(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, p: &RequestsPanel) {
    use crate::requests::Listing;
    let listed = listed_requests(state, &p.listing);
    let n = listed.len();
    let name = |id: &str| {
        state
            .view
            .read(|r| r.staff_member(id).map(|s| s.name.clone()))
            .unwrap_or_else(|| id.to_string())
    };
    let unmet = listed.iter().filter(|l| !l.met).count();
    let count = format!(
        "{}{}",
        rota_script::diff::plural(n, "request"),
        if unmet > 0 {
            format!(" ({unmet} unmet)")
        } else {
            String::new()
        }
    );
    let day = |d: rota_core::domain::Date| d.0.format("%a %-d %b").to_string();
    let (title, none) = match &p.listing {
        Listing::Person(id) => (
            format!("{count} of {} (Tab: all on {})", name(id), day(p.date)),
            format!(
                "{} has no requests. R enters one on the cursor's cell.",
                name(id)
            ),
        ),
        Listing::Date(d) => (
            format!("{count} on {} (Tab: all of {})", day(*d), name(&p.staff)),
            format!(
                "No requests on {}. R enters one on the cursor's cell.",
                show_date(*d)
            ),
        ),
    };
    let width = area.width.saturating_sub(4).clamp(30, 110).min(area.width);
    let room = width.saturating_sub(4) as usize;
    // As tall as its lines, no taller than the screen less four.
    let wrapped: usize = if listed.is_empty() {
        wrap(&none, width.saturating_sub(2) as usize).len()
    } else {
        listed.iter().map(|l| wrap(&l.text, room).len()).sum()
    };
    let h = (wrapped as u16 + 2)
        .min(area.height.saturating_sub(4))
        .max(3);
    let inner = panel_box(buf, area, width, h, &title, t);
    if listed.is_empty() {
        panel_lines(buf, inner, &wrap(&none, inner.width as usize), 0, t.panel);
        return;
    }
    // From the selected line back, as many as fit above it.
    let rows = inner.height as usize;
    let selected = p.selected.min(n - 1);
    let height = |i: usize| wrap(&listed[i].text, room).len();
    let mut start = selected;
    let mut used = height(selected);
    while start > 0 && used + height(start - 1) <= rows {
        start -= 1;
        used += height(start);
    }
    let mut y = inner.y;
    for (i, l) in listed.iter().enumerate().skip(start) {
        let style = if i == selected {
            t.panel.add_modifier(Modifier::REVERSED)
        } else {
            t.panel
        };
        for (j, part) in wrap(&l.text, room).iter().enumerate() {
            if y >= inner.bottom() {
                return;
            }
            // Marked as the cells mark them: met or not.
            let lead = match (j, l.met) {
                (0, true) => format!("{} ", glyph::MET),
                (0, false) => format!("{} ", glyph::UNMET),
                _ => "  ".into(),
            };
            let end = put_text(buf, inner.x, y, &lead, inner.right(), t.panel, false);
            put_text(buf, end, y, part, inner.right(), style, false);
            y += 1;
        }
    }
}

/// A person's published shifts from today, as `rota --mine` prints them;
/// sized as the requests panel, scrolled as the help.
pub(super) fn shifts(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, p: &ShiftsPanel) {
    let listed = listed_shifts(state, p);
    let (width, lines, shown) = crate::shifts::panel(&listed, (area.width, area.height));
    let scroll = p.scroll.min(lines.len().saturating_sub(shown));
    let name = state.name_of(&p.staff);
    let title = if shown >= lines.len() {
        format!("shifts of {name} (Esc closes)")
    } else {
        format!(
            "shifts of {name}, lines {}–{} of {} (j k, PgDn PgUp, g G; Esc closes)",
            scroll + 1,
            (scroll + shown).min(lines.len()),
            lines.len()
        )
    };
    let inner = panel_box(buf, area, width, shown as u16 + 2, &title, t);
    panel_lines(buf, inner, &lines, scroll, t.panel);
}

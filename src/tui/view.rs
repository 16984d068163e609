//! The view: borrows the state and draws one frame (header, grid, status
//! line, and the panel of the mode). Reads the roster through the state's
//! view reader, once per frame; changes nothing.

use super::grid::{Grid, glyph, initials, put_text};
use super::keys::MODE_HELP;
use super::state::{HistoryPanel, Mark, Mode, State, text_cols};
use super::theme::Theme;
use super::update::{jump_matches, show_date};
use crate::sync::{ConnState, EntryState};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

pub fn draw(frame: &mut Frame, state: &State, theme: &Theme) {
    let area = frame.area();
    if area.height < 5 || area.width < 20 {
        Paragraph::new("rota: the terminal is too small (20x5 at least)")
            .wrap(Wrap { trim: true })
            .render(area, frame.buffer_mut());
        return;
    }
    let buf = frame.buffer_mut();
    header(buf, Rect { height: 1, ..area }, state, theme);
    let grid_area = Rect {
        y: area.y + 1,
        height: area.height - 2,
        ..area
    };
    state.view.read(|roster| {
        Grid {
            state,
            roster,
            theme,
        }
        .render(grid_area, buf);
    });
    status(
        buf,
        Rect {
            y: area.bottom() - 1,
            height: 1,
            ..area
        },
        state,
        theme,
    );
    match &state.mode {
        Mode::Help { scroll } => help(buf, area, state, theme, *scroll),
        Mode::Conflicts { index } => conflicts(buf, area, state, theme, *index),
        Mode::History(p) => history(buf, area, state, theme, p),
        Mode::Jump { query, selected } => jump(buf, area, state, theme, query, *selected),
        Mode::Filter { selected } => filter_panel(buf, area, state, theme, *selected),
        Mode::Manage(m) => manage_panel(buf, area, state, theme, m),
        _ => {}
    }
}

/// "14:05" in the editor's time zone.
fn clock(state: &State, ms: i64) -> String {
    let offset = offset(state);
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&offset).format("%H:%M").to_string())
        .unwrap_or_else(|| "--:--".into())
}

fn offset(state: &State) -> chrono::FixedOffset {
    use chrono::Offset;
    chrono::FixedOffset::east_opt(state.utc_offset).unwrap_or_else(|| chrono::Utc.fix())
}

/// "30 Nov 14:05" in the editor's time zone.
fn when(state: &State, ms: i64) -> String {
    let offset = offset(state);
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&offset).format("%-d %b %H:%M").to_string())
        .unwrap_or_default()
}

/// What the header says of the connection, and why when not connected.
pub fn connection_text(state: &State) -> (String, Option<String>) {
    let since = state
        .offline_since
        .map(|t| format!(" since {}", clock(state, t)))
        .unwrap_or_default();
    match &state.conn {
        ConnState::Connected { .. } => ("● connected".into(), None),
        ConnState::Connecting { attempt } if *attempt <= 1 => ("◌ connecting".into(), None),
        ConnState::Connecting { attempt } => (format!("◌ connecting (try {attempt})"), None),
        ConnState::Retrying { reason, .. } => {
            let secs = state
                .retry_at
                .map_or(0, |r| ((r - state.now).max(0) + 999) / 1000);
            (
                format!("○ offline{since}, retry in {secs} s"),
                Some(reason.clone()),
            )
        }
        ConnState::Offline { reason } => (format!("○ offline{since}"), Some(reason.clone())),
        ConnState::Refused { reason } => {
            (format!("⊘ refused by the hub{since}"), Some(reason.clone()))
        }
    }
}

/// The header, most important first (it is cut at the screen's edge):
/// roster, connection, saved, conflicts, who else is here, user, dates,
/// why offline.
fn header(buf: &mut Buffer, area: Rect, state: &State, t: &Theme) {
    buf.set_style(area, t.header);
    let (pending, conflicted, rejected) = state.counts();
    let sep = || Span::raw(" │ ");
    let (conn, why) = connection_text(state);
    let mut spans = vec![
        Span::styled(" rota ", t.header.add_modifier(Modifier::BOLD)),
        Span::raw(state.roster_name.clone()),
        sep(),
        Span::raw(conn),
        sep(),
    ];
    spans.push(Span::raw(if pending + conflicted == 0 {
        "✓ all saved".to_string()
    } else {
        format!("✎ {} unsaved", pending + conflicted)
    }));
    if conflicted > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!(
                "! {conflicted} conflict{}",
                if conflicted == 1 { "" } else { "s" }
            ),
            t.header.add_modifier(Modifier::BOLD),
        ));
    }
    if rejected > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!("x {rejected} rejected"),
            t.header.add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(b) = state.selection() {
        spans.push(sep());
        spans.push(Span::styled(
            format!("▣ {} × {} selected", b.people(), b.days()),
            t.header.add_modifier(Modifier::BOLD),
        ));
    }
    if state.filter != super::state::Filter::Everyone {
        spans.push(sep());
        spans.push(Span::styled(
            format!(
                "showing {} ({})",
                state.filter.describe(),
                state.layout.staff.len()
            ),
            t.header.add_modifier(Modifier::BOLD),
        ));
    }
    let warnings = state.findings.len();
    if warnings > 0 {
        spans.push(sep());
        spans.push(Span::styled(
            format!(
                "^ {warnings} warning{}",
                if warnings == 1 { "" } else { "s" }
            ),
            t.header.add_modifier(Modifier::BOLD),
        ));
    }
    if !state.others.is_empty() {
        spans.push(sep());
        spans.push(Span::raw("here:"));
        let mut seen: Vec<&str> = Vec::new();
        for o in state.others.values() {
            if seen.contains(&o.user.as_str()) {
                continue;
            }
            seen.push(&o.user);
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                initials(&o.user),
                t.header.patch(t.other(&o.user)),
            ));
        }
    }
    let cols = state.grid_cols().max(1);
    let first = state.layout.date(state.left);
    let last = state
        .layout
        .date((state.left + cols - 1).min(state.layout.days.saturating_sub(1)));
    spans.push(sep());
    spans.push(Span::raw(state.user.clone()));
    spans.push(sep());
    spans.push(Span::raw(format!(
        "{} – {}",
        first.0.format("%-d %b"),
        last.0.format("%-d %b %Y")
    )));
    if let Some(why) = why {
        spans.push(sep());
        spans.push(Span::raw(why));
    }
    Line::from(spans).render(area, buf);
}

fn status(buf: &mut Buffer, area: Rect, state: &State, t: &Theme) {
    buf.set_style(area, t.status);
    let (mode, hint): (String, String) = match &state.mode {
        Mode::Normal if state.prefix.is_some() => (
            "NORMAL".into(),
            "g… (g: first person, other keys: jump)".into(),
        ),
        Mode::Normal => (
            "NORMAL".into(),
            "type a code · x clear · u undo · c conflicts · H history · g jump · ? help · q quit"
                .into(),
        ),
        Mode::Entry { typed } => {
            let cands = state.candidates(typed);
            (
                "CODE".into(),
                format!(
                    "{typed}▏ {}   Enter/Tab complete · Esc cancel",
                    cands.join(" ")
                ),
            )
        }
        Mode::Jump { query, .. } => (
            "JUMP".into(),
            format!("go to: {query}▏   a date (24, 24/12, 2026-12-24) or a name · Enter · Esc"),
        ),
        Mode::Help { .. } => ("HELP".into(), "j/k scroll · Esc close".into()),
        Mode::Conflicts { index } => (
            format!("CONFLICT {}/{}", index + 1, state.troubles().len()),
            "m keep mine · t keep theirs · d dismiss · n next · Esc close".into(),
        ),
        Mode::History(_) => ("HISTORY".into(), "j/k scroll · n older · Esc close".into()),
        Mode::Pattern { typed } => (
            "PATTERN".into(),
            format!("{typed}▏   codes with commas (D,D,N,N,OFF,OFF) laid over the block · Enter · Esc"),
        ),
        Mode::Find { query } => (
            "FIND".into(),
            format!("/{query}▏   part of a name · Tab next · Enter keep · Esc"),
        ),
        Mode::Filter { .. } => ("FILTER".into(), "j/k choose · Enter show · Esc close".into()),
        Mode::Manage(m) => (
            "MANAGE".into(),
            match (&m.form, m.adding_rule, m.confirm_remove) {
                (Some(_), _, _) => "type · Tab/↑↓ field · Enter save · Esc cancel".into(),
                (None, true, _) => "a new rule: s staffing · f forbidden sequence · l limit".into(),
                (None, false, true) => "remove it? y yes · any other key no".into(),
                _ => "Tab staff/codes/rules/users · j/k · a add · Enter change · d remove · J/K reorder · Esc".into(),
            },
        ),
        Mode::ConfirmUndo { changed } => (
            "UNDO?".into(),
            format!(
                "{changed} of the cells this undo restores were changed by someone else since. Undo anyway? y/n"
            ),
        ),
    };
    let mut x = put_text(
        buf,
        area.x,
        area.y,
        &format!(" {mode} "),
        area.right(),
        t.status.add_modifier(Modifier::REVERSED | Modifier::BOLD),
        false,
    );
    x += 1;
    let (text, style) = match &state.message {
        Some((m, true)) if matches!(state.mode, Mode::Normal | Mode::Manage(_)) => {
            (m.clone(), t.status.patch(t.error))
        }
        Some((m, false)) if matches!(state.mode, Mode::Normal) => (m.clone(), t.status),
        _ => (hint, t.status),
    };
    let info = cell_info(state);
    let info_cols = text_cols(&info, false) as u16;
    let right = area.right().saturating_sub(info_cols + 1);
    put_text(
        buf,
        x,
        area.y,
        &text,
        right.saturating_sub(1).max(x),
        style,
        false,
    );
    if right > x + 10 {
        put_text(
            buf,
            right,
            area.y,
            &info,
            area.right(),
            t.status.add_modifier(Modifier::BOLD),
            false,
        );
    }
}

/// The cell under the cursor: who, when, what, and how it stands.
fn cell_info(state: &State) -> String {
    let Some(p) = state.person() else {
        return "no staff yet".into();
    };
    let date = state.cursor_date();
    let code = state.cursor_code();
    let label = code
        .as_ref()
        .and_then(|c| state.layout.codes.get(c))
        .map(|c| c.label.clone())
        .filter(|l| !l.is_empty());
    let stands = match state.mark(&p.id, date) {
        Some(Mark::Pending) => " (pending)",
        Some(Mark::Conflict { .. }) => " (conflict)",
        Some(Mark::Rejected { .. }) => " (rejected)",
        None => "",
    };
    let what = match (code, label) {
        (Some(c), Some(l)) => format!("{c} {l}"),
        (Some(c), None) => c,
        (None, _) => "empty".into(),
    };
    format!(
        "{} · {} · {what}{stands}",
        p.name,
        date.0.format("%a %-d %b")
    )
}

/// A box in the middle of the screen, cleared, with a title.
fn panel_box(buf: &mut Buffer, area: Rect, w: u16, h: u16, title: &str, t: &Theme) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height.saturating_sub(2));
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + 1 + (area.height.saturating_sub(2) - h) / 2,
        width: w,
        height: h,
    };
    Clear.render(r, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(
            format!(" {title} "),
            Style::default().add_modifier(Modifier::BOLD),
        ))
        .style(t.panel);
    let inner = block.inner(r);
    block.render(r, buf);
    inner
}

/// Writes lines into a panel from `skip` on, as many as fit.
fn panel_lines(buf: &mut Buffer, inner: Rect, lines: &[String], skip: usize, style: Style) {
    for (i, l) in lines
        .iter()
        .skip(skip)
        .take(inner.height as usize)
        .enumerate()
    {
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
}

/// Every line of the help: the keys (from the key map), then what the
/// cell marks mean.
pub fn help_lines(state: &State) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = state
        .keymap
        .help_rows()
        .into_iter()
        .map(|(k, d)| (k, d.to_string()))
        .collect();
    out.push((String::new(), String::new()));
    for (mode, keys, what) in MODE_HELP {
        out.push((format!("{mode}: {keys}"), what.to_string()));
    }
    out.push((String::new(), String::new()));
    out.push((
        "cells".into(),
        "how each stands (also without colour)".into(),
    ));
    let legend = [
        ("D".to_string(), "saved on the hub"),
        (
            format!("D{}", glyph::PENDING),
            "pending: edited here, not yet on the hub (italic)",
        ),
        (
            format!("D{}", glyph::CONFLICT),
            "conflict: someone else changed it; c to choose (bold)",
        ),
        (
            format!("D{}", glyph::REJECTED),
            "rejected by the hub; c shows why (crossed out)",
        ),
        (
            format!("D{}", glyph::CHANGED),
            "just changed by someone else (underlined, fades)",
        ),
        (
            "DB".into(),
            "another editor's cursor: their initial (underlined)",
        ),
        (glyph::EMPTY.into(), "empty"),
    ];
    for (g, what) in legend {
        out.push((format!("  {g}"), what.to_string()));
    }
    out
}

fn help(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, scroll: usize) {
    let width = area.width.saturating_sub(4).clamp(78, 110).min(area.width);
    let key_w = 34u16.min(width / 2);
    // Each description wrapped to the room beside its keys.
    let room = width.saturating_sub(2 + key_w).max(10) as usize;
    let mut lines: Vec<(String, String)> = Vec::new();
    for (k, d) in help_lines(state) {
        for (i, part) in wrap(&d, room).into_iter().enumerate() {
            lines.push((if i == 0 { k.clone() } else { String::new() }, part));
        }
    }
    let inner = panel_box(
        buf,
        area,
        width,
        lines.len() as u16 + 2,
        "keys (? or Esc to close)",
        t,
    );
    for (i, (k, d)) in lines
        .iter()
        .skip(scroll)
        .take(inner.height as usize)
        .enumerate()
    {
        let y = inner.y + i as u16;
        put_text(
            buf,
            inner.x,
            y,
            k,
            inner.x + key_w,
            t.panel.add_modifier(Modifier::BOLD),
            false,
        );
        put_text(buf, inner.x + key_w, y, d, inner.right(), t.panel, false);
    }
}

/// Text broken at spaces into lines of at most `cols` columns (a word
/// longer than that stands alone, cut by the panel).
fn wrap(text: &str, cols: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for word in text.split(' ') {
        let line = out.last_mut().map_or(0, |l| text_cols(l, false));
        if line > 0 && line + 1 + text_cols(word, false) > cols {
            out.push(String::new());
        }
        if let Some(l) = out.last_mut() {
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
    }
    out
}

fn conflicts(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, index: usize) {
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
            for op in &entry.ops {
                if let crate::domain::Op::SetCell {
                    staff, date, code, ..
                } = op
                {
                    let name = state
                        .view
                        .read(|r| r.staff_member(staff).map(|s| s.name.clone()))
                        .unwrap_or_else(|| staff.clone());
                    let theirs = conflicts.iter().find(|c| matches!(&c.target, crate::domain::Target::Cell { staff: s, date: d } if s == staff && d == date));
                    let mine = code.clone().unwrap_or_else(|| "(empty)".into());
                    match theirs {
                        Some(c) => lines.push(format!(
                            "  {name}, {}: mine {mine}, theirs {} ({}, {})",
                            show_date(*date),
                            c.value.as_str().unwrap_or("(empty)"),
                            c.user,
                            when(state, c.at)
                        )),
                        None => lines.push(format!("  {name}, {}: mine {mine}", show_date(*date))),
                    }
                } else {
                    // A person, a code or a rule changed from a form.
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
                    lines.push(line);
                }
            }
            lines.push(String::new());
            lines.push(
                "m: keep mine (send it over theirs) · t: keep theirs (drop mine) · n: next".into(),
            );
            format!("conflict {} of {}", index + 1, troubles.len())
        }
        EntryState::Rejected { message, code, .. } => {
            lines.push(format!(
                "The hub refused your edit (made {}): {code}",
                when(state, entry.created)
            ));
            lines.push(format!("  {message}"));
            lines.push(String::new());
            lines.push("d: dismiss (the cell keeps the hub's value) · n: next".into());
            format!("rejected edit {} of {}", index + 1, troubles.len())
        }
        EntryState::Pending => return,
    };
    let h = lines.len() as u16 + 2;
    let inner = panel_box(
        buf,
        area,
        area.width.saturating_sub(4).clamp(76, 110),
        h,
        &title,
        t,
    );
    panel_lines(buf, inner, &lines, 0, t.panel);
}

fn history(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, p: &HistoryPanel) {
    let name = state
        .view
        .read(|r| r.staff_member(&p.staff).map(|s| s.name.clone()))
        .unwrap_or_else(|| p.staff.clone());
    let title = format!("history: {name}, {} (newest first)", show_date(p.date));
    let mut lines: Vec<String> = Vec::new();
    for e in &p.entries {
        let show = |v: &serde_json::Value| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| "(empty)".into())
        };
        let note = e
            .note
            .as_deref()
            .map(|n| format!("  [{n}]"))
            .unwrap_or_default();
        lines.push(format!(
            "{:<13} {:<10} {} → {}{note}",
            when(state, e.at),
            e.user,
            show(&e.before),
            show(&e.after)
        ));
    }
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
    let h = (lines.len() as u16 + 2)
        .min(area.height.saturating_sub(4))
        .max(4);
    let inner = panel_box(buf, area, 78, h, &title, t);
    panel_lines(buf, inner, &lines, p.scroll, t.panel);
}

fn jump(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, query: &str, selected: usize) {
    let matches = jump_matches(state, query);
    if matches.is_empty() {
        return;
    }
    let shown = matches.len().min(8);
    let h = shown as u16 + 2;
    let r = Rect {
        x: area.x,
        y: area.bottom().saturating_sub(1 + h),
        width: 40.min(area.width),
        height: h,
    };
    Clear.render(r, buf);
    let title = format!(
        " {} match{} ",
        matches.len(),
        if matches.len() == 1 { "" } else { "es" }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .style(t.panel);
    let inner = block.inner(r);
    block.render(r, buf);
    let start = selected.saturating_sub(shown - 1);
    for (i, &p) in matches.iter().enumerate().skip(start).take(shown) {
        let y = inner.y + (i - start) as u16;
        let style = if i == selected {
            t.panel.add_modifier(Modifier::REVERSED)
        } else {
            t.panel
        };
        if let Some(person) = state.layout.staff.get(p) {
            put_text(
                buf,
                inner.x,
                y,
                &format!("{} ({})", person.name, person.id),
                inner.right(),
                style,
                false,
            );
        }
    }
}

fn filter_panel(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, selected: usize) {
    let choices = state.filter_choices();
    let inner = panel_box(buf, area, 44, choices.len() as u16 + 2, "show", t);
    for (i, f) in choices.iter().enumerate().take(inner.height as usize) {
        let mut style = t.panel;
        if i == selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let mark = if *f == state.filter { "● " } else { "  " };
        put_text(
            buf,
            inner.x,
            inner.y + i as u16,
            &format!("{mark}{}", f.describe()),
            inner.right(),
            style,
            false,
        );
    }
}

/// The manage panel: tabs, the list, and the form when one is open.
fn manage_panel(buf: &mut Buffer, area: Rect, state: &State, t: &Theme, m: &super::forms::Manage) {
    use super::forms::{Tab, list, user_lines};
    let items = if m.tab == Tab::Users {
        user_lines(&state.users.users)
    } else {
        state.view.read(|r| list(r, m.tab))
    };
    let h = area.height.saturating_sub(4).max(6);
    let inner = panel_box(
        buf,
        area,
        area.width.saturating_sub(4).min(110),
        h,
        "manage the roster",
        t,
    );
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
        panel_lines(buf, body, &lines, 0, t.panel);
        return;
    }
    let mut body = body;
    if m.tab == Tab::Users {
        let u = &state.users;
        let note = match (&u.token, &u.problem, u.waiting) {
            (Some((user, token)), _, _) => Some((
                format!("{user}'s token, shown only now: {token}"),
                t.panel.add_modifier(Modifier::BOLD),
            )),
            (None, Some(p), _) => Some((p.clone(), t.panel.patch(t.error))),
            (None, None, Some(_)) => Some(("asking the hub…".to_string(), t.panel)),
            _ => None,
        };
        if let Some((line, style)) = note {
            put_text(buf, body.x, body.y, &line, body.right(), style, false);
            body.y += 2;
            body.height = body.height.saturating_sub(2);
        }
        if items.is_empty() {
            return;
        }
    }
    if items.is_empty() {
        put_text(
            buf,
            body.x,
            body.y,
            &format!("no {} yet: a adds one", m.tab.name()),
            body.right(),
            t.panel,
            false,
        );
        return;
    }
    let rows = body.height as usize;
    let start = m.selected.saturating_sub(rows.saturating_sub(1));
    for (i, (_, line)) in items.iter().enumerate().skip(start).take(rows) {
        let mut style = t.panel;
        if i == m.selected {
            style = style.add_modifier(Modifier::REVERSED);
            if m.confirm_remove {
                style = style.patch(t.error);
            }
        }
        put_text(
            buf,
            body.x,
            body.y + (i - start) as u16,
            line,
            body.right(),
            style,
            false,
        );
    }
}

/// A form: each field with its value, what it takes, and what is wrong.
fn form_lines(buf: &mut Buffer, area: Rect, t: &Theme, form: &super::forms::Form) {
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
    let mut y = area.y + 2;
    for (i, f) in form.fields.iter().enumerate() {
        if y >= area.bottom() {
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
        let shown = if focused {
            format!("{}▏", f.value)
        } else {
            f.value.clone()
        };
        put_text(buf, vx, y, &shown, vx + value_w, value_style, false);
        let hx = vx + value_w + 1;
        match form.errors.iter().find(|(at, _)| *at == i) {
            Some((_, m)) => put_text(
                buf,
                hx,
                y,
                &format!("✗ {m}"),
                area.right(),
                t.panel.patch(t.error),
                false,
            ),
            None => put_text(
                buf,
                hx,
                y,
                f.hint,
                area.right(),
                t.panel.add_modifier(Modifier::DIM),
                false,
            ),
        };
        y += 1;
    }
    y += 1;
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
    if y < area.bottom() {
        put_text(buf, area.x, y, &verdict.0, area.right(), verdict.1, false);
    }
}

/// The record a form's edit writes: "person s1", "code E", "rule min-e".
fn what_record(op: &crate::domain::Op) -> String {
    use crate::domain::Target;
    match op.target() {
        Target::Staff { id } => format!("person {id}"),
        Target::Code { code } => format!("code {code}"),
        Target::Rule { id } => format!("rule {id}"),
        Target::Settings => "settings".into(),
        Target::Cell { staff, date } => format!("{staff} on {date}"),
    }
}

/// What a form's edit sets, in a few words.
fn mine_record(op: &crate::domain::Op) -> String {
    use crate::domain::Op;
    match op {
        Op::AddStaff { name, group, .. } => format!("{name} ({group})"),
        Op::UpdateStaff { name, group, .. } => format!(
            "{} ({})",
            name.as_deref().unwrap_or("same name"),
            group.as_deref().unwrap_or("same group")
        ),
        Op::RemoveStaff { .. } | Op::RemoveCode { .. } | Op::RemoveRule { .. } => "removed".into(),
        Op::PutCode { code, .. } => format!("{} {} h", code.label, code.hours),
        Op::PutRule { rule, .. } => super::forms::describe_rule(&rule.kind),
        Op::SetConflictMode { mode } => format!("{mode:?}"),
        Op::SetCell { code, .. } => code.clone().unwrap_or_else(|| "(empty)".into()),
    }
}

/// The record as the colleague left it (as the hub sent it back).
fn their_record(v: &serde_json::Value) -> String {
    if v.is_null() {
        return "(none)".into();
    }
    if let Ok(r) = serde_json::from_value::<crate::domain::Rule>(v.clone()) {
        return super::forms::describe_rule(&r.kind);
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

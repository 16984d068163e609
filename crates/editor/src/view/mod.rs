//! The view: borrows the state and draws one frame (header, grid, status
//! line, what was said, and the panel of the mode). Reads the roster
//! through the state's view reader; changes nothing.
//!
//! Words a person reads are never cut: the header and the key hints are
//! made of items shown whole or left out (least needed first), and a
//! message longer than the status line is wrapped above it.
//!
//! - [`panels`]: help, conflicts, history, jump, filter, warnings.
//! - [`manage`]: the manage panel and its forms.

mod manage;
mod panels;

use super::grid::{Grid, initials, put_text};
use super::state::{Mark, Mode, State, text_cols};
use super::theme::Theme;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use rota_client::ConnState;
use rota_core::text::{fit_segments, wrap};

pub use panels::{help_lines, history_change, history_line, warning_line};

/// The smallest screen the editor draws on.
pub const MIN_SIZE: (u16, u16) = (20, 5);

pub fn draw(frame: &mut Frame, state: &State, theme: &Theme) {
    let area = frame.area();
    if area.height < MIN_SIZE.1 || area.width < MIN_SIZE.0 {
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
    let status_area = Rect {
        y: area.bottom() - 1,
        height: 1,
        ..area
    };
    let over = status(buf, status_area, state, theme);
    match &state.mode {
        Mode::Help { scroll } => panels::help(buf, area, state, theme, *scroll),
        Mode::Conflicts { index } => panels::conflicts(buf, area, state, theme, *index),
        Mode::History(p) => panels::history(buf, area, state, theme, p),
        Mode::Jump { query, selected } => panels::jump(buf, area, state, theme, query, *selected),
        Mode::Filter { selected } => panels::filter(buf, area, state, theme, *selected),
        Mode::Warnings(w) => panels::warnings(buf, area, state, theme, w),
        Mode::Requests(p) => panels::requests(buf, area, state, theme, p),
        Mode::Shifts(p) => panels::shifts(buf, area, state, theme, p),
        Mode::Manage(m) => manage::panel(buf, area, state, theme, m),
        _ => {}
    }
    if let Some((text, warn)) = over {
        message_area(buf, area, &text, warn, theme);
    }
    if let (Mode::Manage(_), Some((user, token))) = (&state.mode, &state.users.token) {
        manage::token_box(buf, area, theme, user, token);
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

/// Who this editor is as the header says it: the account (or the name
/// given on a hub without accounts), and the role when it limits.
pub fn who_text(state: &State) -> String {
    let name = state.access.account.as_deref().unwrap_or(&state.user);
    match state.role() {
        Some(role) if state.access.account.is_some() || role != "admin" => {
            format!("{name} ({role})")
        }
        _ => name.to_string(),
    }
}

/// One item of the header: its text, style, and how much it is needed
/// (0 most; the least needed go first when the line is too narrow).
struct Item {
    text: String,
    /// What it shrinks to when even the most needed items do not fit.
    short: String,
    style: Style,
    need: u8,
}

/// The header, its items each whole or left out, in this order: roster,
/// connection, saved, conflicts, rejected, warnings, unpublished changes,
/// selection, filter,
/// who else is here, who this is, the dates on screen, the planning
/// period, why not connected.
fn header(buf: &mut Buffer, area: Rect, state: &State, t: &Theme) {
    buf.set_style(area, t.header);
    let bold = t.header.add_modifier(Modifier::BOLD);
    let (pending, conflicted, rejected) = state.counts();
    let (conn, why) = connection_text(state);
    let mut items = vec![Item {
        text: format!(" rota {}", state.roster_name),
        short: format!(" {}", state.roster_name),
        style: t.header,
        need: 0,
    }];
    let mut add = |text: String, style: Style, need: u8| {
        items.push(Item {
            short: text.clone(),
            text,
            style,
            need,
        })
    };
    let conn_short = conn.split(' ').next().unwrap_or_default().to_string();
    add(conn, t.header, 0);
    add(
        if pending + conflicted == 0 {
            "✓ all saved".to_string()
        } else {
            format!("✎ {} unsaved", pending + conflicted)
        },
        t.header,
        0,
    );
    if conflicted > 0 {
        let s = if conflicted == 1 { "" } else { "s" };
        add(format!("! {conflicted} conflict{s}"), bold, 0);
    }
    if rejected > 0 {
        add(format!("x {rejected} rejected"), bold, 0);
    }
    // The warnings before what is chosen (a block, a filter): on a narrow
    // screen the later go first.
    let warnings = state.findings.len();
    if warnings > 0 {
        let s = if warnings == 1 { "" } else { "s" };
        add(format!("^ {warnings} warning{s}"), bold, 1);
    }
    // The cells staff were shown otherwise (for who sees the draft).
    let unpublished = state.unpublished.len();
    if unpublished > 0 && state.marks_unpublished() {
        add(
            format!(
                "{} {unpublished} unpublished",
                super::grid::glyph::UNPUBLISHED
            ),
            bold,
            1,
        );
    }
    if let Some(b) = state.selection() {
        add(
            format!(
                "▣ {} × {}",
                rota_script::diff::plural(b.people(), "person"),
                rota_script::diff::plural(b.days(), "date")
            ),
            bold,
            1,
        );
    }
    if state.filter != super::state::Filter::Everyone {
        add(
            format!(
                "only {} ({})",
                state.filter.short(),
                state.layout.staff.len()
            ),
            bold,
            1,
        );
    }
    if !state.others.is_empty() {
        let mut seen: Vec<&str> = Vec::new();
        for o in state.others.values() {
            if !seen.contains(&o.user.as_str()) {
                seen.push(&o.user);
            }
        }
        let here: Vec<String> = seen.iter().map(|u| format!("@{}", initials(u))).collect();
        add(format!("here: {}", here.join(" ")), t.header, 2);
    }
    add(who_text(state), t.header, 2);
    // The dates shown are on the grid's own date lines: said here when
    // there is room.
    let (first, last) = state.dates_shown();
    add(date_range(first, last), t.header, 3);
    if let Some(p) = state.view.read(|r| r.period()) {
        add(format!("plans {}", date_range(p.from, p.to)), t.header, 4);
    }
    if let Some(why) = why {
        // Why the hub refused matters more than why it cannot be reached.
        let need = if matches!(state.conn, ConnState::Refused { .. }) {
            1
        } else {
            3
        };
        add(why, t.header, need);
    }
    const SEP: &str = " │ ";
    let width = |items: &[Item]| -> usize {
        items
            .iter()
            .map(|i| text_cols(&i.text, false))
            .sum::<usize>()
            + text_cols(SEP, false) * items.len().saturating_sub(1)
    };
    let mut compacted = false;
    while width(&items) > area.width as usize {
        // Before what was chosen (a block, a filter) goes, the connection
        // and the saving shrink to their signs ("●", "✓").
        let least = items.iter().map(|it| it.need).max().unwrap_or(0);
        if least <= 1 && !compacted {
            compacted = true;
            // (Not a lost or refused connection: that is what matters.)
            if let Some(c) = items.get_mut(1)
                && matches!(state.conn, ConnState::Connected { .. })
            {
                c.text = conn_short.clone();
            }
            if let Some(c) = items.get_mut(2) {
                c.text = compact(&c.text);
            }
            continue;
        }
        // Leave out the least needed item, the last of them.
        let Some((i, _)) = items
            .iter()
            .enumerate()
            .filter(|(_, it)| it.need > 0)
            .max_by_key(|(i, it)| (it.need, *i))
        else {
            break;
        };
        items.remove(i);
    }
    // Still too wide (a very narrow screen): the most needed shrink to
    // their signs ("●", "✓ 0"), then the last go.
    if width(&items) > area.width as usize {
        if let Some(c) = items.get_mut(1) {
            c.short = conn_short;
        }
        for it in &mut items {
            it.text = compact(&it.short);
        }
    }
    while width(&items) > area.width as usize && items.len() > 1 {
        items.pop();
    }
    let mut spans = Vec::new();
    for (i, it) in items.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(SEP));
        }
        spans.push(Span::styled(it.text, it.style));
    }
    Line::from(spans).render(area, buf);
}

/// A header item in few columns: "✎ 3 unsaved" as "✎3", "✓ all saved"
/// as "✓"; others as they are.
fn compact(text: &str) -> String {
    let mut words = text.split(' ').filter(|w| !w.is_empty());
    match (words.next(), words.next()) {
        (Some(sign), Some(n))
            if n.bytes().all(|b| b.is_ascii_digit())
                && (sign == "x" || !sign.chars().all(char::is_alphanumeric)) =>
        {
            format!("{sign}{n}")
        }
        (Some("✓"), _) => "✓".into(),
        _ => text.to_string(),
    }
}

/// "24 Nov – 3 Dec 2026", or with both years when they differ.
fn date_range(first: rota_core::domain::Date, last: rota_core::domain::Date) -> String {
    use chrono::Datelike;
    if first.0.year() == last.0.year() {
        format!(
            "{} – {}",
            first.0.format("%-d %b"),
            last.0.format("%-d %b %Y")
        )
    } else {
        format!(
            "{} – {}",
            first.0.format("%-d %b %Y"),
            last.0.format("%-d %b %Y")
        )
    }
}

/// The mode's name and the keys that matter now, most needed first.
fn mode_hints(state: &State, cols: usize) -> (String, Vec<String>) {
    // "H history" names the key history has here (a code may take H).
    let history = state
        .key_label(crate::action::Command::History)
        .map(|k| format!("{k} history"));
    let v = |s: &[&str]| {
        s.iter()
            .filter_map(|x| match *x {
                "H history" => history.clone(),
                x => Some(x.to_string()),
            })
            .collect::<Vec<_>>()
    };
    match &state.mode {
        Mode::Normal if state.prefix.is_some() => (
            "NORMAL".into(),
            v(&[
                "g… g: first person",
                "a name or date: jump (G for a name from g)",
            ]),
        ),
        Mode::Normal if state.role() == Some("staff") => (
            "STAFF".into(),
            v(&[
                "your own requests only",
                "R request",
                "W requests",
                "H history",
                "? help",
                "q quit",
            ]),
        ),
        Mode::Normal if !state.may_edit_cells() => (
            "VIEW".into(),
            v(&[
                "read only: you are a viewer",
                "H history",
                "g jump",
                "e warnings",
                "? help",
                "q quit",
            ]),
        ),
        Mode::Normal if state.anchor.is_some() => (
            "SELECT".into(),
            v(&[
                "a code fills",
                "x clear",
                "y copy",
                "s pattern",
                "Esc unselect",
                "? help",
            ]),
        ),
        Mode::Normal => {
            let mut hints = v(&[
                "? help",
                "type a code",
                "x clear",
                "u undo",
                "H history",
                "g jump",
                "e warnings",
                "c conflicts",
                "q quit",
            ]);
            // The key that steps through the changes staff were not
            // shown, while there are some.
            if state.marks_unpublished()
                && !state.unpublished.is_empty()
                && let Some(k) = state.key_label(crate::action::Command::NextUnpublished)
            {
                let at = hints.len().min(6);
                hints.insert(at, format!("{k} unpublished"));
            }
            ("NORMAL".into(), hints)
        }
        Mode::Entry { typed, .. } => {
            let cands: Vec<String> = state
                .candidates(typed)
                .into_iter()
                .map(str::to_string)
                .collect();
            // As many of the codes as leave room for the keys.
            let room = cols.saturating_sub(40).max(12);
            let mut shown = fit_segments(&cands, " ", room);
            if shown.split(' ').filter(|w| !w.is_empty()).count() < cands.len() {
                shown = fit_segments(&cands, " ", room.saturating_sub(2));
                shown.push_str(" …");
            }
            (
                "CODE".into(),
                vec![
                    format!("{typed}▏ {shown}"),
                    "Enter/Tab complete".into(),
                    "Esc cancel".into(),
                ],
            )
        }
        Mode::Jump { query, .. } => (
            "JUMP".into(),
            vec![
                format!("go to: {query}▏"),
                "a date (24, 24/12, 2026-12-24) or a name".into(),
                "Enter".into(),
                "Esc".into(),
            ],
        ),
        Mode::Help { .. } => (
            "HELP".into(),
            v(&["j/k scroll", "PgDn/PgUp page", "g/G top/end", "Esc close"]),
        ),
        Mode::Conflicts { index } => {
            let troubles = state.troubles();
            let rejected = troubles
                .get(*index)
                .is_some_and(|e| matches!(e.state, rota_client::EntryState::Rejected { .. }));
            let label = if rejected { "REJECTED" } else { "CONFLICT" };
            (
                format!("{label} {}/{}", index + 1, troubles.len()),
                if rejected {
                    v(&["d dismiss", "n next", "Esc close"])
                } else {
                    v(&["m keep mine", "t keep theirs", "n next", "Esc close"])
                },
            )
        }
        Mode::History(p) => (
            "HISTORY".into(),
            [
                Some("j/k PgDn scroll"),
                p.next.is_some().then_some("n older"),
                p.problem.is_some().then_some("r ask again"),
                Some("Esc close"),
            ]
            .into_iter()
            .flatten()
            .map(str::to_string)
            .collect(),
        ),
        Mode::Pattern { typed } => ("PATTERN".into(), {
            // The example in this roster's codes: D,D,N,N,, here,
            // d1,d1,n3,n3,, in another.
            let codes: Vec<&String> = state
                .layout
                .codes
                .values()
                .filter(|c| c.worked)
                .map(|c| &c.code)
                .take(2)
                .collect();
            let example = match codes.as_slice() {
                [a, b] => format!("{a},{a},{b},{b},,"),
                [a] => format!("{a},{a},,"),
                _ => "D,D,N,N,,".to_string(),
            };
            vec![
                format!("{typed}▏"),
                format!("e.g. {example} (empty: left as is)"),
                "Enter lays it".into(),
                "Esc".into(),
            ]
        }),
        Mode::Find { query } => (
            "FIND".into(),
            vec![
                format!("/{query}▏"),
                "part of a name".into(),
                "Tab next".into(),
                "Enter keep".into(),
                "Esc".into(),
            ],
        ),
        Mode::Filter { .. } => (
            "FILTER".into(),
            v(&["j/k choose", "Enter show", "Esc close"]),
        ),
        Mode::Request(p) => {
            let typed_room = typed_cols(cols);
            let reading = if p.typed.trim().is_empty() {
                if state.view.read(|r| r.request(&p.staff, p.date).is_some()) {
                    "empty: Enter withdraws the request".to_string()
                } else {
                    crate::requests::SYNTAX_SHORT.to_string()
                }
            } else {
                let current = state.view.read(|r| r.request(&p.staff, p.date).cloned());
                match state
                    .view
                    .read(|r| crate::requests::parse(&p.typed, r, current.as_ref()))
                {
                    Ok(t) => format!("asks {}", t.describe()),
                    Err(e) => e,
                }
            };
            // What cannot be read, once said above the line (at Enter),
            // is not said again in it.
            let said = state
                .message
                .as_ref()
                .is_some_and(|(m, _)| m.contains(&reading));
            (
                "REQUEST".into(),
                [
                    // Nothing typed: what to type goes with the cursor.
                    Some(if p.typed.is_empty() {
                        format!("▏ {reading}")
                    } else {
                        typed_tail(&p.typed, typed_room)
                    }),
                    (!p.typed.is_empty() && !said).then_some(reading),
                    Some("Enter saves".to_string()),
                    (!p.typed.is_empty()).then(|| "Ctrl-u clears".to_string()),
                    Some("Esc".to_string()),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )
        }
        Mode::Publish(p) => publish_hints(state, p),
        Mode::Requests(_) => (
            "REQUESTS".into(),
            v(&[
                "j/k choose",
                "Enter go to it",
                "Tab person/date",
                "Esc close",
            ]),
        ),
        Mode::Shifts(_) => (
            "SHIFTS".into(),
            v(&["j/k scroll", "g/G top/end", "Esc close"]),
        ),
        Mode::Warnings(_) => (
            "WARNINGS".into(),
            v(&[
                "j/k choose",
                "Enter go to it",
                "Tab screen/all",
                "Esc close",
            ]),
        ),
        Mode::Manage(m) => (
            "MANAGE".into(),
            match (&m.form, m.adding_rule, m.confirm_remove) {
                (Some(_), _, _) => v(&["type", "Tab/↑↓ field", "Enter save", "Esc cancel"]),
                (None, true, _) => v(&["s staffing", "f forbidden sequence", "l limit", "Esc"]),
                (None, false, true) => vec![
                    manage::removal_question(state, m),
                    "y yes".into(),
                    "any other key no".into(),
                ],
                _ if !state.may_manage() => v(&[
                    "Tab next tab",
                    "j/k",
                    "read only: changes take the admin role",
                    "Esc",
                ]),
                // The keys each tab takes.
                _ => match m.tab {
                    crate::forms::Tab::Settings => v(&["Tab next tab", "Enter change", "Esc"]),
                    crate::forms::Tab::Users if state.users.problem.is_some() => {
                        v(&["Tab next tab", "r ask again", "Esc"])
                    }
                    crate::forms::Tab::Users => v(&[
                        "Tab next tab",
                        "j/k",
                        "a add",
                        "Enter change role",
                        "d take away",
                        "r ask again",
                        "Esc",
                    ]),
                    crate::forms::Tab::Staff => v(&[
                        "Tab next tab",
                        "j/k",
                        "a add",
                        "Enter change",
                        "d remove",
                        "J/K reorder",
                        "Esc",
                    ]),
                    _ => v(&[
                        "Tab next tab",
                        "j/k",
                        "a add",
                        "Enter change",
                        "d remove",
                        "Esc",
                    ]),
                },
            },
        ),
        Mode::ConfirmUndo { question } => ("UNDO?".into(), vec![question.clone(), "y/n".into()]),
    }
}

/// Columns what is typed at a prompt shows in, on a status line of
/// `cols`: about half of what the mode's name leaves (the rest is for
/// how it reads and the cursor's cell).
fn typed_cols(cols: usize) -> usize {
    (cols.saturating_sub(12) / 2).max(10)
}

/// What is typed, then the cursor (`▏`), in at most `cols` columns: when
/// longer, its end, scrolled ("…the dentist▏"), as a text field shows it.
fn typed_tail(typed: &str, cols: usize) -> String {
    let whole = format!("{typed}▏");
    if text_cols(&whole, false) <= cols {
        return whole;
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = text_cols("…▏", false);
    for c in typed.chars().rev() {
        let w = text_cols(c.encode_utf8(&mut [0; 4]), false);
        if used + w > cols {
            break;
        }
        used += w;
        tail.push(c);
    }
    tail.reverse();
    format!("…{}▏", tail.into_iter().collect::<String>())
}

/// The publish prompt's mode and hints: what is typed and how it reads
/// (the range's dates, or what is wrong), or the question.
fn publish_hints(state: &State, p: &crate::state::PublishPrompt) -> (String, Vec<String>) {
    use crate::state::PublishPrompt;
    match p {
        PublishPrompt::Range { typed } => {
            let period = state.view.read(|r| r.period());
            let reading = match crate::publish::parse_range(typed, state.cursor_date(), period) {
                Ok((from, to)) => format!(
                    "{} ({})",
                    crate::publish::range_text(from, to),
                    rota_script::diff::plural((to.0 - from.0).num_days() as usize + 1, "date")
                ),
                Err(e) => e,
            };
            // Once said above the line (at Enter), not again in it.
            let said = state
                .message
                .as_ref()
                .is_some_and(|(m, _)| m.contains(&reading));
            (
                "PUBLISH".into(),
                [
                    Some(typed_tail(typed, typed_cols(state.size.0 as usize))),
                    (!said).then_some(reading),
                    Some("Enter: then a note".into()),
                    Some("Ctrl-u clears".into()),
                    Some("Esc".into()),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )
        }
        PublishPrompt::Note { from, to, typed } => (
            "PUBLISH".into(),
            [
                Some(if typed.is_empty() {
                    "▏ a note for staff (optional)".to_string()
                } else {
                    format!(
                        "note: {}",
                        typed_tail(typed, typed_cols(state.size.0 as usize).saturating_sub(6))
                    )
                }),
                Some(crate::publish::range_text(*from, *to)),
                Some("Enter: then y/n".to_string()),
                (!typed.is_empty()).then(|| "Ctrl-u clears".to_string()),
                Some("Esc".to_string()),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
        PublishPrompt::Confirm { question, .. } => ("PUBLISH?".into(), vec![question.clone()]),
    }
}

/// Whether the mode's first hint is what is being typed (or asked), so
/// that what was said goes above the status line, never over it.
fn typing(mode: &Mode) -> bool {
    matches!(
        mode,
        Mode::Entry { .. }
            | Mode::Jump { .. }
            | Mode::Pattern { .. }
            | Mode::Find { .. }
            | Mode::Request(_)
            | Mode::Publish(_)
            | Mode::ConfirmUndo { .. }
    ) || matches!(mode, Mode::Manage(m) if m.form.is_some() || m.confirm_remove)
}

/// The status line: the mode, the keys that matter now (or what was said,
/// when it fits), and the cell under the cursor. Returns what did not fit
/// (what was said, or the question the mode asks), for [`message_area`]
/// to show wrapped.
fn status(buf: &mut Buffer, area: Rect, state: &State, t: &Theme) -> Option<(String, bool)> {
    buf.set_style(area, t.status);
    let (mode, mut hints) = mode_hints(state, area.width as usize);
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
    let room = area.right().saturating_sub(x) as usize;
    let message = state.message.as_ref().map(|(m, w)| (m.as_str(), *w));
    let typing = typing(&state.mode);
    let said_fits = !typing && message.is_some_and(|(m, _)| text_cols(m, false) + 2 <= room);
    // The cell's account, as much of it as leaves room for the message
    // or the first hint.
    let need = match message {
        Some((m, _)) if said_fits => text_cols(m, false),
        _ => hints.first().map_or(0, |h| text_cols(h, false)),
    };
    // (While publishing, the cursor's cell is not what matters: the range is.)
    let publishing = matches!(state.mode, Mode::Publish(_));
    let (mut info, whole) = if publishing {
        (String::new(), true)
    } else {
        cell_info(state, room.saturating_sub(need + 2))
    };
    // The cell's request is said whole when it can be: in the grid, with
    // nothing said on the line, the hints give way to it.
    if !whole && !said_fits && matches!(state.mode, Mode::Normal) && state.prefix.is_none() {
        info = cell_info(state, room.saturating_sub(1)).0;
    }
    let info_cols = text_cols(&info, false) as u16;
    let right = if info.is_empty() {
        area.right()
    } else {
        area.right().saturating_sub(info_cols + 1)
    };
    // Two columns at least between what is said and the cell's account.
    let left_room = right.saturating_sub(x + 2) as usize;
    let mut over = None;
    match message {
        Some((m, warn)) if said_fits && text_cols(m, false) <= left_room => {
            let style = if warn {
                t.status.patch(t.error)
            } else {
                t.status
            };
            put_text(buf, x, area.y, m, right, style, false);
        }
        _ => {
            if let Some((m, warn)) = message {
                over = Some((m.to_string(), warn));
            }
            // In a mode that asks (a question, what is typed), a first hint
            // too long for the line goes above it whole, when nothing was
            // said; elsewhere hints are only a guide and drop whole.
            if typing
                && hints
                    .first()
                    .is_some_and(|h| text_cols(h, false) > left_room)
            {
                let first = hints.remove(0);
                over.get_or_insert((first, false));
            }
            let line = fit_segments(&hints, " · ", left_room);
            put_text(buf, x, area.y, &line, right, t.status, false);
        }
    }
    if !info.is_empty() {
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
    over
}

/// What was said (or asked), too long for the status line: wrapped, just
/// above it.
fn message_area(buf: &mut Buffer, area: Rect, text: &str, warn: bool, t: &Theme) {
    let cols = area.width.saturating_sub(2) as usize;
    let lines = wrap(text, cols);
    // Over the grid and its date lines if need be: the header and the
    // status line stay.
    let h = (lines.len() as u16).min(area.height.saturating_sub(2));
    let r = Rect {
        x: area.x,
        y: area.bottom().saturating_sub(1 + h),
        width: area.width,
        height: h,
    };
    let style = if warn {
        t.status.patch(t.error)
    } else {
        t.status
    };
    Clear.render(r, buf);
    buf.set_style(r, t.status);
    for (i, l) in lines.iter().take(h as usize).enumerate() {
        put_text(buf, r.x + 1, r.y + i as u16, l, r.right(), style, false);
    }
}

/// The cell under the cursor: who, when, what, how it stands, whether its
/// date is outside the planning period, and its request (met or not, its
/// weight, note and who entered it); in at most `room` columns, each part
/// whole or left out: the code's label and the period first, then the
/// request's who, note and weight (the person's name kept while it can
/// be), then the name; nothing when not even the date fits. The flag: no
/// part of the request was left out.
fn cell_info(state: &State, room: usize) -> (String, bool) {
    let Some(p) = state.person() else {
        return (fit_segments(&["no staff yet".to_string()], "", room), true);
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
    let outside = state
        .view
        .read(|r| r.period())
        .is_some_and(|period| !period.contains(date));
    // An empty cell's proposal is said as one, not as empty.
    let proposed = code
        .is_none()
        .then(|| {
            state
                .view
                .read(|r| r.proposal(&p.id, date).map(str::to_string))
        })
        .flatten();
    let code_text = match (&code, &proposed) {
        (Some(c), _) => c.clone(),
        (None, Some(c)) => format!("{c} proposed (+ accepts)"),
        (None, None) => "empty".into(),
    };
    let day = date.0.format("%a %-d %b").to_string();
    let mut what = match (&code, &label) {
        (Some(c), Some(l)) => format!("{c} {l}"),
        _ => code_text.clone(),
    };
    what.push_str(stands);
    let out = if outside {
        " · outside the period"
    } else {
        ""
    };
    // A long name as the grid shortens it (Mary Ann O.) before it goes.
    let short = rota_core::text::short_name(&p.name, state.name_cols() as usize);
    let fits = |c: &String| text_cols(c, false) <= room;
    // (At the request prompt the request is what is typed.)
    let request = state
        .cursor_request()
        .filter(|_| !matches!(state.mode, Mode::Request(_)));
    if let Some(r) = &request {
        // The request, then with fewer of its parts: who entered it, its
        // note, its weight give way, each whole.
        let reqs = crate::requests::status_texts(r, code.as_deref(), &state.layout);
        let with = |req: &str| {
            [
                format!("{} · {day} · {what}{out} · {req}", p.name),
                format!("{} · {day} · {code_text}{stands}{out} · {req}", p.name),
                format!("{} · {day} · {code_text}{stands} · {req}", p.name),
                format!("{short} · {day} · {code_text}{stands} · {req}"),
            ]
        };
        if let Some(c) = with(&reqs[0]).into_iter().find(fits) {
            return (c, true);
        }
        // The person stays while the request gives way; then the
        // request's least parts with the date alone.
        let named = reqs[1..].iter().flat_map(|req| {
            let [.., full, short] = with(req);
            [full, short]
        });
        let dated = reqs
            .iter()
            .map(|req| format!("{day} · {code_text}{stands} · {req}"));
        if let Some(c) = named.chain(dated).find(fits) {
            return (c, false);
        }
    }
    let candidates = [
        format!("{} · {day} · {what}{out}", p.name),
        format!("{} · {day} · {code_text}{stands}{out}", p.name),
        format!("{} · {day} · {code_text}{stands}", p.name),
        format!("{short} · {day} · {code_text}{stands}{out}"),
        format!("{short} · {day} · {code_text}{stands}"),
        format!("{day} · {code_text}{stands}"),
    ];
    (
        candidates.into_iter().find(fits).unwrap_or_default(),
        request.is_none(),
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
    // A title longer than the box gives way at whole parts: a last part in
    // parentheses (a hint) first, then words.
    let room = w.saturating_sub(4) as usize;
    let mut title = title.to_string();
    while text_cols(&title, false) > room {
        match title.strip_suffix(')').and_then(|t| t.rfind(" (")) {
            Some(i) => title.truncate(i),
            None => break,
        }
    }
    let title = fit_segments(
        &title.split(' ').map(str::to_string).collect::<Vec<_>>(),
        " ",
        room,
    );
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

/// Lines wrapped to a panel's width, each kept whole across its rows.
fn wrap_all(lines: &[String], cols: u16) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| wrap(l, cols.max(1) as usize))
        .collect()
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

//! iCalendar (RFC 5545) export: one event per worked shift. Times come from
//! the shift code's start and end (an end at or before the start is the
//! next day), as floating local times; a code without times gives an
//! all-day event. Each event's UID names the roster, person and date, so a
//! calendar that imports the file again updates events instead of adding
//! copies, and SEQUENCE is the cell's version, so the newer one wins.

use super::{Selection, add_days};
use crate::domain::{Date, Roster, ShiftCode, Staff};
use std::collections::HashMap;

/// The calendar for the selection (all its people in one file).
pub fn export(roster: &Roster, name: &str, sel: &Selection, now_ms: i64) -> String {
    let title = match &sel.staff {
        Some(id) => {
            let person = roster.staff_member(id).map_or(id.as_str(), |s| &s.name);
            format!("{person} ({name})")
        }
        None => format!("Roster {name}"),
    };
    let codes: HashMap<String, ShiftCode> = roster
        .codes()
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect();
    let stamp = utc_stamp(now_ms);
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        concat!("PRODID:-//rota//rota ", env!("CARGO_PKG_VERSION"), "//EN"),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push_line(&mut out, l);
    }
    push_line(&mut out, &format!("X-WR-CALNAME:{}", text(&title)));
    let one_person = sel.staff.is_some();
    for (staff, date, code) in sel.cells(roster) {
        let Some(def) = codes.get(&code) else {
            continue;
        };
        if !def.worked {
            continue;
        }
        let seq = roster.cell(&staff.id, date).map_or(0, |(_, s)| s.seq);
        event(&mut out, name, &staff, date, def, seq, &stamp, one_person);
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

#[allow(clippy::too_many_arguments)]
fn event(
    out: &mut String,
    roster: &str,
    staff: &Staff,
    date: Date,
    def: &ShiftCode,
    seq: u64,
    stamp: &str,
    one_person: bool,
) {
    let day = date.0.format("%Y%m%d").to_string();
    push_line(out, "BEGIN:VEVENT");
    push_line(
        out,
        &format!(
            "UID:{}-{}-{day}@rota",
            uid_part(roster),
            uid_part(&staff.id)
        ),
    );
    push_line(out, &format!("DTSTAMP:{stamp}"));
    push_line(out, &format!("SEQUENCE:{seq}"));
    match (&def.start, &def.end) {
        (Some(start), Some(end)) => {
            let hm = |t: &str| t.replace(':', "");
            let end_day = if end.as_str() <= start.as_str() {
                add_days(date, 1)
            } else {
                date
            };
            push_line(out, &format!("DTSTART:{day}T{}00", hm(start)));
            push_line(
                out,
                &format!("DTEND:{}T{}00", end_day.0.format("%Y%m%d"), hm(end)),
            );
        }
        _ => {
            push_line(out, &format!("DTSTART;VALUE=DATE:{day}"));
            push_line(
                out,
                &format!("DTEND;VALUE=DATE:{}", add_days(date, 1).0.format("%Y%m%d")),
            );
        }
    }
    let shift = if def.label.is_empty() {
        def.code.clone()
    } else {
        format!("{} {}", def.code, def.label)
    };
    let summary = if one_person {
        shift.clone()
    } else {
        format!("{}: {shift}", staff.name)
    };
    push_line(out, &format!("SUMMARY:{}", text(&summary)));
    push_line(
        out,
        &format!(
            "DESCRIPTION:{}",
            text(&format!(
                "{} works {shift} ({} h) on {date}, roster {roster}.",
                staff.name, def.hours
            ))
        ),
    );
    push_line(out, &format!("CATEGORIES:{}", text(&def.code)));
    push_line(out, "TRANSP:OPAQUE");
    push_line(out, "END:VEVENT");
}

/// A UID piece: letters, digits, `.`, `_` kept; anything else as `=XX`.
fn uid_part(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends a content line, folded at 75 octets (never inside a UTF-8
/// character), ended by CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn utc_stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_and_text_is_escaped() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "é".repeat(60));
        push_line(&mut out, &long);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets", l.len());
        }
        assert_eq!(out.replace("\r\n ", "").trim_end(), long);
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(uid_part("ann lee/2"), "ann=20lee=2F2");
    }
}

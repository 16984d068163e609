//! iCalendar (RFC 5545) export: one event per shift. Times come from the
//! shift code's start and end (an end at or before the start is the next
//! day), read in the roster's time zone (a roster setting; the exporting
//! machine's own zone when it has none) and written in UTC, so every
//! calendar shows them at the right hour, across daylight-saving changes
//! too. A worked code without times is an all-day event; leave, days off
//! and other codes that are not worked are all-day events marked free.
//! Each event's UID names the roster, person and date, so a calendar that
//! imports the file again updates events instead of adding copies, and
//! SEQUENCE is the cell's version, so the newer one wins.

use super::Selection;
use rota_core::domain::{Date, Roster, ShiftCode, Staff};
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
    let zone = Zone::of(roster);
    if let Zone::Named(tz) = zone {
        push_line(&mut out, &format!("X-WR-TIMEZONE:{}", tz.name()));
    }
    for (staff, date, code) in sel.cells(roster) {
        let Some(def) = codes.get(&code) else {
            continue;
        };
        let seq = roster.cell(&staff.id, date).map_or(0, |(_, s)| s.seq);
        let e = Event {
            roster: name,
            staff: &staff,
            date,
            def,
            seq,
            stamp: &stamp,
            one_person,
        };
        e.write(&mut out, zone);
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

/// The zone shift times are read in.
#[derive(Clone, Copy)]
enum Zone {
    /// The roster's own (an IANA zone).
    Named(chrono_tz::Tz),
    /// The exporting machine's (the roster has none).
    Local,
}

impl Zone {
    fn of(roster: &Roster) -> Zone {
        roster
            .time_zone()
            .and_then(|z| rota_core::domain::check_time_zone(z).ok())
            .map_or(Zone::Local, Zone::Named)
    }

    /// A local date and time in this zone, as UTC (`20261201T070000Z`). A
    /// time a daylight-saving change skips is taken an hour later; one it
    /// repeats, the first time.
    fn utc(self, date: Date, hm: &str) -> Option<String> {
        use chrono::TimeZone;
        let t = chrono::NaiveTime::parse_from_str(hm, "%H:%M").ok()?;
        let local = date.0.and_time(t);
        let pick = |local: chrono::NaiveDateTime| -> Option<chrono::DateTime<chrono::Utc>> {
            match self {
                Zone::Named(tz) => tz
                    .from_local_datetime(&local)
                    .earliest()
                    .map(|d| d.with_timezone(&chrono::Utc)),
                Zone::Local => chrono::Local
                    .from_local_datetime(&local)
                    .earliest()
                    .map(|d| d.with_timezone(&chrono::Utc)),
            }
        };
        pick(local)
            .or_else(|| pick(local + chrono::Duration::hours(1)))
            .map(|u| u.format("%Y%m%dT%H%M%SZ").to_string())
    }
}

/// One cell as a calendar event.
struct Event<'a> {
    roster: &'a str,
    staff: &'a Staff,
    date: Date,
    def: &'a ShiftCode,
    seq: u64,
    stamp: &'a str,
    one_person: bool,
}

impl Event<'_> {
    fn write(&self, out: &mut String, zone: Zone) {
        let Event {
            roster,
            staff,
            date,
            def,
            seq,
            stamp,
            one_person,
        } = *self;
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
        let timed = match (&def.start, &def.end) {
            (Some(start), Some(end)) if def.worked => {
                let end_day = if end.as_str() <= start.as_str() {
                    date.add_days(1)
                } else {
                    date
                };
                zone.utc(date, start).zip(zone.utc(end_day, end))
            }
            _ => None,
        };
        match timed {
            Some((start, end)) => {
                push_line(out, &format!("DTSTART:{start}"));
                push_line(out, &format!("DTEND:{end}"));
            }
            None => {
                push_line(out, &format!("DTSTART;VALUE=DATE:{day}"));
                push_line(
                    out,
                    &format!("DTEND;VALUE=DATE:{}", date.add_days(1).0.format("%Y%m%d")),
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
        let what = if def.worked {
            format!(
                "{} works {shift} ({} h) on {date}, roster {roster}.",
                staff.name, def.hours
            )
        } else {
            format!(
                "{} is {shift} on {date} (not working), roster {roster}.",
                staff.name
            )
        };
        push_line(out, &format!("DESCRIPTION:{}", text(&what)));
        push_line(out, &format!("CATEGORIES:{}", text(&def.code)));
        // Leave and days off do not make their person busy.
        push_line(
            out,
            if def.worked {
                "TRANSP:OPAQUE"
            } else {
                "TRANSP:TRANSPARENT"
            },
        );
        push_line(out, "END:VEVENT");
    }
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

//! A printable text grid of the roster: staff down, days across, split into
//! whole weeks (Monday to Sunday) and as many weeks side by side as fit the
//! page width. `.` is an empty cell; days outside the dates printed (the
//! roster's planning period unless `--from`/`--to` say otherwise) are
//! blank. Under it, what each code means, and how many rule warnings
//! there are of each kind (listed one by one only when asked).
//! Laid out by display width (`unicode-width`), so names and codes in any
//! script line up: 佐藤 花子 takes eight columns, 夜 two. Characters of
//! ambiguous width (○ △ ×) count as one column, as terminals draw them
//! outside East Asian locales.

use super::Selection;
use chrono::Datelike;
use rota_core::domain::{Date, Roster};
use std::collections::HashMap;
use unicode_width::UnicodeWidthStr;

/// Columns a code gets at least (4 ASCII characters), before its space.
const MIN_CODE: usize = 4;
const MAX_NAME: usize = 24;

/// The grid for the selection, at most `width` characters wide (one week
/// per band when even that does not fit); `list_warnings`: every rule
/// warning a line, else how many of each kind.
pub fn export(
    roster: &Roster,
    name: &str,
    sel: &Selection,
    width: usize,
    list_warnings: bool,
) -> String {
    let staff = sel.staff(roster);
    let period = roster.period();
    let sel = &Selection {
        from: sel.from.or(period.map(|p| p.from)),
        to: sel.to.or(period.map(|p| p.to)),
        staff: sel.staff.clone(),
    };
    let cells = sel.cells(roster);
    let (Some(from), Some(to)) = (
        sel.from.or_else(|| cells.iter().map(|c| c.1).min()),
        sel.to.or_else(|| cells.iter().map(|c| c.1).max()),
    ) else {
        return format!("Roster {name}: no shifts to print\n");
    };
    let codes: HashMap<(&str, Date), &str> = cells
        .iter()
        .map(|(s, d, c)| ((s.id.as_str(), *d), c.as_str()))
        .collect();
    let name_w = staff
        .iter()
        .map(|s| s.name.width())
        .max()
        .unwrap_or(0)
        .clamp(5, MAX_NAME);
    // Columns per day: the widest code (夜勤明け takes eight) and a space.
    let day_w = cells
        .iter()
        .map(|c| c.2.width())
        .max()
        .unwrap_or(0)
        .max(MIN_CODE)
        + 1;
    let week_w = 7 * day_w + 2; // `| ` before each week
    // A page narrower than a name and a week: the names give way (to 5
    // columns at least), shortened at words.
    let name_w = name_w.min(width.saturating_sub(week_w + 1)).max(5);
    let per_band = (width.saturating_sub(name_w + 1) / week_w).max(1);
    let first_monday = from.add_days(-i64::from(from.0.weekday().num_days_from_monday()));
    let mut weeks = Vec::new();
    let mut w = first_monday;
    while w <= to {
        weeks.push(w);
        w = w.add_days(7);
    }
    let mut out = format!("Roster {name}: {from} to {to}\n");
    for band in weeks.chunks(per_band) {
        out.push('\n');
        let mut head = [pad("Staff", name_w), pad("", name_w), pad("", name_w)];
        for &monday in band {
            head[0].push_str("| ");
            head[0].push_str(&fill(&format!("week of {monday}"), 7 * day_w));
            head[1].push_str("| ");
            head[2].push_str("| ");
            for k in 0..7 {
                let d = monday.add_days(k);
                head[1].push_str(&fill(&d.0.format("%a").to_string(), day_w));
                head[2].push_str(&fill(&d.0.day().to_string(), day_w));
            }
        }
        for h in head {
            out.push_str(h.trim_end());
            out.push('\n');
        }
        // A heading where a group starts, when there is more than one.
        let groups = staff
            .iter()
            .map(|s| s.group.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut group: Option<&str> = None;
        for s in &staff {
            if groups > 1 && group != Some(s.group.as_str()) {
                group = Some(&s.group);
                let title = if s.group.is_empty() {
                    "(no group)"
                } else {
                    &s.group
                };
                out.push_str(&format!("-- {title} --\n"));
            }
            let mut row = pad(&s.name, name_w);
            for &monday in band {
                row.push_str("| ");
                for k in 0..7 {
                    let d = monday.add_days(k);
                    let shown = if d < from || d > to {
                        ""
                    } else {
                        codes.get(&(s.id.as_str(), d)).copied().unwrap_or(".")
                    };
                    row.push_str(&fill(shown, day_w));
                }
            }
            out.push_str(row.trim_end());
            out.push('\n');
        }
    }
    let mut notes = String::new();
    legend(&mut notes, roster, &cells);
    warnings(&mut notes, &sel.findings(roster), list_warnings);
    // What is said under the grid, wrapped to the page at words (a long
    // line's continuation indented under its text).
    let page = width.max(20);
    for line in notes.lines() {
        if rota_core::text::text_cols(line, false) <= page {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        for part in rota_core::text::wrap(line, page) {
            out.push_str(part.trim_end());
            out.push('\n');
        }
    }
    out
}

/// What each code printed means: its label, hours and times.
fn legend(out: &mut String, roster: &Roster, cells: &[(rota_core::domain::Staff, Date, String)]) {
    let used: std::collections::BTreeSet<&str> = cells.iter().map(|c| c.2.as_str()).collect();
    if used.is_empty() {
        return;
    }
    out.push_str("\nCodes:\n");
    for c in roster
        .codes()
        .iter()
        .filter(|c| used.contains(c.code.as_str()))
    {
        let mut parts = Vec::new();
        if !c.label.is_empty() {
            parts.push(c.label.clone());
        }
        parts.push(if c.worked {
            format!("{} h", hours(c.hours))
        } else {
            "not worked".into()
        });
        if let (Some(a), Some(b)) = (&c.start, &c.end) {
            parts.push(format!("{a}–{b}"));
        }
        out.push_str(&format!(
            "  {} {}\n",
            fill(&c.code, MIN_CODE),
            parts.join(", ")
        ));
    }
}

fn hours(h: f64) -> String {
    if h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        format!("{h}")
    }
}

/// The rule warnings under the grid: how many of each kind, or (`list`)
/// a sentence each. None: nothing.
fn warnings(out: &mut String, found: &[rota_core::domain::rules::Finding], list: bool) {
    use rota_core::domain::rules::What;
    if found.is_empty() {
        return;
    }
    if list {
        out.push_str(&format!("\nRule warnings ({}):\n", found.len()));
        for f in found {
            out.push_str(&format!("  {}  [{}]\n", f.message(), f.rule));
        }
        return;
    }
    let mut kinds: Vec<((&str, &str), usize)> = Vec::new();
    for f in found {
        let kind = match &f.what {
            // One a code and date (a date short of two codes is two).
            What::Under { .. } => (
                "staffing minimum not met (a code on a date)",
                "staffing minimums not met (a code on a date each)",
            ),
            What::Over { .. } => (
                "staffing maximum passed (a code on a date)",
                "staffing maximums passed (a code on a date each)",
            ),
            What::Sequence { .. } => ("forbidden sequence", "forbidden sequences"),
            What::Run {
                bound: rota_core::domain::rules::Bound::AtLeast(_),
                ..
            } => ("run too short", "runs too short"),
            What::Run { .. } => ("run too long", "runs too long"),
            What::Amount { .. } => (
                "count of shifts, hours or weekends out of bounds",
                "counts of shifts, hours or weekends out of bounds",
            ),
            What::Request { .. } => ("request not met", "requests not met"),
        };
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind, 1)),
        }
    }
    let said: Vec<String> = kinds
        .iter()
        .map(|((one, many), n)| format!("{n} {}", if *n == 1 { one } else { many }))
        .collect();
    out.push_str(&format!(
        "\nRule warnings: {} ({}). `rota --check` lists them; `--export txt --warnings` prints them here.\n",
        found.len(),
        said.join(", ")
    ));
}

/// `s` followed by spaces up to `w` display columns.
fn fill(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(s.width())));
    out
}

/// `s` padded to `w` display columns, then a space; a name too long is
/// shortened as the editor shortens it ("Mary Ann O.", else at a word,
/// with "…").
fn pad(s: &str, w: usize) -> String {
    let mut out = fill(&rota_core::text::short_name(s, w), w);
    out.push(' ');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Author, Op, ShiftCode};

    fn roster(names: &[(&str, &str)], codes: &[&str], cells: &[(&str, &str, &str)]) -> Roster {
        let mut ops: Vec<Op> = codes
            .iter()
            .map(|c| Op::PutCode {
                code: ShiftCode::new(c, 8.0, true),
                base: None,
            })
            .collect();
        for (id, name) in names {
            ops.push(Op::AddStaff {
                id: id.to_string(),
                name: name.to_string(),
                group: "g".into(),
                order: None,
            });
        }
        for (s, d, c) in cells {
            ops.push(Op::SetCell {
                staff: s.to_string(),
                date: d.parse().unwrap(),
                code: Some(c.to_string()),
                base: 0,
            });
        }
        let mut r = Roster::default();
        let author = Author {
            user: "t".into(),
            client: "t".into(),
        };
        r.apply_batch(&ops, &author, 0).unwrap();
        r
    }

    /// Every line's `|` at the same display columns as the header's.
    fn assert_aligned(text: &str) {
        let bars = |line: &str| -> Vec<usize> {
            let mut col = 0;
            let mut at = Vec::new();
            for c in line.chars() {
                if c == '|' {
                    at.push(col);
                }
                col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            }
            at
        };
        let lines: Vec<&str> = text.lines().filter(|l| l.contains('|')).collect();
        assert!(lines.len() > 3, "{text}");
        for l in &lines {
            assert_eq!(bars(l), bars(lines[0]), "misaligned:\n{text}");
        }
    }

    #[test]
    fn japanese_names_and_codes_line_up_by_display_width() {
        let r = roster(
            &[
                ("a", "佐藤 花子"),
                ("b", "Ann Lee"),
                ("c", "高橋 一郎太郎次郎三郎四郎五郎"),
            ],
            &["○", "△", "夜", "日勤", "夜勤明け", "D"],
            &[
                ("a", "2026-12-01", "夜勤明け"),
                ("a", "2026-12-02", "○"),
                ("b", "2026-12-01", "D"),
                ("b", "2026-12-03", "日勤"),
                ("c", "2026-12-04", "△"),
                ("c", "2026-12-05", "夜"),
            ],
        );
        let sel = Selection {
            from: Some("2026-11-30".parse().unwrap()),
            to: Some("2026-12-13".parse().unwrap()),
            ..Selection::default()
        };
        let text = export(&r, "病棟", &sel, 200, false);
        assert_aligned(&text);
        assert!(text.contains("夜勤明け "), "{text}");
        // A name wider than the column is cut by columns, not characters.
        let long = text.lines().find(|l| l.starts_with("高橋")).unwrap();
        let name = long.split(" |").next().unwrap();
        assert_eq!(name.width(), MAX_NAME, "{name:?}");
        assert!(name.trim_end().ends_with('…'), "{name:?}");
        // Narrow pages put one week per band, still aligned; the names give
        // way (to 5 columns: a week of 夜勤明け alone takes 65).
        let narrow = export(&r, "病棟", &sel, 40, false);
        assert_aligned(&narrow);
        for l in narrow.lines().filter(|l| l.contains('|')) {
            assert_eq!(l.split('|').next().map(|h| h.width()), Some(6), "{l}");
        }
        // A page a week of short codes and a short name fit: nothing wider
        // than it.
        let latin = roster(
            &[("a", "Mary Ann Okafor-Williams")],
            &["D"],
            &[("a", "2026-12-01", "D")],
        );
        let page = export(&latin, "ward", &sel, 45, false);
        for l in page.lines() {
            assert!(l.width() <= 45, "{} columns: {l}", l.width());
        }
        assert!(page.contains("Mary O. "), "{page}");
    }
}

//! A printable text grid of the roster: staff down, days across, split into
//! whole weeks (Monday to Sunday) and as many weeks side by side as fit the
//! page width. `.` is an empty cell; days outside the period are blank.

use super::{Selection, add_days};
use crate::domain::{Date, Roster};
use chrono::Datelike;
use std::collections::HashMap;

/// Characters per day column: a code of up to 4 and a space.
const DAY: usize = 5;
/// `| ` before each week.
const WEEK: usize = 7 * DAY + 2;
const MAX_NAME: usize = 24;

/// The grid for the selection, at most `width` characters wide (one week
/// per band when even that does not fit).
pub fn export(roster: &Roster, name: &str, sel: &Selection, width: usize) -> String {
    let staff = sel.staff(roster);
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
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(5, MAX_NAME);
    let per_band = (width.saturating_sub(name_w) / WEEK).max(1);
    let first_monday = add_days(from, -i64::from(from.0.weekday().num_days_from_monday()));
    let mut weeks = Vec::new();
    let mut w = first_monday;
    while w <= to {
        weeks.push(w);
        w = add_days(w, 7);
    }
    let mut out = format!("Roster {name}: {from} to {to}\n");
    for band in weeks.chunks(per_band) {
        out.push('\n');
        let mut head = [pad("Staff", name_w), pad("", name_w), pad("", name_w)];
        for &monday in band {
            head[0].push_str(&format!(
                "| {:<w$}",
                format!("week of {monday}"),
                w = 7 * DAY
            ));
            head[1].push_str("| ");
            head[2].push_str("| ");
            for k in 0..7 {
                let d = add_days(monday, k);
                let wd = d.0.format("%a").to_string();
                head[1].push_str(&format!("{wd:<DAY$}"));
                head[2].push_str(&format!("{:<DAY$}", d.0.day()));
            }
        }
        for h in head {
            out.push_str(h.trim_end());
            out.push('\n');
        }
        for s in &staff {
            let mut row = pad(&s.name, name_w);
            for &monday in band {
                row.push_str("| ");
                for k in 0..7 {
                    let d = add_days(monday, k);
                    let shown = if d < from || d > to {
                        ""
                    } else {
                        codes.get(&(s.id.as_str(), d)).copied().unwrap_or(".")
                    };
                    row.push_str(&format!("{shown:<DAY$}"));
                }
            }
            out.push_str(row.trim_end());
            out.push('\n');
        }
    }
    out
}

/// `s` cut or padded to `w` characters, then a space.
fn pad(s: &str, w: usize) -> String {
    let n = s.chars().count();
    let mut out: String = if n > w {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('~');
        t
    } else {
        s.to_string()
    };
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(n.min(w))));
    out.push(' ');
    out
}

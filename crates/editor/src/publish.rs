//! Publications in the editor: the cells whose draft differs from what
//! staff were shown (kept up to date edit by edit, as the findings are,
//! never worked out per frame), the range the publish prompt reads
//! (`1/3 to 28/3`, `2027-03-01 to 2027-03-28`), and how a change and a
//! publication are said. Pure: the roster and the layout in, a set, text
//! or a range out.

use super::layout::Layout;
use rota_core::domain::{Date, Period, Roster, Target};
use std::collections::{BTreeMap, HashMap};

/// The cells that differ from their published value, on published dates
/// (active staff only), with the code staff were shown there (None:
/// nothing). Made once from the roster, then changed cell by cell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unpublished {
    rows: HashMap<String, BTreeMap<Date, Option<String>>>,
    count: usize,
}

impl Unpublished {
    /// Every unpublished change of the roster (a walk of the published
    /// dates: when the roster is read, a publication lands, or staff change).
    pub fn new(roster: &Roster) -> Unpublished {
        let mut u = Unpublished::default();
        for (staff, date, _, published) in roster.unpublished() {
            u.rows.entry(staff).or_default().insert(date, published);
            u.count += 1;
        }
        u
    }

    /// After an edit of `targets`: each cell it wrote is looked at again;
    /// a publication or a change of staff has the whole set made again.
    pub fn update(&mut self, roster: &Roster, targets: &[Target]) {
        if targets
            .iter()
            .any(|t| matches!(t, Target::Publication { .. } | Target::Staff { .. }))
        {
            *self = Unpublished::new(roster);
            return;
        }
        for t in targets {
            if let Target::Cell { staff, date } = t {
                self.recheck_cell(roster, staff, *date);
            }
        }
    }

    fn recheck_cell(&mut self, roster: &Roster, staff: &str, date: Date) {
        let differs = roster.published_by(date).is_some()
            && roster.staff_member(staff).is_some_and(|s| s.active)
            && roster.cell(staff, date).and_then(|(c, _)| c) != roster.published_cell(staff, date);
        let row = self.rows.entry(staff.to_string()).or_default();
        let had = if differs {
            row.insert(date, roster.published_cell(staff, date).map(str::to_string))
                .is_some()
        } else {
            row.remove(&date).is_some()
        };
        match (differs, had) {
            (true, false) => self.count += 1,
            (false, true) => self.count -= 1,
            _ => {}
        }
        if row.is_empty() {
            self.rows.remove(staff);
        }
    }

    /// How many cells differ from what staff were shown.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the cell differs from what staff were shown.
    pub fn contains(&self, staff: &str, date: Date) -> bool {
        self.rows.get(staff).is_some_and(|r| r.contains_key(&date))
    }

    /// A person's unpublished cells, by date, each with its published code.
    pub fn row(&self, staff: &str) -> Option<&BTreeMap<Date, Option<String>>> {
        self.rows.get(staff)
    }

    /// Every unpublished cell in the grid's order (its people's, then by
    /// date); people the grid does not show (filtered out) after them:
    /// (layout index when shown, staff, date).
    pub fn in_order(&self, layout: &Layout) -> Vec<(Option<usize>, String, Date)> {
        let mut out: Vec<(Option<usize>, String, Date)> = self
            .rows
            .iter()
            .flat_map(|(staff, row)| {
                let p = layout.person_index(staff);
                row.keys().map(move |d| (p, staff.clone(), *d))
            })
            .collect();
        out.sort_by(|a, b| {
            (a.0.unwrap_or(usize::MAX), &a.1, a.2).cmp(&(b.0.unwrap_or(usize::MAX), &b.1, b.2))
        });
        out
    }
}

/// How a range is written at the publish prompt.
pub const RANGE_SYNTAX: &str = "two dates, as g takes them: 1/3 to 28/3, 2027-03-01 to 2027-03-28";

/// Reads the publish prompt's range: two dates with `to` (or `-`, `–`,
/// `..`) between them, or one date alone; each as the jump takes it (a
/// day and month without a year is the one inside the planning period,
/// else the nearest `near`).
pub fn parse_range(text: &str, near: Date, period: Option<Period>) -> Result<(Date, Date), String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("which dates? write {RANGE_SYNTAX}"));
    }
    let parts: Vec<&str> = [" to ", "..", " – ", "–", " - "]
        .iter()
        .find_map(|sep| text.split_once(sep).map(|(a, b)| vec![a, b]))
        .or_else(|| {
            // "1/12 to" and "1/12 -": the last date missing.
            [" to", "..", "–", " -"]
                .iter()
                .find_map(|sep| text.strip_suffix(sep).map(|a| vec![a, ""]))
        })
        .unwrap_or_else(|| vec![text]);
    let date = |s: &str| -> Result<Date, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err(format!("the last date is missing: write {RANGE_SYNTAX}"));
        }
        crate::dates::parse_jump_date_in(s, near, period)
            .ok_or_else(|| format!("`{s}` is not a date: write {RANGE_SYNTAX}"))
    };
    let from = date(parts[0])?;
    let to = match parts.get(1) {
        Some(b) => date(b)?,
        None => from,
    };
    if from > to {
        return Err(format!(
            "{} is after {}: the first date goes first",
            show(from),
            show(to)
        ));
    }
    Period::new(from, to).map_err(|m| m.replacen("period: ", "", 1))?;
    Ok((from, to))
}

/// "Mon 1 Mar to Sun 28 Mar 2027" (both years when they differ).
pub fn range_text(from: Date, to: Date) -> String {
    use chrono::Datelike;
    if from.0.year() == to.0.year() {
        format!(
            "{} to {}",
            from.0.format("%a %-d %b"),
            to.0.format("%a %-d %b %Y")
        )
    } else {
        format!("{} to {}", show(from), show(to))
    }
}

fn show(d: Date) -> String {
    d.0.format("%a %-d %b %Y").to_string()
}

/// The cells a publication of `from..=to` would fix: those of active
/// staff that hold a code (as the roster counts them when it publishes).
pub fn cells_in(roster: &Roster, from: Date, to: Date) -> usize {
    roster
        .staff()
        .into_iter()
        .filter(|s| s.active)
        .map(|s| {
            roster
                .row_between(&s.id, from, to)
                .filter(|(_, c, _)| c.is_some())
                .count()
        })
        .sum()
}

/// The number the next publication will have (the hub gives it; this is
/// what it will be unless another admin publishes first).
pub fn next_number(roster: &Roster) -> u32 {
    roster.last_publication().map_or(1, |p| p.number + 1)
}

/// An unpublished cell in words: "Ann Lee Tue 2 Mar: published D, now N".
pub fn change_text(roster: &Roster, staff: &str, date: Date, published: Option<&str>) -> String {
    let name = roster
        .staff_member(staff)
        .map_or_else(|| staff.to_string(), |s| s.name.clone());
    let now = roster.cell(staff, date).and_then(|(c, _)| c);
    format!(
        "{name} {}: published {}, now {}",
        date.0.format("%a %-d %b"),
        published.unwrap_or("nothing"),
        now.unwrap_or("empty")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rota_core::domain::{Author, Op, ShiftCode};
    use std::sync::Arc;

    fn day(i: i64) -> Date {
        "2027-03-01".parse::<Date>().map(|d| d.add_days(i)).unwrap()
    }

    fn apply(r: &mut Roster, ops: &[Op]) {
        let author = Author {
            user: Arc::from("ada"),
            client: Arc::from("c"),
        };
        r.apply_batch_with(ops, &author, 1, true).expect("applies");
    }

    fn set(staff: usize, d: i64, code: Option<&str>) -> Op {
        Op::SetCell {
            staff: format!("s{staff}"),
            date: day(d),
            code: code.map(str::to_string),
            base: 0,
        }
    }

    /// 150 staff over 364 days, every cell filled, all of it published.
    fn big() -> Roster {
        let mut r = Roster::default();
        let mut ops: Vec<Op> = ["D", "N", "OFF"]
            .iter()
            .map(|c| Op::PutCode {
                code: ShiftCode::new(c, 8.0, *c != "OFF"),
                base: None,
            })
            .collect();
        for s in 0..150 {
            ops.push(Op::AddStaff {
                id: format!("s{s}"),
                name: format!("Person {s}"),
                group: String::new(),
                order: None,
            });
        }
        apply(&mut r, &ops);
        for s in 0..150 {
            let row: Vec<Op> = (0..364)
                .map(|d| set(s, d, Some(["D", "N", "OFF"][(s + d as usize) % 3])))
                .collect();
            apply(&mut r, &row);
        }
        apply(
            &mut r,
            &[Op::Publish {
                from: day(0),
                to: day(363),
                note: String::new(),
            }],
        );
        r
    }

    /// Kept cell by cell, the set is what a walk of the whole roster
    /// finds, edit after edit (changed, put back, emptied, outside the
    /// published dates, a person removed, another publication), on the
    /// largest roster (what an edit costs is for `cargo bench`, not a test).
    #[test]
    fn the_set_kept_cell_by_cell_is_the_whole_walks() {
        let mut r = big();
        let mut kept = Unpublished::new(&r);
        assert!(kept.is_empty());
        let steps: Vec<Vec<Op>> = vec![
            vec![
                set(3, 10, Some("N")),
                set(3, 11, None),
                set(7, 0, Some("D")),
            ],
            // Put back as published: no longer a change.
            vec![set(3, 10, Some(["D", "N", "OFF"][13 % 3]))],
            // Past the published dates: not a change staff were shown.
            vec![set(5, 400, Some("D"))],
            vec![set(9, 363, Some("OFF")), set(9, 362, Some("OFF"))],
            vec![Op::RemoveStaff {
                id: "s9".into(),
                base: None,
            }],
            vec![Op::Publish {
                from: day(0),
                to: day(10),
                note: "again".into(),
            }],
        ];
        for ops in steps {
            apply(&mut r, &ops);
            let targets: Vec<Target> = ops.iter().map(Op::target).collect();
            kept.update(&r, &targets);
            assert_eq!(kept, Unpublished::new(&r), "after {ops:?}");
        }
        // Days 0 to 10 published again: s3's emptied day 11 is left.
        assert_eq!(kept.len(), 1);
        assert!(kept.contains("s3", day(11)) && !kept.contains("s7", day(0)));
        assert_eq!(
            kept.row("s3").and_then(|r| r.get(&day(11))).cloned(),
            Some(Some("OFF".into()))
        );
    }

    #[test]
    fn a_range_is_read_as_the_jump_reads_dates() {
        let near = day(0);
        let ok = |t: &str| parse_range(t, near, None).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(ok("2027-03-01 to 2027-03-28"), (day(0), day(27)));
        assert_eq!(ok("1/3 to 28/3"), (day(0), day(27)));
        assert_eq!(ok("1/3 - 28/3"), (day(0), day(27)));
        assert_eq!(ok("1/3..28/3"), (day(0), day(27)));
        assert_eq!(ok(" 5/3 "), (day(4), day(4)), "one date alone");
        let err = |t: &str| parse_range(t, near, None).expect_err(t);
        assert!(err("28/3 to 1/3").contains("is after"));
        assert!(err("soon").contains("`soon` is not a date"));
        assert!(err("1/3 to").contains("missing"));
        assert!(err("").contains("which dates"));
        assert!(err("1/1/2020 to 1/1/2030").contains("at most"));
        assert_eq!(range_text(day(0), day(27)), "Mon 1 Mar to Sun 28 Mar 2027");
        assert_eq!(
            range_text(d("2026-12-28"), d("2027-01-03")),
            "Mon 28 Dec 2026 to Sun 3 Jan 2027"
        );
    }

    fn d(s: &str) -> Date {
        s.parse().expect("a date")
    }
}

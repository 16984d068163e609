//! The grid's shape: who is on which line (by group, under the filter),
//! which dates, which codes and how each looks; rebuilt when staff, codes
//! or the filter change, not when cells do. Reads the roster and the
//! findings; knows nothing of the editor's state.

use super::config::Config;
use ratatui::style::Color;
use rota_core::domain::rules::{Findings, Totals};
use rota_core::domain::{Date, Roster, Staff};
use rota_core::text::text_cols;
use std::collections::{BTreeMap, BTreeSet};

/// One row of the grid's left column.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    Group(String),
    /// Index into [`Layout::staff`].
    Person(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Person {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CodeLook {
    pub code: String,
    pub label: String,
    pub colour: Option<Color>,
    /// Paid hours, and whether it counts as a worked shift (for totals).
    pub hours: f64,
    pub worked: bool,
}

/// The shape of the grid: who is on which line, which dates, which codes.
/// Rebuilt when staff or codes change, not when cells do.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub staff: Vec<Person>,
    pub lines: Vec<Line>,
    /// The line each person is on.
    pub line_of: Vec<usize>,
    pub first: Date,
    pub days: usize,
    /// Codes by name, for entry and colours.
    pub codes: BTreeMap<String, CodeLook>,
    /// Display columns of a cell's code (the widest code, at least 3).
    pub code_cols: u16,
    /// Display columns of the names column.
    pub name_cols: u16,
    /// The roster holds staff requests: each date has a column more for
    /// a request's mark, and the totals a count of unmet ones.
    pub requests: bool,
    /// The roster has published: each date has a column more for the mark
    /// of a cell that differs from what staff were shown (for editors).
    pub publishes: bool,
}

/// Days shown before and after today when the roster holds no cells near.
const DAYS_BEFORE_TODAY: i64 = 14;
const DAYS_AFTER_TODAY: i64 = 42;
const MAX_NAME_COLS: usize = 24;
/// The totals column: worked shifts, hours, a glyph.
pub const TOTALS_COLS: u16 = 10;
/// The totals column's part for requests (a roster with some): a space
/// and the unmet requests on screen (`2?`).
pub const REQUEST_TOTALS_COLS: u16 = 4;

impl Layout {
    pub fn build(
        roster: &Roster,
        today: Date,
        config: &Config,
        filter: &Filter,
        findings: &Findings,
        kept: &BTreeSet<String>,
    ) -> Layout {
        let warned = match filter {
            Filter::Warned => findings.people_warned(),
            _ => Default::default(),
        };
        let staff: Vec<Staff> = roster
            .staff_by_group()
            .into_iter()
            .filter(|s| match filter {
                Filter::Everyone => true,
                Filter::Group(g) => s.group == *g,
                // Shown once, kept (see `State::warned_shown`).
                Filter::Warned => warned.contains(s.id.as_str()) || kept.contains(&s.id),
            })
            .collect();
        let mut people = Vec::with_capacity(staff.len());
        let mut lines = Vec::new();
        let mut group: Option<&str> = None;
        for s in &staff {
            if group != Some(s.group.as_str()) {
                group = Some(&s.group);
                if !s.group.is_empty() {
                    lines.push(Line::Group(s.group.clone()));
                }
            }
            lines.push(Line::Person(people.len()));
            people.push(Person {
                id: s.id.clone(),
                name: s.name.clone(),
            });
        }
        let mut line_of_person = vec![0; people.len()];
        for (i, l) in lines.iter().enumerate() {
            if let Line::Person(p) = l {
                line_of_person[*p] = i;
            }
        }
        // The planning period, the dates around today, and any code
        // written outside the period (shown, so it can be seen and
        // cleared; never checked), within reach of today.
        let mut first = today.add_days(-DAYS_BEFORE_TODAY);
        let mut last = today.add_days(DAYS_AFTER_TODAY);
        let (low, high) = reach(today);
        for (a, b) in roster
            .set_period()
            .map(|p| (p.from, p.to))
            .into_iter()
            .chain(roster.code_span())
        {
            first = first.min(a.max(low));
            last = last.max(b.min(high));
        }
        let days = (last.0 - first.0).num_days().max(0) as usize + 1;
        let codes: BTreeMap<String, CodeLook> = roster
            .codes()
            .into_iter()
            .map(|c| {
                let colour = config
                    .colours
                    .get(&c.code)
                    .copied()
                    .or_else(|| super::colour::parse_colour(&c.colour));
                (
                    c.code.clone(),
                    CodeLook {
                        code: c.code,
                        label: c.label,
                        colour,
                        hours: c.hours,
                        worked: c.worked,
                    },
                )
            })
            .collect();
        let code_cols = codes
            .keys()
            .map(|c| text_cols(c, config.ambiguous_wide))
            .max()
            .unwrap_or(0)
            .max(3) as u16;
        let name_cols = people
            .iter()
            // Room after the name for a colleague's `@AB`.
            .map(|p| text_cols(&p.name, config.ambiguous_wide) + 4)
            .max()
            .unwrap_or(0)
            .clamp(10, MAX_NAME_COLS) as u16;
        Layout {
            staff: people,
            lines,
            line_of: line_of_person,
            first,
            days,
            codes,
            code_cols,
            name_cols,
            requests: roster.request_count() > 0,
            publishes: roster.publishes(),
        }
    }

    pub fn date(&self, col: usize) -> Date {
        self.first.add_days(col as i64)
    }

    /// The column of a date, when shown.
    pub fn col_of(&self, date: Date) -> Option<usize> {
        let d = (date.0 - self.first.0).num_days();
        (d >= 0 && (d as usize) < self.days).then_some(d as usize)
    }

    pub fn person_index(&self, id: &str) -> Option<usize> {
        self.staff.iter().position(|p| p.id == id)
    }

    /// Widens the dates to include `date`, when it is within reach of
    /// `today` (see [`reach`]): how many dates were added before the first
    /// (the columns of everything shown move by that many); None when it
    /// is out of reach (nothing changes). [`State::include`] keeps what is
    /// on screen on its dates.
    pub fn include(&mut self, date: Date, today: Date) -> Option<usize> {
        let (low, high) = reach(today);
        if date < low || date > high {
            return None;
        }
        if date < self.first {
            let more = (self.first.0 - date.0).num_days() as usize;
            self.first = date;
            self.days += more;
            return Some(more);
        }
        if self.col_of(date).is_none() {
            self.days = (date.0 - self.first.0).num_days() as usize + 1;
        }
        Some(0)
    }
}

/// Years each side of today the grid reaches: a date further is refused
/// (a mistyped year would otherwise make a grid of centuries).
pub const REACH_YEARS: i64 = 5;

/// The first and last dates the grid may show, around `today`.
pub fn reach(today: Date) -> (Date, Date) {
    let days = REACH_YEARS * 366;
    (today.add_days(-days), today.add_days(days))
}

/// Worked shifts and paid hours of some codes, as the layout knows them.
pub fn totals_of<'a>(layout: &Layout, codes: impl IntoIterator<Item = &'a str>) -> Totals {
    let mut t = Totals::default();
    for look in codes.into_iter().filter_map(|c| layout.codes.get(c)) {
        count_code(&mut t, look);
    }
    t
}

/// Adds one cell holding a code to the totals.
pub fn count_code(t: &mut Totals, look: &CodeLook) {
    t.shifts += u32::from(look.worked);
    t.hours += look.hours;
}

/// Who the grid shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Filter {
    #[default]
    Everyone,
    Group(String),
    /// People with a rule warning of their own.
    Warned,
}

impl Filter {
    pub fn describe(&self) -> String {
        match self {
            Filter::Everyone => "everyone".into(),
            Filter::Group(g) => format!("group {g}"),
            Filter::Warned => "people with warnings".into(),
        }
    }

    /// In a word or two, for the header: "warned", "Nurses".
    pub fn short(&self) -> String {
        match self {
            Filter::Everyone => "everyone".into(),
            Filter::Group(g) => g.clone(),
            Filter::Warned => "warned".into(),
        }
    }
}

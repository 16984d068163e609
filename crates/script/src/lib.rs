//! rota-script: scripted updates and data exchange: turns roster files (CSV rows, JSON
//! operations, shift-scheduling benchmark instances) into checked operations
//! with the input line of each, describes what they would change, and writes
//! rosters out (CSV, JSON, iCalendar, a printable grid). Pure: text and a
//! [`Roster`] in, operations or text out. No network, no files, no engine;
//! `cli::apply` and `cli::export` do the I/O.
//!
//! - [`csv`]: `staff,date,code` rows, ranges and repeating patterns; export.
//! - [`json`]: a list of protocol operations, or an exported roster; export.
//! - [`nrp`]: the benchmark instances' text format (import only).
//! - [`ics`]: iCalendar (RFC 5545) export.
//! - [`shifts`]: a person's own published shifts, as lines.
//! - [`grid`]: a text grid that fits a page width, week by week.
//! - [`diff`]: what a set of operations changes, cell by cell.
//!
//! Depends on rota-core only: never on the hub, the client or the editor.

pub mod csv;
pub mod diff;
pub mod grid;
pub mod ics;
pub mod json;
pub mod nrp;
pub mod shifts;

use rota_core::domain::{Author, ChangeRecord, Date, Op, Problem, Rejection, Roster, Staff};
use std::collections::HashMap;
use std::fmt;

/// Longest date range one input line may cover (about ten years).
pub const MAX_RANGE_DAYS: i64 = 3660;

/// One problem with the input, at a line (1-based; 0 when it concerns the
/// whole input).
#[derive(Clone, Debug, PartialEq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl LineError {
    pub fn new(line: usize, message: impl Into<String>) -> LineError {
        LineError {
            line,
            message: message.into(),
        }
    }

    /// `FILE:LINE: message` (just `FILE: message` without a line).
    pub fn display<'a>(&'a self, file: &'a str) -> impl fmt::Display + 'a {
        struct D<'a>(&'a LineError, &'a str);
        impl fmt::Display for D<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.0.line == 0 {
                    write!(f, "{}: {}", self.1, self.0.message)
                } else {
                    write!(f, "{}:{}: {}", self.1, self.0.line, self.0.message)
                }
            }
        }
        D(self, file)
    }
}

/// Input formats `--apply` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Nrp,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "nrp" => Ok(Format::Nrp),
            _ => Err(format!("--format `{s}`: expected csv, json or nrp")),
        }
    }

    /// By the file's extension, else by its first meaningful line.
    pub fn detect(path: &str, text: &str) -> Format {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            return Format::Csv;
        }
        if lower.ends_with(".json") {
            return Format::Json;
        }
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        if first.starts_with("SECTION_") {
            Format::Nrp
        } else if first.starts_with('[') || first.starts_with('{') {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// Operations read from a file, with the input line each came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// `lines[i]` is the input line of `ops[i]`.
    pub lines: Vec<usize>,
    /// What the reader chose to leave out or assume, for the user.
    pub notes: Vec<String>,
    /// Where in the input an op came from, when a line is not enough (a
    /// JSON field path such as `requests[3]`): said before its problems.
    pub places: HashMap<usize, String>,
}

impl Plan {
    pub fn push(&mut self, line: usize, op: Op) {
        self.ops.push(op);
        self.lines.push(line);
    }

    /// The input line of op `i`.
    pub fn line_of(&self, i: usize) -> usize {
        self.lines.get(i).copied().unwrap_or(0)
    }

    /// A problem the roster found with op `problem.op`, at its line (and
    /// place, when it has one).
    pub fn error(&self, problem: Problem) -> LineError {
        let message = match self.places.get(&problem.op) {
            Some(place) => format!("{place}: {}", problem.message),
            None => problem.message,
        };
        LineError::new(self.line_of(problem.op), message)
    }

    /// Bases every write on `roster`'s current versions (what the script
    /// read), then checks the whole plan against it. Returns what it would
    /// change (for [`diff::describe`]), or every problem at its line.
    /// The roster is left as it was (it is borrowed mutably only to try the
    /// edit on it).
    pub fn check(&mut self, roster: &mut Roster) -> Result<Vec<ChangeRecord>, Vec<LineError>> {
        for op in &mut self.ops {
            op.set_base(roster.version(&op.target()));
        }
        let author = Author {
            user: "".into(),
            client: "".into(),
        };
        match roster.try_batch(&self.ops, &author, 0, true) {
            Ok(applied) => Ok(applied.changes),
            // Forced: staleness is never reported here.
            Err(Rejection::Conflict(_)) => Ok(Vec::new()),
            Err(Rejection::Invalid(problems)) => {
                Err(problems.into_iter().map(|p| self.error(p)).collect())
            }
        }
    }
}

/// Finds staff the way people name them: by id, or by a display name that
/// belongs to one person (exactly, or else ignoring case).
pub struct StaffNames<'a> {
    by_id: HashMap<&'a str, &'a Staff>,
    by_name: HashMap<&'a str, Vec<&'a Staff>>,
    by_lower: HashMap<String, Vec<&'a Staff>>,
}

impl<'a> StaffNames<'a> {
    pub fn new(staff: &'a [Staff]) -> StaffNames<'a> {
        let mut names = StaffNames {
            by_id: HashMap::new(),
            by_name: HashMap::new(),
            by_lower: HashMap::new(),
        };
        for s in staff {
            names.by_id.insert(&s.id, s);
            if s.active {
                names.by_name.entry(&s.name).or_default().push(s);
                names
                    .by_lower
                    .entry(s.name.to_lowercase())
                    .or_default()
                    .push(s);
            }
        }
        names
    }

    /// The id of the person `name` refers to, or why it refers to nobody.
    pub fn resolve(&self, name: &str) -> Result<&'a str, String> {
        if name.is_empty() {
            return Err("staff is empty".into());
        }
        if let Some(s) = self.by_id.get(name) {
            if !s.active {
                return Err(format!("staff `{name}` has been removed from the roster"));
            }
            return Ok(&s.id);
        }
        let found = match self.by_name.get(name) {
            Some(v) => v,
            None => match self.by_lower.get(&name.to_lowercase()) {
                Some(v) => v,
                None => return Err(format!("unknown staff `{name}` (no such id or name)")),
            },
        };
        match found.as_slice() {
            [one] => Ok(&one.id),
            many => Err(format!(
                "staff name `{name}` is ambiguous: ids {}; use the id",
                many.iter()
                    .map(|s| format!("`{}`", s.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// What part of a roster an export covers.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub from: Option<Date>,
    pub to: Option<Date>,
    /// One person, by id.
    pub staff: Option<String>,
}

impl Selection {
    /// The roster's rule findings that touch the selection: a date in it,
    /// and (with one person selected) about that person. Listed in the
    /// evaluator's order.
    pub fn findings(&self, roster: &Roster) -> Vec<rota_core::domain::rules::Finding> {
        let all = rota_core::domain::rules::Findings::new(roster);
        all.all()
            .into_iter()
            .filter(|f| {
                self.from.is_none_or(|from| f.last >= from)
                    && self.to.is_none_or(|to| f.first <= to)
            })
            .filter(|f| self.staff.as_ref().is_none_or(|id| f.staff.contains(id)))
            .cloned()
            .collect()
    }

    /// The requests of its active staff on its dates, in the editor's
    /// order of staff, then by date.
    pub fn requests(&self, roster: &Roster) -> Vec<rota_core::domain::Request> {
        let from = self.from.unwrap_or(Date(chrono::NaiveDate::MIN));
        let to = self.to.unwrap_or(Date(chrono::NaiveDate::MAX));
        self.staff(roster)
            .iter()
            .flat_map(|s| {
                roster
                    .requests_of(&s.id, from, to)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn has_date(&self, d: Date) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }

    /// The active staff it covers, in the editor's order: by group (in
    /// the order the groups first come), then roster order.
    pub fn staff(&self, roster: &Roster) -> Vec<Staff> {
        roster
            .staff_by_group()
            .into_iter()
            .filter(|s| s.active && self.staff.as_ref().is_none_or(|id| *id == s.id))
            .collect()
    }

    /// Its non-empty cells, by roster order of staff, then date.
    pub fn cells(&self, roster: &Roster) -> Vec<(Staff, Date, String)> {
        let mut by_staff: HashMap<&str, Vec<(Date, &str)>> = HashMap::new();
        for (staff, date, code, _) in roster.cells() {
            if let Some(code) = code
                && self.has_date(date)
            {
                by_staff.entry(staff).or_default().push((date, code));
            }
        }
        let mut out = Vec::new();
        for s in self.staff(roster) {
            if let Some(mut row) = by_staff.remove(s.id.as_str()) {
                row.sort();
                out.extend(row.into_iter().map(|(d, c)| (s.clone(), d, c.to_string())));
            }
        }
        out
    }
}

/// Finds the line (1-based) of byte offsets in one text. Offsets asked for
/// in increasing order cost only the bytes between them, so numbering every
/// record of a large file stays linear.
pub struct Lines<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line that byte `offset` is on.
    pub fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            (self.offset, self.line) = (0, 1);
        }
        self.line += self.text[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(id: &str, name: &str, active: bool) -> Staff {
        Staff {
            id: id.into(),
            name: name.into(),
            group: String::new(),
            order: 0,
            active,
            seq: 0,
        }
    }

    #[test]
    fn staff_are_found_by_id_or_unique_name() {
        let list = vec![
            staff("a1", "Ann Lee", true),
            staff("a2", "Sam Roe", true),
            staff("a3", "Sam Roe", true),
            staff("a4", "Gone", false),
        ];
        let names = StaffNames::new(&list);
        assert_eq!(names.resolve("a1"), Ok("a1"));
        assert_eq!(names.resolve("Ann Lee"), Ok("a1"));
        assert_eq!(names.resolve("ann lee"), Ok("a1"));
        assert!(names.resolve("Sam Roe").unwrap_err().contains("ambiguous"));
        assert!(names.resolve("a4").unwrap_err().contains("removed"));
        assert!(names.resolve("Zed").unwrap_err().contains("unknown staff"));
    }

    #[test]
    fn formats_are_told_by_extension_or_content() {
        assert_eq!(Format::detect("x.CSV", "[]"), Format::Csv);
        assert_eq!(Format::detect("x.json", ""), Format::Json);
        assert_eq!(Format::detect("-", "# c\nSECTION_HORIZON\n14"), Format::Nrp);
        assert_eq!(Format::detect("-", "  [ {}"), Format::Json);
        assert_eq!(Format::detect("-", "staff,date,code"), Format::Csv);
        let mut lines = Lines::new("a\nb\nc");
        assert_eq!(lines.at(2), 2);
        assert_eq!(lines.at(4), 3);
        assert_eq!(lines.at(0), 1);
    }
}

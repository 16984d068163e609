//! What a set of operations changes in a roster: each cell old -> new, each
//! record added, changed or removed, and the counts. Used for `--dry-run`
//! and for the summary after the hub has acknowledged.

use rota_core::domain::{Change, ChangeRecord, Date, Roster};
use std::collections::HashMap;
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cells that were empty and now hold a code.
    pub cells_set: usize,
    /// Cells whose code changed.
    pub cells_changed: usize,
    pub cells_cleared: usize,
    pub staff_added: usize,
    pub staff_changed: usize,
    pub staff_removed: usize,
    pub codes: usize,
    pub rules: usize,
    pub settings: usize,
    /// Requests added, changed or withdrawn.
    pub requests: usize,
    pub publications: usize,
}

impl Summary {
    pub fn cells(&self) -> usize {
        self.cells_set + self.cells_changed + self.cells_cleared
    }
    pub fn is_empty(&self) -> bool {
        *self == Summary::default()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let staff = self.staff_added + self.staff_changed + self.staff_removed;
        let others =
            staff + self.codes + self.rules + self.settings + self.requests + self.publications;
        let mut parts = Vec::new();
        if self.cells() > 0 || others == 0 {
            parts.push(format!(
                "{} ({} set, {} changed, {} cleared)",
                plural(self.cells(), "cell"),
                self.cells_set,
                self.cells_changed,
                self.cells_cleared
            ));
        }
        if staff > 0 {
            parts.push(format!(
                "{} ({} added, {} changed, {} removed)",
                plural(staff, "staff record"),
                self.staff_added,
                self.staff_changed,
                self.staff_removed
            ));
        }
        if self.codes > 0 {
            parts.push(plural(self.codes, "shift code"));
        }
        if self.rules > 0 {
            parts.push(plural(self.rules, "rule"));
        }
        if self.requests > 0 {
            parts.push(plural(self.requests, "request"));
        }
        if self.publications > 0 {
            parts.push(plural(self.publications, "publication"));
        }
        if self.settings > 0 {
            parts.push("the settings".into());
        }
        write!(f, "{}", parts.join(", "))
    }
}

pub fn plural(n: usize, what: &str) -> String {
    match (n, what) {
        (1, _) => format!("1 {what}"),
        (_, "person") => format!("{n} people"),
        _ => format!("{n} {what}s"),
    }
}

/// One line of a dry run.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    Cell {
        staff: String,
        date: Date,
        old: Option<String>,
        new: Option<String>,
    },
    Record(String),
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Cell {
                staff,
                date,
                old,
                new,
            } => {
                let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "(empty)".into());
                write!(f, "{staff} {date}: {} -> {}", show(old), show(new))
            }
            Line::Record(s) => f.write_str(s),
        }
    }
}

/// Describes the changes a batch made (as [`crate::Plan::check`]
/// returns them) against the roster it was checked on.
pub fn describe(roster: &Roster, changes: Vec<ChangeRecord>) -> (Vec<Line>, Summary) {
    // One entry per thing changed, in the order first touched, with the last
    // change made to it.
    let mut first: Vec<usize> = Vec::new();
    let mut last: HashMap<Key<'_>, usize> = HashMap::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        if last.insert(key_of(&c.change), i).is_none() {
            first.push(i);
        }
    }
    let last: Vec<usize> = first
        .iter()
        .filter_map(|&i| last.get(&key_of(&changes[i].change)).copied())
        .collect();
    let mut changes: Vec<Option<Change>> = changes.into_iter().map(|c| Some(c.change)).collect();
    let mut lines = Vec::with_capacity(last.len());
    let mut sum = Summary::default();
    for i in last {
        if let Some(line) = changes[i]
            .take()
            .and_then(|change| describe_one(roster, change, &mut sum))
        {
            lines.push(line);
        }
    }
    (lines, sum)
}

/// What a change was made to, borrowed from it.
#[derive(PartialEq, Eq, Hash)]
enum Key<'a> {
    Cell(&'a str, Date),
    Staff(&'a str),
    Code(&'a str),
    Rule(&'a str),
    Settings,
    Request(&'a str, Date),
    Proposal(&'a str, Date),
    Publication(u32),
}

fn key_of(c: &Change) -> Key<'_> {
    match c {
        Change::Cell { staff, date, .. } => Key::Cell(staff, *date),
        Change::Staff { staff } => Key::Staff(&staff.id),
        Change::Code { code, .. } => Key::Code(code),
        Change::Rule { id, .. } => Key::Rule(id),
        Change::Settings { .. } => Key::Settings,
        Change::Request { staff, date, .. } => Key::Request(staff, *date),
        Change::Proposal { staff, date, .. } => Key::Proposal(staff, *date),
        Change::Publication { publication } => Key::Publication(publication.number),
    }
}

fn describe_one(before: &Roster, change: Change, sum: &mut Summary) -> Option<Line> {
    match change {
        Change::Cell { staff, date, code } => {
            let old = before
                .cell(&staff, date)
                .and_then(|(c, _)| c.map(str::to_string));
            match (&old, &code) {
                (a, b) if a == b => return None,
                (None, Some(_)) => sum.cells_set += 1,
                (Some(_), None) => sum.cells_cleared += 1,
                _ => sum.cells_changed += 1,
            }
            Some(Line::Cell {
                staff,
                date,
                old,
                new: code,
            })
        }
        Change::Staff { staff } => {
            let text = match before.staff_member(&staff.id) {
                None => {
                    sum.staff_added += 1;
                    format!("staff {}: added as \"{}\"", staff.id, staff.name)
                }
                Some(_) if !staff.active => {
                    sum.staff_removed += 1;
                    format!("staff {}: removed", staff.id)
                }
                Some(old) => {
                    sum.staff_changed += 1;
                    format!(
                        "staff {}: \"{}\" ({}) -> \"{}\" ({})",
                        staff.id, old.name, old.group, staff.name, staff.group
                    )
                }
            };
            Some(Line::Record(text))
        }
        Change::Code { code, def } => {
            sum.codes += 1;
            let what = match (before.code(&code), def) {
                (None, _) => "added",
                (Some(_), None) => "removed",
                (Some(_), Some(_)) => "changed",
            };
            Some(Line::Record(format!("shift code {code}: {what}")))
        }
        Change::Rule { id, rule } => {
            sum.rules += 1;
            let what = match (before.rule(&id), rule) {
                (None, _) => "added",
                (Some(_), None) => "removed",
                (Some(_), Some(_)) => "changed",
            };
            Some(Line::Record(format!("rule {id}: {what}")))
        }
        Change::Settings { settings } => {
            sum.settings += 1;
            let was = before.settings();
            let mut said = Vec::new();
            if settings.conflict_mode != was.conflict_mode {
                said.push(format!("conflict mode {:?}", settings.conflict_mode));
            }
            if settings.period != was.period {
                said.push(match settings.period {
                    Some(p) => format!("planning period {} to {}", p.from, p.to),
                    None => "no planning period".into(),
                });
            }
            if settings.time_zone != was.time_zone {
                said.push(format!(
                    "time zone {}",
                    settings.time_zone.as_deref().unwrap_or("(none)")
                ));
            }
            Some(Line::Record(format!("settings: {}", said.join(", "))))
        }
        Change::Proposal { staff, date, code } => {
            let text = match (before.proposal(&staff, date), code) {
                (None, None) => return None,
                (None, Some(c)) => format!("proposal {staff} {date}: {c}"),
                (Some(o), None) => format!("proposal {staff} {date}: {o} withdrawn"),
                (Some(o), Some(c)) => format!("proposal {staff} {date}: {o} -> {c}"),
            };
            Some(Line::Record(text))
        }
        Change::Request {
            staff,
            date,
            request,
        } => {
            let old = before.request(&staff, date);
            let text = match (old, &request) {
                (None, None) => return None,
                (None, Some(r)) => format!("request {staff} {date}: {}", r.describe()),
                (Some(o), None) => format!("request {staff} {date}: {} withdrawn", o.wish),
                (Some(o), Some(r)) => {
                    format!(
                        "request {staff} {date}: {} -> {}",
                        o.describe(),
                        r.describe()
                    )
                }
            };
            sum.requests += 1;
            Some(Line::Record(text))
        }
        Change::Publication { publication } => {
            sum.publications += 1;
            Some(Line::Record(format!(
                "{} ({} cells)",
                publication.describe(),
                publication.cells.len()
            )))
        }
    }
}

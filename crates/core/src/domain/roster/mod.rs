//! One roster held in memory, and the one place where operations are checked
//! and applied. A batch is applied all or nothing: every operation is applied
//! to the live state with an undo record, and the undo log is replayed when any
//! operation fails, so a refused batch leaves the roster exactly as it was.

use super::Seq;
use super::row::Row;
use super::types::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

mod apply;
mod check;
mod proposals;
mod publish;
pub use proposals::Proposed;
mod requests;
mod view;
pub use view::{View, view_changes};
#[cfg(test)]
mod tests;

use apply::*;
use check::*;

/// Who wrote a version and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp {
    pub seq: Seq,
    pub user: Arc<str>,
    pub client: Arc<str>,
    /// Unix time in milliseconds.
    pub at: i64,
}

impl Stamp {
    /// The stamp of something never written. Its empty names are one
    /// shared allocation, however many cells carry it.
    pub fn none() -> Stamp {
        static EMPTY: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(|| Arc::from(""));
        Stamp {
            seq: 0,
            user: empty.clone(),
            client: empty.clone(),
            at: 0,
        }
    }
}

/// Names (users, clients) held once each while loading many stamps that
/// repeat them: one shared copy, not an allocation per stamp.
#[derive(Default)]
pub struct Names(HashMap<String, Arc<str>>);

impl Names {
    pub fn get(&mut self, s: String) -> Arc<str> {
        if let Some(a) = self.0.get(&s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s.as_str());
        self.0.insert(s, a.clone());
        a
    }

    /// A stamp whose names are shared.
    pub fn stamp(&mut self, seq: Seq, user: String, client: String, at: i64) -> Stamp {
        Stamp {
            seq,
            user: self.get(user),
            client: self.get(client),
            at,
        }
    }
}

/// The author of a batch.
#[derive(Clone, Debug)]
pub struct Author {
    pub user: Arc<str>,
    pub client: Arc<str>,
}

#[derive(Clone, Debug)]
struct Entry<T> {
    value: T,
    stamp: Stamp,
}

/// A cell's code is one of the roster's few codes: each is held once and
/// shared (16 bytes a cell, no allocation of its own).
type CellEntry = Entry<Option<Arc<str>>>;

/// One change an accepted batch made, with the value before it (a code or
/// null for a cell, the record or null otherwise) for the change log.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRecord {
    pub before: serde_json::Value,
    pub change: Change,
}

impl ChangeRecord {
    /// What was changed.
    pub fn target(&self) -> Target {
        self.change.target()
    }
}

/// What an accepted batch did.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The batch's seq. When the batch changed nothing (every write already
    /// held its value) this is the roster's current seq and `changes` is empty.
    pub seq: Seq,
    pub changes: Vec<ChangeRecord>,
    /// Stale writes applied anyway under last-writer-wins: what they overwrote.
    pub overwritten: Vec<Conflict>,
}

enum Undo {
    Cell(String, Date, Option<CellEntry>),
    Staff(String, Option<Entry<Staff>>),
    Code(String, Option<Entry<ShiftCode>>),
    Rule(String, Option<Entry<Rule>>),
    Settings(Entry<Settings>),
    Request((String, Date), Option<Entry<Request>>),
    Proposal((String, Date), Option<Entry<Arc<str>>>),
    Publication(Box<publish::Unfix>),
}

/// Work in progress while a batch is applied.
struct Batch<'a> {
    stamp: &'a Stamp,
    undo: Vec<Undo>,
    changes: Vec<ChangeRecord>,
    conflicts: Vec<Conflict>,
}

#[derive(Clone, Debug)]
pub struct Roster {
    seq: Seq,
    settings: Entry<Settings>,
    staff: BTreeMap<String, Entry<Staff>>,
    codes: BTreeMap<String, Entry<ShiftCode>>,
    rules: BTreeMap<String, Entry<Rule>>,
    /// Staff requests by person, then date.
    requests: BTreeMap<(String, Date), Entry<Request>>,
    /// Codes proposed for empty cells, by person then date.
    proposals: BTreeMap<(String, Date), Entry<Arc<str>>>,
    /// Publications by number (their cells are in `published_cells`).
    publications: BTreeMap<u32, Entry<Publication>>,
    /// Each published date's last publication.
    published_on: BTreeMap<Date, u32>,
    /// What staff see: each published cell holding a code, by person.
    published_cells: HashMap<String, BTreeMap<Date, Arc<str>>, foldhash::fast::RandomState>,
    /// Keyed with foldhash: hashing staff ids with SipHash was a tenth of
    /// applying a large batch.
    cells: HashMap<String, Row<CellEntry>, foldhash::fast::RandomState>,
    cell_count: usize,
    /// Every code a cell has held, once each.
    code_names: std::collections::HashSet<Arc<str>, foldhash::fast::RandomState>,
}

/// An empty roster: what a roster that was never written looks like.
impl Default for Roster {
    fn default() -> Roster {
        Roster {
            seq: 0,
            settings: Entry {
                value: Settings::default(),
                stamp: Stamp::none(),
            },
            staff: BTreeMap::new(),
            codes: BTreeMap::new(),
            rules: BTreeMap::new(),
            requests: BTreeMap::new(),
            proposals: BTreeMap::new(),
            publications: BTreeMap::new(),
            published_on: BTreeMap::new(),
            published_cells: HashMap::default(),
            cells: HashMap::default(),
            cell_count: 0,
            code_names: Default::default(),
        }
    }
}

const MAX_NAME: usize = 200;

fn problem(op: usize, code: &str, message: impl Into<String>) -> Problem {
    Problem {
        op,
        code: code.to_string(),
        message: message.into(),
    }
}

/// A write based on `base` is stale when someone else wrote after that
/// version. A client's own later writes never make its earlier-based ones
/// stale, so it may send several edits of one cell without waiting for acks.
fn is_stale(current: &Stamp, base: Seq, client: &str) -> bool {
    base < current.seq && &*current.client != client
}

fn to_json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

impl Roster {
    pub fn seq(&self) -> Seq {
        self.seq
    }
    pub fn conflict_mode(&self) -> ConflictMode {
        self.settings.value.conflict_mode
    }
    /// Number of cells that have ever been written (cleared ones included).
    pub fn cell_count(&self) -> usize {
        self.cell_count
    }

    /// Staff in display order (by `order`, then id), removed ones included.
    /// Active staff as the grid lists them: groups in the order of their
    /// first member, people by order within their group.
    pub fn staff_by_group(&self) -> Vec<Staff> {
        let staff: Vec<Staff> = self.staff().into_iter().filter(|s| s.active).collect();
        let mut groups: Vec<&str> = Vec::new();
        for s in &staff {
            if !groups.contains(&s.group.as_str()) {
                groups.push(&s.group);
            }
        }
        let mut out = Vec::with_capacity(staff.len());
        for g in groups {
            out.extend(staff.iter().filter(|s| s.group == g).cloned());
        }
        out
    }

    pub fn staff(&self) -> Vec<Staff> {
        let mut v: Vec<Staff> = self
            .staff
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |s, q| s.seq = q))
            .collect();
        v.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
        v
    }
    pub fn codes(&self) -> Vec<ShiftCode> {
        self.codes
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |c, q| c.seq = q))
            .collect()
    }
    pub fn rules(&self) -> Vec<Rule> {
        self.rules
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |r, q| r.seq = q))
            .collect()
    }
    /// Every request, by person then date.
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .values()
            .map(|e| with_seq(&e.value, e.stamp.seq, |r, q| r.seq = q))
            .collect()
    }
    /// How many requests there are.
    pub fn request_count(&self) -> usize {
        self.requests.len()
    }
    /// A person's request for a date.
    pub fn request(&self, staff: &str, date: Date) -> Option<&Request> {
        self.requests
            .get(&(staff.to_string(), date))
            .map(|e| &e.value)
    }
    /// A person's requests from `from` to `to` (both included), by date.
    pub fn requests_of(&self, staff: &str, from: Date, to: Date) -> impl Iterator<Item = &Request> {
        let range = (staff.to_string(), from)..=(staff.to_string(), to.max(from));
        self.requests
            .range(range)
            .map(|(_, e)| &e.value)
            .filter(move |r| r.date <= to)
    }
    /// Everyone's requests for one date, by person.
    pub fn requests_on(&self, date: Date) -> impl Iterator<Item = &Request> {
        self.requests
            .values()
            .map(|e| &e.value)
            .filter(move |r| r.date == date)
    }
    /// Who entered a request and when (its stamp).
    pub fn request_stamp(&self, staff: &str, date: Date) -> Option<&Stamp> {
        self.requests
            .get(&(staff.to_string(), date))
            .map(|e| &e.stamp)
    }
    pub fn settings(&self) -> Settings {
        with_seq(&self.settings.value, self.settings.stamp.seq, |s, q| {
            s.seq = q
        })
    }

    /// The version (seq of the last write) of what `target` names; 0 when
    /// it was never written or no longer exists.
    pub fn version(&self, target: &Target) -> Seq {
        match target {
            Target::Cell { staff, date } => self.cell(staff, *date).map_or(0, |(_, s)| s.seq),
            Target::Staff { id } => self.staff.get(id).map_or(0, |e| e.stamp.seq),
            Target::Code { code } => self.codes.get(code).map_or(0, |e| e.stamp.seq),
            Target::Rule { id } => self.rules.get(id).map_or(0, |e| e.stamp.seq),
            Target::Settings => self.settings.stamp.seq,
            Target::Request { staff, date } => self
                .requests
                .get(&(staff.clone(), *date))
                .map_or(0, |e| e.stamp.seq),
            Target::Proposal { staff, date } => self
                .proposals
                .get(&(staff.clone(), *date))
                .map_or(0, |e| e.stamp.seq),
            Target::Publication { number } => {
                self.publications.get(number).map_or(0, |e| e.stamp.seq)
            }
        }
    }

    /// What `target` holds now, as JSON, leaving out versions: a code (or
    /// null) for a cell, the record (or null) otherwise. Two rosters agree
    /// on a target exactly when these are equal.
    pub fn value_of(&self, target: &Target) -> serde_json::Value {
        match target {
            Target::Cell { staff, date } => to_json(&self.cell(staff, *date).and_then(|(c, _)| c)),
            Target::Staff { id } => to_json(
                &self
                    .staff
                    .get(id)
                    .map(|e| with_seq(&e.value, 0, |s, q| s.seq = q)),
            ),
            Target::Code { code } => to_json(
                &self
                    .codes
                    .get(code)
                    .map(|e| with_seq(&e.value, 0, |c, q| c.seq = q)),
            ),
            Target::Rule { id } => to_json(
                &self
                    .rules
                    .get(id)
                    .map(|e| with_seq(&e.value, 0, |r, q| r.seq = q)),
            ),
            Target::Settings => to_json(&with_seq(&self.settings.value, 0, |s, q| s.seq = q)),
            Target::Request { staff, date } => to_json(
                &self
                    .requests
                    .get(&(staff.clone(), *date))
                    .map(|e| with_seq(&e.value, 0, |r, q| r.seq = q)),
            ),
            Target::Proposal { staff, date } => to_json(&self.proposal(staff, *date)),
            Target::Publication { number } => to_json(
                &self
                    .publications
                    .get(number)
                    .map(|e| with_seq(&e.value, 0, |p, q| p.seq = q)),
            ),
        }
    }

    /// The staff member with this id (removed ones included).
    pub fn staff_member(&self, id: &str) -> Option<&Staff> {
        self.staff.get(id).map(|e| &e.value)
    }
    pub fn code(&self, code: &str) -> Option<&ShiftCode> {
        self.codes.get(code).map(|e| &e.value)
    }
    /// The code `typed` names: itself, else the one code that differs from
    /// it only in the case of its letters (`off` is OFF). Err says why not,
    /// naming the codes there are.
    pub fn code_named(&self, typed: &str) -> Result<&str, String> {
        if let Some((k, _)) = self.codes.get_key_value(typed) {
            return Ok(k.as_str());
        }
        let near: Vec<&str> = self
            .codes
            .keys()
            .filter(|k| k.eq_ignore_ascii_case(typed))
            .map(String::as_str)
            .collect();
        match near.as_slice() {
            [one] => Ok(one),
            [] => {
                let known: Vec<&str> = self.codes.keys().map(String::as_str).collect();
                Err(if known.is_empty() {
                    format!("no shift code `{typed}` (the roster has none yet)")
                } else {
                    format!(
                        "no shift code `{typed}` (the roster has {})",
                        known.join(", ")
                    )
                })
            }
            many => Err(format!(
                "`{typed}` could be {}: write it as the roster does",
                many.join(" or ")
            )),
        }
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.get(id).map(|e| &e.value)
    }

    /// The code in a cell (None when empty) and the stamp of its last write.
    pub fn cell(&self, staff: &str, date: Date) -> Option<(Option<&str>, &Stamp)> {
        self.cells
            .get(staff)
            .and_then(|row| row.get(&date))
            .map(|e| (e.value.as_deref(), &e.stamp))
    }

    /// One person's written cells from `from` to `to` (both included), by
    /// date: what a screen row shows, found with one lookup of the person.
    pub fn row_between(
        &self,
        staff: &str,
        from: Date,
        to: Date,
    ) -> impl Iterator<Item = (Date, Option<&str>, &Stamp)> {
        self.cells
            .get(staff)
            .filter(|_| from <= to)
            .into_iter()
            .flat_map(move |row| row.range(from, to))
            .map(|(d, e)| (*d, e.value.as_deref(), &e.stamp))
    }

    /// The roster's planning period: the dates its rules are checked over.
    /// A roster that has none set (made before periods, or never given a
    /// code) plans the dates from its first to its last code.
    pub fn period(&self) -> Option<Period> {
        self.settings
            .value
            .period
            .or_else(|| self.code_span().map(|(a, b)| Period { from: a, to: b }))
    }

    /// The period as set, None when none was (see [`Roster::period`]).
    pub fn set_period(&self) -> Option<Period> {
        self.settings.value.period
    }

    /// The roster's time zone, when one is set.
    pub fn time_zone(&self) -> Option<&str> {
        self.settings.value.time_zone.as_deref()
    }

    /// How many cells hold `code`, and the first of them (by person id,
    /// then date): what keeps the code from being removed.
    pub fn code_uses(&self, code: &str) -> (usize, Option<(&str, Date)>) {
        let mut n = 0;
        let mut first: Option<(&str, Date)> = None;
        for (staff, row) in &self.cells {
            for (date, e) in row.iter() {
                if e.value.as_deref() == Some(code) {
                    n += 1;
                    if first.is_none_or(|(s, d)| (staff.as_str(), *date) < (s, d)) {
                        first = Some((staff.as_str(), *date));
                    }
                }
            }
        }
        (n, first)
    }

    /// The first and last dates a cell holds a code on (cleared cells
    /// aside); None when none does.
    pub fn code_span(&self) -> Option<(Date, Date)> {
        let mut span: Option<(Date, Date)> = None;
        for row in self.cells.values() {
            let mut coded = row.iter().filter(|(_, e)| e.value.is_some());
            let Some((first, _)) = coded.next() else {
                continue;
            };
            let last = coded.last().map_or(*first, |(d, _)| *d);
            span = Some(match span {
                None => (*first, last),
                Some((a, b)) => (a.min(*first), b.max(last)),
            });
        }
        span
    }

    /// The first and last dates any cell was written on (cleared ones
    /// too); None when none was.
    pub fn date_span(&self) -> Option<(Date, Date)> {
        let mut span: Option<(Date, Date)> = None;
        for row in self.cells.values() {
            if let (Some(first), Some(last)) = (row.first_date(), row.last_date()) {
                span = Some(match span {
                    None => (first, last),
                    Some((a, b)) => (a.min(first), b.max(last)),
                });
            }
        }
        span
    }

    /// Every written cell: (staff, date, code, seq), by staff id then date.
    pub fn cells(&self) -> Vec<(&str, Date, Option<&str>, Seq)> {
        let mut ids: Vec<&String> = self.cells.keys().collect();
        ids.sort();
        let mut out = Vec::with_capacity(self.cell_count);
        for id in ids {
            if let Some(row) = self.cells.get(id) {
                for (date, e) in row.iter() {
                    out.push((id.as_str(), *date, e.value.as_deref(), e.stamp.seq));
                }
            }
        }
        out
    }

    /// Sets a cell as a snapshot or a store holds it (no checks), without
    /// building a [`Change`] for it.
    pub fn load_cell(&mut self, staff: &str, date: Date, code: Option<&str>, stamp: Stamp) {
        self.put_cell(staff, date, code, stamp);
    }
}

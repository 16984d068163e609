//! Evaluates a roster against its rules: staffing per code and date,
//! forbidden sequences, per-person limits. Pure: a roster in, findings out.
//! A finding names its rule, the people and dates, and what is wrong in a
//! sentence; it never blocks an edit.
//!
//! [`Findings::new`] reads the whole roster. [`Findings::update`], after
//! an edit of cells, reads again only what the edit can affect: staffing on
//! the dates it wrote, and the rules of the people it wrote. A finding is
//! filed under the one date (staffing) or the one person (everything else)
//! whose cells decide it, which is what makes that enough.
//!
//! What is checked: the roster's planning period ([`Roster::period`]; a
//! staffing rule's `from`/`to` narrows it). Cells outside it are kept and
//! shown but never checked, so a code written far away (a stray jump)
//! changes no finding. A date counts as worked when
//! its code is a worked code; empty cells are neither worked nor off, so
//! they end a run of either. Limit periods are windows of `period_days`
//! from the first date (the whole span without one). `min` applies to
//! shifts, hours and weekends; runs are limited by `max`.

use super::{CoverWeights, Date, LimitMeasure, Roster, Rule, RuleKind, Staff, Target};
use chrono::Datelike;
use std::collections::{BTreeMap, BTreeSet};

mod eval;
pub use eval::periods;
mod requests;
#[cfg(test)]
mod tests;

pub use requests::SoftScore;

use eval::*;

/// One thing wrong with the roster.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub struct Finding {
    pub first: Date,
    pub last: Date,
    /// Its dates are written with their year (the period spans years).
    pub years: bool,
    /// The rule's id.
    pub rule: String,
    /// Who it is about (empty for a date's staffing).
    pub staff: Vec<String>,
    pub what: What,
}

/// What a finding found: the numbers its sentence is made of (written
/// only when shown: a big roster may have tens of thousands).
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub enum What {
    /// Fewer than `min` on `code` that day (in `group`).
    Under {
        code: String,
        n: u32,
        min: u32,
        group: Option<String>,
    },
    /// More than `max`.
    Over {
        code: String,
        n: u32,
        max: u32,
        group: Option<String>,
    },
    /// `name` had `first` then `then` the next day.
    Sequence {
        name: String,
        first: String,
        then: String,
    },
    /// A run of worked days (or days off) longer than at most, or shorter
    /// than at least, the bound.
    Run {
        name: String,
        days: i64,
        worked: bool,
        bound: Bound,
    },
    /// A count or sum over a period past a bound (of one code's shifts
    /// when `code` is set).
    Amount {
        name: String,
        unit: &'static str,
        code: Option<String>,
        value: f64,
        bound: Bound,
    },
    /// `name`'s request (`wish`, "off N") is not met: the cell has `has`.
    Request {
        name: String,
        wish: String,
        weight: u32,
        has: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub enum Bound {
    AtMost(f64),
    AtLeast(f64),
}

impl Finding {
    /// What is wrong, in a sentence: "Ann Lee: 7 worked days in a row, Thu
    /// 3 Dec to Wed 9 Dec, limit 6".
    pub fn message(&self) -> String {
        let show = |d: Date| {
            if self.years {
                d.0.format("%a %-d %b %Y").to_string()
            } else {
                d.0.format("%a %-d %b").to_string()
            }
        };
        let (a, b) = (show(self.first), show(self.last));
        match &self.what {
            What::Under {
                code,
                n,
                min,
                group,
            } => {
                format!("{code} on {a}: {n} of at least {min}{}", within(group))
            }
            What::Over {
                code,
                n,
                max,
                group,
            } => {
                format!("{code} on {a}: {n}, at most {max}{}", within(group))
            }
            What::Sequence { name, first, then } => {
                format!("{name}: {first} on {a} then {then} on {b} ({then} may not follow {first})")
            }
            What::Run {
                name,
                days,
                worked,
                bound,
            } => {
                let what = match (*worked, *days == 1) {
                    (true, true) => "worked day",
                    (true, false) => "worked days",
                    (false, true) => "day off",
                    (false, false) => "days off",
                };
                let bound = match bound {
                    Bound::AtMost(m) => format!("limit {}", amount(*m)),
                    Bound::AtLeast(m) => format!("at least {}", amount(*m)),
                };
                format!("{name}: {days} {what} in a row, {a} to {b}, {bound}")
            }
            What::Amount {
                name,
                unit,
                code,
                value,
                bound,
            } => {
                let bound = match bound {
                    Bound::AtMost(m) => format!("at most {}", amount(*m)),
                    Bound::AtLeast(m) => format!("at least {}", amount(*m)),
                };
                // "1 shift", "6 N shifts", "1 weekend worked".
                let unit = if *value == 1.0 {
                    unit.replacen("shifts", "shift", 1)
                        .replacen("hours", "hour", 1)
                        .replacen("weekends", "weekend", 1)
                } else {
                    unit.to_string()
                };
                let unit = match code {
                    Some(c) => format!("{c} {unit}"),
                    None => unit,
                };
                format!("{name}: {} {unit} from {a} to {b}, {bound}", amount(*value))
            }
            What::Request {
                name,
                wish,
                weight,
                has,
            } => requests::request_message(name, wish, *weight, has, &a),
        }
    }
}

fn within(group: &Option<String>) -> String {
    group
        .as_ref()
        .map(|g| format!(" in {g}"))
        .unwrap_or_default()
}

/// Findings in the order they are listed: by first date, last date, rule,
/// then people.
fn sort(v: &mut [Finding]) {
    v.sort_by(listing_order);
}

fn listing_order(x: &Finding, y: &Finding) -> std::cmp::Ordering {
    (x.first, x.last, &x.rule, &x.staff).cmp(&(y.first, y.last, &y.rule, &y.staff))
}

/// A roster's findings, kept up to date edit by edit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    span: Option<(Date, Date)>,
    /// The people who count (active) and the rules, as of the last full
    /// evaluation: an edit of cells changes neither.
    people: Vec<Staff>,
    rules: Vec<Rule>,
    /// Everyone's code on every date of the span, date by date: what
    /// staffing reads (a column a date, not a lookup a person). Entries
    /// are 1 + the index into `codes`, 0 for an empty cell.
    table: Vec<Vec<u16>>,
    codes: Vec<String>,
    worked: Vec<bool>,
    hours: Vec<f64>,
    groups: Vec<u16>,
    group_names: Vec<String>,
    by_date: BTreeMap<Date, Vec<Finding>>,
    by_person: BTreeMap<String, Vec<Finding>>,
    /// Each person's index into `people` (and the table's columns).
    index: std::collections::HashMap<String, usize>,
    /// Per date, the people its staffing findings name (over a maximum),
    /// as bits by index: what a frame asks once a cell.
    named: BTreeMap<Date, Vec<u64>>,
    count: usize,
    /// Unmet requests by person: soft findings, kept apart from the rules'
    /// (they are not counted in `len`, nor do they warn a person).
    unmet: BTreeMap<String, Vec<Finding>>,
    /// The coverage rows (see [`Findings::coverage_rows`]).
    rows: Vec<CoverageRow>,
}

/// How many people are on a coverage row's code (in its group) on a date,
/// against the bounds of its staffing rules in force that day together
/// (the highest minimum, the lowest maximum): what a coverage cell shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coverage {
    pub n: u32,
    pub min: u32,
    pub max: Option<u32>,
}

impl Coverage {
    pub fn under(&self) -> bool {
        self.n < self.min
    }
    pub fn over(&self) -> bool {
        self.max.is_some_and(|m| self.n > m)
    }
}

/// One coverage row: a code (and group) that has a staffing rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CoverageRow {
    pub code: String,
    pub group: Option<String>,
}

/// A person's worked shifts and paid hours over some dates.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub shifts: u32,
    pub hours: f64,
}

/// What an evaluation reads: the people, rules and table of codes the
/// findings hold.
struct Ctx<'a> {
    staff: &'a [Staff],
    rules: &'a [Rule],
    /// The codes the table's entries name.
    codes: &'a [String],
    /// Each person's group, as an index into `group_names`.
    groups: &'a [u16],
    group_names: &'a [String],
    table: &'a [Vec<u16>],
    /// Whether each code is worked, and its hours, by its index in `codes`.
    worked: &'a [bool],
    hours: &'a [f64],
    /// Dates are shown with their year.
    years: bool,
}

impl Findings {
    /// Every finding of the roster.
    pub fn new(roster: &Roster) -> Findings {
        let span = roster.period().map(|p| (p.from, p.to));
        let people: Vec<Staff> = roster.staff().into_iter().filter(|s| s.active).collect();
        let rules = roster.rules();
        let defs = roster.codes();
        let worked = defs.iter().map(|c| c.worked).collect();
        let hours = defs.iter().map(|c| c.hours).collect();
        let codes: Vec<String> = defs.into_iter().map(|c| c.code).collect();
        let mut group_names: Vec<String> = people.iter().map(|s| s.group.clone()).collect();
        group_names.sort();
        group_names.dedup();
        let groups = people
            .iter()
            .map(|s| {
                group_names
                    .binary_search(&s.group)
                    .map_or(u16::MAX, |i| i as u16)
            })
            .collect();
        let mut f = Findings {
            span,
            people,
            rules,
            table: Vec::new(),
            codes,
            worked,
            hours,
            groups,
            group_names,
            by_date: BTreeMap::new(),
            by_person: BTreeMap::new(),
            index: Default::default(),
            named: BTreeMap::new(),
            count: 0,
            unmet: BTreeMap::new(),
            rows: Vec::new(),
        };
        f.index = f
            .people
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        f.rows = Findings::rows_of(&f.rules);
        let Some((first, last)) = span else {
            return f;
        };
        f.table = f.read_table(roster, (first, last));
        let cx = Ctx {
            staff: &f.people,
            rules: &f.rules,
            codes: &f.codes,
            groups: &f.groups,
            group_names: &f.group_names,
            table: &f.table,
            worked: &f.worked,
            hours: &f.hours,
            years: spans_years(span),
        };
        if cx
            .rules
            .iter()
            .any(|r| matches!(r.kind, RuleKind::Staffing { .. }))
        {
            for (i, column) in f.table.iter().enumerate() {
                let d = first.add_days(i as i64);
                let found = staffing_with(&cx, d, column);
                file(&mut f.named, d, named_bits(&f.index, &found));
                file(&mut f.by_date, d, found);
            }
        }
        let mut by_person = BTreeMap::new();
        for (p, s) in cx.staff.iter().enumerate() {
            file(
                &mut by_person,
                s.id.clone(),
                person_findings(&cx, p, (first, last)),
            );
        }
        f.by_person = by_person;
        f.recount();
        f.read_unmet(roster);
        f
    }

    /// The index entry of a code (see `table`).
    fn code_entry(&self, code: Option<&str>) -> u16 {
        code.and_then(|c| self.codes.binary_search_by(|k| k.as_str().cmp(c)).ok())
            .map_or(0, |i| i as u16 + 1)
    }

    /// Everyone's codes over the span, read a person's row at a time.
    fn read_table(&self, roster: &Roster, span: (Date, Date)) -> Vec<Vec<u16>> {
        let days = (span.1.0 - span.0.0).num_days().max(0) as usize + 1;
        let mut table = vec![vec![0u16; self.people.len()]; days];
        for (p, s) in self.people.iter().enumerate() {
            for (d, c, _) in roster.row_between(&s.id, span.0, span.1) {
                let i = (d.0 - span.0.0).num_days() as usize;
                if let Some(column) = table.get_mut(i) {
                    column[p] = self.code_entry(c);
                }
            }
        }
        table
    }

    /// Brings the findings up to date after `changed` was written. Cells
    /// are read again where they can matter; anything else (staff, codes,
    /// rules), or cells that move the first or last date, reads all.
    pub fn update(&mut self, roster: &Roster, changed: &[Target]) {
        let span = roster.period().map(|p| (p.from, p.to));
        // A request changes only its person's unmet requests.
        let only_cells = changed
            .iter()
            .all(|t| matches!(t, Target::Cell { .. } | Target::Request { .. }));
        if span != self.span || !only_cells {
            *self = Findings::new(roster);
            return;
        }
        let mut dates = BTreeSet::new();
        let mut people = BTreeSet::new();
        let mut asked = BTreeSet::new();
        for t in changed {
            match t {
                Target::Cell { staff, date } => {
                    dates.insert(*date);
                    people.insert(staff.as_str());
                }
                Target::Request { staff, .. } => {
                    asked.insert(staff.as_str());
                }
                _ => {}
            }
        }
        let Some(span) = span else {
            return;
        };
        // The table first: one lookup a written cell.
        for t in changed {
            if let Target::Cell { staff, date } = t
                && let Some(&p) = self.index.get(staff)
            {
                let entry = self.code_entry(roster.cell(staff, *date).and_then(|(c, _)| c));
                if let Some(column) = self.table.get_mut((date.0 - span.0.0).num_days() as usize) {
                    column[p] = entry;
                }
            }
        }
        let cx = Ctx {
            staff: &self.people,
            rules: &self.rules,
            codes: &self.codes,
            groups: &self.groups,
            group_names: &self.group_names,
            table: &self.table,
            worked: &self.worked,
            hours: &self.hours,
            years: spans_years(Some(span)),
        };
        for d in dates {
            let Some(column) = self.table.get((d.0 - span.0.0).num_days() as usize) else {
                continue;
            };
            let found = staffing_with(&cx, d, column);
            file(&mut self.named, d, named_bits(&self.index, &found));
            file(&mut self.by_date, d, found);
        }
        for id in &people {
            if let Some(&p) = self.index.get(*id) {
                file(
                    &mut self.by_person,
                    id.to_string(),
                    person_findings(&cx, p, span),
                );
            }
        }
        for id in people.into_iter().chain(asked) {
            if let Some(&p) = self.index.get(id) {
                let found = self.unmet_of_person(roster, p);
                file(&mut self.unmet, id.to_string(), found);
            }
        }
        self.recount();
    }

    /// Every finding, by first date, then rule, then people.
    pub fn all(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self
            .by_date
            .values()
            .chain(self.by_person.values())
            .flatten()
            .collect();
        v.sort_by(|x, y| listing_order(x, y));
        v
    }

    /// How many findings there are (counted once an evaluation: a frame's
    /// header asks every time).
    pub fn len(&self) -> usize {
        self.count
    }

    fn recount(&mut self) {
        self.count = self.by_date.values().map(Vec::len).sum::<usize>()
            + self.by_person.values().map(Vec::len).sum::<usize>();
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `after` finds that `self` does not (added), and what `self`
    /// finds that `after` does not (cleared), each in listing order.
    pub fn compare<'a>(&'a self, after: &'a Findings) -> (Vec<&'a Finding>, Vec<&'a Finding>) {
        type Key = (Date, Date, String, Vec<String>, String);
        let key = |f: &Finding| -> Key {
            (
                f.first,
                f.last,
                f.rule.clone(),
                f.staff.clone(),
                f.message(),
            )
        };
        let was: BTreeSet<Key> = self.all().into_iter().map(key).collect();
        let now: BTreeSet<Key> = after.all().into_iter().map(key).collect();
        let added = after
            .all()
            .into_iter()
            .filter(|f| !was.contains(&key(f)))
            .collect();
        let cleared = self
            .all()
            .into_iter()
            .filter(|f| !now.contains(&key(f)))
            .collect();
        (added, cleared)
    }

    /// The findings about a person (by id).
    pub fn of_person(&self, staff: &str) -> &[Finding] {
        self.by_person.get(staff).map_or(&[], Vec::as_slice)
    }

    /// The staffing findings of a date.
    pub fn of_date(&self, date: Date) -> &[Finding] {
        self.by_date.get(&date).map_or(&[], Vec::as_slice)
    }

    /// Everyone a finding names: their own findings, or on a date over a
    /// staffing maximum.
    pub fn people_warned(&self) -> BTreeSet<&str> {
        self.by_person
            .keys()
            .map(String::as_str)
            .chain(
                self.by_date
                    .values()
                    .flatten()
                    .flat_map(|f| f.staff.iter().map(String::as_str)),
            )
            .collect()
    }

    /// A person's index for [`Findings::named_on`] (None: not an active
    /// member of staff).
    pub fn person_index(&self, staff: &str) -> Option<usize> {
        self.index.get(staff).copied()
    }

    /// The people a date's staffing findings name (on a code over its
    /// maximum), as bits by [`Findings::person_index`]; see [`named`].
    pub fn named_on(&self, date: Date) -> &[u64] {
        self.named.get(&date).map_or(&[], Vec::as_slice)
    }

    /// The dates the findings read: the roster's planning period. Nothing
    /// is found outside them.
    pub fn span(&self) -> Option<(Date, Date)> {
        self.span
    }

    /// The codes (and groups) with a staffing rule, each once, in order.
    pub fn coverage_rows(&self) -> &[CoverageRow] {
        &self.rows
    }

    /// The coverage rows of a set of rules: each staffing code (and group)
    /// once, in order. Rules change only with a full evaluation.
    fn rows_of(rules: &[Rule]) -> Vec<CoverageRow> {
        let mut rows: Vec<CoverageRow> = rules
            .iter()
            .filter_map(|r| match &r.kind {
                RuleKind::Staffing { code, group, .. } => Some(CoverageRow {
                    code: code.clone(),
                    group: group.clone(),
                }),
                _ => None,
            })
            .collect();
        rows.sort();
        rows.dedup();
        rows
    }

    /// How each coverage row stands on each date from `first` to `last`:
    /// `[date][row]`, in the order of `rows` (None: no rule of that row in
    /// force that day, or the date is outside the span). Counted from the
    /// same table the staffing rules are, so a row and its findings always
    /// agree. Each row's rules, code and group are looked up once.
    pub fn coverage(
        &self,
        rows: &[CoverageRow],
        first: Date,
        last: Date,
    ) -> Vec<Vec<Option<Coverage>>> {
        let groups = self.group_names.len() + 1;
        // Per row: where its count is (code entry, group slot), its rules.
        let plan: Vec<(Option<usize>, Vec<&Rule>)> = rows
            .iter()
            .map(|row| {
                let e = self.code_entry(Some(&row.code)) as usize;
                let g = match &row.group {
                    None => Some(0),
                    Some(g) => self
                        .group_names
                        .binary_search_by(|k| k.as_str().cmp(g))
                        .ok()
                        .map(|i| i + 1),
                };
                let at = g.filter(|_| e > 0).map(|g| e * groups + g);
                let rules = self
                    .rules
                    .iter()
                    .filter(|r| {
                        matches!(&r.kind, RuleKind::Staffing { code, group, .. }
                            if *code == row.code && *group == row.group)
                    })
                    .collect();
                (at, rules)
            })
            .collect();
        let mut counts = vec![0u32; (self.codes.len() + 1) * groups];
        let days = (last.0 - first.0).num_days().max(-1) + 1;
        (0..days)
            .map(|i| {
                let date = first.add_days(i);
                let column = self
                    .span
                    .and_then(|(f, _)| usize::try_from((date.0 - f.0).num_days()).ok())
                    .and_then(|i| self.table.get(i));
                let Some(column) = column else {
                    return vec![None; rows.len()];
                };
                // One pass over the column: people per code, in all and
                // per group.
                counts.iter_mut().for_each(|n| *n = 0);
                for (c, g) in column.iter().zip(&self.groups) {
                    let at = *c as usize * groups;
                    if let Some(n) = counts.get_mut(at) {
                        *n += 1;
                    }
                    if let Some(n) = counts.get_mut(at + 1 + *g as usize) {
                        *n += 1;
                    }
                }
                plan.iter()
                    .map(|(at, rules)| {
                        let mut found: Option<Coverage> = None;
                        for rule in rules.iter().filter(|r| staffing_applies(&r.kind, date)) {
                            let RuleKind::Staffing { min, max, .. } = &rule.kind else {
                                continue;
                            };
                            let c = found.get_or_insert(Coverage {
                                n: at.and_then(|a| counts.get(a)).copied().unwrap_or(0),
                                min: *min,
                                max: *max,
                            });
                            c.min = c.min.max(*min);
                            c.max = match (c.max, *max) {
                                (Some(a), Some(b)) => Some(a.min(b)),
                                (a, b) => a.or(b),
                            };
                        }
                        found
                    })
                    .collect()
            })
            .collect()
    }
}

/// Whether a staffing rule is in force on a date (its weekdays, from, to).
fn staffing_applies(kind: &RuleKind, d: Date) -> bool {
    let RuleKind::Staffing {
        weekdays, from, to, ..
    } = kind
    else {
        return false;
    };
    let in_dates = from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t);
    in_dates && (weekdays.is_empty() || weekdays.contains(&d.0.weekday()))
}

fn spans_years(span: Option<(Date, Date)>) -> bool {
    span.is_some_and(|(a, b)| a.0.year() != b.0.year())
}

/// Whether person index `p` is among `bits` (from [`Findings::named_on`]).
pub fn named(bits: &[u64], p: usize) -> bool {
    bits.get(p / 64).is_some_and(|b| b & (1 << (p % 64)) != 0)
}

/// The people staffing findings name, as bits by person index.
fn named_bits(index: &std::collections::HashMap<String, usize>, found: &[Finding]) -> Vec<u64> {
    let mut bits = Vec::new();
    for id in found.iter().flat_map(|f| &f.staff) {
        if let Some(&i) = index.get(id) {
            if bits.len() <= i / 64 {
                bits.resize(i / 64 + 1, 0);
            }
            bits[i / 64] |= 1 << (i % 64);
        }
    }
    bits
}

/// Files findings (or whatever a key holds) under their key (a date or a
/// person), or clears the key when there is nothing.
fn file<K: Ord, T>(map: &mut BTreeMap<K, Vec<T>>, key: K, found: Vec<T>) {
    if found.is_empty() {
        map.remove(&key);
    } else {
        map.insert(key, found);
    }
}

/// A count or an amount of hours, as a person reads it.
/// Rounded to a tenth first, so that neither "-0" nor "4.0" is shown.
fn amount(v: f64) -> String {
    // `+ 0.0` makes a negative zero a zero.
    let v = (v * 10.0).round() / 10.0 + 0.0;
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

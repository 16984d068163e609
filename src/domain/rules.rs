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
//! What is checked: the dates from the first to the last written cell (a
//! staffing rule's `from`/`to` narrows them). A date counts as worked when
//! its code is a worked code; empty cells are neither worked nor off, so
//! they end a run of either. Limit periods are windows of `period_days`
//! from the first date (the whole span without one). `min` applies to
//! shifts, hours and weekends; runs are limited by `max`.

use super::{Date, LimitMeasure, Roster, Rule, RuleKind, Staff, Target};
use chrono::{Datelike, Weekday};
use std::collections::{BTreeMap, BTreeSet};

/// One thing wrong with the roster.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
pub struct Finding {
    pub first: Date,
    pub last: Date,
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
    /// A run of worked days (or days off) longer than `limit`.
    Run {
        name: String,
        days: i64,
        worked: bool,
        limit: f64,
    },
    /// A count or sum over a period past a bound.
    Amount {
        name: String,
        unit: &'static str,
        value: f64,
        bound: Bound,
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
                limit,
            } => {
                let what = if *worked { "worked days" } else { "days off" };
                format!(
                    "{name}: {days} {what} in a row, {a} to {b}, limit {}",
                    amount(*limit)
                )
            }
            What::Amount {
                name,
                unit,
                value,
                bound,
            } => {
                let bound = match bound {
                    Bound::AtMost(m) => format!("at most {}", amount(*m)),
                    Bound::AtLeast(m) => format!("at least {}", amount(*m)),
                };
                format!("{name}: {} {unit} from {a} to {b}, {bound}", amount(*value))
            }
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
    v.sort_by(|x, y| {
        (x.first, x.last, &x.rule, &x.staff).cmp(&(y.first, y.last, &y.rule, &y.staff))
    });
}

/// A roster's findings, kept up to date edit by edit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    span: Option<(Date, Date)>,
    /// The people who count (active) and the rules, as of the last full
    /// evaluation: an edit of cells changes neither.
    people: Vec<Staff>,
    rules: Vec<Rule>,
    by_date: BTreeMap<Date, Vec<Finding>>,
    by_person: BTreeMap<String, Vec<Finding>>,
}

/// What an evaluation reads: the roster's cells, and the people and rules
/// the findings hold.
struct Ctx<'a> {
    roster: &'a Roster,
    staff: &'a [Staff],
    rules: &'a [Rule],
}

impl Findings {
    /// Every finding of the roster.
    pub fn new(roster: &Roster) -> Findings {
        let span = roster.date_span();
        let people: Vec<Staff> = roster.staff().into_iter().filter(|s| s.active).collect();
        let rules = roster.rules();
        let mut by_date = BTreeMap::new();
        let mut by_person = BTreeMap::new();
        if let Some((first, last)) = span {
            let cx = Ctx {
                roster,
                staff: &people,
                rules: &rules,
            };
            let has_staffing = rules
                .iter()
                .any(|r| matches!(r.kind, RuleKind::Staffing { .. }));
            if has_staffing {
                for (i, codes) in codes_by_date(&cx, (first, last)).iter().enumerate() {
                    let d = plus(first, i as i64);
                    file(&mut by_date, d, staffing_with(&cx, d, Some(codes)));
                }
            }
            for s in &people {
                file(
                    &mut by_person,
                    s.id.clone(),
                    person_findings(&cx, s, (first, last)),
                );
            }
        }
        Findings {
            span,
            people,
            rules,
            by_date,
            by_person,
        }
    }

    /// Brings the findings up to date after `changed` was written. Cells
    /// are read again where they can matter; anything else (staff, codes,
    /// rules), or cells that move the first or last date, reads all.
    pub fn update(&mut self, roster: &Roster, changed: &[Target]) {
        let span = roster.date_span();
        let only_cells = changed.iter().all(|t| matches!(t, Target::Cell { .. }));
        if span != self.span || !only_cells {
            *self = Findings::new(roster);
            return;
        }
        let mut dates = BTreeSet::new();
        let mut people = BTreeSet::new();
        for t in changed {
            if let Target::Cell { staff, date } = t {
                dates.insert(*date);
                people.insert(staff.as_str());
            }
        }
        let cx = Ctx {
            roster,
            staff: &self.people,
            rules: &self.rules,
        };
        for d in dates {
            file(&mut self.by_date, d, staffing_on(&cx, d));
        }
        if let Some(span) = span {
            for id in people {
                if let Some(s) = cx.staff.iter().find(|s| s.id == id) {
                    file(
                        &mut self.by_person,
                        id.to_string(),
                        person_findings(&cx, s, span),
                    );
                }
            }
        }
    }

    /// Every finding, by first date, then rule, then people.
    pub fn all(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self
            .by_date
            .values()
            .chain(self.by_person.values())
            .flatten()
            .collect();
        v.sort_by(|x, y| {
            (x.first, x.last, &x.rule, &x.staff).cmp(&(y.first, y.last, &y.rule, &y.staff))
        });
        v
    }

    pub fn len(&self) -> usize {
        self.by_date.values().map(Vec::len).sum::<usize>()
            + self.by_person.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The findings about a person (by id).
    pub fn of_person(&self, staff: &str) -> &[Finding] {
        self.by_person.get(staff).map_or(&[], Vec::as_slice)
    }

    /// The staffing findings of a date.
    pub fn of_date(&self, date: Date) -> &[Finding] {
        self.by_date.get(&date).map_or(&[], Vec::as_slice)
    }
}

/// Files findings under their key (a date or a person), or clears the key.
fn file<K: Ord>(map: &mut BTreeMap<K, Vec<Finding>>, key: K, found: Vec<Finding>) {
    if found.is_empty() {
        map.remove(&key);
    } else {
        map.insert(key, found);
    }
}

fn plus(d: Date, days: i64) -> Date {
    chrono::Duration::try_days(days)
        .and_then(|n| d.0.checked_add_signed(n))
        .map_or(d, Date)
}

fn show(d: Date) -> String {
    d.0.format("%a %-d %b").to_string()
}

/// A count or an amount of hours, as a person reads it.
fn amount(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The staffing rules' findings on one date, each person's code that day
/// looked up (once, for all the rules).
fn staffing_on(cx: &Ctx, d: Date) -> Vec<Finding> {
    staffing_with(cx, d, None)
}

/// Every person's code on every date of the span, read row by row (a
/// lookup per person, not per person and date).
fn codes_by_date<'r>(cx: &Ctx<'r>, span: (Date, Date)) -> Vec<Vec<Option<&'r str>>> {
    let days = (span.1.0 - span.0.0).num_days().max(0) as usize + 1;
    let mut table = vec![vec![None; cx.staff.len()]; days];
    for (p, s) in cx.staff.iter().enumerate() {
        for (d, c, _) in cx.roster.row_between(&s.id, span.0, span.1) {
            let i = (d.0 - span.0.0).num_days() as usize;
            if let Some(row) = table.get_mut(i) {
                row[p] = c;
            }
        }
    }
    table
}

/// The staffing rules' findings on one date; `known`: everyone's code that
/// day, when already read.
fn staffing_with(cx: &Ctx, d: Date, known: Option<&[Option<&str>]>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut codes: Option<Vec<Option<&str>>> = known.map(<[_]>::to_vec);
    for rule in cx.rules {
        let RuleKind::Staffing {
            code,
            min,
            max,
            weekdays,
            group,
            from,
            to,
        } = &rule.kind
        else {
            continue;
        };
        if from.is_some_and(|f| d < f) || to.is_some_and(|t| d > t) {
            continue;
        }
        if !weekdays.is_empty() && !weekdays.contains(&d.0.weekday()) {
            continue;
        }
        let codes = codes.get_or_insert_with(|| {
            cx.staff
                .iter()
                .map(|s| cx.roster.cell(&s.id, d).and_then(|(c, _)| c))
                .collect()
        });
        let on = || {
            cx.staff
                .iter()
                .zip(codes.iter())
                .filter(|(s, c)| {
                    **c == Some(code.as_str()) && group.as_ref().is_none_or(|g| *g == s.group)
                })
                .map(|(s, _)| s)
        };
        let n = on().count() as u32;
        let (what, staff) = if n < *min {
            let what = What::Under {
                code: code.clone(),
                n,
                min: *min,
                group: group.clone(),
            };
            (what, Vec::new())
        } else if let Some(m) = max.filter(|m| n > *m) {
            let what = What::Over {
                code: code.clone(),
                n,
                max: m,
                group: group.clone(),
            };
            (what, on().map(|s| s.id.clone()).collect())
        } else {
            continue;
        };
        out.push(Finding {
            first: d,
            last: d,
            rule: rule.id.clone(),
            staff,
            what,
        });
    }
    sort(&mut out);
    out
}

/// Whether a person's code on a date is worked (None: the cell is empty).
fn worked(roster: &Roster, code: Option<&str>) -> Option<bool> {
    code.map(|c| roster.code(c).is_some_and(|k| k.worked))
}

/// The rules about one person, over `span`.
fn person_findings(cx: &Ctx, s: &Staff, span: (Date, Date)) -> Vec<Finding> {
    let roster = cx.roster;
    let cells: Vec<(Date, &str)> = roster
        .row_between(&s.id, span.0, span.1)
        .filter_map(|(d, c, _)| c.map(|c| (d, c)))
        .collect();
    let mut out = Vec::new();
    for rule in cx.rules {
        match &rule.kind {
            RuleKind::Staffing { .. } => {}
            RuleKind::ForbiddenSequence { first, then } => {
                for pair in cells.windows(2) {
                    let ((d, c), (next, c2)) = (pair[0], pair[1]);
                    if c == first && c2 == then && plus(d, 1) == next {
                        out.push(Finding {
                            first: d,
                            last: next,
                            rule: rule.id.clone(),
                            staff: vec![s.id.clone()],
                            what: What::Sequence {
                                name: s.name.clone(),
                                first: first.clone(),
                                then: then.clone(),
                            },
                        });
                    }
                }
            }
            RuleKind::Limit {
                measure,
                min,
                max,
                period_days,
                code,
                staff,
                group,
            } => {
                if staff.as_ref().is_some_and(|id| *id != s.id)
                    || group.as_ref().is_some_and(|g| *g != s.group)
                {
                    continue;
                }
                let limit = Limit {
                    roster,
                    s,
                    rule: &rule.id,
                    min: *min,
                    max: *max,
                };
                match measure {
                    LimitMeasure::ConsecutiveWorked => {
                        limit.runs(&cells, true, &mut out);
                    }
                    LimitMeasure::ConsecutiveOff => {
                        limit.runs(&cells, false, &mut out);
                    }
                    LimitMeasure::Shifts | LimitMeasure::Hours | LimitMeasure::WeekendsWorked => {
                        for (a, b) in periods(span, *period_days) {
                            let v = measure_in(roster, &cells, *measure, code.as_deref(), a, b);
                            limit.amount(*measure, v, a, b, &mut out);
                        }
                    }
                }
            }
        }
    }
    sort(&mut out);
    out
}

struct Limit<'a> {
    roster: &'a Roster,
    s: &'a Staff,
    rule: &'a str,
    min: Option<f64>,
    max: Option<f64>,
}

impl Limit<'_> {
    /// Runs of consecutive worked (or off) days longer than `max`.
    fn runs(&self, cells: &[(Date, &str)], worked_days: bool, out: &mut Vec<Finding>) {
        let Some(max) = self.max else {
            return;
        };
        let mut run: Option<(Date, Date)> = None;
        let close = |run: Option<(Date, Date)>, out: &mut Vec<Finding>| {
            if let Some((a, b)) = run {
                let len = (b.0 - a.0).num_days() + 1;
                if len as f64 > max {
                    out.push(Finding {
                        first: a,
                        last: b,
                        rule: self.rule.to_string(),
                        staff: vec![self.s.id.clone()],
                        what: What::Run {
                            name: self.s.name.clone(),
                            days: len,
                            worked: worked_days,
                            limit: max,
                        },
                    });
                }
            }
        };
        for &(d, c) in cells {
            let counts = worked(self.roster, Some(c)) == Some(worked_days);
            run = match (run, counts) {
                (Some((a, b)), true) if plus(b, 1) == d => Some((a, d)),
                (prev, true) => {
                    close(prev, out);
                    Some((d, d))
                }
                (prev, false) => {
                    close(prev, out);
                    None
                }
            };
        }
        close(run, out);
    }

    /// A count or sum over a period against `min` and `max`.
    fn amount(&self, measure: LimitMeasure, v: f64, a: Date, b: Date, out: &mut Vec<Finding>) {
        let unit = match measure {
            LimitMeasure::Shifts => "shifts",
            LimitMeasure::Hours => "hours",
            _ => "weekends worked",
        };
        let bound = if let Some(m) = self.max.filter(|m| v > *m) {
            Bound::AtMost(m)
        } else if let Some(m) = self.min.filter(|m| v < *m) {
            Bound::AtLeast(m)
        } else {
            return;
        };
        out.push(Finding {
            first: a,
            last: b,
            rule: self.rule.to_string(),
            staff: vec![self.s.id.clone()],
            what: What::Amount {
                name: self.s.name.clone(),
                unit,
                value: v,
                bound,
            },
        });
    }
}

/// The periods a limit is counted over: windows of `days` from the first
/// date (the last may be shorter), or the whole span.
fn periods(span: (Date, Date), days: Option<u32>) -> Vec<(Date, Date)> {
    let Some(n) = days.filter(|n| *n > 0) else {
        return vec![span];
    };
    let mut out = Vec::new();
    let mut a = span.0;
    while a <= span.1 {
        let b = plus(a, n as i64 - 1).min(span.1);
        out.push((a, b));
        a = plus(b, 1);
        if b == span.1 {
            break;
        }
    }
    out
}

fn measure_in(
    roster: &Roster,
    cells: &[(Date, &str)],
    measure: LimitMeasure,
    code: Option<&str>,
    a: Date,
    b: Date,
) -> f64 {
    let from = cells.partition_point(|(d, _)| *d < a);
    let to = cells.partition_point(|(d, _)| *d <= b);
    let in_period = cells[from..to.max(from)].iter();
    match measure {
        LimitMeasure::Shifts => in_period
            .filter(|(_, c)| match code {
                Some(want) => *c == want,
                None => worked(roster, Some(c)) == Some(true),
            })
            .count() as f64,
        LimitMeasure::Hours => in_period
            .filter_map(|(_, c)| roster.code(c).map(|k| k.hours))
            .sum(),
        _ => {
            // Weekends with a worked day, each named by its Saturday.
            let weekends: BTreeSet<Date> = in_period
                .filter(|(_, c)| worked(roster, Some(c)) == Some(true))
                .filter_map(|(d, _)| match d.0.weekday() {
                    Weekday::Sat => Some(*d),
                    Weekday::Sun => Some(plus(*d, -1)),
                    _ => None,
                })
                .collect();
            weekends.len() as f64
        }
    }
}

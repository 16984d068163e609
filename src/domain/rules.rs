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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub first: Date,
    pub last: Date,
    /// The rule's id.
    pub rule: String,
    /// Who it is about (empty for a date's staffing).
    pub staff: Vec<String>,
    pub message: String,
}

/// A roster's findings, kept up to date edit by edit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Findings {
    span: Option<(Date, Date)>,
    by_date: BTreeMap<Date, Vec<Finding>>,
    by_person: BTreeMap<String, Vec<Finding>>,
}

/// What one evaluation reads once: the people who count and the rules.
struct Ctx<'a> {
    roster: &'a Roster,
    staff: Vec<Staff>,
    rules: Vec<Rule>,
}

impl<'a> Ctx<'a> {
    fn new(roster: &'a Roster) -> Ctx<'a> {
        Ctx {
            roster,
            staff: roster.staff().into_iter().filter(|s| s.active).collect(),
            rules: roster.rules(),
        }
    }
}

impl Findings {
    /// Every finding of the roster.
    pub fn new(roster: &Roster) -> Findings {
        let span = roster.date_span();
        let mut f = Findings {
            span,
            ..Findings::default()
        };
        let Some((first, last)) = span else {
            return f;
        };
        let cx = Ctx::new(roster);
        let mut d = first;
        while d <= last {
            f.set_date(&cx, d);
            d = plus(d, 1);
        }
        for s in &cx.staff {
            f.set_person(&cx, s, span);
        }
        f
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
        let cx = Ctx::new(roster);
        for d in dates {
            self.set_date(&cx, d);
        }
        for id in people {
            match cx.staff.iter().find(|s| s.id == id) {
                Some(s) => self.set_person(&cx, s, span),
                None => {
                    self.by_person.remove(id);
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
        v.sort();
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

    fn set_date(&mut self, cx: &Ctx, d: Date) {
        let found = staffing_on(cx, d);
        if found.is_empty() {
            self.by_date.remove(&d);
        } else {
            self.by_date.insert(d, found);
        }
    }

    fn set_person(&mut self, cx: &Ctx, s: &Staff, span: Option<(Date, Date)>) {
        let found = span
            .map(|sp| person_findings(cx, s, sp))
            .unwrap_or_default();
        if found.is_empty() {
            self.by_person.remove(&s.id);
        } else {
            self.by_person.insert(s.id.clone(), found);
        }
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

/// The staffing rules' findings on one date.
fn staffing_on(cx: &Ctx, d: Date) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in &cx.rules {
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
        let on: Vec<String> = cx
            .staff
            .iter()
            .filter(|s| group.as_ref().is_none_or(|g| *g == s.group))
            .filter(|s| cx.roster.cell(&s.id, d).and_then(|(c, _)| c) == Some(code.as_str()))
            .map(|s| s.id.clone())
            .collect();
        let n = on.len() as u32;
        let within = group
            .as_ref()
            .map(|g| format!(" in {g}"))
            .unwrap_or_default();
        let message = if n < *min {
            format!("{code} on {}: {n} of at least {min}{within}", show(d))
        } else if let Some(m) = max.filter(|m| n > *m) {
            format!("{code} on {}: {n}, at most {m}{within}", show(d))
        } else {
            continue;
        };
        out.push(Finding {
            first: d,
            last: d,
            rule: rule.id.clone(),
            staff: if n < *min { Vec::new() } else { on },
            message,
        });
    }
    out.sort();
    out
}

/// Whether a person's code on a date is worked (None: the cell is empty).
fn worked(roster: &Roster, code: Option<&str>) -> Option<bool> {
    code.map(|c| roster.code(c).is_some_and(|k| k.worked))
}

/// The rules about one person, over `span`.
fn person_findings(cx: &Ctx, s: &Staff, span: (Date, Date)) -> Vec<Finding> {
    let roster = cx.roster;
    let cells: BTreeMap<Date, &str> = roster
        .row_between(&s.id, span.0, span.1)
        .filter_map(|(d, c, _)| c.map(|c| (d, c)))
        .collect();
    let mut out = Vec::new();
    for rule in &cx.rules {
        match &rule.kind {
            RuleKind::Staffing { .. } => {}
            RuleKind::ForbiddenSequence { first, then } => {
                for (d, c) in &cells {
                    let next = plus(*d, 1);
                    if *c == first && cells.get(&next) == Some(&then.as_str()) {
                        out.push(Finding {
                            first: *d,
                            last: next,
                            rule: rule.id.clone(),
                            staff: vec![s.id.clone()],
                            message: format!(
                                "{}: {first} on {} then {then} on {} ({then} may not follow {first})",
                                s.name,
                                show(*d),
                                show(next)
                            ),
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
    out.sort();
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
    fn runs(&self, cells: &BTreeMap<Date, &str>, worked_days: bool, out: &mut Vec<Finding>) {
        let Some(max) = self.max else {
            return;
        };
        let mut run: Option<(Date, Date)> = None;
        let close = |run: Option<(Date, Date)>, out: &mut Vec<Finding>| {
            if let Some((a, b)) = run {
                let len = (b.0 - a.0).num_days() + 1;
                if len as f64 > max {
                    let what = if worked_days {
                        "worked days"
                    } else {
                        "days off"
                    };
                    out.push(Finding {
                        first: a,
                        last: b,
                        rule: self.rule.to_string(),
                        staff: vec![self.s.id.clone()],
                        message: format!(
                            "{}: {len} {what} in a row, {} to {}, limit {}",
                            self.s.name,
                            show(a),
                            show(b),
                            amount(max)
                        ),
                    });
                }
            }
        };
        for (d, c) in cells {
            let counts = worked(self.roster, Some(c)) == Some(worked_days);
            run = match (run, counts) {
                (Some((a, b)), true) if plus(b, 1) == *d => Some((a, *d)),
                (prev, true) => {
                    close(prev, out);
                    Some((*d, *d))
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
            format!("at most {}", amount(m))
        } else if let Some(m) = self.min.filter(|m| v < *m) {
            format!("at least {}", amount(m))
        } else {
            return;
        };
        out.push(Finding {
            first: a,
            last: b,
            rule: self.rule.to_string(),
            staff: vec![self.s.id.clone()],
            message: format!(
                "{}: {} {unit} from {} to {}, {bound}",
                self.s.name,
                amount(v),
                show(a),
                show(b)
            ),
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
    cells: &BTreeMap<Date, &str>,
    measure: LimitMeasure,
    code: Option<&str>,
    a: Date,
    b: Date,
) -> f64 {
    let in_period = cells.range(a..=b);
    match measure {
        LimitMeasure::Shifts => in_period
            .filter(|(_, c)| match code {
                Some(want) => **c == want,
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

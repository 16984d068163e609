//! Each rule evaluated from the table of codes: staffing on a date, and a
//! person's sequences, runs and amounts over the period.

use super::*;

/// The staffing rules' findings on one date; `column`: everyone's code
/// that day as the table holds it, in the order of `cx.staff`.
pub(super) fn staffing_with(cx: &Ctx, d: Date, column: &[u16]) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in cx.rules {
        let RuleKind::Staffing {
            code,
            min,
            max,
            group,
            ..
        } = &rule.kind
        else {
            continue;
        };
        if !staffing_applies(&rule.kind, d) {
            continue;
        }
        // The rule's code and group as the table's numbers: no strings
        // compared per person (an unknown code or group matches nobody).
        let want = cx
            .codes
            .binary_search(code)
            .map_or(u16::MAX, |i| i as u16 + 1);
        let in_group = group.as_ref().map(|g| {
            cx.group_names
                .binary_search(g)
                .map_or(u16::MAX - 1, |i| i as u16)
        });
        let on = || {
            cx.staff
                .iter()
                .zip(column.iter().zip(cx.groups))
                .filter(move |(_, (c, g))| **c == want && in_group.is_none_or(|w| w == **g))
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
            years: cx.years,
            rule: rule.id.clone(),
            staff,
            what,
        });
    }
    sort(&mut out);
    out
}

/// The rules about one person (index `p` into `cx.staff`), over `span`,
/// read from the table: codes as numbers, dates as day indices.
pub(super) fn person_findings(cx: &Ctx, p: usize, span: (Date, Date)) -> Vec<Finding> {
    let Some(s) = cx.staff.get(p) else {
        return Vec::new();
    };
    // (day index, code entry) of the person's written cells, by day.
    let cells: Vec<(usize, u16)> = cx
        .table
        .iter()
        .enumerate()
        .filter_map(|(i, column)| column.get(p).filter(|e| **e != 0).map(|e| (i, *e)))
        .collect();
    let entry = |code: &str| {
        cx.codes
            .binary_search_by(|k| k.as_str().cmp(code))
            .map_or(u16::MAX, |i| i as u16 + 1)
    };
    let date = |i: usize| span.0.add_days(i as i64);
    let mut out = Vec::new();
    for rule in cx.rules {
        match &rule.kind {
            RuleKind::Staffing { .. } => {}
            RuleKind::ForbiddenSequence { first, then } => {
                let (a, b) = (entry(first), entry(then));
                for pair in cells.windows(2) {
                    let ((i, x), (j, y)) = (pair[0], pair[1]);
                    if x == a && y == b && j == i + 1 {
                        out.push(Finding {
                            first: date(i),
                            last: date(j),
                            years: cx.years,
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
                ..
            } => {
                if !rule.kind.limits(s) {
                    continue;
                }
                let limit = Limit {
                    cx,
                    s,
                    rule: &rule.id,
                    min: *min,
                    max: *max,
                    first: span.0,
                    last: (span.1.0 - span.0.0).num_days().max(0) as usize,
                };
                match measure {
                    LimitMeasure::ConsecutiveWorked => limit.runs(&cells, true, &mut out),
                    LimitMeasure::ConsecutiveOff => limit.runs(&cells, false, &mut out),
                    LimitMeasure::Shifts | LimitMeasure::Hours | LimitMeasure::WeekendsWorked => {
                        let only = code.as_deref().map(entry);
                        let days = (span.1.0 - span.0.0).num_days().max(0) as usize + 1;
                        for (a, b) in periods(days, *period_days) {
                            let v = limit.measure(&cells, *measure, only, a, b);
                            limit.amount(*measure, code.as_deref(), v, a, b, &mut out);
                        }
                    }
                }
            }
        }
    }
    sort(&mut out);
    out
}

pub(super) struct Limit<'a> {
    cx: &'a Ctx<'a>,
    s: &'a Staff,
    rule: &'a str,
    min: Option<f64>,
    max: Option<f64>,
    /// The date of day index 0.
    first: Date,
    /// The last day index checked (the period's last day).
    last: usize,
}

impl Limit<'_> {
    pub(super) fn worked(&self, e: u16) -> bool {
        (e as usize)
            .checked_sub(1)
            .and_then(|i| self.cx.worked.get(i))
            .copied()
            .unwrap_or(false)
    }

    pub(super) fn date(&self, i: usize) -> Date {
        self.first.add_days(i as i64)
    }

    /// Runs of consecutive worked (or off) days longer than `max`, and
    /// shorter than `min`. A run longer than `max` is of cells written so
    /// (an empty cell ends it); a run shorter than `min` is between two
    /// days that end it: a worked run between days not worked, days off
    /// (written off or empty) between two worked days. Runs that touch the
    /// period's first or last day are not held to `min` (they go on beyond
    /// it, as the benchmark counts them).
    pub(super) fn runs(&self, cells: &[(usize, u16)], worked_days: bool, out: &mut Vec<Finding>) {
        let mut found = |a: usize, b: usize, bound: Bound| {
            out.push(Finding {
                first: self.date(a),
                last: self.date(b),
                years: self.cx.years,
                rule: self.rule.to_string(),
                staff: vec![self.s.id.clone()],
                what: What::Run {
                    name: self.s.name.clone(),
                    days: (b - a + 1) as i64,
                    worked: worked_days,
                    bound,
                },
            });
        };
        if let Some(max) = self.max {
            // Runs of written cells that count.
            let mut run: Option<(usize, usize)> = None;
            let mut close = |run: Option<(usize, usize)>| {
                if let Some((a, b)) = run
                    && (b - a + 1) as f64 > max
                {
                    found(a, b, Bound::AtMost(max));
                }
            };
            for &(i, e) in cells {
                let counts = self.worked(e) == worked_days;
                run = match (run, counts) {
                    (Some((a, b)), true) if b + 1 == i => Some((a, i)),
                    (prev, true) => {
                        close(prev);
                        Some((i, i))
                    }
                    (prev, false) => {
                        close(prev);
                        None
                    }
                };
            }
            close(run);
        }
        let Some(min) = self.min.filter(|m| *m > 1.0) else {
            return;
        };
        // The worked days, in order; runs of them and the gaps between.
        let worked: Vec<usize> = cells
            .iter()
            .filter(|(_, e)| self.worked(*e))
            .map(|(i, _)| *i)
            .collect();
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &i in &worked {
            match runs.last_mut() {
                Some((_, b)) if *b + 1 == i => *b = i,
                _ => runs.push((i, i)),
            }
        }
        let short = |a: usize, b: usize| ((b - a + 1) as f64) < min;
        if worked_days {
            for &(a, b) in &runs {
                if a > 0 && b < self.last && short(a, b) {
                    found(a, b, Bound::AtLeast(min));
                }
            }
        } else {
            for pair in runs.windows(2) {
                let (a, b) = (pair[0].1 + 1, pair[1].0 - 1);
                if short(a, b) {
                    found(a, b, Bound::AtLeast(min));
                }
            }
        }
    }

    /// What a limit counts from day `a` to day `b`.
    pub(super) fn measure(
        &self,
        cells: &[(usize, u16)],
        measure: LimitMeasure,
        only: Option<u16>,
        a: usize,
        b: usize,
    ) -> f64 {
        let from = cells.partition_point(|(i, _)| *i < a);
        let to = cells.partition_point(|(i, _)| *i <= b);
        let in_period = cells[from..to.max(from)].iter();
        match measure {
            LimitMeasure::Shifts => in_period
                .filter(|(_, e)| match only {
                    Some(want) => *e == want,
                    None => self.worked(*e),
                })
                .count() as f64,
            LimitMeasure::Hours => in_period
                .filter_map(|(_, e)| {
                    (*e as usize)
                        .checked_sub(1)
                        .and_then(|i| self.cx.hours.get(i))
                })
                .sum(),
            _ => {
                // Weekends with a worked day, each named by its Sunday (a
                // Saturday's is the next day: index 0 may be a Sunday).
                let monday0 = self.first.0.weekday().num_days_from_monday() as usize;
                let weekends: BTreeSet<usize> = in_period
                    .filter(|(_, e)| self.worked(*e))
                    .filter_map(|(i, _)| match (monday0 + i) % 7 {
                        5 => Some(*i + 1),
                        6 => Some(*i),
                        _ => None,
                    })
                    .collect();
                weekends.len() as f64
            }
        }
    }

    /// A count or sum over a period against `min` and `max`.
    pub(super) fn amount(
        &self,
        measure: LimitMeasure,
        code: Option<&str>,
        v: f64,
        a: usize,
        b: usize,
        out: &mut Vec<Finding>,
    ) {
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
            first: self.date(a),
            last: self.date(b),
            years: self.cx.years,
            rule: self.rule.to_string(),
            staff: vec![self.s.id.clone()],
            what: What::Amount {
                name: self.s.name.clone(),
                unit,
                code: code.map(str::to_string),
                value: v,
                bound,
            },
        });
    }
}

/// The periods a limit is counted over, as day indices: windows of `days`
/// from the first date (the last may be shorter), or the whole span.
pub fn periods(span_days: usize, days: Option<u32>) -> Vec<(usize, usize)> {
    let n = days
        .filter(|n| *n > 0)
        .map_or(span_days, |n| n as usize)
        .max(1);
    (0..span_days)
        .step_by(n)
        .map(|a| (a, (a + n - 1).min(span_days.saturating_sub(1))))
        .collect()
}

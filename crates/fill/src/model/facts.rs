//! What the row rebuild (`crate::rebuild`) reads of the model: each
//! person's limits over the whole period as plain numbers, what each code
//! costs one person on one day given everyone else (cover and requests),
//! and a batch of one person's cells set at once (their row scored once).
//! The rebuild only proposes rows; their score is always the model's.

use super::{AskWish, Grid, Model, PersonRule, staffing_score};
use rota_core::domain::LimitMeasure;

/// One person's limits that hold over the whole period, as the rebuild
/// reads them (the tightest of each kind; limits over shorter periods are
/// left to the model's score).
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    /// Most worked days running.
    pub max_run: Option<usize>,
    /// Fewest worked days running (1: no limit), at neither edge.
    pub min_run: usize,
    /// Fewest days off between two worked runs (1: no limit).
    pub min_off: usize,
    /// Least and most work, in the units of [`Model::units`].
    pub least: Option<i64>,
    pub most: Option<i64>,
    /// Most weekends worked.
    pub weekends: Option<i64>,
    /// Per code entry, most days of it.
    pub per_code: Vec<Option<i64>>,
}

impl Model {
    /// How many code entries there are (0, empty, included).
    pub(crate) fn entries(&self) -> usize {
        self.codes.len() + 1
    }

    /// Whether entry `e` is a worked code.
    pub(crate) fn worked_entry(&self, e: u16) -> bool {
        self.is_worked(e)
    }

    /// Whether a forbidden sequence forbids entry `a` followed by `b`.
    pub(crate) fn forbids(&self, a: u16, b: u16) -> bool {
        if a == 0 || self.follows.is_empty() {
            return false;
        }
        let n = self.entries();
        self.follows
            .get(a as usize * n + b as usize)
            .is_some_and(|k| *k > 0)
    }

    /// Each entry's minutes in units, and the unit in minutes (the
    /// greatest common divisor of the codes' minutes).
    pub(crate) fn units(&self) -> (Vec<i64>, i64) {
        let minutes: Vec<i64> = std::iter::once(0)
            .chain(
                self.hours
                    .iter()
                    .map(|h| (h * 60.0).round().max(0.0) as i64),
            )
            .collect();
        let unit = minutes
            .iter()
            .filter(|m| **m > 0)
            .fold(0i64, |g, m| gcd(g, *m))
            .max(1);
        (minutes.iter().map(|m| m / unit).collect(), unit)
    }

    /// Person `p`'s limits over the whole period (see [`Limits`]), work
    /// counted in units of `unit` minutes.
    pub(crate) fn limits(&self, p: usize, unit: i64) -> Limits {
        let mut l = Limits {
            min_run: 1,
            min_off: 1,
            per_code: vec![None; self.entries()],
            ..Limits::default()
        };
        let tighter = |a: Option<i64>, b: i64| Some(a.map_or(b, |a| a.min(b)));
        let whole = |set: usize| {
            self.period_sets
                .get(set)
                .is_some_and(|s| s.len() == 1 && s[0] == (0, self.days.saturating_sub(1)))
        };
        for rule in &self.person_rules[p] {
            match rule {
                PersonRule::Runs { worked, min, max } => {
                    let min = min.map_or(1, |m| m.ceil().max(1.0) as usize);
                    if *worked {
                        l.min_run = l.min_run.max(min);
                        if let Some(m) = max {
                            let m = m.floor().max(0.0) as usize;
                            l.max_run = Some(l.max_run.map_or(m, |x| x.min(m)));
                        }
                    } else {
                        l.min_off = l.min_off.max(min);
                    }
                }
                PersonRule::Amount {
                    measure,
                    min,
                    max,
                    only,
                    set,
                } if whole(*set) => match measure {
                    LimitMeasure::Hours => {
                        if let Some(m) = min {
                            let u = ((m * 60.0).round() as i64 + unit - 1).div_euclid(unit);
                            l.least = Some(l.least.map_or(u, |x| x.max(u)));
                        }
                        if let Some(m) = max {
                            l.most = tighter(l.most, ((m * 60.0).round() as i64).div_euclid(unit));
                        }
                    }
                    LimitMeasure::Shifts => {
                        if let (Some(e), Some(m)) = (only, max)
                            && let Some(slot) = l.per_code.get_mut(*e as usize)
                        {
                            *slot = tighter(*slot, m.floor() as i64);
                        }
                    }
                    LimitMeasure::WeekendsWorked => {
                        if let Some(m) = max {
                            l.weekends = tighter(l.weekends, m.floor() as i64);
                        }
                    }
                    _ => {}
                },
                PersonRule::Amount { .. } => {}
            }
        }
        l
    }

    /// Whether person `p`'s row breaks a rule, in `g`.
    pub(crate) fn breaks(&self, g: &Grid, p: usize) -> bool {
        g.person.get(p).is_some_and(|s| s.hard > 0)
    }

    /// Person `p`'s requests by day: indices into their requests.
    pub(crate) fn asks_by_day(&self, p: usize) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.days];
        for (i, a) in self.asks[p].iter().enumerate() {
            if let Some(day) = out.get_mut(a.day) {
                day.push(i);
            }
        }
        out
    }

    /// What each entry would cost person `p` on day `d`, everyone else as
    /// they are in `g`, against an empty cell: cover (a hard staffing
    /// finding weighing `w`) and `p`'s requests `asks` (indices, as
    /// [`Model::asks_by_day`] gives). Written into `out` by entry.
    pub(crate) fn day_costs(
        &self,
        g: &Grid,
        p: usize,
        d: usize,
        w: u64,
        asks: &[usize],
        out: &mut [i64],
    ) {
        out.fill(0);
        let cur = g.rows[p][d];
        for (j, k) in self.staffing_on[d].iter().enumerate() {
            let rule = &self.staffing[*k];
            if rule.group.is_some_and(|x| self.groups.get(p) != Some(&x)) {
                continue;
            }
            let n = g.counts[d][j] - u32::from(self.counts_for(rule, p, cur));
            let without = staffing_score(rule, d, n).cost_with(w) as i64;
            let with = staffing_score(rule, d, n + 1).cost_with(w) as i64;
            if let Some(slot) = out.get_mut(rule.want as usize) {
                *slot += with - without;
            }
        }
        for i in asks {
            let Some(a) = self.asks[p].get(*i) else {
                continue;
            };
            for (e, slot) in out.iter_mut().enumerate() {
                let e = e as u16;
                let met = match a.wish {
                    AskWish::On(c) => e != 0 && e == c,
                    AskWish::OffCode(c) => !(e != 0 && e == c),
                    AskWish::Off => e == 0 || !self.is_worked(e),
                };
                if !met {
                    *slot += a.weight as i64;
                }
            }
        }
    }

    /// Sets person `p`'s cells `cells` (day, entry), keeping the score
    /// (their row scored once); what was there is pushed onto `undo` as
    /// (person, day, entry).
    pub(crate) fn set_cells(
        &self,
        g: &mut Grid,
        p: usize,
        cells: &[(usize, u16)],
        undo: &mut Vec<(usize, usize, u16)>,
    ) {
        let mut changed = false;
        for &(d, e) in cells {
            let was = g.rows[p][d];
            if was == e {
                continue;
            }
            changed = true;
            undo.push((p, d, was));
            g.rows[p][d] = e;
            self.recount(g, p, d, was, e);
        }
        if changed {
            let now = self.person_score(p, &g.rows[p]);
            g.score.sub(g.person[p]);
            g.score.add(now);
            g.person[p] = now;
        }
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

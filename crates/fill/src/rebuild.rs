//! The row rebuild: one person's days `a..=b` made anew by a dynamic
//! program over the days, everyone else kept, at the least cost the
//! program sees (cover and requests against the others, from
//! [`Model::day_costs`]) among the rows that keep that person's rules:
//! forbidden sequences, worked runs (most, fewest), days off between runs
//! (fewest), work in all (least, most: the days outside set the window's
//! share), weekends worked (most), and days of a code (most: a code whose
//! days are used up outside is left out). States: the last code's class
//! (codes that forbid the same next codes, worked or not), the run it
//! ends, the work in the window, and the weekends worked in it, the last
//! two only where a limit could be reached.
//!
//! The rebuild proposes; the model scores. What it cannot see (limits
//! over shorter periods, hard staffing) the model's score still counts.

use crate::model::{Grid, Limits, Model};

const INF: i64 = i64::MAX / 4;

/// How the window's share of work in all is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Share {
    /// What the days outside leave: the row as a whole keeps its limits.
    Exact,
    /// Pro rata of the days up to the window's end (rows built left to
    /// right from empty), exact in the last window.
    Prorated,
}

/// What the rebuild knows of a model, worked out once.
pub(crate) struct Rebuild {
    units: Vec<i64>,
    worked: Vec<bool>,
    class: Vec<usize>,
    /// Entries alike for the program (class, work, what forbids them):
    /// on a day only the cheapest of a group is tried.
    group: Vec<usize>,
    class_worked: Vec<bool>,
    /// `class * entries + entry`: the class forbids that entry next.
    forbid: Vec<bool>,
    limits: Vec<Limits>,
    asks: Vec<Vec<Vec<usize>>>,
    pub(crate) free: Vec<Vec<bool>>,
    choices: Vec<u16>,
    entries: usize,
}

/// Scratch space, kept between rebuilds.
#[derive(Default)]
pub(crate) struct Scratch {
    cost: Vec<i64>,
    next: Vec<i64>,
    back: Vec<u32>,
    code: Vec<u16>,
    day: Vec<i64>,
    options: Vec<Vec<(u16, i64)>>,
    /// The options of each day, the cheapest of each group of codes.
    grouped: Vec<Vec<(u16, i64)>>,
    penalty: Vec<i64>,
    used: Vec<i64>,
    /// The program's steps so far (what a rebuild costs, for the search's
    /// reckoning of work).
    pub(crate) ops: u64,
}

impl Rebuild {
    pub(crate) fn new(model: &Model) -> Rebuild {
        let entries = model.entries();
        let (units, unit) = model.units();
        let worked: Vec<bool> = (0..entries).map(|e| model.worked_entry(e as u16)).collect();
        // Classes: entries alike in being worked and in what they forbid.
        let mut keys: Vec<(bool, Vec<bool>)> = Vec::new();
        let mut class = Vec::with_capacity(entries);
        for (a, on) in worked.iter().enumerate() {
            let key = (
                *on,
                (0..entries)
                    .map(|b| model.forbids(a as u16, b as u16))
                    .collect::<Vec<bool>>(),
            );
            let k = keys.iter().position(|x| *x == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            });
            class.push(k);
        }
        let mut gkeys: Vec<(usize, i64, Vec<bool>)> = Vec::new();
        let mut group = Vec::with_capacity(entries);
        for b in 0..entries {
            let key = (
                class[b],
                units[b],
                (0..entries)
                    .map(|a| model.forbids(a as u16, b as u16))
                    .collect::<Vec<bool>>(),
            );
            let k = gkeys.iter().position(|x| *x == key).unwrap_or_else(|| {
                gkeys.push(key);
                gkeys.len() - 1
            });
            group.push(k);
        }
        let class_worked = keys.iter().map(|k| k.0).collect();
        let forbid = keys.iter().flat_map(|k| k.1.iter().copied()).collect();
        let people = model.people.len();
        let mut free = vec![vec![false; model.days]; people];
        for &(p, d) in &model.free {
            free[p][d] = true;
        }
        Rebuild {
            units,
            worked,
            class,
            group,
            class_worked,
            forbid,
            limits: (0..people).map(|p| model.limits(p, unit)).collect(),
            asks: (0..people).map(|p| model.asks_by_day(p)).collect(),
            free,
            choices: model.choices.clone(),
            entries,
        }
    }

    /// Whether person `p` has a free cell.
    pub(crate) fn has_free(&self, p: usize) -> bool {
        self.free.get(p).is_some_and(|r| r.iter().any(|f| *f))
    }

    /// The cells (day, entry) that make person `p`'s days `a..=b` the
    /// least costly row the program finds, a hard finding weighing `w`;
    /// `noise(cost)` may blur each option's cost. Empty when nothing
    /// changes; None when no row keeps the rules it sees.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn rebuild(
        &self,
        model: &Model,
        g: &Grid,
        p: usize,
        (a, b): (usize, usize),
        w: u64,
        share: Share,
        noise: &mut dyn FnMut() -> i64,
        s: &mut Scratch,
    ) -> Option<Vec<(usize, u16)>> {
        let days = model.days;
        let last = days.checked_sub(1)?;
        if a > b || b > last {
            return None;
        }
        let row = &g.rows[p];
        let lim = &self.limits[p];
        let len = b - a + 1;
        let wk = |e: u16| self.worked.get(e as usize).copied().unwrap_or(false);
        let off_cap = lim.min_off.max(1);
        let run_cap = lim.max_run.unwrap_or(lim.min_run).max(lim.min_run).max(1);
        let r_dim = run_cap.max(off_cap) + 1;
        // Where the window starts from: the class before it and its run.
        let (c0, r0) = if a == 0 {
            (self.class[0], off_cap)
        } else {
            let e = row[a - 1];
            let on = wk(e);
            let mut k = a;
            while k > 0 && wk(row[k - 1]) == on {
                k -= 1;
            }
            let run = a - k;
            let r = if on {
                run.min(run_cap)
            } else if k == 0 {
                off_cap
            } else {
                run.min(off_cap)
            };
            (self.class[e as usize], r.max(1))
        };
        // Work in all: the window's share.
        let units_of = |e: u16| self.units.get(e as usize).copied().unwrap_or(0);
        let before: i64 = row[..a].iter().map(|e| units_of(*e)).sum();
        let after: i64 = row[b + 1..].iter().map(|e| units_of(*e)).sum();
        let (mut lo, mut hi) = (
            lim.least.map_or(i64::MIN, |l| l - before - after),
            lim.most.map_or(i64::MAX, |m| m - before - after),
        );
        if share == Share::Prorated && b < last {
            // Pro rata of the days that can be worked (leave set is not).
            let open = |to: usize| self.free[p][..to].iter().filter(|f| **f).count().max(1);
            let frac = open(b + 1) as f64 / open(days) as f64;
            let part = |x: i64| x as f64 * frac;
            let step = self.units.iter().copied().max().unwrap_or(0);
            if let Some(l) = lim.least {
                lo = part(l).ceil() as i64 - before;
            }
            if let Some(m) = lim.most {
                hi = hi.min((part(m).floor() as i64 - before).max(lo + step));
            }
        }
        // Each day's options and their costs.
        let remaining: Vec<i64> = (0..self.entries)
            .map(|e| match lim.per_code[e] {
                Some(m) => {
                    let outside = row[..a].iter().chain(&row[b + 1..]);
                    m - outside.filter(|x| **x as usize == e).count() as i64
                }
                None => i64::MAX,
            })
            .collect();
        s.options.resize_with(len, Vec::new);
        s.grouped.resize_with(len, Vec::new);
        s.day.resize(self.entries, 0);
        let mut most_units = 0i64;
        for (i, d) in (a..=b).enumerate() {
            let opts = &mut s.options[i];
            opts.clear();
            if self.free[p][d] {
                model.day_costs(g, p, d, w, &self.asks[p][d], &mut s.day);
                for &e in &self.choices {
                    if e != 0 && remaining[e as usize] <= 0 {
                        continue;
                    }
                    opts.push((e, s.day[e as usize] + noise()));
                }
            } else {
                opts.push((row[d], 0));
            }
            most_units += opts.iter().map(|(e, _)| units_of(*e)).max().unwrap_or(0);
        }
        let track_m = !(lo <= 0 && hi >= most_units);
        let hi_t = if track_m { hi.clamp(0, most_units) } else { 0 };
        let m_dim = hi_t as usize + 1;
        // Weekends: those with a worked day outside the window count
        // already; the window's new ones are tracked against what is left.
        let weekend = |d: usize| match model.weekday(d) {
            5 => Some(d + 1),
            6 => Some(d),
            _ => None,
        };
        let outside_worked = |sun: usize| {
            [sun.wrapping_sub(1), sun]
                .into_iter()
                .any(|k| k < days && (k < a || k > b) && wk(row[k]))
        };
        let mut new_weekend = vec![false; len];
        let mut w_dim = 1usize;
        let mut track_w = false;
        if let Some(max) = lim.weekends {
            let mut counted = 0i64;
            let mut seen = None;
            for (d, e) in row.iter().enumerate() {
                if (d < a || d > b)
                    && wk(*e)
                    && let Some(id) = weekend(d)
                    && seen != Some(id)
                {
                    counted += 1;
                    seen = Some(id);
                }
            }
            let mut touching = 0i64;
            for (i, d) in (a..=b).enumerate() {
                if let Some(id) = weekend(d)
                    && !outside_worked(id)
                {
                    new_weekend[i] = true;
                    if model.weekday(d) == 5 || d == a {
                        touching += 1;
                    }
                }
            }
            let max = if share == Share::Prorated && b < last {
                (max as f64 * (b + 1) as f64 / days as f64).ceil() as i64
            } else {
                max
            };
            let budget = (max - counted).max(0);
            if budget < touching {
                w_dim = budget as usize + 1;
                track_w = true;
            }
        }
        let classes = self.class_worked.len();
        // Codes left with fewer days than the window: a row that takes
        // more of one tries again with that code dearer.
        s.penalty.clear();
        s.penalty.resize(self.entries, 0);
        for attempt in 0..4 {
            let step = (w as i64 / 4).max(1) << (2 * attempt);
            for (i, opts) in s.options.iter().enumerate().take(len) {
                let grouped = &mut s.grouped[i];
                grouped.clear();
                for &(e, c) in opts {
                    let c = c + s.penalty[e as usize];
                    let gr = self.group[e as usize];
                    match grouped
                        .iter_mut()
                        .find(|(x, _)| self.group[*x as usize] == gr)
                    {
                        Some(slot) if slot.1 > c => *slot = (e, c),
                        Some(_) => {}
                        None => grouped.push((e, c)),
                    }
                }
            }
            let states = classes * r_dim * m_dim * w_dim;
            let idx =
                |c: usize, r: usize, m: usize, k: usize| ((c * r_dim + r) * m_dim + m) * w_dim + k;
            s.cost.clear();
            s.cost.resize(states, INF);
            s.next.resize(states, INF);
            s.back.clear();
            s.back.resize(states * len, u32::MAX);
            s.code.clear();
            s.code.resize(states * len, 0);
            s.cost[idx(c0, r0.min(r_dim - 1), 0, 0)] = 0;
            #[allow(clippy::needless_range_loop)]
            for i in 0..len {
                let d = a + i;
                s.next.fill(INF);
                for st in 0..states {
                    let c = s.cost[st];
                    if c >= INF {
                        continue;
                    }
                    let k = st % w_dim;
                    let m = (st / w_dim) % m_dim;
                    let r = (st / (w_dim * m_dim)) % r_dim;
                    let cls = st / (w_dim * m_dim * r_dim);
                    let pw = self.class_worked[cls];
                    s.ops += s.grouped[i].len() as u64;
                    for &(e, ce) in &s.grouped[i] {
                        if self.forbid[cls * self.entries + e as usize] {
                            continue;
                        }
                        let on = wk(e);
                        let r2 = match (pw, on) {
                            (true, true) => {
                                if lim.max_run.is_some_and(|mx| r + 1 > mx) {
                                    continue;
                                }
                                (r + 1).min(run_cap)
                            }
                            (false, true) => {
                                if r < lim.min_off {
                                    continue;
                                }
                                1
                            }
                            (true, false) => {
                                if r < lim.min_run {
                                    continue;
                                }
                                1
                            }
                            (false, false) => (r + 1).min(off_cap),
                        };
                        let m2 = if track_m {
                            let m2 = m as i64 + units_of(e);
                            if m2 > hi_t {
                                continue;
                            }
                            m2 as usize
                        } else {
                            0
                        };
                        let mut k2 = k;
                        if on && new_weekend[i] && !(model.weekday(d) == 6 && i > 0 && pw) {
                            k2 += 1;
                            if track_w && k2 >= w_dim {
                                continue;
                            }
                            if !track_w {
                                k2 = 0;
                            }
                        }
                        let to = idx(self.class[e as usize], r2, m2, k2);
                        let total = c + ce;
                        if total < s.next[to] {
                            s.next[to] = total;
                            s.back[i * states + to] = st as u32;
                            s.code[i * states + to] = e;
                        }
                    }
                }
                std::mem::swap(&mut s.cost, &mut s.next);
            }
            // The end: what follows the window, and work in all.
            let (mut best, mut best_cost) = (None, INF);
            for st in 0..states {
                let c = s.cost[st];
                if c >= INF {
                    continue;
                }
                let m = (st / w_dim) % m_dim;
                let r = (st / (w_dim * m_dim)) % r_dim;
                let cls = st / (w_dim * m_dim * r_dim);
                if !self.fits_after(row, b, cls, r, lim) {
                    continue;
                }
                let mut total = c;
                if track_m && (m as i64) < lo {
                    total += (lo - m as i64) * w as i64;
                }
                if total < best_cost {
                    best_cost = total;
                    best = Some(st);
                }
            }
            let mut st = best?;
            let mut out = Vec::new();
            s.used.clear();
            s.used.resize(self.entries, 0);
            for i in (0..len).rev() {
                let e = s.code[i * states + st];
                s.used[e as usize] += 1;
                if e != row[a + i] {
                    out.push((a + i, e));
                }
                st = s.back[i * states + st] as usize;
                if st == u32::MAX as usize {
                    return None;
                }
            }
            let mut over = false;
            for (e, left) in remaining.iter().enumerate().skip(1) {
                if s.used[e] > *left && self.free[p][a..=b].iter().any(|f| *f) {
                    s.penalty[e] += step;
                    over = true;
                }
            }
            if !over || attempt == 3 {
                return Some(out);
            }
        }
        None
    }

    /// Whether a window ending on day `b` in class `cls`, run `r`, meets
    /// the days after it within the rules.
    fn fits_after(&self, row: &[u16], b: usize, cls: usize, r: usize, lim: &Limits) -> bool {
        let Some(&next) = row.get(b + 1) else {
            return true;
        };
        if self.forbid[cls * self.entries + next as usize] {
            return false;
        }
        let wk = |e: u16| self.worked.get(e as usize).copied().unwrap_or(false);
        let on = wk(next);
        let same = row[b + 1..].iter().take_while(|e| wk(**e) == on).count();
        let to_end = b + same + 1 == row.len();
        match (self.class_worked[cls], on) {
            (true, true) => {
                let run = r + same;
                lim.max_run.is_none_or(|m| run <= m) && (run >= lim.min_run || to_end)
            }
            (true, false) => r >= lim.min_run,
            (false, true) => r >= lim.min_off,
            (false, false) => to_end || r + same >= lim.min_off,
        }
    }
}

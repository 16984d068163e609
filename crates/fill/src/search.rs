//! The search. First each row with free cells is built, person by person,
//! left to right, by the row rebuild (`crate::rebuild`): from an empty
//! roster every row then keeps its rules, with a pro-rata share of its
//! work in each window. Then simulated annealing over the free cells,
//! mixing cheap moves scored incrementally by the model (a cell given
//! another code or emptied; a block of days given one code; a weekend off;
//! two people's cells swapped on one date or over a few days, which keeps
//! each date's staffing) with rebuilds of a window of one person's row
//! against everyone else's cover (its costs blurred by about the
//! temperature now and then; while rules are broken, often a row that
//! breaks one). A rule finding's weight oscillates above the costliest
//! soft unit (see `fill`). It is anytime: the best grid so far is kept and
//! handed back whenever it is stopped.

use crate::model::{Grid, Model, Score};
use crate::rebuild::{Rebuild, Scratch, Share};

/// What the search found.
#[derive(Clone, Debug)]
pub struct Filled {
    pub grid: Grid,
    pub moves: u64,
}

/// Told to the caller now and then: the best score so far and the moves
/// made; the caller answers whether to go on.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub best: Score,
    pub moves: u64,
    /// The moves of the thread asking (as `moves` for one thread).
    pub thread_moves: u64,
}

/// How many moves between two calls of `go_on` (a row rebuild counts as
/// many as its program's steps are worth).
const CHECK_EVERY: u64 = 2_048;

/// One move in this many is a row rebuild (measured on Instances 7, 13,
/// 19 and 24 at 8 s: one in 2 beat one in 5 and one in 20 on three of
/// them, and tied on the fourth).
const DP_EVERY: usize = 2;

/// A rule finding's least weight: above the costliest soft unit one cell
/// can save (a person short of cover, 100 in the benchmark), so that the
/// cheap moves do not trade rules for cover.
const MIN_WEIGHT: f64 = 250.0;

/// A rule finding's weight while rows are first built.
const HARD: u64 = 1_000;

/// SplitMix64: small, fast, and the same everywhere (a seed replays).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        rota_core::rng::splitmix64(&mut self.0)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Fills `start`'s free cells (see [`Model::free`]) until `go_on` says
/// stop; `go_on` is asked every few thousand moves, with the progress.
/// Cells that are not free are never written.
pub fn fill(model: &Model, start: Grid, seed: u64, go_on: impl FnMut(Progress) -> bool) -> Filled {
    search(model, start, seed, None, go_on)
}

/// The best grid the threads of one fill share (see `crate::parallel`).
pub(crate) struct Shared {
    pub best: std::sync::Mutex<Option<Grid>>,
}

/// How much work (moves, a rebuild counted by its steps) between two looks at
/// what the other threads found.
const SHARE_EVERY: u64 = 1 << 19;

/// [`fill`], sharing its best with other threads when `shared` is given
/// (and, when its flag is set, taking theirs when better: every thread
/// but the first, which so stays [`fill`] itself).
pub(crate) fn search(
    model: &Model,
    start: Grid,
    seed: u64,
    shared: Option<(&Shared, bool)>,
    mut go_on: impl FnMut(Progress) -> bool,
) -> Filled {
    let mut rng = Rng(seed);
    let mut g = start;
    let mut best = g.clone();
    let mut moves = 0u64;
    if model.free.is_empty() || model.choices.len() < 2 {
        return Filled { grid: best, moves };
    }
    // Free cells by day, for swaps; and whether each cell is free, for
    // blocks.
    let mut by_day: Vec<Vec<usize>> = vec![Vec::new(); model.days];
    let mut free = vec![vec![false; model.days]; model.people.len()];
    for &(p, d) in &model.free {
        by_day[d].push(p);
        free[p][d] = true;
    }
    // The temperature falls from about a hard finding's worth to near
    // nothing over each cycle, and rises again (restarts from where it is,
    // the best kept).
    let (hot, cold) = (40.0f64, 0.3f64);
    // A hard finding's weight oscillates: it grows while the grid breaks
    // rules and shrinks while it breaks none, so the search crosses
    // infeasible ground to better feasible grids without staying there.
    let mut w = 1000.0f64;
    let cycle = 4_000_000u64.max(model.free.len() as u64 * 2_000);
    let mut undo: Vec<(usize, usize, u16)> = Vec::new();
    // While rules are broken, the best grid is copied at most once every
    // CHECK_EVERY moves, at a check, if the grid is still better then (a
    // copy of a 150 x 364 roster each time a move improves on it cost more
    // than the moves); once none is, at once.
    let mut better = false;
    let rb = Rebuild::new(model);
    let mut scratch = Scratch::default();
    // Rows built first, person by person, left to right (from an empty
    // roster, a row that keeps its rules at once).
    let mut order: Vec<usize> = (0..model.people.len())
        .filter(|p| rb.has_free(*p))
        .collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let last = model.days - 1;
    let span = if model.days <= 35 { model.days } else { 14 };
    for &p in &order {
        for a in (0..model.days).step_by(span) {
            let b = (a + span - 1).min(last);
            let Some(cells) = rb.rebuild(
                model,
                &g,
                p,
                (a, b),
                HARD,
                Share::Prorated,
                &mut || 0,
                &mut scratch,
            ) else {
                continue;
            };
            undo.clear();
            model.set_cells(&mut g, p, &cells, &mut undo);
        }

        if g.score.rank() < best.score.rank() {
            best = g.clone();
        }
        moves += 1;
        if !go_on(Progress {
            best: best.score,
            moves,
            thread_moves: moves,
        }) {
            return Filled { grid: best, moves };
        }
    }
    scratch.ops = 0;
    let mut work = 0u64;
    let mut check = 0u64;
    let mut share = SHARE_EVERY;
    loop {
        if work >= check {
            check = work + CHECK_EVERY;
            if better && g.score.rank() < best.score.rank() {
                best = g.clone();
            }
            better = false;
            if let Some((shared, take)) = shared
                && work >= share
            {
                share = work + SHARE_EVERY;
                if let Ok(mut theirs) = shared.best.lock() {
                    match theirs.as_ref() {
                        Some(t) if t.score.rank() < best.score.rank() => {
                            if take {
                                best = t.clone();
                                g = t.clone();
                            }
                        }
                        Some(t) if t.score.rank() == best.score.rank() => {}
                        _ => *theirs = Some(best.clone()),
                    }
                }
            }
            if !go_on(Progress {
                best: best.score,
                moves,
                thread_moves: moves,
            }) {
                break;
            }
        }
        moves += 1;
        work += 1;
        let t = (work % cycle) as f64 / cycle as f64;
        let temp = hot * (cold / hot).powf(t);
        if work.is_multiple_of(1_000) {
            w = if g.score.hard > 0 { w * 1.05 } else { w / 1.05 }.clamp(MIN_WEIGHT, 100_000.0);
        }
        let weight = w as u64;
        let before = g.score.cost_with(weight);
        let (p, d) = model.free[rng.below(model.free.len())];
        undo.clear();
        let repair = g.score.hard > 0 && rng.below(DP_EVERY / 2) == 0;
        if repair || rng.below(DP_EVERY) == 0 {
            // A window of one person's row rebuilt (see `rebuild`), its
            // costs blurred now and then by about the temperature; while
            // rules are broken, often a row that breaks one, over a
            // longer window.
            let (p, d) = if repair {
                let breaking: Vec<usize> = order
                    .iter()
                    .copied()
                    .filter(|q| model.breaks(&g, *q))
                    .collect();
                let q = if breaking.is_empty() {
                    p
                } else {
                    breaking[rng.below(breaking.len())]
                };
                (q, rng.below(model.days))
            } else {
                (p, d)
            };
            let len = if repair {
                (14 + rng.below(22)).min(model.days)
            } else if model.days <= 28 {
                7.min(model.days) + rng.below(model.days + 1 - 7.min(model.days))
            } else {
                7 + rng.below(15)
            };
            let a = d.saturating_sub(rng.below(len));
            let b = (a + len - 1).min(last);
            let amp = if rng.below(2) == 0 {
                (temp * 2.0) as u64
            } else {
                0
            };
            let mut noise = || {
                if amp > 0 {
                    rng.below(amp as usize + 1) as i64
                } else {
                    0
                }
            };
            let cells = rb.rebuild(
                model,
                &g,
                p,
                (a, b),
                weight,
                Share::Exact,
                &mut noise,
                &mut scratch,
            );
            // A cheap move rescores a row: about `days` steps.
            work += 1 + std::mem::take(&mut scratch.ops) / (2 * model.days as u64);
            match cells {
                Some(cells) if !cells.is_empty() => model.set_cells(&mut g, p, &cells, &mut undo),
                _ => continue,
            }
        } else {
            match rng.below(10) {
                // Swap with another free person the same day: the day's cover
                // stays as it is.
                0..=2 if by_day[d].len() > 1 => {
                    let q = by_day[d][rng.below(by_day[d].len())];
                    let (a, b) = (g.rows[p][d], g.rows[q][d]);
                    if q == p || a == b {
                        continue;
                    }
                    undo.push((p, d, model.set(&mut g, p, d, b)));
                    undo.push((q, d, model.set(&mut g, q, d, a)));
                }
                // Two people's rows swapped over two to seven days, where both
                // are free: each day's cover stays as it is; their runs and
                // totals move.
                3 => {
                    let q = model.free[rng.below(model.free.len())].0;
                    if q == p {
                        continue;
                    }
                    let end = (d + 2 + rng.below(6)).min(model.days);
                    let both: Vec<usize> =
                        (d..end).filter(|k| free[p][*k] && free[q][*k]).collect();
                    for k in both {
                        let (a, b) = (g.rows[p][k], g.rows[q][k]);
                        if a != b {
                            undo.push((p, k, model.set(&mut g, p, k, b)));
                            undo.push((q, k, model.set(&mut g, q, k, a)));
                        }
                    }
                    if undo.is_empty() {
                        continue;
                    }
                }
                // A weekend off (its Saturday and Sunday, where free): what a
                // limit on weekends worked asks, which one cell never gives.
                6 => {
                    let sat = d + (5 + 7 - model.weekday(d)) % 7;
                    for k in [sat, sat + 1] {
                        if k < model.days && free[p][k] && g.rows[p][k] != 0 {
                            undo.push((p, k, model.set(&mut g, p, k, 0)));
                        }
                    }
                    if undo.is_empty() {
                        continue;
                    }
                }
                // A block: two to five days of one code (or off), where free.
                4 | 5 => {
                    let len = 2 + rng.below(4);
                    let e = model.choices[rng.below(model.choices.len())];
                    let end = (d + len).min(model.days);
                    for (k, _) in free[p][d..end].iter().enumerate().filter(|(_, f)| **f) {
                        undo.push((p, d + k, model.set(&mut g, p, d + k, e)));
                    }
                }
                _ => {
                    let e = model.choices[rng.below(model.choices.len())];
                    undo.push((p, d, model.set(&mut g, p, d, e)));
                }
            }
        }
        if !accept(before, g.score.cost_with(weight), temp, &mut rng) {
            for &(p, d, was) in undo.iter().rev() {
                model.set(&mut g, p, d, was);
            }
            continue;
        }
        if g.score.rank() < best.score.rank() {
            // Once no rule is broken every best counts: copied at once.
            if g.score.hard == 0 {
                best = g.clone();
            } else {
                better = true;
            }
        }
    }
    if g.score.rank() < best.score.rank() {
        best = g;
    }
    Filled { grid: best, moves }
}

fn accept(before: u64, after: u64, temp: f64, rng: &mut Rng) -> bool {
    after <= before || rng.unit() < (-((after - before) as f64) / temp).exp()
}

#[cfg(test)]
mod tests;

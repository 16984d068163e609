//! The search on several cores: one [`fill`] per thread, each from its own
//! seed (thread `i` takes `seed + i`, so thread 0 is `fill(seed)`), the
//! best-ranked result handed back. The caller's `go_on` is asked by every
//! thread, with the best score over all threads so far and the moves of
//! all of them.

use crate::model::{Grid, Model, Score};
use crate::search::{Filled, Progress, Shared, fill, search};
use std::sync::Mutex;

/// [`fill`] on `threads` threads (at least one); see the module's doc.
/// `go_on` is called from the threads (each every few thousand moves);
/// once it says stop to a thread, that thread stops.
pub fn fill_parallel(
    model: &Model,
    start: Grid,
    seed: u64,
    threads: usize,
    go_on: impl Fn(Progress) -> bool + Sync,
) -> Filled {
    let threads = threads.max(1);
    if threads == 1 {
        return fill(model, start, seed, go_on);
    }
    // Per thread: its best so far and its moves.
    let seen: Mutex<Vec<(Score, u64)>> = Mutex::new(vec![(start.score, 0); threads]);
    let go_on = &go_on;
    let seen = &seen;
    let shared = Shared {
        best: Mutex::new(None),
    };
    let shared = &shared;
    let results: Vec<Option<Filled>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let start = start.clone();
                s.spawn(move || {
                    let share = Some((shared, i > 0));
                    let seed = seed.wrapping_add(i as u64);
                    search(model, start, seed, share, |p| {
                        let (best, moves) = match seen.lock() {
                            Ok(mut seen) => {
                                seen[i] = (p.best, p.thread_moves);
                                let best = seen
                                    .iter()
                                    .map(|(s, _)| *s)
                                    .min_by_key(Score::rank)
                                    .unwrap_or(p.best);
                                (best, seen.iter().map(|(_, m)| m).sum())
                            }
                            Err(_) => (p.best, p.moves),
                        };
                        go_on(Progress {
                            best,
                            moves,
                            thread_moves: p.thread_moves,
                        })
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    let mut moves = 0;
    let mut best: Option<Filled> = None;
    for f in results.into_iter().flatten() {
        moves += f.moves;
        if best
            .as_ref()
            .is_none_or(|b| f.grid.score.rank() < b.grid.score.rank())
        {
            best = Some(f);
        }
    }
    match best {
        Some(mut b) => {
            b.moves = moves;
            b
        }
        None => Filled {
            grid: start,
            moves: 0,
        },
    }
}

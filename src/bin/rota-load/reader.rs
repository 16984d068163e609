//! Simulated history readers: editors that keep asking for the history of
//! one cell after another (what an editor's history panel asks), as many at
//! once as the hub lets a connection have, while the writers write. They
//! show whether reads hold up anyone's edit.

use crate::editor::{self, Ws};
use rota::domain::Date;
use rota::protocol::{self, ClientMsg, HistoryQuery, ServerMsg};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// History requests a reader keeps unanswered (the hub's limit per
/// connection).
const IN_FLIGHT: usize = 4;

/// What one reader did: a latency sample per answer, in microseconds.
#[derive(Default)]
pub struct Reads {
    pub latencies_us: Vec<u32>,
    pub errors: Vec<String>,
}

/// The grid the readers pick cells from: staff `s1..=staff`, `days` dates
/// from `start`.
#[derive(Clone, Copy)]
pub struct Grid {
    pub staff: usize,
    pub days: usize,
    pub start: Date,
}

/// Reads until `stop`, starting at `go`.
pub async fn run(
    mut ws: Ws,
    grid: Grid,
    seed: u64,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> Reads {
    let mut reads = Reads::default();
    if go.wait_for(|g| *g).await.is_err() {
        return reads;
    }
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut next_req = 1u64;
    loop {
        while sent.len() < IN_FLIGHT && !*stop.borrow() {
            let query = cell_query(grid, &mut rng);
            let msg = ClientMsg::History {
                req: Some(next_req),
                query,
            };
            if let Err(e) = editor::send(&mut ws, &msg).await {
                reads.errors.push(e);
                return reads;
            }
            sent.insert(next_req, Instant::now());
            next_req += 1;
        }
        if sent.is_empty() {
            return reads;
        }
        let text = tokio::select! {
            t = editor::next_text(&mut ws, Duration::from_secs(120)) => t,
            _ = stop.changed() => continue,
        };
        let msg = match text.map(|t| protocol::decode_server(&t)) {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                reads.errors.push(format!("reader: bad message: {e}"));
                return reads;
            }
            Err(e) => {
                reads.errors.push(e);
                return reads;
            }
        };
        match msg {
            ServerMsg::History { req, .. } => {
                // A hub before 1.2 answers without `req`, in order.
                let key = req.or_else(|| sent.keys().min().copied());
                if let Some(at) = key.and_then(|k| sent.remove(&k)) {
                    let us = at.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                    reads.latencies_us.push(us);
                }
            }
            ServerMsg::Error { message, .. } => {
                reads.errors.push(format!("reader: hub error: {message}"));
                return reads;
            }
            _ => {} // the writers' changes, presence
        }
    }
}

/// The history of one cell, picked at random.
fn cell_query(grid: Grid, rng: &mut u64) -> HistoryQuery {
    let mut next = || {
        // xorshift64: no need for a crate to pick cells.
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let staff = next() as usize % grid.staff.max(1) + 1;
    let day = next() % grid.days.max(1) as u64;
    HistoryQuery {
        staff: Some(format!("s{staff}")),
        date: Some(Date(grid.start.0 + chrono::Days::new(day))),
        limit: Some(20),
        ..HistoryQuery::default()
    }
}

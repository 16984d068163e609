//! The fairness scenario's attackers: what one misbehaving client (one
//! connection, or many from one address) does beside the honest editors.
//! Each attack opens its connections and readies its data in `launch`
//! (not timed), starts at `go`, stops at `stop`, and counts what it got
//! done in a `Tally`, so a run can show that the attack really happened.

use crate::attackers::{
    budget_shapes, cursors, edit_loop, flood_history, hold_parts, import_history, rated,
};
use crate::delivery::Acks;
use crate::editor::Ws;
use crate::wire::{self, Encoded, PART_BYTES, Style};
use rota::domain::Op;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attack {
    None,
    BigParts,
    BigPartsSame,
    BigPartsRejected,
    BigEdits,
    Cursors,
    PartsBudget,
    NonReaders,
    HistoryFlood,
    SlowReaders,
    SlowReadersBaseline,
}

const NAMES: [(Attack, &str); 11] = [
    (Attack::None, "none"),
    (Attack::BigParts, "big-parts"),
    (Attack::BigPartsSame, "big-parts-same"),
    (Attack::BigPartsRejected, "big-parts-rejected"),
    (Attack::BigEdits, "big-edits"),
    (Attack::Cursors, "cursors"),
    (Attack::PartsBudget, "parts-budget"),
    (Attack::NonReaders, "non-readers"),
    (Attack::HistoryFlood, "history-flood"),
    (Attack::SlowReaders, "slow-readers"),
    (Attack::SlowReadersBaseline, "slow-readers-baseline"),
];

impl Attack {
    pub fn parse(s: &str) -> Result<Attack, String> {
        NAMES
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(a, _)| *a)
            .ok_or_else(|| {
                let all: Vec<&str> = NAMES.iter().map(|(_, n)| *n).collect();
                format!("unknown attack `{s}`: {}", all.join(", "))
            })
    }

    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("?", |(_, n)| n)
    }

    /// The connections it opens (the hub is started with room for them).
    pub fn connections(self) -> usize {
        match self {
            Attack::None => 0,
            Attack::BigParts | Attack::BigPartsSame | Attack::BigPartsRejected => 1,
            Attack::BigEdits => 1,
            Attack::Cursors => CURSORS,
            Attack::PartsBudget => PARTS_HOLDERS,
            Attack::NonReaders => NON_READERS + 1,
            Attack::HistoryFlood => HISTORY_FLOODERS,
            Attack::SlowReaders => SLOW_READERS + 1,
            Attack::SlowReadersBaseline => 1,
        }
    }

    /// Whether the run measures broadcast delivery: honest readers on the
    /// big writer's roster, timed from its acks to their changes.
    pub fn measures_delivery(self) -> bool {
        matches!(self, Attack::SlowReaders | Attack::SlowReadersBaseline)
    }
}

const CURSORS: usize = 100;
const PARTS_HOLDERS: usize = 290;
const NON_READERS: usize = 200;
const HISTORY_FLOODERS: usize = 20;
const SLOW_READERS: usize = 1500;
/// Connections opened at once.
const CONNECT_CONCURRENCY: usize = 128;

/// What the attack got done, counted as it goes.
#[derive(Default)]
pub struct Tally {
    pub connected: AtomicU64,
    pub refused_connections: AtomicU64,
    pub acked: AtomicU64,
    pub refused: AtomicU64,
    pub busy: AtomicU64,
    pub ops_acked: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub cursor_moves: AtomicU64,
    pub reads: AtomicU64,
    pub held_open: AtomicU64,
    pub held_bytes: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Tally {
    /// Keeps the first few errors (the connection, not the run, ends).
    pub fn error(&self, e: String) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() < 8 {
            errors.push(e);
        }
    }

    pub fn figures(&self) -> Figures {
        Figures {
            connected: self.connected.load(Relaxed),
            refused_connections: self.refused_connections.load(Relaxed),
            edits_acked: self.acked.load(Relaxed),
            edits_refused: self.refused.load(Relaxed),
            busy: self.busy.load(Relaxed),
            ops_acked: self.ops_acked.load(Relaxed),
            mb_sent: self.bytes_sent.load(Relaxed) as f64 / 1e6,
            cursor_moves: self.cursor_moves.load(Relaxed),
            reads: self.reads.load(Relaxed),
            held_open: self.held_open.load(Relaxed),
            held_mb: self.held_bytes.load(Relaxed) as f64 / 1e6,
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// The attack's figures at the end.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    pub connected: u64,
    pub refused_connections: u64,
    pub edits_acked: u64,
    /// Edits rejected or refused with an error other than `busy`.
    pub edits_refused: u64,
    pub busy: u64,
    pub ops_acked: u64,
    pub mb_sent: f64,
    pub cursor_moves: u64,
    pub reads: u64,
    /// parts-budget: edits held open at the end, and their bytes.
    pub held_open: u64,
    pub held_mb: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// Where the attack goes: the hub, and the two rosters.
#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub addr: String,
    pub honest: String,
    pub attack: String,
    pub tag: String,
}

/// An attack launched: its tasks, and `ready` once it holds what it means
/// to hold (parts-budget: every connection has placed its edit).
pub struct Launched {
    pub tasks: Vec<JoinHandle<()>>,
    pub ready: watch::Receiver<bool>,
}

/// The grid's cells `range` set to `code`, the last op (with `bad`) one no
/// roster has.
pub fn grid_ops(range: std::ops::Range<usize>, code: &str, bad: bool) -> Vec<Op> {
    let mut ops: Vec<Op> = range.map(|i| wire::grid_op(i, code)).collect();
    if bad && let Some(Op::SetCell { staff, .. }) = ops.last_mut() {
        *staff = "nobody".into();
    }
    ops
}

/// Two edits of the cells `0..n` in turn (D, then N), so each changes them all.
fn alternating(n: usize, bad: bool) -> Arc<Vec<Encoded>> {
    Arc::new(
        ["D", "N"]
            .iter()
            .map(|c| Encoded::new(&grid_ops(0..n, c, bad), PART_BYTES))
            .collect(),
    )
}

/// Opens the attack's connections and readies its data (not timed), and
/// starts its tasks, which wait for `go`. slow-readers and its baseline
/// note their writer's acks in `acks`.
pub async fn launch(
    attack: Attack,
    t: &Target,
    tally: Arc<Tally>,
    acks: Arc<Acks>,
    go: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) -> Result<Launched, String> {
    let (ready_tx, ready) = watch::channel(attack != Attack::PartsBudget);
    let mut tasks = Vec::new();
    let one = |roster: &str, name: &str| {
        let (t, roster, name) = (t.clone(), roster.to_string(), name.to_string());
        async move {
            let client = format!("{}-{name}", t.tag);
            wire::join(&t.url, &t.addr, &client, &roster, Style::Client)
                .await
                .map(|(ws, _)| ws)
        }
    };
    let looped = |ws, edits, tally: &Arc<Tally>, acks: Option<Arc<Acks>>| {
        tokio::spawn(edit_loop(
            ws,
            edits,
            (tally.clone(), acks),
            go.clone(),
            stop.clone(),
        ))
    };
    match attack {
        Attack::None => {}
        Attack::BigParts | Attack::BigPartsRejected | Attack::BigPartsSame => {
            let roster = if attack == Attack::BigPartsSame {
                &t.honest
            } else {
                &t.attack
            };
            let ws = one(roster, "big").await?;
            tally.connected.fetch_add(1, Relaxed);
            let bad = attack == Attack::BigPartsRejected;
            let edits = alternating(rota::protocol::MAX_OPS_PER_CHANGE_SET, bad);
            tasks.push(looped(ws, edits, &tally, None));
        }
        Attack::BigEdits => {
            let ws = one(&t.attack, "big").await?;
            tally.connected.fetch_add(1, Relaxed);
            tasks.push(looped(ws, alternating(10_000, false), &tally, None));
        }
        Attack::SlowReaders | Attack::SlowReadersBaseline | Attack::NonReaders => {
            let n = match attack {
                Attack::SlowReaders => SLOW_READERS,
                Attack::NonReaders => NON_READERS,
                _ => 0,
            };
            let sockets = connect_many(t, n, &t.honest, None, &tally).await;
            let ws = one(&t.honest, "writer").await?;
            tally.connected.fetch_add(1, Relaxed);
            if attack.measures_delivery() {
                let edits = alternating(20_000, false);
                tasks.push(looped(ws, edits, &tally, Some(acks.clone())));
            } else {
                let edits = alternating(1000, false);
                tasks.push(tokio::spawn(rated(
                    ws,
                    edits,
                    tally.clone(),
                    go.clone(),
                    stop.clone(),
                )));
            }
            let mut stop = stop.clone();
            // Held, never read, until the end.
            tasks.push(tokio::spawn(async move {
                let _ = stop.wait_for(|s| *s).await;
                drop(sockets);
            }));
        }
        Attack::Cursors => {
            for (k, ws) in connect_many(t, CURSORS, &t.honest, Some(Style::Flooder), &tally)
                .await
                .into_iter()
                .enumerate()
            {
                tasks.push(tokio::spawn(cursors(
                    ws,
                    k,
                    tally.clone(),
                    go.clone(),
                    stop.clone(),
                )));
            }
        }
        Attack::PartsBudget => {
            let shapes = Arc::new(budget_shapes());
            let (placed_tx, mut placed_rx) = mpsc::unbounded_channel();
            let socks =
                connect_many(t, PARTS_HOLDERS, &t.attack, Some(Style::Client), &tally).await;
            let n = socks.len();
            for ws in socks {
                let (shapes, placed) = (shapes.clone(), placed_tx.clone());
                let args = (tally.clone(), go.clone(), stop.clone());
                tasks.push(tokio::spawn(hold_parts(ws, shapes, placed, args)));
            }
            tasks.push(tokio::spawn(async move {
                for _ in 0..n {
                    if placed_rx.recv().await.is_none() {
                        break;
                    }
                }
                let _ = ready_tx.send(true);
            }));
        }
        Attack::HistoryFlood => {
            import_history(t).await?;
            for (k, ws) in connect_many(t, HISTORY_FLOODERS, &t.attack, Some(Style::Client), &tally)
                .await
                .into_iter()
                .enumerate()
            {
                tasks.push(tokio::spawn(flood_history(
                    ws,
                    k,
                    tally.clone(),
                    go.clone(),
                    stop.clone(),
                )));
            }
        }
    }
    Ok(Launched { tasks, ready })
}

/// Opens `n` connections on `roster`, `CONNECT_CONCURRENCY` at once:
/// joined (welcome read), or (not `join`) sockets never read that only
/// said hello. Those the hub refuses are counted.
/// Opens `n` connections to `roster`: joined, opened as `join` says; or
/// (None) said hello on and never read.
async fn connect_many(
    t: &Target,
    n: usize,
    roster: &str,
    join: Option<Style>,
    tally: &Tally,
) -> Vec<Ws> {
    let mut out = Vec::with_capacity(n);
    let ids: Vec<usize> = (0..n).collect();
    for batch in ids.chunks(CONNECT_CONCURRENCY) {
        let opens = batch.iter().map(|i| {
            let (t, roster) = (t.clone(), roster.to_string());
            let client = format!("{}-x{i}", t.tag);
            tokio::spawn(async move {
                if let Some(style) = join {
                    return wire::join(&t.url, &t.addr, &client, &roster, style)
                        .await
                        .map(|(ws, _)| ws);
                }
                let mut ws = wire::open(&t.url, &t.addr, Style::NeverRead).await?;
                wire::hello(&mut ws, &client, &roster).await?;
                Ok(ws)
            })
        });
        for r in futures_util::future::join_all(opens).await {
            match r.map_err(|e| format!("connect task: {e}")).and_then(|r| r) {
                Ok(ws) => {
                    tally.connected.fetch_add(1, Relaxed);
                    out.push(ws);
                }
                Err(e) => {
                    tally.refused_connections.fetch_add(1, Relaxed);
                    tally.error(format!("connecting: {e}"));
                }
            }
        }
    }
    out
}

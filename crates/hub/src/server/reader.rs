//! Reads served beside the writer: history pages and roster lists, by a
//! small pool of threads, each with a read-only connection to the store
//! (SQLite's WAL lets them read while the writer commits, and they see only
//! what is committed). The writer only writes: a slow read never holds up
//! anyone's edit. Each connection may have at most [`MAX_READS_WAITING`]
//! reads waiting; past that it is not read from until one is answered. And
//! reads together use at most [`READ_SHARE`] of one core's time: on a small
//! machine a client asking for history as fast as it can would otherwise
//! take a core from the writer and the editors' connections.

use crate::store::{Reader, StoreError};
use rota_core::protocol::{self, HistoryQuery, ServerMsg};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Most reads one connection may have waiting or being served.
pub const MAX_READS_WAITING: usize = 4;
/// Threads (and read connections) in the pool.
const READERS: usize = 2;
/// Reads queued for the pool across all connections.
const QUEUE: usize = 1024;
/// The share of one core's time reads may take, over time.
const READ_SHARE: f64 = 0.1;
/// Reader time that may be spent at once before the share applies: a
/// person's reads (a page at a time) never wait for it.
const READ_BURST: Duration = Duration::from_millis(100);

/// A token bucket of reader time, shared by the pool's threads: it fills
/// at [`READ_SHARE`] of wall time up to [`READ_BURST`]; each read takes what
/// it took.
struct Budget {
    /// Reader time left to spend, in seconds (negative: owed).
    left: f64,
    at: Instant,
}

impl Budget {
    fn new() -> Budget {
        Budget {
            left: READ_BURST.as_secs_f64(),
            at: Instant::now(),
        }
    }

    /// How long to wait before the next read may start.
    fn wait(&mut self) -> Duration {
        let now = Instant::now();
        let filled = now.duration_since(self.at).as_secs_f64() * READ_SHARE;
        self.left = (self.left + filled).min(READ_BURST.as_secs_f64());
        self.at = now;
        if self.left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.left / READ_SHARE)
        }
    }

    /// Charges a read. One that took long is charged at most a second's
    /// share, so that a single expensive read (a list of thousands of
    /// rosters) never stops everyone's reads for long.
    fn spend(&mut self, took: Duration) {
        self.left = (self.left - took.as_secs_f64()).max(-READ_SHARE);
    }
}

/// One read a connection asks for, and where its answer goes.
pub struct Read {
    pub what: ReadWhat,
    /// The request's own id, put on its answer.
    pub req: Option<u64>,
    pub reply: super::inbox::Sender,
}

pub enum ReadWhat {
    History {
        roster: String,
        query: HistoryQuery,
    },
    /// Only the rosters in `visible` (None: all).
    ListRosters {
        visible: Option<std::collections::BTreeSet<String>>,
    },
}

/// Starts the pool's threads on the store at `path`; they stop when every
/// sender of the returned queue is gone.
pub fn start(path: &Path) -> Result<mpsc::Sender<Read>, StoreError> {
    let (tx, rx) = mpsc::channel::<Read>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    let budget = Arc::new(Mutex::new(Budget::new()));
    for i in 0..READERS {
        let reader = Reader::open(path)?;
        let rx = rx.clone();
        let budget = budget.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rota-reader-{i}"))
            .spawn(move || serve(reader, rx, budget));
        if let Err(e) = spawned {
            tracing::error!("starting reader thread {i}: {e}");
        }
    }
    Ok(tx)
}

fn serve(reader: Reader, rx: Arc<Mutex<mpsc::Receiver<Read>>>, budget: Arc<Mutex<Budget>>) {
    loop {
        // One thread waits on the queue at a time; the others wait on the lock.
        let next = match rx.lock() {
            Ok(mut rx) => rx.blocking_recv(),
            Err(_) => None,
        };
        let Some(read) = next else { return };
        if read.reply.is_closed() {
            continue; // its connection closed while it waited: nobody to answer
        }
        // Rate, not synchronisation: past the share, reads wait their turn.
        let wait = budget.lock().map_or(Duration::ZERO, |mut b| b.wait());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let started = Instant::now();
        let msg = answer(&reader, read.what, read.req);
        read.reply.send(protocol::encode(&msg).into());
        if let Ok(mut b) = budget.lock() {
            b.spend(started.elapsed());
        }
    }
}

fn answer(reader: &Reader, what: ReadWhat, req: Option<u64>) -> ServerMsg {
    let answered = match what {
        ReadWhat::History { roster, query } => reader
            .history(&roster, &query)
            .map(|(entries, next)| ServerMsg::History { req, entries, next }),
        ReadWhat::ListRosters { visible } => reader.list_rosters().map(|mut rosters| {
            if let Some(visible) = visible {
                rosters.retain(|r| visible.contains(&r.name));
            }
            ServerMsg::Rosters { req, rosters }
        }),
    };
    answered.unwrap_or_else(|e| storage_error(req, &e))
}

fn storage_error(req: Option<u64>, e: &StoreError) -> ServerMsg {
    ServerMsg::Error {
        code: protocol::codes::STORAGE.into(),
        message: format!("the hub could not read this: {e}"),
        op_id: None,
        req,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_lets_a_burst_through_then_holds_reads_to_the_share() {
        let mut b = Budget::new();
        assert_eq!(b.wait(), Duration::ZERO, "a burst goes through");
        b.spend(READ_BURST / 2);
        assert_eq!(b.wait(), Duration::ZERO);
        b.spend(READ_BURST);
        let wait = b.wait();
        // About half a burst owed, paid back at the share of wall time.
        let owed = READ_BURST.as_secs_f64() / 2.0 / READ_SHARE;
        assert!(
            wait.as_secs_f64() > owed * 0.9 && wait.as_secs_f64() <= owed * 1.01,
            "{wait:?} for {owed} s"
        );
        // A read of a minute is charged a second's share at most.
        b.spend(Duration::from_secs(60));
        assert!(b.wait() <= Duration::from_secs(1));
    }
}

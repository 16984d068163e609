//! Reads served beside the writer: history pages and roster lists, by a
//! small pool of threads, each with a read-only connection to the store
//! (SQLite's WAL lets them read while the writer commits, and they see only
//! what is committed). The writer only writes: a slow read never holds up
//! anyone's edit. Each connection may have at most [`MAX_READS_WAITING`]
//! reads waiting; past that it is not read from until one is answered. The
//! next read served is that of the connection that read least lately, so
//! connections flooding reads wait for each other, not the rest. And reads
//! together use at most [`READ_SHARE`] of one core's time: on a small
//! machine a client asking for history as fast as it can would otherwise
//! take a core from the writer and the editors' connections.

use crate::store::{Reader, StoreError};
use rota_core::protocol::{self, HistoryQuery, ServerMsg};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Most reads one connection may have waiting or being served.
pub const MAX_READS_WAITING: usize = 4;
/// Threads (and read connections) in the pool.
const READERS: usize = 2;
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

/// How fast what a connection read lately is forgotten: a connection that
/// has read nothing for a few seconds is as light as a new one.
const USAGE_HALF_LIFE: f64 = 1.0;

/// The reads waiting, per connection, and how much reader time each
/// connection used lately. The next read served is the waiting one of the
/// connection that used least: a person's occasional read goes before the
/// queue of a connection asking for pages as fast as it can, however long
/// that queue (a FIFO made a `list_rosters` wait behind every flooder's).
#[derive(Default)]
struct Queues {
    waiting: HashMap<u64, VecDeque<Read>>,
    /// Per connection: reader seconds used, decayed to `at`.
    used: HashMap<u64, (f64, Instant)>,
    closed: bool,
}

fn decayed((used, at): (f64, Instant), now: Instant) -> f64 {
    used * 0.5f64.powf(now.saturating_duration_since(at).as_secs_f64() / USAGE_HALF_LIFE)
}

impl Queues {
    fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The next read to serve and its connection: the oldest read of the
    /// connection that used least reader time lately (ties: the older
    /// connection). Reads whose connection is gone are dropped on the way.
    fn pick(&mut self, now: Instant) -> Option<(u64, Read)> {
        loop {
            let session = self
                .waiting
                .keys()
                .map(|s| {
                    let used = self.used.get(s).map_or(0.0, |u| decayed(*u, now));
                    (used, *s)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))?
                .1;
            let queue = self.waiting.get_mut(&session)?;
            let read = queue.pop_front();
            if queue.is_empty() {
                self.waiting.remove(&session);
            }
            match read {
                Some(r) if r.reply.is_closed() => continue, // nobody to answer
                Some(r) => return Some((session, r)),
                None => continue,
            }
        }
    }

    /// Charges `session` the reader time a read took, and forgets the
    /// connections whose use has faded away.
    fn charge(&mut self, session: u64, took: Duration, now: Instant) {
        let before = self.used.get(&session).map_or(0.0, |u| decayed(*u, now));
        self.used
            .insert(session, (before + took.as_secs_f64(), now));
        let waiting = &self.waiting;
        self.used
            .retain(|s, u| waiting.contains_key(s) || decayed(*u, now) > 1e-6);
    }
}

struct Pool {
    queues: Mutex<Queues>,
    ready: Condvar,
}

/// The read pool, as the connections see it: each submits its reads under
/// its session. The pool's threads stop (after the reads waiting) once the
/// last handle is dropped.
pub struct Reads {
    pool: Arc<Pool>,
}

impl Reads {
    /// Queues `read` for connection `session`; false when the pool has
    /// stopped.
    pub fn submit(&self, session: u64, read: Read) -> bool {
        let Ok(mut q) = self.pool.queues.lock() else {
            return false;
        };
        if q.closed {
            return false;
        }
        q.waiting.entry(session).or_default().push_back(read);
        drop(q);
        self.pool.ready.notify_one();
        true
    }
}

impl Drop for Reads {
    fn drop(&mut self) {
        if let Ok(mut q) = self.pool.queues.lock() {
            q.closed = true;
        }
        self.pool.ready.notify_all();
    }
}

/// Starts the pool's threads on the store at `path`; they stop when the
/// returned handle (shared by the connections) is dropped.
pub fn start(path: &Path) -> Result<Arc<Reads>, StoreError> {
    let pool = Arc::new(Pool {
        queues: Mutex::new(Queues::default()),
        ready: Condvar::new(),
    });
    let budget = Arc::new(Mutex::new(Budget::new()));
    for i in 0..READERS {
        let reader = Reader::open(path)?;
        let pool = pool.clone();
        let budget = budget.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rota-reader-{i}"))
            .spawn(move || serve(reader, &pool, &budget));
        if let Err(e) = spawned {
            tracing::error!("starting reader thread {i}: {e}");
        }
    }
    Ok(Arc::new(Reads { pool }))
}

fn serve(reader: Reader, pool: &Pool, budget: &Mutex<Budget>) {
    loop {
        // Something to do (or the end).
        {
            let Ok(mut q) = pool.queues.lock() else {
                return;
            };
            while q.is_empty() {
                if q.closed {
                    return;
                }
                q = match pool.ready.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
        }
        // Rate, not synchronisation: past the share, reads wait their turn.
        // The read is chosen after the wait, so one asked for meanwhile by
        // a connection that read little goes first.
        let wait = budget.lock().map_or(Duration::ZERO, |mut b| b.wait());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let picked = match pool.queues.lock() {
            Ok(mut q) => q.pick(Instant::now()),
            Err(_) => return,
        };
        let Some((session, read)) = picked else {
            continue; // the other thread took it
        };
        let started = Instant::now();
        let msg = answer(&reader, read.what, read.req);
        read.reply.send(protocol::encode(&msg).into());
        let took = started.elapsed();
        if let Ok(mut b) = budget.lock() {
            b.spend(took);
        }
        if let Ok(mut q) = pool.queues.lock() {
            q.charge(session, took, Instant::now());
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

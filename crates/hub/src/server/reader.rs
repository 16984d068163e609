//! Reads served beside the writer: history pages and roster lists, by a
//! small pool of threads, each with a read-only connection to the store
//! (SQLite's WAL lets them read while the writer commits, and they see only
//! what is committed). The writer only writes: a slow read never holds up
//! anyone's edit. Each connection may have at most [`MAX_READS_WAITING`]
//! reads waiting; past that it is not read from until one is answered.
//!
//! Fair, and bounded: the next read served is that of the connection that
//! used least reader time lately. A connection that used little (a person
//! paging history) is *light* and its reads go at once, within a generous
//! share of one core for all light reads together; a *heavy* one (asking as
//! fast as it can) is held to [`HEAVY_SHARE`] of one core with the other
//! heavy ones. So twenty connections flooding reads wait for each other,
//! never the rest, and on a small machine they cannot take a core from the
//! writer and the editors' connections.

use crate::store::{Reader, StoreError};
use rota_core::protocol::{self, HistoryQuery, ServerMsg};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Most reads one connection may have waiting or being served.
pub const MAX_READS_WAITING: usize = 4;
/// Threads (and read connections) in the pool.
const READERS: usize = 2;
/// The share of one core's time heavy connections' reads may take, together.
const HEAVY_SHARE: f64 = 0.1;
/// The share light connections' reads may take, together: only ever
/// reached by very many connections each reading a little.
const LIGHT_SHARE: f64 = 0.2;
/// Reader time a class may spend at once before its share applies.
const BURST: Duration = Duration::from_millis(100);
/// A connection whose recent reader time (halving each second) is under
/// this is light: about 35 ms of reading every second, kept up.
const LIGHT_USAGE: f64 = 0.05;

/// A token bucket of reader time for one class of connections: it fills at
/// `share` of wall time up to [`BURST`]; each read takes what it took.
#[derive(Clone, Copy)]
struct Bucket {
    share: f64,
    /// Reader time left to spend, in seconds (negative: owed).
    left: f64,
    at: Instant,
}

impl Bucket {
    fn new(share: f64, now: Instant) -> Bucket {
        Bucket {
            share,
            left: BURST.as_secs_f64(),
            at: now,
        }
    }

    /// How long to wait at `now` before the next read of this class.
    fn wait(&mut self, now: Instant) -> Duration {
        let filled = now.saturating_duration_since(self.at).as_secs_f64() * self.share;
        self.left = (self.left + filled).min(BURST.as_secs_f64());
        self.at = now;
        if self.left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.left / self.share)
        }
    }

    /// Charges a read. One that took long is charged at most a second's
    /// share, so that a single expensive read (a list of thousands of
    /// rosters) never stops a class's reads for long.
    fn spend(&mut self, took: Duration) {
        self.left = (self.left - took.as_secs_f64()).max(-self.share);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    Light,
    Heavy,
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
        /// The store file (shard) that holds the roster.
        shard: usize,
        query: HistoryQuery,
        /// What the asking connection is shown.
        view: rota_core::domain::View,
    },
    /// Only the rosters in `visible` (None: all).
    ListRosters {
        visible: Option<std::collections::BTreeSet<String>>,
    },
}

/// How fast what a connection read lately is forgotten: a connection that
/// has read nothing for a few seconds is as light as a new one.
const USAGE_HALF_LIFE: f64 = 1.0;

/// The reads waiting, per connection, how much reader time each connection
/// used lately, and each class's bucket: everything the pool's threads
/// decide on, under one lock.
struct Queues {
    waiting: HashMap<u64, VecDeque<Read>>,
    /// Per connection: reader seconds used, decayed to `at`.
    used: HashMap<u64, (f64, Instant)>,
    light: Bucket,
    heavy: Bucket,
    closed: bool,
}

/// What a pool thread does next.
enum Next {
    /// Serve this read of this connection, of this class.
    Serve(u64, Read, Class),
    /// Wait this long (or until a read is submitted): the lightest
    /// connection's class is past its share.
    Wait(Duration),
    /// Nothing waits.
    Idle,
}

fn decayed((used, at): (f64, Instant), now: Instant) -> f64 {
    used * 0.5f64.powf(now.saturating_duration_since(at).as_secs_f64() / USAGE_HALF_LIFE)
}

impl Queues {
    fn new(now: Instant) -> Queues {
        Queues {
            waiting: HashMap::new(),
            used: HashMap::new(),
            light: Bucket::new(LIGHT_SHARE, now),
            heavy: Bucket::new(HEAVY_SHARE, now),
            closed: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    fn usage(&self, session: u64, now: Instant) -> f64 {
        self.used.get(&session).map_or(0.0, |u| decayed(*u, now))
    }

    /// The next thing to do at `now`: the oldest read of the connection
    /// that used least reader time lately (ties: the older connection),
    /// when its class's share allows; reads whose connection is gone are
    /// dropped on the way.
    fn next(&mut self, now: Instant) -> Next {
        loop {
            let Some((used, session)) = self
                .waiting
                .keys()
                .map(|s| (self.usage(*s, now), *s))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            else {
                return Next::Idle;
            };
            let Some(queue) = self.waiting.get_mut(&session) else {
                return Next::Idle;
            };
            if queue.front().is_some_and(|r| r.reply.is_closed()) {
                queue.pop_front(); // nobody to answer
                if queue.is_empty() {
                    self.waiting.remove(&session);
                }
                continue;
            }
            let class = if used < LIGHT_USAGE {
                Class::Light
            } else {
                Class::Heavy
            };
            let wait = match class {
                Class::Light => self.light.wait(now),
                Class::Heavy => self.heavy.wait(now),
            };
            if !wait.is_zero() {
                return Next::Wait(wait);
            }
            let read = queue.pop_front();
            if queue.is_empty() {
                self.waiting.remove(&session);
            }
            match read {
                Some(r) => return Next::Serve(session, r, class),
                None => continue,
            }
        }
    }

    /// Charges `session` and its class the reader time a read took, and
    /// forgets the connections whose use has faded away.
    fn charge(&mut self, session: u64, class: Class, took: Duration, now: Instant) {
        match class {
            Class::Light => self.light.spend(took),
            Class::Heavy => self.heavy.spend(took),
        }
        let before = self.usage(session, now);
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
pub fn start(paths: &[std::path::PathBuf]) -> Result<Arc<Reads>, StoreError> {
    let pool = Arc::new(Pool {
        queues: Mutex::new(Queues::new(Instant::now())),
        ready: Condvar::new(),
    });
    for i in 0..READERS {
        let readers = paths
            .iter()
            .map(|p| Reader::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        let pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rota-reader-{i}"))
            .spawn(move || serve(&readers, &pool));
        if let Err(e) = spawned {
            tracing::error!("starting reader thread {i}: {e}");
        }
    }
    Ok(Arc::new(Reads { pool }))
}

fn serve(readers: &[Reader], pool: &Pool) {
    loop {
        let (session, read, class) = {
            let Ok(mut q) = pool.queues.lock() else {
                return;
            };
            loop {
                if q.closed && q.is_empty() {
                    return;
                }
                // A wait is for a share to fill, or for a lighter read to
                // come: a condition variable's timeout, not a sleep.
                q = match q.next(Instant::now()) {
                    Next::Serve(session, read, class) => break (session, read, class),
                    Next::Wait(d) => match pool.ready.wait_timeout(q, d) {
                        Ok((q, _)) => q,
                        Err(_) => return,
                    },
                    Next::Idle => match pool.ready.wait(q) {
                        Ok(q) => q,
                        Err(_) => return,
                    },
                };
            }
        };
        let started = Instant::now();
        let msg = answer(readers, read.what, read.req);
        read.reply.send(protocol::encode(&msg).into());
        let took = started.elapsed();
        if let Ok(mut q) = pool.queues.lock() {
            q.charge(session, class, took, Instant::now());
        }
    }
}

fn answer(readers: &[Reader], what: ReadWhat, req: Option<u64>) -> ServerMsg {
    let answered = match what {
        ReadWhat::History {
            roster,
            shard,
            query,
            view,
        } => match readers.get(shard) {
            Some(reader) => reader
                .history(&roster, &query, view)
                .map(|(entries, next)| ServerMsg::History { req, entries, next }),
            // A roster given a shard this pool has no file of is not stored
            // yet: it has no history.
            None => Ok(ServerMsg::History {
                req,
                entries: Vec::new(),
                next: None,
            }),
        },
        ReadWhat::ListRosters { visible } => {
            let mut rosters = Vec::new();
            let mut failed = None;
            for reader in readers {
                match reader.list_rosters() {
                    Ok(r) => rosters.extend(r),
                    Err(e) => failed = Some(e),
                }
            }
            match failed {
                Some(e) => Err(e),
                None => {
                    rosters.sort_by(|a, b| a.name.cmp(&b.name));
                    if let Some(visible) = visible {
                        rosters.retain(|r| visible.contains(&r.name));
                    }
                    Ok(ServerMsg::Rosters { req, rosters })
                }
            }
        }
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
        let t0 = Instant::now();
        let mut b = Bucket::new(HEAVY_SHARE, t0);
        assert_eq!(b.wait(t0), Duration::ZERO, "a burst goes through");
        b.spend(BURST / 2);
        assert_eq!(b.wait(t0), Duration::ZERO);
        b.spend(BURST);
        let wait = b.wait(t0);
        // Half a burst owed, paid back at the share of wall time.
        let owed = BURST.as_secs_f64() / 2.0 / HEAVY_SHARE;
        assert!(
            (wait.as_secs_f64() - owed).abs() < 1e-6,
            "{wait:?} for {owed} s"
        );
        assert_eq!(b.wait(t0 + wait), Duration::ZERO, "paid back by then");
        // A read of a minute is charged a second's share at most.
        b.spend(Duration::from_secs(60));
        assert!(b.wait(t0 + wait) <= Duration::from_secs(1));
    }

    fn read() -> (Read, inbox_keep::Keep) {
        let (edits, reads, rx) = super::super::inbox::inbox();
        let read = Read {
            what: ReadWhat::ListRosters { visible: None },
            req: None,
            reply: reads,
        };
        (read, inbox_keep::Keep(edits, rx))
    }

    /// Keeps an inbox open (a reply to a dropped inbox is skipped).
    mod inbox_keep {
        pub struct Keep(
            #[allow(dead_code)] pub super::super::super::inbox::Sender,
            #[allow(dead_code)] pub super::super::super::inbox::Receiver,
        );
    }

    /// Connections that read as fast as they may are heavy and wait for
    /// their share; a connection that read little goes first, and its read
    /// does not wait for the heavy ones' share.
    #[test]
    fn a_light_connection_is_served_at_once_while_heavy_ones_wait_their_share() {
        let t0 = Instant::now();
        let mut q = Queues::new(t0);
        let mut keep = Vec::new();
        for heavy in 1..=3u64 {
            for _ in 0..4 {
                let (r, k) = read();
                q.waiting.entry(heavy).or_default().push_back(r);
                keep.push(k);
            }
            // Each has read for 200 ms lately: heavy.
            q.charge(heavy, Class::Heavy, Duration::from_millis(200), t0);
        }
        match q.next(t0) {
            Next::Wait(d) => assert!(d > Duration::ZERO),
            _ => panic!("heavy connections past their share must wait"),
        }
        let (r, k) = read();
        q.waiting.entry(9).or_default().push_back(r);
        keep.push(k);
        match q.next(t0) {
            Next::Serve(9, _, Class::Light) => {}
            Next::Serve(s, _, c) => panic!("served {s} ({c:?}) first"),
            _ => panic!("the light read waited"),
        }
        // Once the heavy share has filled again (a second later: they were
        // charged 600 ms, a second's share at most), they go on, still heavy.
        match q.next(t0 + Duration::from_secs(1)) {
            Next::Serve(s, _, Class::Heavy) => assert!((1..=3).contains(&s)),
            _ => panic!("the heavy reads go on in time"),
        }
    }
}

//! Reads served beside the writer: history pages and roster lists, by a
//! small pool of threads, each with a read-only connection to the store
//! (SQLite's WAL lets them read while the writer commits, and they see only
//! what is committed). The writer only writes: a slow read never holds up
//! anyone's edit. Each connection may have at most [`MAX_READS_WAITING`]
//! reads waiting; past that it is not read from until one is answered.
//!
//! Fair, and bounded. Fair: reads are served by start-time fair queueing
//! over connections, in reader *CPU* time: each connection has a tag, the
//! reader time it was given; the next read served is that of the waiting
//! connection with the lowest tag, and a connection that was idle comes
//! back at the current virtual time (the tag of the last read started), so
//! it saved up no credit. One that comes back no further ahead of that
//! clock than [`AHEAD`] (it asks for no more than its fair share: a person
//! paging history) has its next reads served before the backlog of those
//! reading as fast as they may, from a budget of its own: it waits for at
//! most the reads already being served, however many connections flood.
//! Bounded: the backlog's reads take at most [`BACKLOG_SHARE`] of one core
//! past a burst, and the others' at most [`FIRST_SHARE`], so on a small
//! machine reads cannot take a core from the writer and the editors'
//! connections.
//!
//! (The first version ordered by each connection's decayed *wall* time
//! against a fixed threshold, with one budget per class. Under issue 25's
//! history flood a person's history page waited p99 200 ms to 1 s behind
//! twenty flooders, and this one 8 to 10 ms; docs/performance.md.)

use super::cpu;
use crate::store::{Place, Reader, StoreError};
use rota_core::protocol::{self, HistoryQuery, ServerMsg};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Most reads one connection may have waiting or being served.
pub const MAX_READS_WAITING: usize = 4;
/// Threads (and read connections) in the pool.
const READERS: usize = 2;
/// The share of one core's time the reads of connections reading as fast
/// as they may take together.
const BACKLOG_SHARE: f64 = 0.1;
/// The share the reads of connections asking within their fair share take
/// together (only ever reached by very many connections each reading a
/// little): these do not wait for the backlog's budget.
const FIRST_SHARE: f64 = 0.1;
/// Reader time reads may spend at once before the share applies.
const BURST: Duration = Duration::from_millis(100);
/// What a connection's first read is guessed to cost, until one was timed.
const FIRST_GUESS: f64 = 0.001;
/// How far ahead of the virtual clock (in reader seconds) a connection
/// coming back from idle may be and still go first: the clock moves only
/// as reads start, so one asking well within its share can be briefly
/// ahead of it; one asking for more drifts ever further ahead.
const AHEAD: f64 = 0.010;
/// Idle connections remembered (as ahead of the clock) at most: past this,
/// all idle ones are forgotten, so connections that read once and left
/// cannot pile up.
const MAX_IDLE_REMEMBERED: usize = 4_096;

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
        /// The store that holds the roster (see `Placement::store_of`).
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

/// One connection's place in the fair queue.
#[derive(Default)]
struct Flow {
    waiting: VecDeque<Read>,
    /// Reads taken from `waiting` and not yet charged.
    serving: usize,
    /// Reader seconds given to this connection, on the virtual clock:
    /// charged in advance with `guess` when a read starts, corrected when
    /// it ends (so that two pool threads do not both pick it).
    tag: f64,
    /// What its last read cost.
    guess: f64,
    /// Reads it may still have served before the backlogged connections:
    /// a connection that comes back from idle no further ahead than the
    /// virtual clock (it asked for no more than its fair share) gets its
    /// next few reads first.
    first: usize,
}

impl Flow {
    fn idle(&self) -> bool {
        self.waiting.is_empty() && self.serving == 0
    }
}

/// The connections with reads waiting or being served (and those idle
/// whose tag is still ahead of the virtual clock), the virtual clock, and
/// the budget: everything the pool's threads decide on, under one lock.
struct Queues {
    flows: HashMap<u64, Flow>,
    /// The tag of the last read started: where an idle connection re-enters.
    vtime: f64,
    first: Bucket,
    backlog: Bucket,
    closed: bool,
}

/// Which budget a read is charged to.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    /// A read of a connection that came back within its share.
    First,
    /// Any other: the connections reading as fast as they may.
    Backlog,
}

/// What a pool thread does next.
enum Next {
    /// Serve this read of this connection, charged to this class; its
    /// tag was advanced by the last figure, to be corrected when it ends.
    Serve(u64, Read, Class, f64),
    /// Wait this long (or until a read is submitted): reads are past their
    /// share.
    Wait(Duration),
    /// Nothing waits.
    Idle,
}

impl Queues {
    fn new(now: Instant) -> Queues {
        Queues {
            flows: HashMap::new(),
            vtime: 0.0,
            first: Bucket::new(FIRST_SHARE, now),
            backlog: Bucket::new(BACKLOG_SHARE, now),
            closed: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.flows.values().all(|f| f.waiting.is_empty())
    }

    /// Queues a read of `session`; one that was idle re-enters at the
    /// virtual clock, keeping no credit from having read nothing.
    fn push(&mut self, session: u64, read: Read) {
        let vtime = self.vtime;
        let flow = self.flows.entry(session).or_insert_with(|| Flow {
            guess: FIRST_GUESS,
            ..Flow::default()
        });
        if flow.idle() {
            flow.first = if flow.tag <= vtime + AHEAD {
                MAX_READS_WAITING
            } else {
                0
            };
            flow.tag = flow.tag.max(vtime);
        }
        flow.waiting.push_back(read);
    }

    /// The waiting connection with the lowest tag (ties: the older
    /// connection), among those that came back within their share
    /// (`first`) or among all.
    fn lowest(&self, first: bool) -> Option<u64> {
        self.flows
            .iter()
            .filter(|(_, f)| !f.waiting.is_empty() && (!first || f.first > 0))
            .map(|(s, f)| (f.tag, *s))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, s)| s)
    }

    /// Drops `session`'s next read if nobody is left to answer; true if
    /// it did.
    fn drop_unanswerable(&mut self, session: u64) -> bool {
        let Some(flow) = self.flows.get_mut(&session) else {
            return false;
        };
        if !flow.waiting.front().is_some_and(|r| r.reply.is_closed()) {
            return false;
        }
        flow.waiting.pop_front();
        if flow.idle() {
            self.flows.remove(&session);
        }
        true
    }

    /// The next thing to do at `now`: the oldest read of the connection
    /// with the lowest tag among those that came back within their share,
    /// while their budget allows, or else among all, while the backlog's
    /// budget allows; reads whose connection is gone are dropped on the
    /// way.
    fn next(&mut self, now: Instant) -> Next {
        loop {
            let mut wait = None;
            if let Some(session) = self.lowest(true) {
                if self.drop_unanswerable(session) {
                    continue;
                }
                match self.first.wait(now) {
                    d if d.is_zero() => return self.start(session, Class::First),
                    d => wait = Some(d),
                }
            }
            let Some(session) = self.lowest(false) else {
                return Next::Idle;
            };
            if self.drop_unanswerable(session) {
                continue;
            }
            return match self.backlog.wait(now) {
                d if d.is_zero() => self.start(session, Class::Backlog),
                d => Next::Wait(wait.map_or(d, |w| w.min(d))),
            };
        }
    }

    /// Takes `session`'s next read to serve, charged to `class`.
    fn start(&mut self, session: u64, class: Class) -> Next {
        let Some(flow) = self.flows.get_mut(&session) else {
            return Next::Idle;
        };
        let Some(read) = flow.waiting.pop_front() else {
            return Next::Idle;
        };
        self.vtime = self.vtime.max(flow.tag);
        flow.tag += flow.guess;
        flow.first = flow.first.saturating_sub(1);
        flow.serving += 1;
        Next::Serve(session, read, class, flow.guess)
    }

    /// Charges `session` and its class's budget the reader time a read
    /// took (its tag was advanced by `advanced` when it started), and
    /// forgets idle connections that would come back as new ones anyway.
    fn charge(&mut self, session: u64, class: Class, took: Duration, advanced: f64) {
        match class {
            Class::First => self.first.spend(took),
            Class::Backlog => self.backlog.spend(took),
        }
        let took = took.as_secs_f64();
        if let Some(flow) = self.flows.get_mut(&session) {
            flow.tag += took - advanced;
            flow.guess = took;
            flow.serving = flow.serving.saturating_sub(1);
        }
        let vtime = self.vtime;
        self.flows.retain(|_, f| !f.idle() || f.tag > vtime + AHEAD);
        if self.flows.len() > MAX_IDLE_REMEMBERED {
            self.flows.retain(|_, f| !f.idle());
        }
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
        q.push(session, read);
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
pub fn start(places: &[Place]) -> Result<Arc<Reads>, StoreError> {
    let pool = Arc::new(Pool {
        queues: Mutex::new(Queues::new(Instant::now())),
        ready: Condvar::new(),
    });
    for i in 0..READERS {
        let readers = places
            .iter()
            .map(Reader::open)
            .collect::<Result<Vec<_>, _>>()?;
        let pool = pool.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("rota-reader-{i}"))
            .spawn(move || serve(readers, &pool));
        if let Err(e) = spawned {
            tracing::error!("starting reader thread {i}: {e}");
        }
    }
    Ok(Arc::new(Reads { pool }))
}

fn serve(mut readers: Vec<Reader>, pool: &Pool) {
    loop {
        let (session, read, class, advanced) = {
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
                    Next::Serve(session, read, class, advanced) => {
                        break (session, read, class, advanced);
                    }
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
        let started = cpu::now();
        let msg = answer(&mut readers, read.what, read.req);
        read.reply.send(protocol::encode(&msg).into());
        let took = cpu::since(started);
        if let Ok(mut q) = pool.queues.lock() {
            q.charge(session, class, took, advanced);
        }
    }
}

fn answer(readers: &mut [Reader], what: ReadWhat, req: Option<u64>) -> ServerMsg {
    let answered = match what {
        ReadWhat::History {
            roster,
            shard,
            query,
            view,
        } => match readers.get_mut(shard) {
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
            for reader in readers.iter_mut() {
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
    answered.unwrap_or_else(|e| {
        tracing::error!("a read failed: {e}");
        storage_error(req, &e)
    })
}

fn storage_error(req: Option<u64>, e: &StoreError) -> ServerMsg {
    ServerMsg::Error {
        code: protocol::codes::STORAGE.into(),
        message: format!("the hub could not read this: {}", e.for_editors()),
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
        let mut b = Bucket::new(BACKLOG_SHARE, t0);
        assert_eq!(b.wait(t0), Duration::ZERO, "a burst goes through");
        b.spend(BURST / 2);
        assert_eq!(b.wait(t0), Duration::ZERO);
        b.spend(BURST);
        let wait = b.wait(t0);
        // Half a burst owed, paid back at the share of wall time.
        let owed = BURST.as_secs_f64() / 2.0 / BACKLOG_SHARE;
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

    /// One pool thread serving `flooders` connections that always keep
    /// four reads waiting (each costing `flood`), and one connection asking
    /// for a read costing `own` every `every` once they are past their
    /// first reads (which, new connections, go first): how long each of
    /// its reads took from asked to answered, on a simulated clock.
    fn honest_waits(
        flooders: u64,
        flood: Duration,
        own: Duration,
        every: Duration,
    ) -> Vec<Duration> {
        const HONEST: u64 = 1_000;
        let t0 = Instant::now();
        let mut q = Queues::new(t0);
        let mut keep = Vec::new();
        for f in 1..=flooders {
            for _ in 0..MAX_READS_WAITING {
                let (r, k) = read();
                q.push(f, r);
                keep.push(k);
            }
        }
        let started = flood.mul_f64((flooders as usize * MAX_READS_WAITING) as f64 / FIRST_SHARE);
        let (mut now, mut asked) = (t0, t0 + started + Duration::from_secs(1));
        let end = asked + Duration::from_secs(20);
        let mut waiting = None;
        let mut waits = Vec::new();
        while now < end {
            if waiting.is_none() && now >= asked {
                let (r, k) = read();
                q.push(HONEST, r);
                keep.push(k);
                waiting = Some(asked);
            }
            match q.next(now) {
                Next::Serve(s, _, class, advanced) => {
                    let took = if s == HONEST { own } else { flood };
                    now += took;
                    q.charge(s, class, took, advanced);
                    if s == HONEST {
                        waits.extend(waiting.take().map(|at| now - at));
                        // Paced like a person: never asking before the
                        // last answer came.
                        asked = (asked + every).max(now);
                    } else {
                        let (r, k) = read();
                        q.push(s, r);
                        keep.push(k);
                    }
                }
                // Woken early when the person asks meanwhile.
                Next::Wait(d) => match asked.checked_duration_since(now) {
                    Some(until) if waiting.is_none() && !until.is_zero() => now += d.min(until),
                    _ => now += d,
                },
                Next::Idle => now = now.max(asked),
            }
        }
        waits
    }

    /// Issue 25's history flood: twenty connections flooding reads, one
    /// person paging history, a page every 100 ms. The person is served
    /// next each time, after at most the flooder's read in service.
    #[test]
    fn a_connection_asking_less_than_its_share_is_next_however_many_flood() {
        let flood = Duration::from_millis(6);
        let own = Duration::from_micros(700);
        let waits = honest_waits(20, flood, own, Duration::from_millis(100));
        assert!(waits.len() > 150, "{} reads answered", waits.len());
        let bound = flood + own;
        let worst = waits.iter().max().copied().unwrap_or_default();
        assert!(worst <= bound, "waited {worst:?}, bound {bound:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Whatever the number of flooders and the costs, a connection
        /// asking for less than half its fair share of the budget never
        /// waits longer than one flooder's read and the budget's wait for
        /// it.
        #[test]
        fn fair_queueing_bounds_a_modest_readers_wait(
            flooders in 1u64..40,
            flood_us in 500u64..20_000,
            own_us in 50u64..1_000,
        ) {
            let (flood, own) = (Duration::from_micros(flood_us), Duration::from_micros(own_us));
            // Half the fair share: own / every = BACKLOG_SHARE / (n + 1) / 2.
            let every = own
                .mul_f64(2.0 * (flooders + 1) as f64 / BACKLOG_SHARE)
                .max(Duration::from_millis(20));
            let waits = honest_waits(flooders, flood, own, every);
            proptest::prop_assert!(!waits.is_empty());
            // (Plus rounding: the simulated clock steps in whole ns.)
            let bound = (flood + own).mul_f64(1.0001);
            let worst = waits.iter().max().copied().unwrap_or_default();
            proptest::prop_assert!(worst <= bound, "waited {:?}, bound {:?}", worst, bound);
        }
    }

    /// Connections that each read once and leave are not remembered:
    /// a hub running for months keeps no entry per connection it served.
    #[test]
    fn connections_that_read_once_are_not_kept() {
        let t0 = Instant::now();
        let mut q = Queues::new(t0);
        let mut now = t0;
        for session in 0..(MAX_IDLE_REMEMBERED as u64 + 1_000) {
            let (r, _gone) = read();
            q.push(session, r);
            // Reads dearer than AHEAD stay ahead of the clock when idle.
            let took = Duration::from_millis(20);
            loop {
                match q.next(now) {
                    Next::Serve(s, _, class, advanced) => {
                        q.charge(s, class, took, advanced);
                        break;
                    }
                    Next::Wait(d) => now += d,
                    Next::Idle => panic!("a read waits"),
                }
            }
        }
        assert!(
            q.flows.len() <= MAX_IDLE_REMEMBERED,
            "{} kept",
            q.flows.len()
        );
    }

    /// Connections that all read as fast as they may share reader time
    /// equally, whatever their reads cost.
    #[test]
    fn backlogged_connections_get_equal_reader_time() {
        let t0 = Instant::now();
        let mut q = Queues::new(t0);
        let mut keep = Vec::new();
        let cost = |s: u64| Duration::from_millis(if s == 1 { 1 } else { 10 });
        for s in 1..=2u64 {
            for _ in 0..MAX_READS_WAITING {
                let (r, k) = read();
                q.push(s, r);
                keep.push(k);
            }
        }
        let mut now = t0;
        let mut given = [Duration::ZERO; 3];
        while now < t0 + Duration::from_secs(30) {
            match q.next(now) {
                Next::Serve(s, _, class, advanced) => {
                    now += cost(s);
                    q.charge(s, class, cost(s), advanced);
                    given[s as usize] += cost(s);
                    let (r, k) = read();
                    q.push(s, r);
                    keep.push(k);
                }
                Next::Wait(d) => now += d,
                Next::Idle => panic!("reads are waiting"),
            }
        }
        let (a, b) = (given[1].as_secs_f64(), given[2].as_secs_f64());
        assert!((a - b).abs() <= 0.010 + 1e-9, "{a} s against {b} s");
        // Together they were held to the share (past their first reads and
        // both budgets' bursts).
        assert!(a + b <= 30.0 * BACKLOG_SHARE + 2.0 * BURST.as_secs_f64() + 0.1);
    }
}

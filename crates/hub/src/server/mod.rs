//! The hub: `run(listener, config, shutdown)` serves WebSocket editors and
//! the HTTP status endpoints on one port until `shutdown` resolves, then
//! stops accepting, lets the writer commit what is in flight, and closes every
//! editor with a normal close frame.
//!
//! Parts: `http` (the port's front door), `conn` (one task per editor),
//! `writer` (the one thread that writes the store), `reader` (a few threads
//! that serve history and roster lists beside it), `budget` (edits arriving
//! in parts, shared fairly), `metrics`, `lock` (one hub per data dir). Backpressure is explicit everywhere: a semaphore caps
//! connections, the writer's queue is bounded, each editor has at most
//! [`rota_core::protocol::MAX_IN_FLIGHT`] unanswered requests, and each roster's
//! broadcast ring is bounded.

pub mod auth;
mod background;
mod budget;
mod calendar;
mod conn;
mod cpu;
mod http;
mod inbox;
mod listen;
pub use rota_db::lock;
mod metrics;
mod presence;
mod reader;
mod ring;
#[cfg(test)]
mod sim;
mod stream;
mod writer;
pub mod writers;

pub use lock::{DataDirLock, LockInfo};
pub use metrics::Metrics;

use rota_core::domain::{Seq, View};

/// A roster's snapshot as encoded at a seq, shared by its joiners.
type SharedSnapshot = (Seq, Arc<str>);
use rota_core::protocol::PresenceInfo;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

/// File name of the hub's database inside the data dir.
pub const STORE_FILE: &str = "hub.sqlite3";

/// Large frames parsed at once (see `Shared::parsing`).
const PARSERS: usize = 2;

/// The send buffer asked of the kernel for each client's socket (it keeps
/// twice that for its bookkeeping): what a client that does not read can
/// make the hub hold in the kernel, beyond the frames of one write. 256 KiB
/// still moves 5 MB/s to a client 100 ms away.
const SEND_BUFFER: usize = 256 * 1024;

#[derive(Clone, Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Most editor and HTTP connections open at once; more get HTTP 503.
    pub max_connections: usize,
    /// Most connections open at once from one client address; more get
    /// HTTP 429. 0: no limit.
    pub max_per_address: usize,
    /// Whether loopback addresses are spared `max_per_address`: a proxy or
    /// `rota-load` on the hub's machine speaks for many clients.
    pub spare_loopback: bool,
    /// Whether `/health` tells a loopback client (a monitor on the hub's
    /// machine) each roster's seq without an owner's token. Beyond
    /// loopback, on a hub with accounts, it needs an owner's token.
    pub health_detail_loopback: bool,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
    /// A WebSocket that has not said hello this long after its upgrade is
    /// closed (4011): it holds a connection slot while it waits.
    pub hello_timeout: Duration,
    /// How often the hub pings each editor.
    pub ping_interval: Duration,
    /// A write to an editor taking longer than this closes it.
    pub write_timeout: Duration,
    /// Broadcast ring per roster: how far an editor may fall behind before it
    /// is closed and must resync.
    pub outbound_queue: usize,
    /// Most edit batches in one group commit.
    pub max_group: usize,
    /// Store files (shards) and writer threads: rosters in different ones
    /// commit in parallel. A data dir that has more keeps them all.
    pub writers: usize,
    /// Most edits one connection may begin a second; past it an edit is
    /// refused with `rate_limited` (nothing applied).
    pub max_edits_per_sec: u32,
    /// Most bytes of one edit sent in parts, its parts together.
    pub max_edit_bytes: usize,
    /// Most bytes of edits arriving in parts the hub holds for all its
    /// connections together; past it, a new part is refused (`busy`).
    pub max_assembly_bytes: usize,
    /// A roster nobody has listened to for this long is let go from memory
    /// (at the next join, or the next sweep: every half of this, at most
    /// 30 s); it loads again from the store when used.
    pub roster_idle: Duration,
    /// Serve wss:// with this TLS config (None: plain ws://).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Cap on the store's size; writes past it are refused with
    /// `storage_failed` as on a full disk. None: no cap.
    pub max_db_bytes: Option<u64>,
    /// Keep rosters in this PostgreSQL database (`postgres://…`) rather
    /// than in SQLite files in the data dir.
    pub database: Option<String>,
}

impl Config {
    pub fn new(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            max_connections: 20_000,
            max_per_address: 500,
            spare_loopback: true,
            health_detail_loopback: true,
            idle_timeout: Duration::from_secs(60),
            hello_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            write_timeout: Duration::from_secs(10),
            outbound_queue: 4096,
            max_group: 1024,
            writers: 4,
            roster_idle: Duration::from_secs(60),
            max_assembly_bytes: 256 << 20,
            max_edits_per_sec: 5000,
            max_edit_bytes: rota_core::protocol::MAX_EDIT_BYTES,
            max_db_bytes: None,
            database: None,
            tls: None,
        }
    }
}

/// Most bytes of events a roster's broadcast ring holds for its slowest
/// editor; past it (or `Config::outbound_queue` events) that editor lags
/// and is closed to resync.
pub const RING_BYTES: usize = 16 << 20;

/// What a roster's broadcast ring carries.
#[derive(Clone)]
pub enum Event {
    /// What one group commit made on the roster.
    Committed(Arc<writer::CommittedGroup>),
    /// Presence and departures of editors, gathered for a tick (not stored).
    Presence(Arc<presence::PresenceGroup>),
}

impl ring::Weigh for Event {
    fn bytes(&self) -> usize {
        // The frames, and a little for what holds them.
        64 + match self {
            Event::Committed(group) => group.bytes(),
            Event::Presence(group) => group.bytes(),
        }
    }
}

/// State shared by the connections, the HTTP endpoints and the writer.
pub struct Shared {
    pub metrics: Metrics,
    started: Instant,
    /// Each roster's last committed seq (kept by the writer, read by /health).
    seqs: Mutex<BTreeMap<String, Seq>>,
    /// Who is on each roster now; in memory only.
    presence: Mutex<HashMap<String, BTreeMap<u64, PresenceInfo>>>,
    /// Presence on its way out, gathered per roster for a tick.
    gathered: presence::Gatherer,
    /// Large frames parsed on the blocking pool at once: each parse
    /// briefly takes three to four times its frame in memory, and a client
    /// sending many must not make that many times more.
    pub parsing: Semaphore,
    sessions: AtomicU64,
    /// Each roster's latest snapshot as sent (JSON) and the seq it is at:
    /// editors joining a roster at the same version share one encoding, and
    /// the writer does not build it again. One per roster.
    snapshots: Mutex<HashMap<(String, View), SharedSnapshot>>,
    /// Who may do what: the accounts, kept current.
    pub gate: Arc<auth::Gate>,
    /// Connections open from each client address (those counted).
    per_address: Mutex<HashMap<std::net::IpAddr, usize>>,
    /// What edits arriving in parts hold, shared fairly.
    pub parts: budget::PartsBudget,
    /// Where the calendar feed reads rosters (set once the stores are open).
    feeds: std::sync::OnceLock<calendar::Feeds>,
    /// Why the hub's database cannot be reached, while it cannot (None:
    /// it can, or the hub keeps SQLite files). Set by whoever finds out
    /// (a failed commit, the listener's lost connection), cleared by a
    /// commit or a connection made again.
    database_down: Mutex<Option<String>>,
}

/// One connection counted against its address's limit, given back when
/// dropped.
struct PerAddress {
    shared: Arc<Shared>,
    ip: std::net::IpAddr,
}

impl PerAddress {
    /// Counts a connection from `ip`; None when its address is at the limit.
    /// Some(None) when the address is not counted.
    fn take(
        shared: &Arc<Shared>,
        config: &Config,
        ip: std::net::IpAddr,
    ) -> Option<Option<PerAddress>> {
        if config.max_per_address == 0 || (config.spare_loopback && ip.is_loopback()) {
            return Some(None);
        }
        let mut map = shared.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_default();
        if *n >= config.max_per_address {
            return None;
        }
        *n += 1;
        Some(Some(PerAddress {
            shared: shared.clone(),
            ip,
        }))
    }
}

impl Drop for PerAddress {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Shared {
    fn new(gate: Arc<auth::Gate>) -> Shared {
        Shared {
            gate,
            per_address: Mutex::new(HashMap::new()),
            parts: budget::PartsBudget::default(),
            metrics: Metrics::default(),
            started: Instant::now(),
            seqs: Mutex::new(BTreeMap::new()),
            presence: Mutex::new(HashMap::new()),
            gathered: presence::Gatherer::default(),
            parsing: Semaphore::new(PARSERS),
            sessions: AtomicU64::new(0),
            snapshots: Mutex::new(HashMap::new()),
            feeds: std::sync::OnceLock::new(),
            database_down: Mutex::new(None),
        }
    }

    /// The database cannot be reached, for `why`: `/health` says the hub
    /// is not ready (it acknowledges nothing) until it can again.
    fn database_lost(&self, why: String) {
        if let Ok(mut down) = self.database_down.lock() {
            if down.is_none() {
                tracing::error!(
                    "the database cannot be reached: {why}; nothing is acknowledged until it can"
                );
            }
            *down = Some(why);
        }
    }

    /// The database was reached again.
    fn database_back(&self) {
        if let Ok(mut down) = self.database_down.lock()
            && down.take().is_some()
        {
            tracing::info!("the database is reached again: the hub is ready");
        }
    }

    /// Why the hub is not ready, if it is not.
    fn not_ready(&self) -> Option<String> {
        self.database_down.lock().ok().and_then(|d| d.clone())
    }

    /// `/health`'s status code: 503 while not ready, for load balancers.
    fn health_status(&self) -> u16 {
        if self.not_ready().is_some() { 503 } else { 200 }
    }

    /// The snapshot of `roster` at `seq`, if one was encoded.
    fn cached_snapshot(&self, roster: &str, view: View, seq: Seq) -> Option<Arc<str>> {
        let cache = self.snapshots.lock().ok()?;
        cache
            .get(&(roster.to_string(), view))
            .filter(|(s, _)| *s == seq)
            .map(|(_, json)| json.clone())
    }

    fn cache_snapshot(&self, roster: &str, view: View, seq: Seq, json: Arc<str>) {
        if let Ok(mut cache) = self.snapshots.lock() {
            let key = (roster.to_string(), view);
            let newer = cache.get(&key).is_none_or(|(s, _)| *s <= seq);
            if newer {
                cache.insert(key, (seq, json));
            }
        }
    }

    fn next_session(&self) -> u64 {
        self.sessions.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn set_presence(&self, roster: &str, info: PresenceInfo) {
        if let Ok(mut p) = self.presence.lock() {
            p.entry(roster.to_string())
                .or_default()
                .insert(info.session, info);
        }
    }

    fn remove_presence(&self, roster: &str, session: u64) {
        if let Ok(mut p) = self.presence.lock()
            && let Some(r) = p.get_mut(roster)
        {
            r.remove(&session);
            if r.is_empty() {
                p.remove(roster);
            }
        }
    }

    /// Up to `max` editors present on a roster, those with a cursor first.
    fn presence_of(&self, roster: &str, max: usize) -> Vec<PresenceInfo> {
        let Ok(p) = self.presence.lock() else {
            return Vec::new();
        };
        let Some(r) = p.get(roster) else {
            return Vec::new();
        };
        let with_cursor = r.values().filter(|i| i.cursor.is_some());
        let without = r.values().filter(|i| i.cursor.is_none());
        with_cursor.chain(without).take(max).cloned().collect()
    }

    /// `/health`: whether the hub is up and ready, to anyone; with
    /// `detail`, its figures and each roster's seq too.
    fn health_json(&self, detail: bool) -> String {
        let why = self.not_ready();
        let (status, ready) = match why {
            Some(_) => ("not ready", false),
            None => ("ok", true),
        };
        if !detail {
            let mut body = serde_json::json!({ "status": status, "ready": ready });
            if why.is_some() {
                body["why"] = "the hub's database cannot be reached".into();
            }
            return body.to_string();
        }
        let seqs = self.seqs.lock().map(|s| s.clone()).unwrap_or_default();
        serde_json::json!({
            "status": status,
            "ready": ready,
            "why": why,
            "version": env!("CARGO_PKG_VERSION"),
            "protocol": rota_core::protocol::PROTOCOL_VERSION,
            "uptime_s": self.started.elapsed().as_secs(),
            "connections": self.metrics.connections.load(Ordering::Relaxed),
            "rosters": seqs.len(),
            "last_seq": seqs.values().copied().max().unwrap_or(0),
            "seqs": seqs,
        })
        .to_string()
    }
}

#[derive(Debug)]
pub enum ServeError {
    /// Another live hub owns the data dir.
    Locked {
        dir: PathBuf,
        holder: Option<LockInfo>,
    },
    Io {
        what: String,
        err: std::io::Error,
    },
    Store(crate::store::StoreError),
    Accounts(crate::accounts::AccountsError),
}

impl From<rota_db::lock::LockError> for ServeError {
    fn from(e: rota_db::lock::LockError) -> ServeError {
        match e {
            rota_db::lock::LockError::Locked { dir, holder } => ServeError::Locked { dir, holder },
            rota_db::lock::LockError::Io { what, err } => ServeError::Io { what, err },
        }
    }
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Locked { dir, holder } => {
                write!(
                    f,
                    "data dir {} is in use by another rota hub",
                    dir.display()
                )?;
                if let Some(h) = holder {
                    write!(f, " (pid {}, listening on {})", h.pid, h.addr)?;
                }
                write!(f, "; stop it first, or use --data to pick another dir")
            }
            ServeError::Io { what, err } => write!(f, "{what}: {err}"),
            ServeError::Store(e) => write!(f, "{e}"),
            ServeError::Accounts(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServeError {}

/// Asks the writer now and then to let go of the rosters nobody listens
/// to, so that they cost nothing beyond their store even when no one joins
/// again. Ends at shutdown (the writer ends once every sender is gone).
async fn sweep_rosters(
    writers: Arc<writers::Writers>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let every = (idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(30));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                for writer in writers.all() {
                    if writer.send(writer::Cmd::Sweep).await.is_err() {
                        return;
                    }
                }
            }
            _ = stop.changed() => return,
        }
    }
}

/// Serves until `shutdown` resolves: [`Hub::bind`] then [`Hub::serve`].
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future,
) -> Result<(), ServeError> {
    Hub::bind(listener, config)?.serve(shutdown).await;
    Ok(())
}

/// A hub that owns its data dir and is ready to serve.
pub struct Hub {
    listener: TcpListener,
    config: Config,
    lock: DataDirLock,
    shared: Arc<Shared>,
    writers: Arc<writers::Writers>,
    writers_done: Vec<tokio::sync::oneshot::Receiver<()>>,
    reads: Arc<reader::Reads>,
}

impl Hub {
    /// Takes the data dir's lock, opens the store and starts the writer.
    /// Fails at once, touching nothing, when another hub holds the dir.
    pub fn bind(listener: TcpListener, config: Config) -> Result<Hub, ServeError> {
        let addr = listener.local_addr().map_err(|err| ServeError::Io {
            what: "reading the listen address".into(),
            err,
        })?;
        let lock = DataDirLock::acquire(&config.data_dir, &addr.to_string())?;
        let gate = auth::Gate::open(&config.data_dir).map_err(ServeError::Accounts)?;
        let shared = Arc::new(Shared::new(gate));
        // Off the runtime: a database's client blocks on a runtime of its own.
        let started = crate::store::pg::off_runtime(|| writers::start(&config, &shared))?;
        if let Some(url) = &config.database {
            listen::start(url.clone(), &started.writers, &shared).map_err(|err| {
                ServeError::Io {
                    what: "starting the thread that hears of other hubs' commits".into(),
                    err,
                }
            })?;
        }
        // Opened after the stores, which created and migrated the files.
        let reads = crate::store::pg::off_runtime(|| reader::start(&started.places))
            .map_err(ServeError::Store)?;
        let _ = shared.feeds.set(calendar::Feeds::new(
            started.writers.placement(),
            started.places.clone(),
        ));
        Ok(Hub {
            listener,
            config,
            lock,
            shared,
            writers: started.writers,
            writers_done: started.done,
            reads,
        })
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn serve(self, shutdown: impl Future) {
        let Hub {
            listener,
            config,
            lock,
            shared,
            writers,
            writers_done,
            reads,
        } = self;
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let config = Arc::new(config);
        let (stop_tx, stop_rx) = watch::channel(false);
        // Every connection task holds a clone; when all are dropped, recv() ends.
        let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
        let limit = Arc::new(Semaphore::new(config.max_connections));
        tokio::spawn(sweep_rosters(
            writers.clone(),
            config.roster_idle,
            stop_rx.clone(),
        ));
        let probes = Arc::new(Semaphore::new(http::OVER_LIMIT_PROBES));
        tracing::info!(%addr, data = %config.data_dir.display(), "hub listening");

        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, go on.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            // Bounded, not autotuned: the kernel grows a socket's send
            // buffer to megabytes when its client reads slowly, and a
            // client that never reads would hold that much each.
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
            let permit = limit.clone().try_acquire_owned();
            let from = PerAddress::take(&shared, &config, peer.ip());
            let shared = shared.clone();
            let links = conn::Links {
                shared: shared.clone(),
                writers: writers.clone(),
                reads: reads.clone(),
                config: config.clone(),
            };
            let stop = stop_rx.clone();
            let alive = alive_tx.clone();
            let probes = probes.clone();
            let tls = config.tls.clone();
            // A monitor on the hub's own machine reads /health whole.
            let local = config.health_detail_loopback && peer.ip().is_loopback();
            tokio::spawn(async move {
                let _alive = alive;
                let Ok(_permit) = permit else {
                    // At the limit, /health and /metrics are still answered
                    // (by a few tasks of their own, briefly): a monitor must
                    // see a full hub as alive. Everything else gets 503.
                    http::over_limit(
                        http::Over::Hub,
                        stream,
                        tls.as_ref(),
                        &shared,
                        &probes,
                        local,
                    )
                    .await;
                    return;
                };
                let Some(_from) = from else {
                    http::over_limit(
                        http::Over::Address,
                        stream,
                        tls.as_ref(),
                        &shared,
                        &probes,
                        local,
                    )
                    .await;
                    return;
                };
                let Some(stream) = stream::secure(stream, tls.as_ref()).await else {
                    return;
                };
                if let http::Routed::WebSocket(ws, who) = http::route(stream, &shared, local).await
                {
                    tracing::debug!(%peer, user = who.as_ref().map(|w| w.user.as_str()), "editor connected");
                    conn::serve(*ws, who, peer.ip(), links, stop).await;
                }
            });
        }

        tracing::info!("shutting down: closing editors, committing what is in flight");
        drop(listener);
        let _ = stop_tx.send(true);
        drop(alive_tx);
        drop(writers);
        drop(reads);
        if tokio::time::timeout(Duration::from_secs(10), alive_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("some editors did not close within 10 s");
        }
        // Each writer ends once every sender is gone and its queue is
        // committed.
        let all_done = futures_util::future::join_all(writers_done);
        if tokio::time::timeout(Duration::from_secs(30), all_done)
            .await
            .is_err()
        {
            tracing::error!("the writers did not finish within 30 s");
        }
        drop(lock);
        tracing::info!("hub stopped");
    }
}

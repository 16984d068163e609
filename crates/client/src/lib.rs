//! rota-client: the client sync engine that the editor and the scripts use: optimistic
//! edits, a durable offline outbox in a local SQLite file, and a connection
//! to the hub that reconnects and replays. No UI here: the editor reads the
//! view and subscribes to [`SyncEvent`]s; it never waits on the network.
//!
//! - `local`: the local SQLite file (cache, client id, outbox).
//! - `core`: the state and its rules (view, outbox, undo), no I/O but the
//!   local store.
//! - `net`: the connection task (connect, handshake, send, backoff).
//! - [`host`]: the way to start a hub in this process, handed in.
//!
//! docs/sync.md states the guarantees. The three parts are private: an
//! editor or a script reaches the engine only through [`SyncEngine`] and the
//! types re-exported here, so the compiler keeps the layers apart.
//!
//! Depends on rota-core, rota-db and rota-tls; never on the hub (an
//! embedded hub comes in as a [`HubHost`]) nor on the editor.

pub mod core;
pub mod host;
pub mod local;
mod net;

pub use host::{Host, HostError, HostedHub, HubHost};

use self::core::Core;
pub use self::core::{Access, Withdrawal};
pub use self::core::{EditError, REMOTE_EVENT_CHANGES};
use self::local::LocalStore;
pub use self::local::{LocalError, Recovery};
use rota_core::domain::{Change, Conflict, Date, Op, Problem, Roster, Seq, Target};
use rota_core::protocol::{Cursor, HistoryEntry, HistoryQuery, PresenceInfo};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};

/// Where the hub is.
#[derive(Clone, Debug, PartialEq)]
pub enum HubAddr {
    /// A hub at this WebSocket URL.
    Url(String),
    /// Hubs sharing one database, at these URLs: joined in turn, the next
    /// at once when one cannot be reached (a failover), the first naming
    /// the local copy.
    Several(Vec<String>),
    /// The hub that owns this data dir: joined when one runs, otherwise
    /// started inside this process on a loopback port.
    Local(PathBuf),
}

impl HubAddr {
    /// Parses `--server`: `ws://HOST:PORT` or `wss://HOST:PORT` (TLS; `/ws`
    /// implied), or `HOST:PORT` for ws://; several, comma-separated, for
    /// hubs sharing one database.
    pub fn parse_server(s: &str) -> Result<HubAddr, String> {
        if s.contains(',') {
            let mut urls = Vec::new();
            for one in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match HubAddr::parse_server(one)? {
                    HubAddr::Url(u) if !urls.contains(&u) => urls.push(u),
                    _ => {}
                }
            }
            return match urls.len() {
                0 => Err(format!("--server `{s}`: no hub address in it")),
                1 => Ok(HubAddr::Url(urls.remove(0))),
                _ => Ok(HubAddr::Several(urls)),
            };
        }
        Self::parse_one(s)
    }

    fn parse_one(s: &str) -> Result<HubAddr, String> {
        let s = s.trim();
        let (scheme, rest) = if let Some(r) = s.strip_prefix("ws://") {
            ("ws", r)
        } else if let Some(r) = s.strip_prefix("wss://") {
            ("wss", r)
        } else if s.contains("://") {
            return Err(format!(
                "--server `{s}`: only ws:// and wss:// URLs are supported (e.g. wss://host:7878)"
            ));
        } else {
            ("ws", s)
        };
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() || !host.contains(':') {
            return Err(format!(
                "--server `{s}`: expected ws://HOST:PORT or wss://HOST:PORT, e.g. ws://127.0.0.1:7878"
            ));
        }
        let path = if path.is_empty() || path == "/" {
            "/ws"
        } else {
            path
        };
        Ok(HubAddr::Url(format!("{scheme}://{host}{path}")))
    }

    /// A file-name-safe key naming this hub in the local store's name
    /// (hubs sharing a database: the first's, so keep it first).
    fn key(&self) -> String {
        let of = |u: &str| {
            let rest = u.split_once("://").map_or(u, |(_, r)| r);
            safe_name(rest.trim_end_matches("/ws"))
        };
        match self {
            HubAddr::Local(_) => "local".into(),
            HubAddr::Url(u) => of(u),
            HubAddr::Several(urls) => urls.first().map_or_else(|| "local".into(), |u| of(u)),
        }
    }

    /// How people read it: the URL, the URLs, or the local hub.
    pub fn describe(&self) -> String {
        match self {
            HubAddr::Url(u) => u.clone(),
            HubAddr::Several(urls) => urls.join(", "),
            HubAddr::Local(d) => format!("the local hub of {}", d.display()),
        }
    }
}

/// What [`safe_name`] made `s` of.
fn from_safe_name(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn safe_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

/// Everything an engine needs to start.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    pub hub: HubAddr,
    pub user: String,
    pub roster: String,
    /// Data dir: the local store lives in `DATA/clients/`.
    pub data_dir: PathBuf,
    /// The bearer token for a hub with accounts, sent in the upgrade
    /// request's `Authorization` header (never in the URL).
    pub token: Option<String>,
    /// For wss:// hubs: the CA certificates (PEM) the hub's certificate
    /// must chain to; None for the system's roots.
    pub ca: Option<PathBuf>,
    /// How long to wait for a connection and its welcome.
    pub connect_timeout: Duration,
    /// How often to ping an idle hub.
    pub ping_interval: Duration,
    /// How long the hub may stay silent after it is sent something (an
    /// edit, a question, a ping: each goes with a ping) before the
    /// connection is taken for lost: a frozen hub is seen in this long,
    /// not after minutes of "connected".
    pub answer_timeout: Duration,
    /// First and largest delay between reconnect attempts.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How to start a hub on a local data dir that none owns; None: only
    /// join one (`HubAddr::Local` without a running hub stays offline).
    pub host: Option<Host>,
}

impl SyncConfig {
    pub fn new(hub: HubAddr, user: &str, roster: &str, data_dir: &Path) -> SyncConfig {
        SyncConfig {
            hub,
            user: user.to_string(),
            roster: roster.to_string(),
            data_dir: data_dir.to_path_buf(),
            token: None,
            ca: None,
            connect_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(15),
            answer_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            host: None,
        }
    }

    /// Edits of this roster and user queued in the local files of other
    /// hubs (another `--server`, or the same hubs named in another order):
    /// each hub as its file names it, and how many. They are sent only by
    /// an engine given that hub (first, among several); nothing else would
    /// tell a person they are there.
    pub fn queued_elsewhere(&self) -> Vec<(String, usize)> {
        let here = self.local_path();
        let tail = format!(
            "__{}__{}.sqlite3",
            safe_name(&self.roster),
            safe_name(&self.user)
        );
        let Ok(entries) = std::fs::read_dir(self.data_dir.join("clients")) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let Some(key) = name.strip_suffix(&tail) else {
                continue;
            };
            if e.path() == here || key == "local" {
                continue;
            }
            let queued = rusqlite::Connection::open_with_flags(
                e.path(),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|c| c.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0)));
            if let Ok(n) = queued
                && n > 0
            {
                found.push((from_safe_name(key), n as usize));
            }
        }
        found.sort();
        found
    }

    /// The local store's file: one per (hub, roster, user).
    pub fn local_path(&self) -> PathBuf {
        self.data_dir.join("clients").join(format!(
            "{}__{}__{}.sqlite3",
            self.hub.key(),
            safe_name(&self.roster),
            safe_name(&self.user)
        ))
    }
}

/// Where an outbox entry stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EntryState {
    /// Not yet acknowledged by the hub; shown in the view.
    Pending,
    /// Refused because someone else wrote a target since this edit's base:
    /// kept until the user keeps theirs or keeps mine.
    Conflict { conflicts: Vec<Conflict> },
    /// Refused for good (e.g. the staff member was removed meanwhile): kept
    /// with the reason until dismissed.
    Rejected {
        code: String,
        message: String,
        #[serde(default)]
        problems: Vec<Problem>,
    },
}

/// One edit in the outbox, as the local store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub op_id: u64,
    pub ops: Vec<Op>,
    pub note: Option<String>,
    /// Applied over stale versions (a script's `--force`).
    pub force: bool,
    pub state: EntryState,
    /// Unix ms when the edit was made.
    pub created: i64,
}

impl OutboxEntry {
    /// A new entry, waiting to be sent.
    pub fn pending(op_id: u64, ops: Vec<Op>, note: Option<&str>, force: bool, now: i64) -> Self {
        OutboxEntry {
            op_id,
            ops,
            note: note.map(str::to_string),
            force,
            state: EntryState::Pending,
            created: now,
        }
    }
}

/// (pending, conflicted, rejected) edits in an outbox.
pub fn count_states(outbox: &[OutboxEntry]) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for e in outbox {
        match e.state {
            EntryState::Pending => c.0 += 1,
            EntryState::Conflict { .. } => c.1 += 1,
            EntryState::Rejected { .. } => c.2 += 1,
        }
    }
    c
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConnState {
    /// Trying to reach the hub (attempt 1, 2, ...).
    Connecting { attempt: u32 },
    /// Joined and caught up to `seq`.
    Connected { session: u64, seq: Seq },
    /// Not connected; the next attempt is in `retry_in` (or sooner when asked).
    Retrying { retry_in: Duration, reason: String },
    /// Not connected and not trying (the engine is stopping, or has not
    /// tried yet).
    Offline { reason: String },
    /// The hub refused this client: its token (HTTP 401), or its access to
    /// the roster. Not retried with the same token: it tries again only when
    /// asked (`SyncEngine::reconnect`).
    Refused { reason: String },
}

/// What the UI hears about, as it happens.
#[derive(Clone, Debug, PartialEq)]
pub enum SyncEvent {
    Connection(ConnState),
    /// Another editor's accepted batch, now in the view.
    Remote {
        seq: Seq,
        user: String,
        note: Option<String>,
        /// How many changes the batch made.
        count: usize,
        /// How many of them were to cells.
        cells: usize,
        /// How many proposed a code for a cell (an assisted fill's).
        proposed: usize,
        /// How many withdrew a proposal (discarded, or accepted: the batch
        /// then writes the cell too).
        withdrawn: usize,
        /// Its changes, when at most [`REMOTE_EVENT_CHANGES`]; empty for a
        /// larger batch (read the view: it holds them all).
        changes: Vec<Change>,
    },
    /// The whole roster was reloaded from the hub.
    Resynced {
        seq: Seq,
    },
    /// An edit was queued (and is in the view).
    Queued {
        op_id: u64,
    },
    /// The hub stored an edit of ours durably.
    Acked {
        op_id: u64,
        seq: Seq,
        overwritten: Vec<Conflict>,
    },
    Conflicted {
        op_id: u64,
        conflicts: Vec<Conflict>,
    },
    Rejected {
        op_id: u64,
        code: String,
        message: String,
        problems: Vec<Problem>,
    },
    Presence(PresenceInfo),
    Left {
        session: u64,
        user: String,
    },
    /// The outbox's counts changed.
    Outbox {
        pending: usize,
        conflicted: usize,
        rejected: usize,
    },
    /// Nothing pending or conflicted: every edit made is on the hub.
    AllSaved,
    /// A page of history asked for with [`SyncEngine::history`].
    History {
        req: u64,
        entries: Vec<HistoryEntry>,
        /// The cursor of the next (older) page; None at the end.
        next: Option<String>,
    },
    /// The roster's users, asked for with [`SyncEngine::users`] or after
    /// [`SyncEngine::set_role`]; `token` is a new user's, shown once.
    Users {
        req: u64,
        users: Vec<rota_core::protocol::RosterUser>,
        token: Option<String>,
    },
    /// A request was refused, or its connection was lost before the answer.
    RequestFailed {
        req: u64,
        message: String,
    },
    /// Who the hub says this editor is and what it may do on the roster:
    /// told at each connection, and when an admin changes the role.
    Access(Access),
    /// The rosters the hub has that this client may open, asked for with
    /// [`SyncEngine::list_rosters`].
    Rosters {
        req: u64,
        rosters: Vec<rota_core::protocol::RosterInfo>,
    },
}

/// A read handle on an engine's view, for another thread.
#[derive(Clone)]
pub struct ViewReader {
    view: self::core::SharedView,
    desk: SharedDesk,
}

/// The outbox and who else is here, as the engine last published them
/// (after every change, before it tells of the change): the editor reads
/// them as it reads the view, with no round trip to the engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desk {
    pub outbox: Vec<OutboxEntry>,
    pub others: Vec<PresenceInfo>,
    /// Moves on with each change published.
    pub version: u64,
}

pub(crate) type SharedDesk = Arc<std::sync::RwLock<Desk>>;

impl std::fmt::Debug for ViewReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewReader")
    }
}

impl ViewReader {
    /// A reader over a roster of its own, held by no engine (a preview, a
    /// benchmark, a test of what draws it).
    pub fn detached(roster: Roster) -> ViewReader {
        ViewReader {
            view: Arc::new(std::sync::RwLock::new(roster)),
            desk: SharedDesk::default(),
        }
    }

    pub fn read<T>(&self, f: impl FnOnce(&Roster) -> T) -> T {
        f(&self.view.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The outbox and the others, as last published.
    pub fn desk<T>(&self, f: impl FnOnce(&Desk) -> T) -> T {
        f(&self.desk.read().unwrap_or_else(|p| p.into_inner()))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub conn: ConnState,
    /// The hub's seq this engine has applied.
    pub seq: Seq,
    pub pending: usize,
    pub conflicted: usize,
    pub rejected: usize,
    pub client_id: String,
}

impl Status {
    /// Every edit made is stored on the hub (rejected ones aside, which
    /// will never be).
    pub fn saved(&self) -> bool {
        self.pending == 0 && self.conflicted == 0
    }
}

#[derive(Debug)]
pub enum UndoError {
    /// Someone else changed these since; undo anyway only if the user says so.
    ChangedSince(Vec<Target>),
    /// Everything the edit did is gone already (its proposals discarded
    /// by others): nothing was sent, and it is off the undo stack.
    NothingLeft,
    Edit(EditError),
}

impl std::fmt::Display for UndoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UndoError::ChangedSince(t) => write!(
                f,
                "{} of the things this undo would restore changed since (someone else edited them)",
                t.len()
            ),
            UndoError::NothingLeft => write!(
                f,
                "nothing left to undo: what it did is gone already (its proposals discarded)"
            ),
            UndoError::Edit(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for UndoError {}

#[derive(Debug)]
pub enum StartError {
    /// The local file (named) could not be opened or read.
    Local(PathBuf, LocalError),
    Runtime(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Local(path, e) => {
                write!(f, "cannot open {}: {e}", path.display())
            }
            StartError::Runtime(e) => write!(f, "starting the sync engine: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// What the engine's parts share.
pub(crate) struct Shared {
    core: Mutex<Core>,
    /// The outbox and presence as published for readers (see [`Desk`]).
    desk: SharedDesk,
    /// Wakes the connection task: something to send.
    wake: Notify,
    /// Asks the connection task to reconnect now.
    reconnect: Notify,
    /// Whether this engine may start the embedded hub (false while its
    /// process is suspended: another editor takes the hub over).
    may_host: std::sync::atomic::AtomicBool,
    /// Whether the embedded hub runs in this process now.
    hosting: watch::Sender<bool>,
}

impl Shared {
    /// The core, locked; what it changed in the outbox or presence is
    /// published to the desk when the lock is let go, before anyone can
    /// hear of the change from an event.
    fn core(&self) -> CoreGuard<'_> {
        // A panic while holding the lock would be a bug; the state is still
        // the best we have, so carry on with it.
        CoreGuard {
            core: self.core.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }
}

pub(crate) struct CoreGuard<'a> {
    core: MutexGuard<'a, Core>,
}

impl std::ops::Deref for CoreGuard<'_> {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

impl std::ops::DerefMut for CoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

impl Drop for CoreGuard<'_> {
    fn drop(&mut self) {
        // (Events publish first too: see `Core::emit`.)
        self.core.publish();
    }
}

/// A running sync engine. Methods are quick and never wait on the network;
/// edits are durable in the local store when they return.
pub struct SyncEngine {
    shared: Arc<Shared>,
    /// The view's own handle: reading it never takes the core's lock.
    view: self::core::SharedView,
    events: broadcast::Sender<SyncEvent>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    config: SyncConfig,
    /// The local file was found damaged at start and made anew.
    recovered: Option<Recovery>,
}

impl SyncEngine {
    /// Opens the local store (the cached roster is readable at once, online
    /// or not) and starts connecting in the background.
    pub fn start(config: SyncConfig) -> Result<SyncEngine, StartError> {
        let path = config.local_path();
        let local = |e| StartError::Local(path.clone(), e);
        let (events, _) = broadcast::channel(4096);
        let open = || {
            LocalStore::open(&path)
                .and_then(|store| Core::open(store, &config.user, events.clone()))
        };
        // A damaged file (empty, cut short, not a database, unreadable
        // rows) is kept aside and made anew with the queue it still holds;
        // the roster comes back from the hub.
        let (core, recovered) = match open() {
            Ok(core) => (core, None),
            Err(e) if e.is_damage() => {
                let why = e.damage();
                let rec = LocalStore::recover(&path, &why).map_err(local)?;
                tracing::warn!("{}: {}", path.display(), rec.message());
                (open().map_err(local)?, Some(rec))
            }
            Err(e) => return Err(local(e)),
        };
        let view = core.shared_view();
        let desk = core.shared_desk();
        core.publish();
        let shared = Arc::new(Shared {
            desk,
            core: Mutex::new(core),
            wake: Notify::new(),
            reconnect: Notify::new(),
            may_host: std::sync::atomic::AtomicBool::new(true),
            hosting: watch::channel(false).0,
        });
        let (stop, stop_rx) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let task_shared = shared.clone();
        let task_config = config.clone();
        let thread = std::thread::Builder::new()
            .name("rota-sync".into())
            .spawn(move || {
                runtime.block_on(net::run(task_shared, task_config, stop_rx));
            })
            .map_err(StartError::Runtime)?;
        Ok(SyncEngine {
            shared,
            view,
            events,
            stop,
            thread: Some(thread),
            config,
            recovered,
        })
    }

    /// When the local file was found damaged at start: what was done.
    pub fn recovered(&self) -> Option<&Recovery> {
        self.recovered.as_ref()
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.events.subscribe()
    }

    pub fn status(&self) -> Status {
        self.shared.core().status()
    }

    /// Reads the view (the hub's roster with this editor's pending edits).
    /// Never waits on the local store or the network: the engine writes
    /// the view only in memory, in short steps (see docs/sync.md).
    pub fn with_view<T>(&self, f: impl FnOnce(&Roster) -> T) -> T {
        f(&self.view.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A handle on the view for a reader on another thread (the editor's
    /// frames): [`ViewReader::read`] is [`SyncEngine::with_view`].
    pub fn view_reader(&self) -> ViewReader {
        let reader = ViewReader {
            view: self.view.clone(),
            desk: self.shared.desk.clone(),
        };
        // Published now that someone reads it (see `Core::publish`).
        self.shared.core().publish();
        reader
    }

    /// Asks the hub for a page of history, under request id `req`, chosen
    /// by the caller (who waits for it before asking: see
    /// [`SyncEngine::request_id`]). The answer arrives as
    /// [`SyncEvent::History`] (or [`SyncEvent::RequestFailed`]) with that
    /// id. Err when not connected: history lives on the hub.
    pub fn history(&self, req: u64, query: HistoryQuery) -> Result<(), String> {
        let r = self
            .shared
            .core()
            .ask(req, |req| rota_core::protocol::ClientMsg::History {
                req,
                query,
            });
        self.shared.wake.notify_one();
        r
    }

    /// Asks the hub for the roster's users (admins only), under `req`. The
    /// answer arrives as [`SyncEvent::Users`] or [`SyncEvent::RequestFailed`].
    pub fn users(&self, req: u64) -> Result<(), String> {
        let r = self
            .shared
            .core()
            .ask(req, |req| rota_core::protocol::ClientMsg::Users { req });
        self.shared.wake.notify_one();
        r
    }

    /// Gives `user` `role` on the roster (None takes it away; `create`
    /// adds a new user, whose token comes back once), under `req`. Admins
    /// only; the answer is the new list, as for [`SyncEngine::users`].
    pub fn set_role(
        &self,
        req: u64,
        user: &str,
        role: Option<&str>,
        create: bool,
        staff: Option<&str>,
    ) -> Result<(), String> {
        let r = self
            .shared
            .core()
            .ask(req, |req| rota_core::protocol::ClientMsg::SetRole {
                req,
                user: user.to_string(),
                role: role.map(str::to_string),
                create,
                staff: staff.map(str::to_string),
            });
        self.shared.wake.notify_one();
        r
    }

    /// Asks the hub for the rosters this client may open, under `req`; the
    /// answer is [`SyncEvent::Rosters`] (or [`SyncEvent::RequestFailed`]).
    pub fn list_rosters(&self, req: u64) -> Result<(), String> {
        let r = self
            .shared
            .core()
            .ask(req, |req| rota_core::protocol::ClientMsg::ListRosters {
                req,
            });
        self.shared.wake.notify_one();
        r
    }

    /// A fresh request id for a caller with no ids of its own (the editor
    /// numbers its own requests).
    pub fn request_id(&self) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1 << 40);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Who the hub says this editor is, and its role on the roster.
    pub fn access(&self) -> Access {
        self.shared.core().access().clone()
    }

    /// The code shown in a cell.
    pub fn cell(&self, staff: &str, date: Date) -> Option<String> {
        self.with_view(|v| v.cell(staff, date).and_then(|(c, _)| c.map(str::to_string)))
    }

    /// A copy of the hub's roster as this engine last heard it.
    pub fn server_roster(&self) -> Roster {
        self.shared.core().server().clone()
    }

    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.shared.core().outbox()
    }

    pub fn others(&self) -> Vec<PresenceInfo> {
        self.shared.core().others()
    }

    /// Makes an edit: checked against the view, saved to the outbox, shown
    /// at once, sent when connected. Each write is based on the hub's
    /// version this editor has seen. None: the edit changes nothing.
    pub fn edit(&self, ops: Vec<Op>) -> Result<Option<u64>, EditError> {
        self.edit_noted(ops, None)
    }

    /// [`SyncEngine::edit`] with a note logged with each change.
    pub fn edit_noted(&self, ops: Vec<Op>, note: Option<&str>) -> Result<Option<u64>, EditError> {
        let r = self.shared.core().edit(ops, note, true);
        self.shared.wake.notify_one();
        r
    }

    /// Makes a script's edit: its ops carry the bases the script read (so
    /// nothing that changed since is overwritten, unless `force`: then the
    /// hub applies it anyway and its ack lists what it overwrote). It may be
    /// as large as [`rota_core::protocol::MAX_OPS_PER_CHANGE_SET`]; it is sent in
    /// parts and committed as one change set. Not on the undo stack.
    pub fn edit_script(
        &self,
        ops: Vec<Op>,
        note: &str,
        force: bool,
    ) -> Result<Option<u64>, EditError> {
        let r = self.shared.core().edit_script(ops, note, force);
        self.shared.wake.notify_one();
        r
    }

    /// Takes back a queued edit whose last part has not been sent (a
    /// script interrupted): see [`Withdrawal`].
    pub fn withdraw(&self, op_id: u64) -> Result<Withdrawal, LocalError> {
        let r = self.shared.core().withdraw(op_id);
        self.shared.wake.notify_one();
        r
    }

    pub fn set_cell(
        &self,
        staff: &str,
        date: Date,
        code: Option<&str>,
    ) -> Result<Option<u64>, EditError> {
        self.edit(vec![Op::SetCell {
            staff: staff.to_string(),
            date,
            code: code.map(str::to_string),
            base: 0,
        }])
    }

    pub fn undo(&self) -> Result<Option<u64>, UndoError> {
        let r = self.shared.core().undo(false);
        self.shared.wake.notify_one();
        r
    }

    /// Undo even though someone else changed a target since.
    pub fn undo_anyway(&self) -> Result<Option<u64>, UndoError> {
        let r = self.shared.core().undo(true);
        self.shared.wake.notify_one();
        r
    }

    pub fn redo(&self) -> Result<Option<u64>, UndoError> {
        let r = self.shared.core().redo();
        self.shared.wake.notify_one();
        r
    }

    /// A value this client keeps for itself in its local file, by key
    /// (what a member of staff last saw of their shifts).
    pub fn kept(&self, key: &str) -> Option<String> {
        self.shared.core().kept(key)
    }

    /// Keeps a value in the local file (see [`SyncEngine::kept`]).
    pub fn keep(&self, key: &str, value: &str) -> Result<(), String> {
        self.shared.core().keep(key, value)
    }

    /// [`SyncEngine::undo`] (`anyway`: [`SyncEngine::undo_anyway`]) with the
    /// operations it queued, read before the edit can be sent: on a quick
    /// hub its ack may empty the outbox before the caller could look.
    pub fn undo_ops(&self, anyway: bool) -> Result<Option<(u64, Vec<Op>)>, UndoError> {
        let r = {
            let mut core = self.shared.core();
            core.undo(anyway)
                .map(|id| id.map(|id| (id, core.ops_of(id).unwrap_or_default())))
        };
        self.shared.wake.notify_one();
        r
    }

    /// [`SyncEngine::redo`] with the operations it queued (as
    /// [`SyncEngine::undo_ops`]).
    pub fn redo_ops(&self) -> Result<Option<(u64, Vec<Op>)>, UndoError> {
        let r = {
            let mut core = self.shared.core();
            core.redo()
                .map(|id| id.map(|id| (id, core.ops_of(id).unwrap_or_default())))
        };
        self.shared.wake.notify_one();
        r
    }

    pub fn can_undo(&self) -> bool {
        self.shared.core().can_undo()
    }
    pub fn can_redo(&self) -> bool {
        self.shared.core().can_redo()
    }

    /// Resolves a conflict by dropping this editor's edit.
    pub fn keep_theirs(&self, op_id: u64) -> Result<bool, LocalError> {
        self.shared.core().keep_theirs(op_id)
    }

    /// Resolves a conflict by sending this editor's edit again over the
    /// current value. Returns the new op id.
    pub fn keep_mine(&self, op_id: u64) -> Result<Option<u64>, LocalError> {
        let r = self.shared.core().keep_mine(op_id);
        self.shared.wake.notify_one();
        r
    }

    /// Forgets a rejected edit.
    pub fn dismiss(&self, op_id: u64) -> Result<bool, LocalError> {
        self.shared.core().dismiss(op_id)
    }

    /// Shares this editor's cursor with the others.
    pub fn set_cursor(&self, cursor: Option<Cursor>) {
        self.shared.core().set_cursor(cursor);
        self.shared.wake.notify_one();
    }

    /// Stops waiting out the backoff and tries to connect now.
    pub fn reconnect_now(&self) {
        self.shared.reconnect.notify_one();
    }

    /// Stops the embedded hub this engine runs, if it runs one, so that
    /// another editor on the same data dir takes it over (this process is
    /// about to be suspended: a hub in it would stop everyone's saving).
    /// Waits at most `within` for the hub to stop; true when none runs
    /// here now.
    pub async fn stop_hosting(&self, within: Duration) -> bool {
        use std::sync::atomic::Ordering;
        self.shared.may_host.store(false, Ordering::SeqCst);
        let mut hosting = self.shared.hosting.subscribe();
        if !*hosting.borrow() {
            return true;
        }
        self.shared.reconnect.notify_one();
        tokio::time::timeout(within, hosting.wait_for(|h| !*h))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the embedded hub runs in this engine's process now.
    pub fn hosts_hub(&self) -> bool {
        *self.shared.hosting.borrow()
    }

    /// After [`SyncEngine::stop_hosting`]: this engine may start the
    /// embedded hub again (when nobody else runs it), and reconnects.
    pub fn may_host_again(&self) {
        self.shared
            .may_host
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.reconnect.notify_one();
    }

    /// Waits (bounded) until `pred` holds for the status, checking after
    /// every event. Returns the last status and whether `pred` held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&Status) -> bool,
    ) -> (Status, bool) {
        let mut rx = self.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let st = self.status();
            if pred(&st) {
                return (st, true);
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return (self.status(), false),
                Ok(Err(broadcast::error::RecvError::Closed)) => {
                    let st = self.status();
                    let ok = pred(&st);
                    return (st, ok);
                }
                Ok(_) => {}
            }
        }
    }

    /// Stops the connection (and an embedded hub, gracefully). Pending
    /// edits stay in the outbox for next time.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SyncEngine {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod hub_addr_tests {
    use super::HubAddr;

    /// `--server` takes one hub, or several (comma-separated, repeats
    /// dropped) sharing a database; each is checked as one would be.
    #[test]
    fn several_hubs_are_parsed_each_as_one_would_be() {
        let url = |u: &str| u.to_string();
        assert_eq!(
            HubAddr::parse_server("a:1, wss://b:2 ,a:1"),
            Ok(HubAddr::Several(vec![
                url("ws://a:1/ws"),
                url("wss://b:2/ws")
            ]))
        );
        assert_eq!(
            HubAddr::parse_server("a:1,"),
            Ok(HubAddr::Url(url("ws://a:1/ws")))
        );
        assert!(
            HubAddr::parse_server(" , ")
                .unwrap_err()
                .contains("no hub address")
        );
        let bad = HubAddr::parse_server("a:1,http://b:2").unwrap_err();
        assert!(bad.contains("http://b:2"), "{bad}");
        // The local copy is named after the first.
        let two = HubAddr::parse_server("a:1,b:2").unwrap();
        assert_eq!(two.key(), HubAddr::parse_server("a:1").unwrap().key());
        assert_eq!(two.describe(), "ws://a:1/ws, ws://b:2/ws");
    }
}

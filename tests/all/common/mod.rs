//! Test helpers: a real hub on 127.0.0.1 (in process via `server::run`, or the
//! real binary), and a real WebSocket client speaking the protocol. Every
//! wait is bounded by a timeout; nothing sleeps to synchronise.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use rota::protocol::{ClientMsg, PROTOCOL_VERSION, ServerMsg};
use rota::server::{self, Config, ServeError};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Hub {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Hub {
    pub async fn start(dir: &Path) -> Hub {
        Hub::start_with(Config::new(dir.to_path_buf())).await
    }

    pub async fn start_with(config: Config) -> Hub {
        let dir = config.data_dir.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        // Bound (lock taken, store open) before start returns. The tests
        // run in one process, and another test's child process, between
        // its fork and its exec, holds a copy of every open file and so
        // of a lock just let go: a moment later it is free again.
        let deadline = tokio::time::Instant::now() + WAIT;
        let (hub, addr) = loop {
            lock_released(&dir).await;
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            match server::Hub::bind(listener, config.clone()) {
                Ok(hub) => break (hub, addr),
                // Waited out by `lock_released` at the loop's top, which
                // blocks on the lock itself until its holder lets it go.
                Err(ServeError::Locked { .. }) if tokio::time::Instant::now() < deadline => {}
                Err(e) => panic!("hub binds: {e}"),
            }
        };
        let task = tokio::spawn(async move {
            hub.serve(async move {
                let _ = stopped.await;
            })
            .await;
            Ok::<(), ServeError>(())
        });
        Hub {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Graceful shutdown; returns what `run` returned.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("hub stops in time")
            .unwrap()
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }
}

/// A bare HTTP/1.1 GET; returns status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get_as(addr, path, None).await
}

/// [`http_get`] with a bearer token.
pub async fn http_get_as(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http_get_with(addr, path, &auth).await
}

/// A GET with these header lines (each ending in CRLF): status and body.
pub async fn http_get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Reads a metric's value from /metrics.
pub async fn metric(addr: SocketAddr, name: &str) -> f64 {
    let (_, body) = http_get(addr, "/metrics").await;
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

/// Waits until nobody holds `dir`'s data-dir lock (at once when there is
/// none). A hub started again on a dir may find it held for a moment after
/// the last one stopped: tests of this binary start child processes
/// (itself, rota), and a child holds a copy of every open descriptor, the
/// old hub's lock among them, from its fork until its exec. A blocking lock
/// taken on a thread of its own is the event; it is let go at once.
async fn lock_released(dir: &Path) {
    let path = dir.join(rota::server::lock::LOCK_FILE);
    let Ok(file) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    else {
        return; // no lock file yet: no hub has run here
    };
    let (taken, released) = oneshot::channel();
    std::thread::spawn(move || {
        let locked = file.lock().is_ok();
        drop(file); // lets the lock go, before saying so
        let _ = taken.send(locked);
    });
    let ok = tokio::time::timeout(WAIT, released)
        .await
        .expect("the data dir's lock is let go in time");
    assert_eq!(ok, Ok(true), "locking the data dir");
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub client_id: String,
    pub user: String,
    /// Messages of a `batch` frame not yet returned by `recv`.
    queued: std::collections::VecDeque<ServerMsg>,
    /// How many `batch` frames have come (protocol 1.1).
    pub batch_frames: usize,
}

impl Client {
    pub async fn raw(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async_with_config(url, None, true),
        )
        .await
        .expect("connect in time")
        .expect("connect");
        Client {
            ws,
            client_id: String::new(),
            user: String::new(),
            queued: Default::default(),
            batch_frames: 0,
        }
    }

    /// A client over a WebSocket opened elsewhere (from another address).
    pub fn over(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Client {
        Client {
            ws,
            client_id: String::new(),
            user: String::new(),
            queued: Default::default(),
            batch_frames: 0,
        }
    }

    /// Connects showing `token` (as `Authorization: Bearer`); Err is the
    /// upgrade's failure (a 401 is `Error::Http`).
    pub async fn raw_as(
        url: &str,
        token: Option<&str>,
    ) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = url.into_client_request().unwrap();
        if let Some(t) = token {
            req.headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .expect("connect in time")?;
        Ok(Client {
            ws,
            client_id: String::new(),
            user: String::new(),
            queued: Default::default(),
            batch_frames: 0,
        })
    }

    /// Connects with `token` and says hello for `roster` (claiming the name
    /// `user`); returns the client and the first answer (a welcome or an
    /// error).
    pub async fn hello_as(
        url: &str,
        token: &str,
        user: &str,
        client_id: &str,
        roster: &str,
    ) -> (Client, ServerMsg) {
        let c = Client::raw_as(url, Some(token)).await.expect("upgraded");
        let mut c = c.say_hello(user, client_id, roster).await;
        let first = c.answer().await;
        (c, first)
    }

    /// Says hello for `roster` as `user` with `client_id`, at seq 0.
    async fn say_hello(mut self, user: &str, client_id: &str, roster: &str) -> Client {
        self.client_id = client_id.into();
        self.user = user.into();
        self.send(&ClientMsg::Hello {
            protocol: PROTOCOL_VERSION.into(),
            user: user.into(),
            client_id: client_id.into(),
            token: None,
            roster: roster.into(),
            last_seq: 0,
            view: Default::default(),
        })
        .await;
        self
    }

    /// Connects and says hello for `roster` (no token); returns the client
    /// and the first answer, whatever it is.
    pub async fn hello(
        url: &str,
        user: &str,
        client_id: &str,
        roster: &str,
    ) -> (Client, ServerMsg) {
        let c = Client::raw(url).await;
        let mut c = c.say_hello(user, client_id, roster).await;
        let first = c.recv().await;
        (c, first)
    }

    /// Connects and joins `roster`; returns the client and the welcome.
    pub async fn join(
        url: &str,
        user: &str,
        client_id: &str,
        roster: &str,
        last_seq: u64,
    ) -> (Client, ServerMsg) {
        Client::join_speaking(PROTOCOL_VERSION, url, user, client_id, roster, last_seq).await
    }

    /// [`Client::join`] saying protocol `version` in the hello.
    pub async fn join_speaking(
        version: &str,
        url: &str,
        user: &str,
        client_id: &str,
        roster: &str,
        last_seq: u64,
    ) -> (Client, ServerMsg) {
        let mut c = Client::raw(url).await;
        c.client_id = client_id.into();
        c.user = user.into();
        c.send(&ClientMsg::Hello {
            protocol: version.into(),
            user: user.into(),
            client_id: client_id.into(),
            token: None,
            roster: roster.into(),
            last_seq,
            view: Default::default(),
        })
        .await;
        let welcome = c
            .recv_until(|m| matches!(m, ServerMsg::Welcome { .. }))
            .await;
        (c, welcome)
    }

    pub async fn send(&mut self, msg: &ClientMsg) {
        self.send_text(&serde_json::to_string(msg).unwrap()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next protocol message (pings and pongs skipped; the messages of
    /// a `batch` frame one by one).
    pub async fn recv(&mut self) -> ServerMsg {
        if let Some(m) = self.queued.pop_front() {
            return m;
        }
        let msg = self.recv_frame().await;
        let ServerMsg::Batch { msgs } = msg else {
            return msg;
        };
        self.batch_frames += 1;
        assert!(msgs.len() > 1, "a batch frame of {} message(s)", msgs.len());
        assert!(
            msgs.iter().all(|m| !matches!(m, ServerMsg::Batch { .. })),
            "a batch inside a batch"
        );
        self.queued.extend(msgs);
        self.queued.pop_front().expect("checked: more than one")
    }

    /// The next text frame's message as it came (a batch whole).
    async fn recv_frame(&mut self) -> ServerMsg {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message in time")
                .expect("stream open")
                .expect("no socket error");
            match msg {
                Message::Text(t) => {
                    return rota::protocol::decode_server(&t)
                        .unwrap_or_else(|e| panic!("{e}: {t}"));
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Receives until a message matches, skipping others (presence etc.).
    pub async fn recv_until(&mut self, pred: impl Fn(&ServerMsg) -> bool) -> ServerMsg {
        for _ in 0..10_000 {
            let m = self.recv().await;
            if pred(&m) {
                return m;
            }
        }
        panic!("no matching message in 10,000");
    }

    /// The next answer to a request (ack, rejected, error, history, rosters).
    pub async fn answer(&mut self) -> ServerMsg {
        self.recv_until(|m| {
            !matches!(
                m,
                ServerMsg::Change(_) | ServerMsg::Presence(_) | ServerMsg::Left { .. }
            )
        })
        .await
    }

    pub async fn edit(&mut self, op_id: u64, ops: Vec<rota::domain::Op>) -> ServerMsg {
        self.send(&ClientMsg::Edit {
            op_id,
            ops,
            note: None,
            force: false,
            more: false,
            part: None,
        })
        .await;
        self.answer().await
    }

    /// Waits for the close frame; returns its code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        for _ in 0..100_000 {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close in time")
            {
                Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
                Some(Ok(_)) => continue,
            }
        }
        panic!("no close");
    }
}

/// Joins claiming to be ahead of the hub, which always gets a full snapshot;
/// returns the client, the roster's seq and the snapshot.
pub async fn join_snapshot(
    url: &str,
    user: &str,
    client_id: &str,
) -> (Client, u64, rota::protocol::Snapshot) {
    join_snapshot_of(url, user, client_id, "default").await
}

/// [`join_snapshot`] of another roster.
pub async fn join_snapshot_of(
    url: &str,
    user: &str,
    client_id: &str,
    roster: &str,
) -> (Client, u64, rota::protocol::Snapshot) {
    let (c, welcome) = Client::join(url, user, client_id, roster, u64::MAX).await;
    match welcome {
        ServerMsg::Welcome {
            seq,
            snapshot: Some(snapshot),
            ..
        } => (c, seq, *snapshot),
        other => panic!("expected a snapshot, got {other:?}"),
    }
}

pub fn d(s: &str) -> rota::domain::Date {
    s.parse().unwrap()
}

pub fn set(staff: &str, date: &str, code: Option<&str>, base: u64) -> rota::domain::Op {
    rota::domain::Op::SetCell {
        staff: staff.into(),
        date: d(date),
        code: code.map(String::from),
        base,
    }
}

/// Ops that give a roster a planning period of a year each side of
/// today, shift codes D, N, OFF and staff s1..=sN.
pub fn setup_ops(staff: usize) -> Vec<rota::domain::Op> {
    use rota::domain::{Op, ShiftCode};
    let today = rota::domain::Date(chrono::Local::now().date_naive());
    let mut ops = vec![Op::SetPeriod {
        from: today.add_days(-366),
        to: today.add_days(366),
    }];
    ops.extend(["D", "N", "OFF"].iter().map(|c| Op::PutCode {
        code: ShiftCode::new(c, 8.0, *c != "OFF"),
        base: None,
    }));
    for i in 1..=staff {
        ops.push(Op::AddStaff {
            id: format!("s{i}"),
            name: format!("Person {i}"),
            group: "Nurses".into(),
            order: None,
        });
    }
    ops
}

pub fn ack_seq(m: &ServerMsg) -> u64 {
    match m {
        ServerMsg::Ack { seq, .. } => *seq,
        other => panic!("expected ack, got {other:?}"),
    }
}

/// A child process killed (SIGKILL) when dropped, so a failing test leaves
/// no hub behind.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary as a hub on an ephemeral port. Returns the child and the
/// address it printed.
pub fn spawn_hub_binary(dir: &Path) -> (ChildGuard, SocketAddr) {
    let args = ["--serve", "--listen", "127.0.0.1:0", "--data"].map(std::ffi::OsString::from);
    let (child, line) = spawn_rota_line(args.into_iter().chain([dir.as_os_str().to_owned()]));
    (child, listening_at(&line).parse().unwrap())
}

/// The address (`HOST:PORT`) in a hub's "listening on ws://HOST:PORT/ws" line.
pub fn listening_at(line: &str) -> String {
    line.split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string()
}

/// The real binary with `args` (logging warnings only), once it has
/// printed its first line (a hub's "listening on ..."): the child and the
/// line.
pub fn spawn_rota_line(args: impl IntoIterator<Item = std::ffi::OsString>) -> (ChildGuard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(args)
        .args(["--log-level", "warn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (ChildGuard(child), line)
}

pub mod editor;
pub mod proxy;

use rota::sync::{ConnState, HubAddr, Status, SyncConfig, SyncEngine};

/// An engine's settings for tests: quick backoff and pings so a test that
/// cuts connections does not wait long, on a data dir of its own.
pub fn engine_config(url: &str, user: &str, data: &Path) -> SyncConfig {
    let mut c = SyncConfig::new(HubAddr::Url(url.to_string()), user, "default", data);
    c.backoff_min = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c.ping_interval = Duration::from_secs(2);
    c
}

pub fn start_engine(url: &str, user: &str, data: &Path) -> SyncEngine {
    SyncEngine::start(engine_config(url, user, data)).expect("engine starts")
}

/// Waits (bounded by WAIT) until the engine's status satisfies `pred`.
pub async fn wait_status(e: &SyncEngine, what: &str, pred: impl Fn(&Status) -> bool) -> Status {
    let (st, ok) = e.wait_until(WAIT, pred).await;
    assert!(ok, "timed out waiting for {what}; status {st:?}");
    st
}

pub async fn wait_connected(e: &SyncEngine) -> Status {
    wait_status(e, "connected", |s| {
        matches!(s.conn, ConnState::Connected { .. })
    })
    .await
}

/// Waits until the engine has nothing pending and has applied `seq`.
pub async fn wait_synced(e: &SyncEngine, seq: u64) -> Status {
    wait_status(e, "saved and caught up", |s| {
        s.pending == 0 && s.seq >= seq && matches!(s.conn, ConnState::Connected { .. })
    })
    .await
}

pub type CellRow = (String, rota::domain::Date, Option<String>);

/// The hub's cells (and seq), read with a fresh snapshot.
pub async fn hub_cells(url: &str) -> (u64, Vec<CellRow>) {
    let (_c, seq, snap) = join_snapshot(url, "checker", "checker-client").await;
    let mut cells: Vec<CellRow> = snap
        .cells
        .iter()
        .map(|(s, d, c, _)| (s.to_string(), *d, c.as_deref().map(str::to_string)))
        .collect();
    cells.sort();
    (seq, cells)
}

/// The cells an engine shows.
pub fn view_cells(e: &SyncEngine) -> Vec<CellRow> {
    let mut cells: Vec<CellRow> = e.with_view(|r| {
        r.cells()
            .into_iter()
            .map(|(s, d, c, _)| (s.to_string(), d, c.map(str::to_string)))
            .collect()
    });
    cells.sort();
    cells
}

/// The store file (of the hub's shards in `dir`) that holds `roster`.
pub fn store_of(dir: &Path, roster: &str) -> PathBuf {
    rota::server::writers::store_files(dir)
        .into_iter()
        .find(|file| {
            let db = rusqlite::Connection::open(file).unwrap();
            db.query_row(
                "SELECT count(*) FROM rosters WHERE name = ?1",
                [roster],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                > 0
        })
        .unwrap_or_else(|| panic!("no store file in {} holds roster {roster}", dir.display()))
}

/// The hub's change log as (client, op_id, seq), one per change.
pub fn change_log(dir: &Path) -> Vec<(String, u64, u64)> {
    let mut batches: Vec<(String, String, u64, u64, usize)> = Vec::new();
    // Every store file (shard) of the hub, rosters in name order.
    for file in rota::server::writers::store_files(dir) {
        let db = rusqlite::Connection::open(file).unwrap();
        let mut stmt = db
            .prepare("SELECT roster, client, op_id, seq, count FROM batches")
            .unwrap();
        batches.extend(
            stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                    r.get::<_, i64>(4)? as usize,
                ))
            })
            .unwrap()
            .map(Result::unwrap),
        );
    }
    batches.sort_by(|a, b| (&a.0, a.3).cmp(&(&b.0, b.3)));
    let batches: Vec<(String, u64, u64, usize)> = batches
        .into_iter()
        .map(|(_, client, op_id, seq, count)| (client, op_id, seq, count))
        .collect();
    batches
        .into_iter()
        .flat_map(|(client, op_id, seq, count)| std::iter::repeat_n((client, op_id, seq), count))
        .collect()
}

/// Sets up codes D, N, OFF and staff s1..=sN on the hub; returns its seq.
pub async fn seed(url: &str, staff: usize) -> u64 {
    let (mut c, _) = Client::join(url, "admin", "admin-client", "default", 0).await;
    let ack = c.edit(1, setup_ops(staff)).await;
    ack_seq(&ack)
}

/// Overwrites the first (root) page of `table` in the SQLite file at `path`
/// with `fill` bytes, after folding its WAL in; returns the file as left.
pub fn damage_first_page_of(path: &Path, table: &str, fill: u8) -> Vec<u8> {
    let (root, page) = {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        let root: i64 = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (root as usize, page as usize)
    };
    let mut bytes = std::fs::read(path).unwrap();
    let at = (root - 1) * page;
    bytes[at..at + page].fill(fill);
    std::fs::write(path, &bytes).unwrap();
    bytes
}

/// An operation that puts a rule `id` of `kind`.
pub fn rule(id: &str, kind: rota::domain::RuleKind) -> rota::domain::Op {
    rota::domain::Op::PutRule {
        rule: rota::domain::Rule {
            id: id.into(),
            kind,
            seq: 0,
        },
        base: None,
    }
}

/// A staffing rule on `code` every day: at least `min`, at most `max`.
/// A rule that `then` may not follow `first` the next day.
pub fn forbidden(id: &str, first: &str, then: &str) -> rota::domain::Op {
    rule(
        id,
        rota::domain::RuleKind::ForbiddenSequence {
            first: first.into(),
            then: then.into(),
        },
    )
}

pub fn staffing(id: &str, code: &str, min: u32, max: Option<u32>) -> rota::domain::Op {
    rule(
        id,
        rota::domain::RuleKind::Staffing {
            code: code.into(),
            min,
            max,
            weekdays: Vec::new(),
            group: None,
            from: None,
            to: None,
            weights: None,
        },
    )
}

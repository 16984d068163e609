//! One editor's WebSocket connection: reads its frames, hands edits to the
//! writer, and forwards what the roster's broadcast carries. It never touches
//! the store. A slow editor only ever hurts itself: the broadcast ring it reads
//! from is bounded and the writer never waits for it; when it falls behind by a
//! whole ring, or a write to it stalls, it is closed and must resync.
//!
//! This file is the session: its state, its loop, how it writes and ends.
//! Each kind of message has a room of its own:
//! - [`hello`]: joining a roster (the role checked, the client id claimed).
//! - [`edit`]: edits, whole or in parts, refused or handed to the writer.
//! - [`presence`]: cursors relayed, at a bounded rate.
//! - [`reads`]: history and the roster list, through the read pool.
//! - [`users`]: the roster's users and roles, and the role this connection
//!   has as it changes.
//! - [`forward`]: what the roster's broadcast puts on this editor's wire.

mod deadline;
mod edit;
mod forward;
mod hello;
mod presence;
mod reads;
mod users;

#[cfg(test)]
pub(super) use forward::frames_for;
pub(super) use forward::welcome_text;

use super::auth;
use super::inbox;
use super::reader::{MAX_READS_WAITING, Read, ReadWhat};
use super::ring;
use super::writer::{Cmd, Edit, Joined, Start};
use super::{Config, Event, Metrics, Shared};
use crate::accounts::{Identity, Role};
use futures_util::{SinkExt, StreamExt};
use rota_core::domain::{Author, Op, Seq, View, check_roster_name};
use rota_core::protocol::{
    self, ClientMsg, DecodeError, FrameHeader, MAX_IN_FLIGHT, MAX_MESSAGE_BYTES, MAX_NOTE_CHARS,
    MAX_OP_STRING_CHARS, MAX_OPS_PER_BATCH, MAX_OPS_PER_CHANGE_SET, PresenceInfo, ServerMsg,
    WelcomeBody, WelcomeHead, close, codes,
};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

type Ws = WebSocketStream<super::stream::HubStream>;

/// Most errors a connection may earn within [`ERROR_WINDOW`] before it is closed.
const MAX_ERRORS_PER_WINDOW: u32 = 50;

const ERROR_WINDOW: Duration = Duration::from_secs(10);

/// How long shutdown waits for this connection's unanswered edits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// How long a closed connection's closing handshake may take.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

struct Member {
    roster: String,
    author: Author,
    events: ring::Receiver<Event>,
    publish: ring::Sender<Event>,
    /// The roster's newest broadcast seq.
    latest: Arc<AtomicU64>,
    /// The role this connection was last told it has (welcome, `role`).
    told_role: Option<Role>,
    /// The staff row a staff role is bound to, as last told.
    told_staff: Option<String>,
    /// What it is sent: the draft or the published view (by its role; a
    /// change of role that changes this ends the connection, to start over
    /// with the other view).
    view: View,
}

/// Why the connection ends, and the close frame the editor gets.
struct Ending(u16, String);

struct Conn {
    ws: Ws,
    /// Who this connection is (None on a hub without accounts).
    who: Option<Identity>,
    /// Ticks when the accounts change: this connection's leave is checked again.
    access: watch::Receiver<u64>,
    session: u64,
    shared: Arc<Shared>,
    /// The writer of its roster (set at its hello).
    writer: mpsc::Sender<Cmd>,
    writers: Arc<super::writers::Writers>,
    config: Arc<Config>,
    /// Where the writer answers this connection's edits.
    direct_tx: inbox::Sender,
    /// The read pool, and this connection's queue for its answers.
    reads: Arc<super::reader::Reads>,
    /// Where the read pool answers its reads.
    read_tx: inbox::Sender,
    /// Both kinds of answer, in one queue.
    answers: inbox::Receiver,
    /// Reads sent to the pool and not yet answered.
    /// The client's address: its share of the parts budget is counted there.
    peer: std::net::IpAddr,
    reads_waiting: usize,
    /// When a socket that has not said hello is closed.
    hello: deadline::HelloDeadline,
    member: Option<Member>,
    /// Its hello said protocol 1.1 or later: it reads `batch` frames.
    reads_batches: bool,
    in_flight: usize,
    assembly: Option<edit::Assembly>,
    refused: VecDeque<u64>,
    /// Edits refused because a frame said `more` without a part number (a
    /// client that does not number its parts): their unnumbered frames up
    /// to the one without `more` are refused too, never applied alone.
    unnumbered: VecDeque<u64>,
    last_heard: Instant,
    errors: u32,
    errors_since: Instant,
    /// Presence relayed in the current second, and a later one held back
    /// until the next (the latest wins): at most [`PRESENCE_PER_SECOND`].
    presence_rate: PerSecond,
    presence_held: Option<PresenceInfo>,
    /// Cursor moves received this second, relayed or not.
    presence_in: PerSecond,
    /// Not read from until then: it sent cursor moves faster than
    /// [`PRESENCE_READ_PER_SECOND`].
    paused_until: Option<Instant>,
    /// Set while it floods cursor moves: others' presence goes to it at
    /// most once a second (see `presence::Slowed`).
    presence_slowed: Option<presence::Slowed>,
    /// Edits begun in the current second (see `Config::max_edits_per_sec`).
    edit_rate: PerSecond,
}

/// Counts what a connection does in the current second.
struct PerSecond {
    since: Instant,
    count: u32,
}

impl PerSecond {
    fn new() -> PerSecond {
        PerSecond {
            since: Instant::now(),
            count: 0,
        }
    }

    /// Counts one more, unless `limit` were done this second already.
    fn allow(&mut self, limit: u32) -> bool {
        let now = Instant::now();
        if now.duration_since(self.since) >= Duration::from_secs(1) {
            *self = PerSecond {
                since: now,
                count: 0,
            };
        }
        if self.count >= limit {
            return false;
        }
        self.count += 1;
        true
    }

    /// When the next second begins.
    fn next_second(&self) -> Instant {
        self.since + Duration::from_secs(1)
    }
}

/// Most cursor moves a connection has relayed to its roster a second; more
/// are coalesced (only the latest is sent, when the second is over).
const PRESENCE_PER_SECOND: u32 = 20;

/// Most cursor moves a connection is read for a second: a key held down
/// repeats about 30 times a second. Past it the hub reads nothing more from
/// the connection that second (TCP holds the rest back), so a client
/// flooding moves costs the hub no more than this to parse and drop.
const PRESENCE_READ_PER_SECOND: u32 = 100;

/// What a connection is given to reach the rest of the hub.
pub struct Links {
    pub shared: Arc<Shared>,
    pub writers: Arc<super::writers::Writers>,
    pub reads: Arc<super::reader::Reads>,
    pub config: Arc<Config>,
}

pub async fn serve(
    ws: Ws,
    who: Option<Identity>,
    peer: std::net::IpAddr,
    links: Links,
    shutdown: watch::Receiver<bool>,
) {
    let Links {
        shared,
        writers,
        reads,
        config,
    } = links;
    // Until its hello names a roster: the first writer (sent nothing).
    let Some(writer) = writers.all().first().cloned() else {
        return;
    };
    let session = shared.next_session();
    let hello_timeout = config.hello_timeout;
    // Every answer is to one of at most MAX_IN_FLIGHT edits or
    // MAX_READS_WAITING reads: that accounting bounds the inbox.
    let (direct_tx, read_tx, answers) = inbox::inbox();
    let mut conn = Conn {
        ws,
        access: shared.gate.subscribe(),
        who,
        peer,
        session,
        shared: shared.clone(),
        writer,
        writers,
        config,
        direct_tx,
        answers,
        reads,
        read_tx,
        reads_waiting: 0,
        member: None,
        reads_batches: false,
        in_flight: 0,
        assembly: None,
        refused: VecDeque::new(),
        unnumbered: VecDeque::new(),
        last_heard: Instant::now(),
        hello: deadline::HelloDeadline::new(Instant::now(), hello_timeout),
        errors: 0,
        errors_since: Instant::now(),
        presence_rate: PerSecond::new(),
        presence_in: PerSecond::new(),
        paused_until: None,
        presence_slowed: None,
        presence_held: None,
        edit_rate: PerSecond::new(),
    };
    Metrics::inc(&shared.metrics.connections_total);
    shared
        .metrics
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ending = conn.run(shutdown).await;
    // What it owes first: the answers to its edits and reads in flight
    // (committed or read meanwhile), so the client learns each outcome.
    // Not to a connection whose access was taken away (4001, 4003): the
    // roster's changes it would see on the way are no longer its to read.
    if let Some(Ending(code, _)) = &ending
        && !matches!(
            *code,
            close::UNAUTHORIZED | close::FORBIDDEN | close::OUTBOUND_OVERFLOW
        )
    {
        conn.flush_owed().await;
    }
    conn.leave();
    if let Some(Ending(code, reason)) = ending {
        tracing::debug!(session, code, %reason, "closing connection");
        // A close frame's reason holds at most 123 bytes.
        let mut cut = reason.len().min(123);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason[..cut].to_string().into(),
        };
        let _ = tokio::time::timeout(conn.config.write_timeout, conn.ws.close(Some(frame))).await;
        // Then the closing handshake: what the client still sends is read
        // (and dropped) until its close comes, so the socket ends with a
        // FIN, never a reset that would lose the frames above.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = conn.ws.next().await {}
        })
        .await;
    }
    shared
        .metrics
        .connections
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Frames longer than this are parsed on the blocking pool.
const PARSE_ASIDE: usize = 64 * 1024;

/// Resolves at `due`; never when there is none.
async fn sleep_until_due(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn next_event(member: &mut Option<Member>) -> Result<Event, ring::RecvError> {
    match member {
        Some(m) => m.events.recv().await,
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn run(&mut self, mut shutdown: watch::Receiver<bool>) -> Option<Ending> {
        let mut ticker = tokio::time::interval(self.config.ping_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            // Not biased: under a steady stream of broadcasts this editor's
            // own frames (and pongs) must still be read.
            let step = tokio::select! {
                _ = shutdown.changed() => return Box::pin(self.finish_for_shutdown()).await,
                ev = next_event(&mut self.member) => self.forward(ev).await,
                (kind, frame) = self.answers.recv() => {
                    self.answered(kind);
                    self.send(Message::Text(frame)).await
                }
                msg = self.ws.next(),
                    if self.in_flight < MAX_IN_FLIGHT
                        && self.reads_waiting < MAX_READS_WAITING
                        && self.paused_until.is_none() =>
                match msg {
                    Some(Ok(msg)) => Box::pin(self.incoming(msg)).await,
                    Some(Err(e)) => {
                        tracing::debug!(session = self.session, "read error: {e}");
                        return read_error_ending(&e);
                    }
                    None => return None,
                },
                _ = ticker.tick() => self.keepalive().await,
                _ = sleep_until_due(self.paused_until), if self.paused_until.is_some() => {
                    self.paused_until = None;
                    Ok(())
                }
                _ = tokio::time::sleep_until(self.presence_rate.next_second().into()),
                    if self.presence_held.is_some() =>
                {
                    if let Some(info) = self.presence_held.take()
                        && self.presence_rate.allow(PRESENCE_PER_SECOND)
                    {
                        self.relay_presence(info);
                    }
                    Ok(())
                }
                Ok(()) = self.access.changed() => match self.access_lost() {
                    Some(ending) => Err(Some(ending)),
                    None => self.tell_role().await,
                },
                _ = sleep_until_due(Some(self.hello.due())), if self.member.is_none() => Err(Some(Ending(
                    close::NO_HELLO,
                    format!("no hello within {} s", self.config.hello_timeout.as_secs_f64()),
                ))),
            };
            if let Err(ending) = step {
                return ending;
            }
        }
    }

    /// One of this connection's requests was answered.
    fn answered(&mut self, kind: inbox::Kind) {
        match kind {
            inbox::Kind::Edit => self.in_flight = self.in_flight.saturating_sub(1),
            inbox::Kind::Read => {
                self.reads_waiting = self.reads_waiting.saturating_sub(1);
                if self.reads_waiting == 0 {
                    self.hello.resume(Instant::now());
                }
            }
        }
    }

    /// Sends one message within the write timeout.
    async fn send(&mut self, msg: Message) -> Result<(), Option<Ending>> {
        self.write_all(std::iter::once(msg)).await
    }

    /// Writes messages with one flush, all within the write timeout.
    /// `Err(None)` means the socket is gone: close without ceremony; a
    /// timeout means the editor is not reading and is cut loose.
    async fn write_all(
        &mut self,
        msgs: impl IntoIterator<Item = Message>,
    ) -> Result<(), Option<Ending>> {
        // Checked before every write, not only when the loop next polls the
        // change: an answer queued before a revocation is not sent after it.
        if self.access.has_changed().unwrap_or(false)
            && let Some(ending) = self.access_lost()
        {
            return Err(Some(ending));
        }
        let ws = &mut self.ws;
        let write = async {
            for m in msgs {
                match m {
                    Message::Text(t) if t.len() > forward::FRAGMENT => {
                        forward::send_fragmented(ws, t).await?
                    }
                    m => ws.feed(m).await?,
                }
            }
            ws.flush().await
        };
        match tokio::time::timeout(self.config.write_timeout, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(None),
            Err(_) => {
                Metrics::inc(&self.shared.metrics.broadcast_drops);
                Err(Some(Ending(
                    close::OUTBOUND_OVERFLOW,
                    "write timed out: client not reading".into(),
                )))
            }
        }
    }

    async fn keepalive(&mut self) -> Result<(), Option<Ending>> {
        if self.last_heard.elapsed() > self.config.idle_timeout {
            return Err(Some(Ending(
                close::IDLE,
                "nothing heard within the idle timeout".into(),
            )));
        }
        self.send(Message::Ping(Default::default())).await
    }

    async fn incoming(&mut self, msg: Message) -> Result<(), Option<Ending>> {
        self.last_heard = Instant::now();
        match msg {
            Message::Text(text) => self.text(text).await,
            Message::Binary(_) => {
                self.error(
                    codes::BINARY_NOT_SUPPORTED,
                    "binary frames are not supported; send JSON text frames".into(),
                    None,
                )
                .await
            }
            // The WebSocket layer queues the pong; it goes now, not with
            // the next message (an editor takes a silent hub for lost).
            Message::Ping(_) => self.write_all(std::iter::empty()).await,
            // Pongs only prove life.
            Message::Pong(_) | Message::Frame(_) => Ok(()),
            // The layer answers the close; the stream then ends.
            Message::Close(_) => Ok(()),
        }
    }

    async fn error(
        &mut self,
        code: &str,
        message: String,
        op_id: Option<u64>,
    ) -> Result<(), Option<Ending>> {
        self.error_about(code, message, op_id, None).await
    }

    /// An error naming the edit (`op_id`) or request (`req`) it is about.
    async fn error_about(
        &mut self,
        code: &str,
        message: String,
        op_id: Option<u64>,
        req: Option<u64>,
    ) -> Result<(), Option<Ending>> {
        Metrics::inc(&self.shared.metrics.protocol_errors);
        if self.errors_since.elapsed() > ERROR_WINDOW {
            self.errors = 0;
            self.errors_since = Instant::now();
        }
        // The hub's own limits (too fast, too much held) are answers, not
        // the client's faults: they never count toward closing it.
        if !matches!(code, codes::RATE_LIMITED | codes::BUSY) {
            self.errors += 1;
        }
        let frame = protocol::encode(&ServerMsg::Error {
            code: code.to_string(),
            message,
            op_id,
            req,
        });
        self.send(Message::Text(frame.into())).await?;
        if self.errors > MAX_ERRORS_PER_WINDOW {
            return Err(Some(Ending(
                close::TOO_MANY_ERRORS,
                "too many errors".into(),
            )));
        }
        Ok(())
    }

    /// One text frame: read, then handed to the handler of its kind, each
    /// in a room of its own (`hello`, `edit`, `presence`, `reads`,
    /// `users`), as mini-redis has one per command.
    async fn text(&mut self, frame: Utf8Bytes) -> Result<(), Option<Ending>> {
        let text = frame.as_str();
        if text.len() > MAX_MESSAGE_BYTES {
            let m = format!(
                "message of {} bytes is over the limit of {MAX_MESSAGE_BYTES}",
                text.len()
            );
            let e = FrameHeader::read(text).error(codes::TOO_LARGE, m);
            return self.unreadable(e).await;
        }
        let decoded = if text.len() > PARSE_ASIDE {
            // A large frame is read on the blocking pool: milliseconds of
            // parsing on one of the runtime's few threads would hold up every
            // other connection it serves.
            let frame = frame.clone();
            let shared = self.shared.clone();
            let _turn = shared.parsing.acquire().await;
            tokio::task::spawn_blocking(move || protocol::decode_client(frame.as_str()))
                .await
                .map_err(|_| shutting_down())?
        } else {
            protocol::decode_client(text)
        };
        let msg = match decoded {
            Ok(msg) => msg,
            Err(e) => return self.unreadable(e).await,
        };
        match msg {
            ClientMsg::Hello {
                protocol,
                user,
                client_id,
                token: _,
                roster,
                last_seq,
                view,
            } => {
                // Boxed: once per connection, and the largest state of all;
                // unboxed it would size every connection's task.
                let at = (last_seq, view);
                Box::pin(self.hello(&protocol, user, client_id, roster, at)).await
            }
            ClientMsg::Edit {
                op_id,
                ops,
                note,
                force,
                more,
                part,
            } => {
                let part = edit::Part {
                    frame: frame.clone(),
                    op_id,
                    ops,
                    note,
                    force,
                    more,
                    part,
                    bytes: text.len(),
                };
                self.edit_part(part).await
            }
            ClientMsg::Presence { cursor } => self.presence(cursor).await,
            ClientMsg::History { req, query } => self.history(req, query).await,
            ClientMsg::Users { req } => self.users(req).await,
            ClientMsg::SetRole {
                req,
                user,
                role,
                create,
                staff,
            } => Box::pin(self.set_role(req, user, role, create, staff)).await,
            ClientMsg::ListRosters { req } => self.list_rosters(req).await,
        }
    }

    async fn send_to_readers(
        &mut self,
        what: ReadWhat,
        req: Option<u64>,
    ) -> Result<(), Option<Ending>> {
        let read = Read {
            what,
            req,
            reply: self.read_tx.clone(),
        };
        if !self.reads.submit(self.session, read) {
            return Err(shutting_down());
        }
        self.reads_waiting += 1;
        self.hello.pause(Instant::now());
        Ok(())
    }

    async fn send_to_writer(&mut self, cmd: Cmd) -> Result<(), Option<Ending>> {
        if self.writer.send(cmd).await.is_err() {
            return Err(shutting_down());
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Refuses a message for want of a role: an error, the connection stays.
    async fn forbidden(
        &mut self,
        message: String,
        op_id: Option<u64>,
        req: Option<u64>,
    ) -> Result<(), Option<Ending>> {
        Metrics::inc(&self.shared.metrics.forbidden);
        self.error_about(codes::FORBIDDEN, message, op_id, req)
            .await
    }

    /// Shutdown: stop reading, give this editor's unanswered edits a moment
    /// to be committed and answered, then close normally.
    /// Sends the answers still owed (edits and reads in flight), within
    /// `SHUTDOWN_GRACE`; a client that does not read them is not waited for
    /// longer (each send keeps to the write timeout).
    async fn flush_owed(&mut self) {
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.in_flight + self.reads_waiting > 0 {
            // An edit's ack comes with its commit's broadcast, a read's
            // answer by the inbox.
            let step = tokio::select! {
                ev = next_event(&mut self.member) => self.forward(ev).await,
                (kind, frame) = self.answers.recv() => {
                    self.answered(kind);
                    self.send(Message::Text(frame)).await
                }
                _ = tokio::time::sleep_until(deadline) => return,
            };
            if step.is_err() {
                return;
            }
        }
    }

    async fn finish_for_shutdown(&mut self) -> Option<Ending> {
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.in_flight > 0 {
            let step = tokio::select! {
                ev = next_event(&mut self.member) => self.forward(ev).await,
                (kind, frame) = self.answers.recv() => {
                    self.answered(kind);
                    self.send(Message::Text(frame)).await
                }
                _ = tokio::time::sleep_until(deadline) => break,
            };
            if let Err(ending) = step {
                return ending;
            }
        }
        Some(Ending(CloseCode::Normal.into(), "hub shutting down".into()))
    }

    fn leave(&mut self) {
        if let Some(m) = self.member.take() {
            self.shared.remove_presence(&m.roster, self.session);
            let frame = protocol::encode(&ServerMsg::Left {
                session: self.session,
                user: m.author.user.to_string(),
            });
            // Through the same gathering as its moves: it replaces a move
            // still waiting, so no cursor follows the departure.
            self.shared.gathered.relay(
                &m.roster,
                (self.session, crate::server::presence::Kind::Left),
                frame.into(),
                &m.publish,
            );
        }
    }
}

/// The close for a connection whose hub is going away.
fn shutting_down() -> Option<Ending> {
    Some(Ending(CloseCode::Away.into(), "hub shutting down".into()))
}

/// How a connection whose frames could not be read is closed: a message
/// over the limit with 1009, a broken frame with 1002, each with a close
/// frame saying why; a socket already gone without one.
fn read_error_ending(e: &tokio_tungstenite::tungstenite::Error) -> Option<Ending> {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Capacity(c) => Some(Ending(
            1009,
            format!(
                "message too big ({c}); the limit is {} MiB",
                rota_core::protocol::HARD_MAX_MESSAGE_BYTES >> 20
            ),
        )),
        Error::Protocol(p) => Some(Ending(1002, format!("protocol error: {p}"))),
        Error::Utf8(_) => Some(Ending(1007, "text frame is not UTF-8".into())),
        _ => None,
    }
}

//! One editor's WebSocket connection: reads its frames, hands edits to the
//! writer, and forwards what the roster's broadcast carries. It never touches
//! the store. A slow editor only ever hurts itself: the broadcast ring it reads
//! from is bounded and the writer never waits for it; when it falls behind by a
//! whole ring, or a write to it stalls, it is closed and must resync.

use super::auth;
use super::inbox;
use super::reader::{MAX_READS_WAITING, Read, ReadWhat};
use super::ring;
use super::writer::{Cmd, Edit, Joined, Start};
use super::{Config, Event, Metrics, Shared};
use crate::accounts::{Identity, Role};
use crate::domain::{Author, Op, Seq, check_roster_name};
use crate::protocol::{
    self, ClientMsg, DecodeError, FrameHeader, MAX_IN_FLIGHT, MAX_MESSAGE_BYTES, MAX_NOTE_CHARS,
    MAX_OP_STRING_CHARS, MAX_OPS_PER_BATCH, MAX_OPS_PER_CHANGE_SET, PresenceInfo, ServerMsg,
    WelcomeBody, WelcomeHead, close, codes,
};
use futures_util::{SinkExt, StreamExt};
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
/// Most queued broadcast events (group commits, presence), or frames,
/// forwarded before one flush.
const FORWARD_BATCH: usize = 64;
/// Most editors a welcome lists as present (those with a cursor first).
const MAX_PRESENCE_LISTED: usize = 200;
/// Text messages larger than this go out as fragments of this size.
const FRAGMENT: usize = 4 * 1024;
/// How long shutdown waits for this connection's unanswered edits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

struct Member {
    roster: String,
    author: Author,
    events: ring::Receiver<Event>,
    publish: ring::Sender<Event>,
    /// The roster's newest broadcast seq.
    latest: Arc<AtomicU64>,
    /// The role this connection was last told it has (welcome, `role`).
    told_role: Option<Role>,
}

/// An edit arriving in parts (`more: true`, numbered by `part`): held here,
/// never in the writer, until its last part comes. At most one per
/// connection, and at most [`MAX_OPS_PER_CHANGE_SET`] operations, so one
/// connection's memory stays bounded. It is only ever submitted whole: it
/// opens only at part 0 and takes only the next part in order.
struct Assembly {
    op_id: u64,
    /// The number the next part must carry.
    next_part: u32,
    ops: Vec<Op>,
    note: Option<String>,
    force: bool,
    /// Its parts' bytes, counted in the hub-wide budget while held.
    held: Held,
}

/// Bytes of edits arriving in parts, reserved in the hub-wide budget
/// (`Metrics::assembling_bytes`) and given back when dropped: when the edit is
/// submitted or refused, or its connection goes.
struct Held {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Held {
    fn new(shared: &Arc<Shared>) -> Held {
        Held {
            shared: shared.clone(),
            bytes: 0,
        }
    }

    /// Reserves `n` more bytes unless the budget would pass `limit`.
    fn take(&mut self, n: usize, limit: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let total = &self.shared.metrics.assembling_bytes;
        let (n, limit) = (n as u64, limit as u64);
        let mut cur = total.load(Relaxed);
        loop {
            if cur + n > limit {
                return false;
            }
            match total.compare_exchange_weak(cur, cur + n, Relaxed, Relaxed) {
                Ok(_) => {
                    self.bytes += n as usize;
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shared
            .metrics
            .assembling_bytes
            .fetch_sub(self.bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One `edit` frame as received.
struct Part {
    op_id: u64,
    ops: Vec<Op>,
    note: Option<String>,
    force: bool,
    more: bool,
    /// Its number among the parts of its edit (None: a whole edit, part 0).
    part: Option<u32>,
    /// The frame's length as received.
    bytes: usize,
}

/// Edits refused part-way whose later parts are dropped without a word
/// (their author was told once). Bounded: a part of an edit forgotten here
/// is still never applied (it has no part 0 before it), it only earns an
/// error of its own.
const REFUSED_REMEMBERED: usize = 64;

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
    writer: mpsc::Sender<Cmd>,
    config: Arc<Config>,
    /// Where the writer answers this connection's edits.
    direct_tx: inbox::Sender,
    /// The read pool, and this connection's queue for its answers.
    reads: mpsc::Sender<Read>,
    /// Where the read pool answers its reads.
    read_tx: inbox::Sender,
    /// Both kinds of answer, in one queue.
    answers: inbox::Receiver,
    /// Reads sent to the pool and not yet answered.
    reads_waiting: usize,
    member: Option<Member>,
    /// Its hello said protocol 1.1 or later: it reads `batch` frames.
    reads_batches: bool,
    in_flight: usize,
    assembly: Option<Assembly>,
    refused: VecDeque<u64>,
    last_heard: Instant,
    errors: u32,
    errors_since: Instant,
    /// Presence relayed in the current second, and a later one held back
    /// until the next (the latest wins): at most [`PRESENCE_PER_SECOND`].
    presence_rate: PerSecond,
    presence_held: Option<PresenceInfo>,
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

/// What a connection is given to reach the rest of the hub.
pub struct Links {
    pub shared: Arc<Shared>,
    pub writer: mpsc::Sender<Cmd>,
    pub reads: mpsc::Sender<Read>,
    pub config: Arc<Config>,
}

pub async fn serve(ws: Ws, who: Option<Identity>, links: Links, shutdown: watch::Receiver<bool>) {
    let Links {
        shared,
        writer,
        reads,
        config,
    } = links;
    let session = shared.next_session();
    // Every answer is to one of at most MAX_IN_FLIGHT edits or
    // MAX_READS_WAITING reads: that accounting bounds the inbox.
    let (direct_tx, read_tx, answers) = inbox::inbox();
    let mut conn = Conn {
        ws,
        access: shared.gate.subscribe(),
        who,
        session,
        shared: shared.clone(),
        writer,
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
        last_heard: Instant::now(),
        errors: 0,
        errors_since: Instant::now(),
        presence_rate: PerSecond::new(),
        presence_held: None,
        edit_rate: PerSecond::new(),
    };
    Metrics::inc(&shared.metrics.connections_total);
    shared
        .metrics
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let ending = conn.run(shutdown).await;
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
    }
    shared
        .metrics
        .connections
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Sends a large text message as continuation frames of [`FRAGMENT`] bytes,
/// each flushed before the next. The WebSocket layer's write buffer keeps the
/// capacity of the largest frame it ever held, so without this every editor
/// that once received a big snapshot would pin that much memory for good.
async fn send_fragmented(
    ws: &mut Ws,
    text: Utf8Bytes,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let bytes = Bytes::from(text);
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + FRAGMENT).min(bytes.len());
        let opcode = if start == 0 {
            Data::Text
        } else {
            Data::Continue
        };
        let frame = Frame::message(
            bytes.slice(start..end),
            OpCode::Data(opcode),
            end == bytes.len(),
        );
        ws.send(Message::Frame(frame)).await?;
        start = end;
    }
    Ok(())
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
        let hello_by = tokio::time::sleep(self.config.hello_timeout);
        tokio::pin!(hello_by);
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
                    if self.in_flight < MAX_IN_FLIGHT && self.reads_waiting < MAX_READS_WAITING =>
                match msg {
                    Some(Ok(msg)) => Box::pin(self.incoming(msg)).await,
                    Some(Err(e)) => {
                        tracing::debug!(session = self.session, "read error: {e}");
                        return read_error_ending(&e);
                    }
                    None => return None,
                },
                _ = ticker.tick() => self.keepalive().await,
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
                _ = &mut hello_by, if self.member.is_none() => Err(Some(Ending(
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
            inbox::Kind::Read => self.reads_waiting = self.reads_waiting.saturating_sub(1),
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
        let ws = &mut self.ws;
        let write = async {
            for m in msgs {
                match m {
                    Message::Text(t) if t.len() > FRAGMENT => send_fragmented(ws, t).await?,
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

    /// What an event puts on this editor's wire (see [`frames_for`]).
    fn frames_for(&mut self, ev: Event, out: &mut Vec<Utf8Bytes>) {
        let mine = frames_for(ev, self.session, self.reads_batches, out);
        self.in_flight = self.in_flight.saturating_sub(mine);
    }

    /// Forwards a broadcast event and whatever else is already queued behind
    /// it, with one flush for all of them. An editor more than
    /// `outbound_queue` batches behind the roster (or a whole ring of events)
    /// is closed: it must reconnect and catch up.
    async fn forward(&mut self, ev: Result<Event, ring::RecvError>) -> Result<(), Option<Ending>> {
        let mut frames = Vec::new();
        let mut events = 0;
        let mut next = ev;
        loop {
            let ev = match next {
                Ok(ev) => ev,
                Err(ring::RecvError::Lagged(n)) => {
                    return Err(self.overflowed(format!("{n} events")));
                }
                Err(ring::RecvError::Closed) => return Err(None),
            };
            if let (Event::Committed(group), Some(m)) = (&ev, &self.member) {
                let newest = group.batches.last().map_or(0, |c| c.seq);
                let behind = m.latest.load(Ordering::Acquire).saturating_sub(newest);
                if behind > self.config.outbound_queue as u64 {
                    return Err(self.overflowed(format!("{behind} batches")));
                }
            }
            self.frames_for(ev, &mut frames);
            events += 1;
            if events >= FORWARD_BATCH || frames.len() >= FORWARD_BATCH {
                break;
            }
            match self.member.as_mut().map(|m| m.events.try_recv()) {
                Some(Ok(ev)) => next = Ok(ev),
                Some(Err(ring::TryRecvError::Lagged(n))) => next = Err(ring::RecvError::Lagged(n)),
                _ => break,
            }
        }
        self.write_all(frames.into_iter().map(Message::Text)).await
    }

    fn overflowed(&self, by: String) -> Option<Ending> {
        Metrics::inc(&self.shared.metrics.broadcast_drops);
        tracing::info!(
            session = self.session,
            "outbound queue overflowed by {by}; closing"
        );
        Some(Ending(
            close::OUTBOUND_OVERFLOW,
            "outbound queue overflowed: reconnect with your last seq to resync".into(),
        ))
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
            Message::Text(text) => self.text(&text).await,
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
        self.errors += 1;
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

    async fn text(&mut self, text: &str) -> Result<(), Option<Ending>> {
        if text.len() > MAX_MESSAGE_BYTES {
            let m = format!(
                "message of {} bytes is over the limit of {MAX_MESSAGE_BYTES}",
                text.len()
            );
            let e = FrameHeader::read(text).error(codes::TOO_LARGE, m);
            return self.unreadable(e).await;
        }
        let msg = match protocol::decode_client(text) {
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
            } => {
                // Boxed: once per connection, and the largest state of all;
                // unboxed it would size every connection's task.
                Box::pin(self.hello(&protocol, user, client_id, roster, last_seq)).await
            }
            ClientMsg::Edit {
                op_id,
                ops,
                note,
                force,
                more,
                part,
            } => {
                let part = Part {
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
            ClientMsg::Presence { cursor } => {
                if self.member.is_none() {
                    return self
                        .error(codes::NOT_JOINED, "send hello first".into(), None)
                        .await;
                }
                if let Some(why) = self.refusal(Role::Viewer, "send presence") {
                    return self.forbidden(why, None, None).await;
                }
                let Some(m) = &self.member else {
                    return Ok(());
                };
                if let Some(c) = &cursor
                    && let Err(e) = crate::domain::check_id("cursor.staff", &c.staff)
                {
                    return self.error(codes::BAD_MESSAGE, e, None).await;
                }
                let info = PresenceInfo {
                    session: self.session,
                    user: m.author.user.to_string(),
                    cursor,
                };
                if self.presence_rate.allow(PRESENCE_PER_SECOND) {
                    self.relay_presence(info);
                } else {
                    self.presence_held = Some(info);
                }
                Ok(())
            }
            ClientMsg::History { req, query } => {
                let Some(m) = &self.member else {
                    return self
                        .error_about(codes::NOT_JOINED, "send hello first".into(), None, req)
                        .await;
                };
                if let Err(m) = query.check() {
                    return self.error_about(codes::BAD_MESSAGE, m, None, req).await;
                }
                let roster = m.roster.clone();
                if let Some(why) = self.refusal(Role::Viewer, "read history") {
                    return self.forbidden(why, None, req).await;
                }
                let what = ReadWhat::History { roster, query };
                self.send_to_readers(what, req).await
            }
            ClientMsg::Users { req } => {
                if let Some(why) = self.users_refusal() {
                    return self.refuse_users_request(why, req).await;
                }
                self.send_users(req, None).await
            }
            ClientMsg::SetRole {
                req,
                user,
                role,
                create,
            } => Box::pin(self.set_role(req, user, role, create)).await,
            ClientMsg::ListRosters { req } => {
                let visible = auth::visible_rosters(&self.shared.gate.current(), self.who.as_ref());
                self.send_to_readers(ReadWhat::ListRosters { visible }, req)
                    .await
            }
        }
    }

    /// Tells the roster where this editor's cursor is.
    fn relay_presence(&mut self, info: PresenceInfo) {
        let Some(m) = &self.member else {
            return;
        };
        self.shared.set_presence(&m.roster, info.clone());
        let frame = protocol::encode(&ServerMsg::Presence(info)).into();
        m.publish.send(Event::Presence {
            session: self.session,
            frame,
        });
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
        if self.reads.send(read).await.is_err() {
            return Err(shutting_down());
        }
        self.reads_waiting += 1;
        Ok(())
    }

    async fn send_to_writer(&mut self, cmd: Cmd) -> Result<(), Option<Ending>> {
        if self.writer.send(cmd).await.is_err() {
            return Err(shutting_down());
        }
        self.in_flight += 1;
        Ok(())
    }

    async fn hello(
        &mut self,
        version: &str,
        user: String,
        client_id: String,
        roster: String,
        last_seq: Seq,
    ) -> Result<(), Option<Ending>> {
        if self.member.is_some() {
            return self
                .error(
                    codes::ALREADY_JOINED,
                    "hello was already sent on this connection".into(),
                    None,
                )
                .await;
        }
        if let Err(m) = protocol::check_version(version) {
            self.error(codes::UNSUPPORTED_VERSION, m.clone(), None)
                .await?;
            return Err(Some(Ending(CloseCode::Protocol.into(), m)));
        }
        if let Err(m) = check_roster_name(&roster) {
            return self.error(codes::BAD_ROSTER, m, None).await;
        }
        for (field, v, max) in [("user", &user, 64), ("client_id", &client_id, 128)] {
            if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                let m = format!("{field} `{v}` must be 1 to {max} printable characters");
                return self.error(codes::BAD_MESSAGE, m, None).await;
            }
        }
        // On a hub with accounts the change log and presence name the
        // account, never the name the client gives.
        let user = match &self.who {
            Some(who) => who.user.clone(),
            None => user,
        };
        let mut role = auth::role_of(&self.shared.gate.current(), self.who.as_ref(), &roster);
        if role.is_none() && self.who.is_some() {
            // Perhaps a role given a moment ago: the file, read again.
            let gate = self.shared.gate.clone();
            if let Ok(fresh) = tokio::task::spawn_blocking(move || gate.fresh()).await {
                role = auth::role_of(&fresh, self.who.as_ref(), &roster);
            }
        }
        let Some(role) = role else {
            let m = format!(
                "no roster `{roster}` you may open: ask its admin (or the hub's owner) for a role on it"
            );
            return self.forbidden(m, None, None).await;
        };
        if let Some(who) = &self.who
            && let Err(m) = self.claim_client(&client_id, &who.user.clone()).await
        {
            return self.forbidden(m, None, None).await;
        }
        let (reply, answer) = oneshot::channel();
        let cmd = Cmd::Join {
            roster: roster.clone(),
            last_seq,
            reply,
        };
        if self.writer.send(cmd).await.is_err() {
            return Err(shutting_down());
        }
        let joined: Joined = match answer.await {
            Ok(Ok(j)) => j,
            Ok(Err(e)) => return self.error(codes::STORAGE, e, None).await,
            Err(_) => {
                return Err(shutting_down());
            }
        };
        let me = PresenceInfo {
            session: self.session,
            user: user.clone(),
            cursor: None,
        };
        let presence = self.shared.presence_of(&roster, MAX_PRESENCE_LISTED);
        self.shared.set_presence(&roster, me);
        let welcome = welcome_text(
            &self.shared,
            WelcomeHead {
                roster: roster.clone(),
                seq: joined.seq,
                session: self.session,
                presence,
                account: self.who.as_ref().map(|w| w.user.clone()),
                role: Some(role.as_str().to_string()),
            },
            joined.start,
        );
        // Joining is not announced: with N editors on a roster that costs N^2
        // frames. Others learn of this editor from its first cursor, or from
        // the presence list in their own welcome.
        self.reads_batches = protocol::reads_batches(version);
        self.member = Some(Member {
            roster,
            author: Author {
                user: user.into(),
                client: client_id.into(),
            },
            events: joined.events,
            publish: joined.publish,
            latest: joined.latest,
            told_role: Some(role),
        });
        self.send(Message::Text(welcome.into())).await
    }

    /// Why this connection may not `what` on its roster, needing `need`; None
    /// when it may. Checked against the accounts as they are now.
    fn refusal(&self, need: Role, what: &str) -> Option<String> {
        let roster = &self.member.as_ref()?.roster;
        let has = auth::role_of(&self.shared.gate.current(), self.who.as_ref(), roster);
        match has {
            Some(role) if role >= need => None,
            Some(role) => Some(format!(
                "to {what} on roster `{roster}` takes the {need} role; you are a {role}"
            )),
            None => Some(format!("you have no role on roster `{roster}`")),
        }
    }

    /// Why this connection may not manage its roster's users: (code, message).
    fn users_refusal(&self) -> Option<(&'static str, String)> {
        if self.member.is_none() {
            return Some((codes::NOT_JOINED, "send hello first".into()));
        }
        if !self.shared.gate.current().enabled() {
            return Some((
                codes::NO_ACCOUNTS,
                "this hub has no accounts: add the first (an owner) on the hub's machine with `rota --serve --add-user NAME --role owner`".into(),
            ));
        }
        self.refusal(Role::Admin, "manage its users")
            .map(|m| (codes::FORBIDDEN, m))
    }

    /// Answers a `users` or `set_role` this connection may not make (a
    /// refusal for want of a role is counted as `forbidden`).
    async fn refuse_users_request(
        &mut self,
        (code, message): (&'static str, String),
        req: Option<u64>,
    ) -> Result<(), Option<Ending>> {
        if code == codes::FORBIDDEN {
            return self.forbidden(message, None, req).await;
        }
        self.error_about(code, message, None, req).await
    }

    /// The roster's users (and a new user's token) to this connection.
    async fn send_users(
        &mut self,
        req: Option<u64>,
        token: Option<String>,
    ) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return Ok(());
        };
        let users = self
            .shared
            .gate
            .current()
            .users_of(&m.roster)
            .into_iter()
            .map(|(user, role, owner)| protocol::RosterUser {
                user,
                role: role.as_str().to_string(),
                owner,
            })
            .collect();
        let frame = protocol::encode(&ServerMsg::Users { req, users, token });
        self.send(Message::Text(frame.into())).await
    }

    /// An admin gives a user a role on this roster, takes it away, or adds
    /// a new user with one.
    async fn set_role(
        &mut self,
        req: Option<u64>,
        user: String,
        role: Option<String>,
        create: bool,
    ) -> Result<(), Option<Ending>> {
        if let Some(why) = self.users_refusal() {
            return self.refuse_users_request(why, req).await;
        }
        let Some(roster) = self.member.as_ref().map(|m| m.roster.clone()) else {
            return Ok(());
        };
        let role = match role.as_deref().map(|r| (r, Role::parse(r))) {
            None => None,
            Some((_, Some(r))) => Some(r),
            Some((r, None)) => {
                let m = format!("role: `{r}` is not a role; use viewer, editor, admin or null");
                return self.error_about(codes::BAD_MESSAGE, m, None, req).await;
            }
        };
        let accounts = self.shared.gate.current();
        if accounts.is_owner(&user) {
            let m = format!(
                "user: {user} owns the whole hub; an owner's role is changed on the hub's machine"
            );
            return self.error_about(codes::INVALID, m, None, req).await;
        }
        let gate = self.shared.gate.clone();
        let done = tokio::task::spawn_blocking(move || match (create, role) {
            (true, Some(role)) => gate.add_user(&user, &roster, role).map(Some),
            (true, None) => Err(crate::accounts::AccountsError::Invalid(
                "role: a new user needs a role".into(),
            )),
            (false, role) => gate.set_role(&user, &roster, role).map(|()| None),
        })
        .await;
        match done {
            Ok(Ok(token)) => self.send_users(req, token).await,
            Ok(Err(crate::accounts::AccountsError::Invalid(m))) => {
                self.error_about(codes::INVALID, m, None, req).await
            }
            Ok(Err(e)) => {
                tracing::error!("changing a role: {e}");
                let m = "the hub could not change the accounts; try again".to_string();
                self.error_about(codes::STORAGE, m, None, req).await
            }
            Err(_) => Err(shutting_down()),
        }
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

    /// Makes `client_id` this account's, unless another account has it:
    /// otherwise anyone could read a client id from history and send edits
    /// under its next op ids, which the hub would then take for resends.
    async fn claim_client(&self, client_id: &str, user: &str) -> Result<(), String> {
        let gate = self.shared.gate.clone();
        let (id, u) = (client_id.to_string(), user.to_string());
        let claimed = tokio::task::spawn_blocking(move || gate.claim_client(&id, &u)).await;
        match claimed {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(_other))) => Err(format!(
                "client id `{client_id}` is another account's: each install makes its own; use another local file (--data) for this account"
            )),
            Ok(Err(e)) => {
                tracing::error!("claiming client id {client_id}: {e}");
                Err("the hub could not record this client id; try again".into())
            }
            Err(_) => Err("the hub could not record this client id; try again".into()),
        }
    }

    /// Tells the client its role on its roster when an admin changed it
    /// (it still has one: see `access_lost`).
    async fn tell_role(&mut self) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return Ok(());
        };
        let role = auth::role_of(&self.shared.gate.current(), self.who.as_ref(), &m.roster);
        if role == m.told_role {
            return Ok(());
        }
        if let Some(m) = &mut self.member {
            m.told_role = role;
        }
        let Some(role) = role else {
            return Ok(());
        };
        let frame = protocol::encode(&ServerMsg::Role {
            role: role.as_str().to_string(),
        });
        self.send(Message::Text(frame.into())).await
    }

    /// Whether this connection has lost its leave since it was checked: its
    /// token revoked, or its role on its roster taken away.
    fn access_lost(&self) -> Option<Ending> {
        let accounts = self.shared.gate.current();
        match &self.who {
            Some(who) if !accounts.still_valid(who) => {
                return Some(Ending(close::UNAUTHORIZED, "your token was revoked".into()));
            }
            None if accounts.enabled() => {
                return Some(Ending(
                    close::UNAUTHORIZED,
                    "this hub now has accounts: connect with a token".into(),
                ));
            }
            _ => {}
        }
        let m = self.member.as_ref()?;
        auth::role_of(&accounts, self.who.as_ref(), &m.roster)
            .is_none()
            .then(|| {
                Ending(
                    close::FORBIDDEN,
                    format!("you no longer have a role on roster `{}`", m.roster),
                )
            })
    }

    /// Takes one frame of an edit. A whole edit (one frame, nothing held)
    /// goes straight to the writer; parts are held until the last. Only an
    /// edit begun at part 0 and continued part by part in order is ever
    /// submitted: anything else refuses it whole.
    async fn edit_part(&mut self, part: Part) -> Result<(), Option<Ending>> {
        let op_id = part.op_id;
        if self.member.is_none() {
            self.assembly = None;
            return self
                .error(
                    codes::NOT_JOINED,
                    "send hello before editing".into(),
                    Some(op_id),
                )
                .await;
        }
        if let Some((code, msg)) = frame_problem(&part) {
            return self.refuse_frame(op_id, code, msg).await;
        }
        let need = Role::needed_for(&part.ops);
        if let Some(why) = self.refusal(need, "make this edit") {
            Metrics::inc(&self.shared.metrics.forbidden);
            let msg = format!("edit {op_id}: {why}; nothing of it is applied");
            return self.refuse_frame(op_id, codes::FORBIDDEN, msg).await;
        }
        match self.assembly.take() {
            Some(mut open) if open.op_id == op_id && part.part == Some(open.next_part) => {
                if open.ops.len() + part.ops.len() > MAX_OPS_PER_CHANGE_SET {
                    let msg = format!(
                        "ops: more than {MAX_OPS_PER_CHANGE_SET} operations in one edit \
                         (its parts together); split it into several edits"
                    );
                    return self.refuse_frame(op_id, codes::TOO_MANY_OPS, msg).await;
                }
                let max = self.config.max_edit_bytes;
                if open.held.bytes + part.bytes > max {
                    let msg = format!(
                        "edit {op_id}: its parts together pass {max} bytes; split it into several edits"
                    );
                    return self.refuse_frame(op_id, codes::TOO_LARGE, msg).await;
                }
                if !open.held.take(part.bytes, self.config.max_assembly_bytes) {
                    return self.refuse_frame(op_id, codes::BUSY, busy(op_id)).await;
                }
                open.ops.extend(part.ops);
                open.next_part += 1;
                if part.more {
                    self.assembly = Some(open);
                    return Ok(());
                }
                self.submit_edit(open.op_id, open.ops, open.note, open.force)
                    .await
            }
            Some(open) if open.op_id != op_id => {
                let msg = format!(
                    "edit {} was still arriving in parts when edit {op_id} began; \
                     neither is applied: send every part of one edit before the next",
                    open.op_id
                );
                // Put back, for refuse_frame to refuse it too.
                self.assembly = Some(open);
                self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
            }
            Some(open) => {
                let msg = format!(
                    "edit {op_id}: part {} came where part {} was due; the edit is not \
                     applied: send it again from part 0",
                    part.part
                        .map_or("without a number".into(), |n| n.to_string()),
                    open.next_part
                );
                self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
            }
            None => match part.part.unwrap_or(0) {
                0 => {
                    if !self.edit_rate.allow(self.config.max_edits_per_sec) {
                        let max = self.config.max_edits_per_sec;
                        let msg = format!(
                            "edit {op_id}: more than {max} edits a second from this connection; \
                             nothing applied: send it again in a moment"
                        );
                        return self.refuse_frame(op_id, codes::RATE_LIMITED, msg).await;
                    }
                    self.refused.retain(|id| *id != op_id);
                    if part.more {
                        let mut held = Held::new(&self.shared);
                        if !held.take(part.bytes, self.config.max_assembly_bytes) {
                            return self.refuse_frame(op_id, codes::BUSY, busy(op_id)).await;
                        }
                        self.assembly = Some(Assembly {
                            op_id,
                            next_part: 1,
                            ops: part.ops,
                            note: part.note,
                            force: part.force,
                            held,
                        });
                        return Ok(());
                    }
                    self.submit_edit(op_id, part.ops, part.note, part.force)
                        .await
                }
                // The rest of an edit already refused: dropped quietly.
                _ if self.refused.contains(&op_id) => Ok(()),
                n => {
                    let msg = format!(
                        "edit {op_id}: part {n} came without the parts before it; nothing of \
                         it is applied: send the edit again from part 0"
                    );
                    self.refuse_frame(op_id, codes::BAD_MESSAGE, msg).await
                }
            },
        }
    }

    /// A frame that could not be read. When it names an edit, that edit is
    /// refused (with the error, which carries its op id) and the rest of it
    /// dropped; an edit still arriving in parts is refused too, since the
    /// frame may have been one of its parts.
    async fn unreadable(&mut self, e: DecodeError) -> Result<(), Option<Ending>> {
        if let Some(op_id) = e.op_id {
            self.remember_refused(op_id);
        }
        self.refuse_open_other_than(e.op_id, |open| {
            format!(
                "edit {open}: a frame that arrived while its parts were coming in \
                 could not be read; the edit is not applied"
            )
        })
        .await?;
        self.error_about(e.code, e.message, e.op_id, e.req).await
    }

    /// Refuses the edit `op_id` with an error: whatever of it is held is
    /// dropped, and so are its later parts. An edit of another op id still
    /// arriving is refused too, since this frame came between its parts.
    async fn refuse_frame(
        &mut self,
        op_id: u64,
        code: &str,
        message: String,
    ) -> Result<(), Option<Ending>> {
        self.refuse_open_other_than(Some(op_id), |open| {
            format!(
                "edit {open} was still arriving in parts when edit {op_id} came; \
                 neither is applied: send every part of one edit before the next"
            )
        })
        .await?;
        self.remember_refused(op_id);
        self.error(code, message, Some(op_id)).await
    }

    /// Drops the edit being assembled, if any; unless it is `op_id`, its
    /// author is told why (`why` of its op id) and its later parts dropped.
    async fn refuse_open_other_than(
        &mut self,
        op_id: Option<u64>,
        why: impl FnOnce(u64) -> String,
    ) -> Result<(), Option<Ending>> {
        let Some(open) = self.assembly.take() else {
            return Ok(());
        };
        if Some(open.op_id) == op_id {
            return Ok(());
        }
        self.remember_refused(open.op_id);
        self.error(codes::BAD_MESSAGE, why(open.op_id), Some(open.op_id))
            .await
    }

    fn remember_refused(&mut self, op_id: u64) {
        if !self.refused.contains(&op_id) {
            if self.refused.len() >= REFUSED_REMEMBERED {
                self.refused.pop_front();
            }
            self.refused.push_back(op_id);
        }
    }

    async fn submit_edit(
        &mut self,
        op_id: u64,
        ops: Vec<Op>,
        note: Option<String>,
        force: bool,
    ) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return Ok(());
        };
        let cmd = Cmd::Edit(Edit {
            roster: m.roster.clone(),
            author: m.author.clone(),
            session: self.session,
            op_id,
            fingerprint: protocol::edit_fingerprint(&ops, force),
            ops,
            note,
            force,
            reply: self.direct_tx.clone(),
        });
        self.send_to_writer(cmd).await
    }

    /// Shutdown: stop reading, give this editor's unanswered edits a moment
    /// to be committed and answered, then close normally.
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
            m.publish.send(Event::Presence {
                session: self.session,
                frame: frame.into(),
            });
        }
    }
}

/// What an event puts on the wire of the editor `session`: its own batches'
/// acks and the others' changes, in seq order; to a 1.1 editor
/// (`reads_batches`), as one frame. Returns how many of the batches were
/// its own (answers to its edits).
pub(super) fn frames_for(
    ev: Event,
    session: u64,
    reads_batches: bool,
    out: &mut Vec<Utf8Bytes>,
) -> usize {
    match ev {
        Event::Committed(group) => {
            let mine = group
                .batches
                .iter()
                .filter(|c| c.session == session)
                .count();
            if reads_batches && mine == 0 {
                // The same frame for every editor that wrote none of it.
                out.extend(group.joined_changes());
                return 0;
            }
            let own = group.batches.iter().filter_map(|c| {
                if c.session == session {
                    Some(&c.ack)
                } else {
                    c.frame.as_ref()
                }
            });
            if reads_batches {
                out.extend(protocol::join_frames(own));
            } else {
                out.extend(own.cloned());
            }
            mine
        }
        Event::Presence { session: s, frame } if s != session => {
            out.push(frame);
            0
        }
        Event::Presence { .. } => 0,
    }
}

/// The welcome of the editor `session` joining at `start`. A snapshot is
/// encoded once per roster version and shared; encoded parts are put in,
/// not encoded again.
pub(super) fn welcome_text(shared: &Shared, head: WelcomeHead, start: Start) -> String {
    let (roster, seq) = (head.roster.clone(), head.seq);
    let roster = roster.as_str();
    match start {
        Start::Changes(c) => protocol::encode_welcome::<&str>(head, WelcomeBody::Changes(c)),
        Start::Frames(f) => protocol::encode_welcome(head, WelcomeBody::ChangeFrames(&f)),
        Start::Snapshot(snap) => {
            // Encoding a snapshot cannot fail (string keys only).
            let json: Arc<str> = serde_json::to_string(&snap).unwrap_or_default().into();
            shared.cache_snapshot(roster, seq, json.clone());
            protocol::encode_welcome::<&str>(head, WelcomeBody::Snapshot(&json))
        }
        Start::SharedSnapshot(json) => {
            protocol::encode_welcome::<&str>(head, WelcomeBody::Snapshot(&json))
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
                crate::protocol::HARD_MAX_MESSAGE_BYTES >> 20
            ),
        )),
        Error::Protocol(p) => Some(Ending(1002, format!("protocol error: {p}"))),
        Error::Utf8(_) => Some(Ending(1007, "text frame is not UTF-8".into())),
        _ => None,
    }
}

/// Why a part was refused when the hub holds all it will of edits in parts.
fn busy(op_id: u64) -> String {
    format!(
        "edit {op_id}: the hub is holding as many edits arriving in parts as it will; \
         nothing of this one is kept: send it again in a moment"
    )
}

/// The first operation carrying a string longer than the limit: (its
/// index, the string's length in characters).
fn long_string(ops: &[Op]) -> Option<(usize, usize)> {
    ops.iter().enumerate().find_map(|(i, op)| {
        let mut longest = 0;
        op.each_string(&mut |s| {
            // Bytes bound characters from above: count only when it matters.
            if s.len() > MAX_OP_STRING_CHARS {
                longest = longest.max(s.chars().count());
            }
        });
        (longest > MAX_OP_STRING_CHARS).then_some((i, longest))
    })
}

fn frame_problem(part: &Part) -> Option<(&'static str, String)> {
    if part.ops.is_empty() {
        return Some((
            codes::BAD_MESSAGE,
            "ops: an edit needs at least one operation".into(),
        ));
    }
    if part.ops.len() > MAX_OPS_PER_BATCH {
        return Some((
            codes::TOO_MANY_OPS,
            format!(
                "ops: {} operations is over the limit of {MAX_OPS_PER_BATCH} per frame \
                 (send a larger edit in parts with `more` and `part`)",
                part.ops.len()
            ),
        ));
    }
    if part.more && part.part.is_none() {
        return Some((
            codes::BAD_MESSAGE,
            "part: a part of an edit sent in parts must carry its number \
             (0 for the first; protocol 1.2)"
                .into(),
        ));
    }
    // Held whole until the last part: no string in it may be larger than
    // any the roster would take.
    if (part.more || part.part.is_some())
        && let Some((i, n)) = long_string(&part.ops)
    {
        return Some((
            codes::TOO_LARGE,
            format!(
                "ops[{i}]: a string of {n} characters is over the limit of {MAX_OP_STRING_CHARS}"
            ),
        ));
    }
    let note_chars = part.note.as_deref().map_or(0, |n| n.chars().count());
    if note_chars > MAX_NOTE_CHARS {
        return Some((
            codes::BAD_MESSAGE,
            format!("note: {note_chars} characters is over the limit of {MAX_NOTE_CHARS}"),
        ));
    }
    None
}

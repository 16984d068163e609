//! One simulated editor: a real WebSocket client speaking the protocol. It
//! keeps the roster's cells as the hub's stream says (to check convergence),
//! times every edit it sends (to its ack) and every edit it sees (from when
//! its author sent it, carried in the edit's note), and, as a writer, sends
//! edits by its plan: paced, at a rate, or as fast as acks allow.

use futures_util::{FutureExt, SinkExt, StreamExt};
use rota::domain::{Change, Date, Op, Seq};
use rota::protocol::{self, ChangeSet, ClientMsg, ServerMsg};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub type Cell = (String, Date);

pub const CODES: [&str; 3] = ["D", "N", "OFF"];

/// What every editor of a run shares.
pub struct Shared {
    pub start: Instant,
    /// Other editors expected to see each edit.
    pub observers: u32,
    /// Count deliveries in `seen` as they happen (paced writers wait on
    /// them); otherwise they are counted after the run, which keeps shared
    /// counters out of the hot path.
    pub live_counts: bool,
    /// Editors keep `change` frames and apply them after the run.
    pub defer: bool,
    /// Per edit id: how many others have seen it, and the longest delay (µs).
    pub seen: Vec<AtomicU32>,
    pub last_us: Vec<AtomicU32>,
    /// Next edit id (edits are numbered across all writers), below this.
    pub next_id: AtomicUsize,
    pub capacity: usize,
    /// Bumped each time an edit has reached every other editor.
    pub fanned_out: watch::Sender<u64>,
    /// Bumped whenever an editor's seq moves or a writer finishes.
    pub progress: watch::Sender<u64>,
    /// Highest seq acknowledged to anyone.
    pub top_seq: AtomicU64,
    pub writers_done: AtomicUsize,
    /// Editors that stopped on an error before being told to.
    pub failed: AtomicUsize,
    /// Set once the writers are done: from then on every seq move is
    /// reported (before, that would wake the driver for every message).
    pub settling: std::sync::atomic::AtomicBool,
    /// Each editor's seq, as it moves.
    pub seqs: Vec<AtomicU64>,
}

impl Shared {
    pub fn new(editors: usize, observers: u32, capacity: usize, live_counts: bool) -> Shared {
        Shared {
            start: Instant::now(),
            observers,
            live_counts,
            defer: false,
            seen: (0..if live_counts { capacity } else { 0 })
                .map(|_| AtomicU32::new(0))
                .collect(),
            last_us: (0..if live_counts { capacity } else { 0 })
                .map(|_| AtomicU32::new(0))
                .collect(),
            capacity,
            next_id: AtomicUsize::new(0),
            fanned_out: watch::channel(0).0,
            progress: watch::channel(0).0,
            top_seq: AtomicU64::new(0),
            writers_done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            settling: std::sync::atomic::AtomicBool::new(false),
            seqs: (0..editors).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }
}

/// How a writer sends.
#[derive(Clone, Debug)]
pub enum Pacing {
    /// The next edit only once the last has reached every other editor.
    Paced,
    /// This many edits per second.
    Rate(f64),
    /// As fast as acks allow, this many unanswered at most.
    Window(usize),
}

#[derive(Clone, Debug)]
pub struct WritePlan {
    /// The cells it writes, in turn.
    pub cells: Vec<Cell>,
    pub pacing: Pacing,
    /// Stop after this many edits, or at this time.
    pub edits: Option<usize>,
    pub until: Option<Instant>,
}

struct Pending {
    id: usize,
    sent_us: u64,
    ops: Vec<Op>,
}

pub struct Editor {
    pub index: usize,
    pub seq: Seq,
    pub cells: HashMap<Cell, (Option<String>, Seq)>,
    pending: HashMap<u64, Pending>,
    next_op: u64,
    pub sent: usize,
    pub acked: Vec<(usize, Seq)>,
    pub conflicts: usize,
    pub ack_us: Vec<u32>,
    /// (edit id, µs from its sending to its arrival here), per delivery.
    pub deliveries: Vec<(u32, u32)>,
    /// Edit ids seen (a bit each), to catch one seen twice.
    seen_ids: Vec<u64>,
    pub duplicated: usize,
    pub failures: Vec<String>,
    /// The id of the last edit sent (paced writers wait for its fan-out).
    last_id: Option<usize>,
    /// What arrived while applying was deferred, in order.
    deferred: Vec<Deferred>,
}

enum Deferred {
    Change(Kept),
    Own(Seq, Vec<Op>),
}

/// A message kept for later: a frame (shared, not copied) and where in it.
struct Kept {
    frame: Utf8Bytes,
    range: std::ops::Range<usize>,
}

impl Kept {
    fn whole(frame: &Utf8Bytes) -> Kept {
        Kept {
            frame: frame.clone(),
            range: 0..frame.len(),
        }
    }

    fn text(&self) -> Option<&str> {
        self.frame.get(self.range.clone())
    }
}

/// A `batch` frame's messages, each as the text it came as.
#[derive(serde::Deserialize)]
struct RawBatch<'a> {
    #[serde(borrow)]
    msgs: Vec<&'a serde_json::value::RawValue>,
}

/// The seq and note of a `change` frame, read without decoding it.
fn peek_change(text: &str) -> Option<(Seq, Option<(usize, u64)>)> {
    let seq = rota::protocol::change_frame_seq(text)?;
    let note = rota::protocol::change_frame_note(text).and_then(|n| {
        let (id, us) = n.strip_prefix('L')?.split_once(' ')?;
        Some((id.parse().ok()?, us.parse().ok()?))
    });
    Some((seq, note))
}

pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(protocol::HARD_MAX_MESSAGE_BYTES))
        .max_frame_size(Some(protocol::HARD_MAX_MESSAGE_BYTES))
}

/// A joined connection and how long joining took.
pub struct Joined {
    pub ws: Ws,
    pub welcome: ServerMsg,
    /// Connect, WebSocket handshake, hello -> welcome read and decoded.
    pub total: Duration,
    /// Hello sent -> welcome read and decoded.
    pub welcome_time: Duration,
}

/// Connects and joins.
pub async fn join(
    url: &str,
    client_id: &str,
    roster: &str,
    last_seq: Seq,
) -> Result<Joined, String> {
    let started = Instant::now();
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(30),
        tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true),
    )
    .await
    .map_err(|_| format!("{client_id}: connect timed out"))?
    .map_err(|e| format!("{client_id}: connect: {e}"))?;
    let hello = ClientMsg::Hello {
        protocol: protocol::PROTOCOL_VERSION.into(),
        user: format!("load-{client_id}"),
        client_id: client_id.into(),
        token: None,
        roster: roster.into(),
        last_seq,
        view: Default::default(),
    };
    let hello_at = Instant::now();
    send(&mut ws, &hello).await?;
    loop {
        match next_msg(&mut ws, Duration::from_secs(60)).await? {
            w @ ServerMsg::Welcome { .. } => {
                return Ok(Joined {
                    ws,
                    welcome: w,
                    total: started.elapsed(),
                    welcome_time: hello_at.elapsed(),
                });
            }
            ServerMsg::Error { code, message, .. } => {
                return Err(format!("{client_id}: hub error {code}: {message}"));
            }
            _ => {}
        }
    }
}

pub async fn send(ws: &mut Ws, msg: &ClientMsg) -> Result<(), String> {
    ws.send(Message::Text(protocol::encode_client(msg).into()))
        .await
        .map_err(|e| format!("send: {e}"))
}

/// The next protocol message (pings are answered by the library).
pub async fn next_msg(ws: &mut Ws, timeout: Duration) -> Result<ServerMsg, String> {
    decode(&next_text(ws, timeout).await?)
}

/// The next text frame, as it came.
pub async fn next_text(ws: &mut Ws, timeout: Duration) -> Result<Utf8Bytes, String> {
    loop {
        let msg = tokio::time::timeout(timeout, ws.next())
            .await
            .map_err(|_| "no message from the hub in time".to_string())?;
        if let Some(text) = text_of(msg)? {
            return Ok(text);
        }
    }
}

/// A frame read: its text, None for other frames, Err when the connection
/// is gone.
fn text_of(
    msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<Option<Utf8Bytes>, String> {
    match msg {
        Some(Ok(Message::Text(t))) => Ok(Some(t)),
        Some(Ok(Message::Close(f))) => Err(format!("closed by the hub: {f:?}")),
        Some(Ok(_)) => Ok(None),
        Some(Err(e)) => Err(format!("read: {e}")),
        None => Err("connection ended".into()),
    }
}

/// A `change` of cells, read without serde's buffering of tagged enums
/// (which made the load generator, not the hub, the bottleneck).
#[derive(serde::Deserialize)]
struct CellChangeSet<'a> {
    seq: Seq,
    #[serde(default)]
    op_id: u64,
    #[serde(default)]
    at: i64,
    #[serde(default, borrow)]
    note: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    changes: Vec<CellChange<'a>>,
}

#[derive(serde::Deserialize)]
struct CellChange<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    staff: std::borrow::Cow<'a, str>,
    date: Date,
    #[serde(borrow)]
    code: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct PlainAck {
    op_id: u64,
    seq: Seq,
    #[serde(default)]
    at: i64,
}

/// Decodes a hub message: `change` of cells and `ack` by a fast path, the
/// rest (and anything the fast path cannot read) as protocol messages.
fn decode(text: &str) -> Result<ServerMsg, String> {
    if protocol::is_change_frame(text)
        && let Ok(cs) = serde_json::from_str::<CellChangeSet>(text)
        && cs.changes.iter().all(|c| c.kind == "cell")
    {
        return Ok(ServerMsg::Change(ChangeSet {
            seq: cs.seq,
            user: String::new(),
            client: String::new(),
            op_id: cs.op_id,
            at: cs.at,
            note: cs.note.map(|n| n.into_owned()),
            changes: cs
                .changes
                .into_iter()
                .map(|c| Change::Cell {
                    staff: c.staff.into_owned(),
                    date: c.date,
                    code: c.code.map(|c| c.into_owned()),
                })
                .collect(),
        }));
    }
    if protocol::is_ack_frame(text)
        && !text.contains(r#""overwritten""#)
        && let Ok(a) = serde_json::from_str::<PlainAck>(text)
    {
        return Ok(ServerMsg::Ack {
            op_id: a.op_id,
            seq: a.seq,
            overwritten: Vec::new(),
            at: a.at,
        });
    }
    serde_json::from_str(text).map_err(|e| format!("bad message: {e}"))
}

impl Editor {
    pub fn new(index: usize) -> Editor {
        Editor {
            index,
            seq: 0,
            cells: HashMap::new(),
            pending: HashMap::new(),
            next_op: 1,
            sent: 0,
            acked: Vec::new(),
            conflicts: 0,
            ack_us: Vec::new(),
            deliveries: Vec::new(),
            seen_ids: Vec::new(),
            duplicated: 0,
            failures: Vec::new(),
            last_id: None,
            deferred: Vec::new(),
        }
    }

    /// Takes in a welcome: the whole roster, or the changes missed.
    pub fn welcome(&mut self, msg: ServerMsg, shared: Option<&Shared>) {
        let ServerMsg::Welcome {
            seq,
            changes,
            snapshot,
            ..
        } = msg
        else {
            return;
        };
        if let Some(snap) = snapshot {
            self.cells = snap
                .cells
                .0
                .into_iter()
                .map(|(s, d, c, v)| ((s.to_string(), d), (c.map(|c| c.to_string()), v)))
                .collect();
            self.seq = seq;
        }
        for cs in changes.unwrap_or_default() {
            self.change(cs, shared);
        }
        self.seq = self.seq.max(seq);
    }

    fn change(&mut self, cs: ChangeSet, shared: Option<&Shared>) {
        let note = parse_note(cs.note.as_deref());
        if !self.arrived(cs.seq, note, shared) {
            return;
        }
        self.apply_cells(&cs);
    }

    /// Writes a change set's cells into this editor's copy.
    fn apply_cells(&mut self, cs: &ChangeSet) {
        for c in &cs.changes {
            if let Change::Cell { staff, date, code } = c {
                self.cells
                    .insert((staff.clone(), *date), (code.clone(), cs.seq));
            }
        }
    }

    /// Books the arrival of change set `seq` (its note naming the edit and
    /// when it was sent): order, duplicates, latency. False when it is one
    /// already had.
    fn arrived(&mut self, seq: Seq, note: Option<(usize, u64)>, shared: Option<&Shared>) -> bool {
        if seq <= self.seq {
            self.duplicated += 1;
            return false;
        }
        if seq != self.seq + 1 {
            self.failures.push(format!(
                "editor {}: seq gap {} -> {seq}",
                self.index, self.seq
            ));
        }
        self.seq = seq;
        let (Some(shared), Some((id, sent_us))) = (shared, note) else {
            return true;
        };
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        if self.seen_ids.len() <= word {
            self.seen_ids.resize(word + 1, 0);
        }
        if self.seen_ids[word] & bit != 0 {
            self.duplicated += 1;
            return true;
        }
        self.seen_ids[word] |= bit;
        let delay = shared
            .micros()
            .saturating_sub(sent_us)
            .min(u64::from(u32::MAX)) as u32;
        self.deliveries.push((id as u32, delay));
        if !shared.live_counts {
            return true; // counted at the end, from every editor's deliveries
        }
        if let (Some(seen), Some(last)) = (shared.seen.get(id), shared.last_us.get(id)) {
            last.fetch_max(delay, Ordering::Relaxed);
            if seen.fetch_add(1, Ordering::AcqRel) + 1 == shared.observers {
                shared.fanned_out.send_modify(|n| *n += 1);
            }
        }
        true
    }

    /// Takes one frame from the hub: a message, or a `batch` of them
    /// (protocol 1.1), each taken in turn.
    fn on_text(&mut self, text: Utf8Bytes, shared: &Shared) -> Result<(), String> {
        if !protocol::is_batch_frame(&text) {
            return self.on_msg(&text, || Kept::whole(&text), shared);
        }
        let items = match protocol::split_batch(&text) {
            Some(items) => items,
            None => {
                let batch: RawBatch =
                    serde_json::from_str(&text).map_err(|e| format!("bad batch: {e}"))?;
                batch
                    .msgs
                    .iter()
                    .map(|item| {
                        let start = item.get().as_ptr() as usize - text.as_ptr() as usize;
                        start..start + item.get().len()
                    })
                    .collect()
            }
        };
        for range in items {
            let item = text
                .get(range.clone())
                .ok_or("batch split inside a character")?;
            self.on_msg(
                item,
                || Kept {
                    frame: text.clone(),
                    range,
                },
                shared,
            )?;
        }
        Ok(())
    }

    /// Takes one message. With `shared.defer`, a `change` is only booked now
    /// (seq, note) and kept as it came (`keep`), to be applied after the run:
    /// what is timed is then the hub and the reading of its frames, not this
    /// editor's bookkeeping.
    fn on_msg(
        &mut self,
        text: &str,
        keep: impl FnOnce() -> Kept,
        shared: &Shared,
    ) -> Result<(), String> {
        if shared.defer
            && let Some((seq, note)) = peek_change(text)
        {
            if self.arrived(seq, note, Some(shared)) {
                self.deferred.push(Deferred::Change(keep()));
            }
            self.publish_seq(shared);
            return Ok(());
        }
        let msg = decode(text)?;
        self.handle(msg, shared);
        Ok(())
    }

    /// Applies what was deferred, in the order it came.
    pub fn apply_deferred(&mut self) {
        for d in std::mem::take(&mut self.deferred) {
            match d {
                Deferred::Change(kept) => match kept.text().map(decode) {
                    Some(Ok(ServerMsg::Change(cs))) => self.apply_cells(&cs),
                    _ => self.failures.push("a kept change could not be read".into()),
                },
                Deferred::Own(seq, ops) => self.apply_own(seq, &ops),
            }
        }
    }

    fn apply_own(&mut self, seq: Seq, ops: &[Op]) {
        for op in ops {
            if let Op::SetCell {
                staff, date, code, ..
            } = op
            {
                self.cells
                    .insert((staff.clone(), *date), (code.clone(), seq));
            }
        }
    }

    fn publish_seq(&self, shared: &Shared) {
        if let Some(s) = shared.seqs.get(self.index) {
            s.store(self.seq, Ordering::Release);
        }
        // After the seq is stored: a waiter woken by this looks at it.
        if shared.settling.load(Ordering::Acquire) {
            shared.progress.send_modify(|n| *n += 1);
        }
    }

    fn handle(&mut self, msg: ServerMsg, shared: &Shared) {
        self.handle_msg(msg, shared);
        self.publish_seq(shared);
    }

    fn handle_msg(&mut self, msg: ServerMsg, shared: &Shared) {
        match msg {
            ServerMsg::Change(cs) => {
                self.change(cs, Some(shared));
            }
            ServerMsg::Ack { op_id, seq, .. } => {
                let Some(p) = self.pending.remove(&op_id) else {
                    self.duplicated += 1;
                    return;
                };
                let took = shared.micros().saturating_sub(p.sent_us);
                self.ack_us.push(took.min(u64::from(u32::MAX)) as u32);
                // Acks come in stream order: the next seq is this edit's;
                // the current seq means it changed nothing.
                if seq > self.seq + 1 {
                    self.failures.push(format!(
                        "editor {}: ack at seq {seq} while at {}",
                        self.index, self.seq
                    ));
                }
                if seq > self.seq {
                    // At once, so a writer knows what its cells hold (its
                    // next edit must change them); and, when deferring,
                    // again in order with the others' changes after the run.
                    self.apply_own(seq, &p.ops);
                    if shared.defer {
                        self.deferred.push(Deferred::Own(seq, p.ops.clone()));
                    }
                    self.seq = seq;
                }
                self.acked.push((p.id, seq));
                shared.top_seq.fetch_max(seq, Ordering::AcqRel);
            }
            ServerMsg::Rejected {
                op_id,
                code,
                message,
                ..
            } => {
                self.pending.remove(&op_id);
                if code == protocol::codes::CONFLICT {
                    self.conflicts += 1;
                } else {
                    self.failures
                        .push(format!("edit refused: {code}: {message}"));
                }
            }
            ServerMsg::Error { code, message, .. } => {
                self.failures.push(format!("hub error {code}: {message}"));
            }
            _ => {}
        }
    }

    /// The next edit of a plan: the next cell whose last edit is answered,
    /// set to a code other than the one it holds.
    fn next_edit(
        &mut self,
        plan: &WritePlan,
        turn: &mut usize,
        shared: &Shared,
    ) -> Option<ClientMsg> {
        let cell = plan.cells.get(*turn % plan.cells.len())?;
        let busy = self.pending.values().any(|p| {
            p.ops.iter().any(|op| {
                matches!(op, Op::SetCell { staff, date, .. } if *staff == cell.0 && *date == cell.1)
            })
        });
        if busy {
            return None;
        }
        let id = shared.next_id.fetch_add(1, Ordering::AcqRel);
        if id >= shared.capacity {
            return None;
        }
        *turn += 1;
        let (current, version) = self.cells.get(cell).cloned().unwrap_or((None, 0));
        let code = match current.as_deref() {
            Some("D") => "N",
            Some("N") => "OFF",
            _ => "D",
        };
        let ops = vec![Op::SetCell {
            staff: cell.0.clone(),
            date: cell.1,
            code: Some(code.to_string()),
            base: version,
        }];
        let sent_us = shared.micros();
        let op_id = self.next_op;
        self.next_op += 1;
        self.pending.insert(
            op_id,
            Pending {
                id,
                sent_us,
                ops: ops.clone(),
            },
        );
        self.sent += 1;
        self.last_id = Some(id);
        Some(ClientMsg::Edit {
            op_id,
            ops,
            note: Some(format!("L{id} {sent_us}")),
            force: false,
            more: false,
            part: None,
        })
    }
}

fn parse_note(note: Option<&str>) -> Option<(usize, u64)> {
    let rest = note?.strip_prefix('L')?;
    let (id, us) = rest.split_once(' ')?;
    Some((id.parse().ok()?, us.parse().ok()?))
}

/// Runs an editor until `stop`: reads the hub's stream and, with a plan,
/// writes. A writer reports itself done (in `shared`) once every edit it
/// sent is answered.
pub async fn run(
    ed: Editor,
    ws: Ws,
    plan: Option<WritePlan>,
    shared: Arc<Shared>,
    go: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) -> Editor {
    let stopped = stop.clone();
    let ed = run_inner(ed, ws, plan, shared.clone(), go, stop).await;
    if !*stopped.borrow() {
        // Ended on its own: an error. Whoever waits on the run looks again.
        shared.failed.fetch_add(1, Ordering::AcqRel);
        shared.progress.send_modify(|n| *n += 1);
    }
    ed
}

async fn run_inner(
    mut ed: Editor,
    mut ws: Ws,
    plan: Option<WritePlan>,
    shared: Arc<Shared>,
    mut go: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) -> Editor {
    let mut turn = ed.index; // writers start at different cells
    let mut fanned = shared.fanned_out.subscribe();
    let mut writing = plan.is_some();
    let mut waiting_fanout = false;
    let mut tick = tokio::time::interval(match plan.as_ref().map(|p| &p.pacing) {
        Some(Pacing::Rate(r)) if *r > 0.0 => Duration::from_secs_f64(1.0 / r),
        _ => Duration::from_secs(3600),
    });
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Wait for the start signal, reading meanwhile.
    while !*go.borrow() {
        tokio::select! {
            r = go.changed() => if r.is_err() { break },
            text = next_text(&mut ws, Duration::from_secs(3600)) => {
                if let Err(e) = text.and_then(|t| ed.on_text(t, &shared)) {
                    ed.failures.push(e);
                    return ed;
                }
            }
        }
    }
    loop {
        if waiting_fanout {
            let id = ed.last_id.unwrap_or(0);
            let seen = shared
                .seen
                .get(id)
                .map_or(u32::MAX, |s| s.load(Ordering::Acquire));
            if seen >= shared.observers {
                waiting_fanout = false;
            }
        }
        if let Some(p) = plan.as_ref().filter(|_| writing) {
            let out_of_time = p.until.is_some_and(|t| Instant::now() >= t);
            let all_sent = p.edits.is_some_and(|k| ed.sent >= k) || out_of_time;
            if all_sent {
                if ed.pending.is_empty() {
                    writing = false;
                    shared.writers_done.fetch_add(1, Ordering::AcqRel);
                    shared.progress.send_modify(|n| *n += 1);
                }
            } else {
                let room = match p.pacing {
                    Pacing::Paced => ed.pending.is_empty() && !waiting_fanout,
                    Pacing::Window(w) => ed.pending.len() < w.max(1),
                    Pacing::Rate(_) => false, // sent on the tick
                };
                if room && let Some(msg) = ed.next_edit(p, &mut turn, &shared) {
                    if let Err(e) = send(&mut ws, &msg).await {
                        ed.failures.push(e);
                        return ed;
                    }
                    if matches!(p.pacing, Pacing::Paced) && shared.observers > 0 {
                        waiting_fanout = true;
                        fanned.borrow_and_update();
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            text = next_text(&mut ws, Duration::from_secs(120)) => {
                let mut next = text.map(Some);
                // Take every frame already here before going round the
                // select again: per message, its futures cost more than
                // reading the frame.
                loop {
                    match next {
                        Ok(Some(t)) => {
                            if let Err(e) = ed.on_text(t, &shared) {
                                ed.failures.push(e);
                                return ed;
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            ed.failures.push(format!("editor {}: {e}", ed.index));
                            return ed;
                        }
                    }
                    match ws.next().now_or_never() {
                        Some(msg) => next = text_of(msg),
                        None => break,
                    }
                }
            }
            // Looked at again at the top of the loop.
            _ = fanned.changed(), if waiting_fanout => {}
            _ = tick.tick(), if writing && matches!(plan.as_ref().map(|p| &p.pacing), Some(Pacing::Rate(_))) => {
                if let Some(p) = plan.as_ref()
                    && p.edits.is_none_or(|k| ed.sent < k)
                    && p.until.is_none_or(|t| Instant::now() < t)
                    && let Some(msg) = ed.next_edit(p, &mut turn, &shared)
                    && let Err(e) = send(&mut ws, &msg).await
                {
                    ed.failures.push(e);
                    return ed;
                }
            }
            r = stop.changed() => if r.is_err() || *stop.borrow() { break },
        }
    }
    let _ = ws.close(None).await;
    ed.apply_deferred();
    ed
}
